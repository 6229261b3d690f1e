"""XTS-AES (fragments.storage.xts) against IEEE 1619 vectors and `cryptography`'s XTS."""

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from fragments.storage.crypto_api import Aes
from fragments.storage.xts import Xts


def reference_encrypt(key: bytes, iv: bytes, unit: bytes) -> bytes:
    return Cipher(algorithms.AES(key), modes.XTS(iv)).encryptor().update(unit)


keys = st.sampled_from([32, 64]).flatmap(lambda size: st.binary(min_size=size, max_size=size))
units = st.integers(1, 64).flatmap(lambda blocks: st.binary(min_size=16 * blocks, max_size=16 * blocks))


def test_ieee1619_vector_1():
    """Known answer: IEEE 1619-2007 Annex B vector 1 (zero keys, zero tweak, 32 zero bytes)."""
    ciphertext = Xts(Aes, bytes(32)).encrypt(bytes(16), bytes(32))
    assert ciphertext.hex() == "917cf69ebd68b2ec9b9fe9a3eadda692cd43d2f59598ed858c02c2652fbf922e"


@settings(max_examples=200, deadline=None)
@given(key=keys, iv=st.binary(min_size=16, max_size=16), unit=units)
def test_matches_cryptography(key, iv, unit):
    """Encryption equals an independent XTS implementation for both key sizes, any unit length."""
    assume(key[:len(key) // 2] != key[len(key) // 2:])  # cryptography refuses equal halves
    xts = Xts(Aes, key)
    ciphertext = xts.encrypt(iv, unit)
    assert ciphertext == reference_encrypt(key, iv, unit)
    assert xts.decrypt(iv, ciphertext) == unit


@settings(max_examples=50, deadline=None)
@given(key=keys, ivs=st.lists(st.binary(min_size=16, max_size=16), min_size=1, max_size=40),
       blocks=st.integers(1, 40), seed=st.binary(min_size=16, max_size=16))
def test_units_are_independent(key, ivs, blocks, seed):
    """A run of units converts exactly like each unit converted on its own."""
    unit_size = 16 * blocks
    data = (seed * (unit_size * len(ivs) // 16 + 1))[:unit_size * len(ivs)]
    xts = Xts(Aes, key)
    run = xts.encrypt_units(ivs, data)
    one_by_one = b"".join(xts.encrypt(iv, data[i * unit_size:(i + 1) * unit_size]) for i, iv in enumerate(ivs))
    assert run == one_by_one
    assert xts.decrypt_units(ivs, run) == data


@pytest.mark.parametrize("size", [0, 15, 17, 520])
def test_rejects_partial_blocks(size):
    """Ciphertext stealing is not implemented: units that are not whole blocks are refused."""
    with pytest.raises(ValueError):
        Xts(Aes, bytes(32)).encrypt(bytes(16), bytes(size))


@pytest.mark.parametrize("size", [16, 31, 48, 65])
def test_rejects_bad_key_sizes(size):
    """Only XTS-AES-128 (32-byte) and XTS-AES-256 (64-byte) keys are accepted."""
    with pytest.raises(ValueError):
        Xts(Aes, bytes(size))


def test_rejects_bad_iv():
    """The IV (tweak input) is exactly one block."""
    with pytest.raises(ValueError):
        Xts(Aes, bytes(32)).encrypt(bytes(8), bytes(16))
