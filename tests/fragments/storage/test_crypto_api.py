"""The Linux-style crypto registry (fragments.storage.crypto_api)."""

import errno

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from fragments.storage.crypto_api import NoSuchAlgorithm, allocate


def test_allocate_block_cipher():
    """`aes` is a 16-byte block cipher applied block-wise, as AES-ECB."""
    aes = allocate("aes")
    assert (aes.name, aes.kind, aes.block_size, aes.key_sizes) == ("aes", "cipher", 16, (16, 24, 32))
    key = bytes(range(16))
    expected = Cipher(algorithms.AES(key), modes.ECB()).encryptor().update(bytes(32))
    assert aes.new(key).encrypt(bytes(32)) == expected


def test_allocate_template_composes_cipher_by_name():
    """`xts(aes)` is the xts template applied to the cipher found under `aes`."""
    xts = allocate("xts(aes)")
    assert (xts.name, xts.kind, xts.key_sizes) == ("xts(aes)", "skcipher", (32, 64))
    key = bytes(range(64))
    iv = bytes(16)
    expected = Cipher(algorithms.AES(key), modes.XTS(iv)).encryptor().update(bytes(512))
    assert xts.new(key).encrypt(iv, bytes(512)) == expected


@pytest.mark.parametrize("name", ["des", "cbc(aes)", "xts(des)", "xts(xts(aes))", "xts()", "", "XTS(AES)"])
def test_unknown_names_are_refused_clearly(name):
    """Unknown ciphers and templates, and templates over the wrong kind, raise NoSuchAlgorithm (ENOENT)."""
    with pytest.raises(NoSuchAlgorithm) as raised:
        allocate(name)
    assert raised.value.errno == errno.ENOENT
    assert "no such" in str(raised.value) or "needs" in str(raised.value)


def test_aes_rejects_bad_key():
    """The block cipher validates its key size."""
    with pytest.raises(ValueError):
        allocate("aes").new(bytes(20))
