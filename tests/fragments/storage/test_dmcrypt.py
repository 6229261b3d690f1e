"""The plain dm-crypt target (fragments.storage.dmcrypt) against `cryptography`'s AES-XTS."""

import hashlib
import os

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from fragments.storage.blockdev import MemoryDevice
from fragments.storage.dmcrypt import (CipherSpec, CryptDevice, CryptTableLine, CryptTarget, decrypt_image,
                                      encrypt_image)

XTS_PLAIN64 = CipherSpec.parse("aes-xts-plain64")


def reference_sectors(key: bytes, first_iv_sector: int, data: bytes, iv_bytes=None, decrypt=False) -> bytes:
    """Independent dm-crypt: each 512-byte sector one XTS unit, IV = LE64(sector) ‖ 0^64."""
    out = []
    for i in range(len(data) // 512):
        sector = first_iv_sector + i
        iv = iv_bytes(sector) if iv_bytes else sector.to_bytes(8, "little") + bytes(8)
        cipher = Cipher(algorithms.AES(key), modes.XTS(iv))
        worker = cipher.decryptor() if decrypt else cipher.encryptor()
        out.append(worker.update(data[i * 512:(i + 1) * 512]))
    return b"".join(out)


keys = st.sampled_from([32, 64]).flatmap(lambda size: st.binary(min_size=size, max_size=size))


@settings(max_examples=100, deadline=None)
@given(key=keys, sector=st.integers(0, 2 ** 63), iv_offset=st.integers(0, 2 ** 40),
       sectors=st.integers(1, 8), seed=st.binary(min_size=1, max_size=64))
def test_plain64_matches_cryptography(key, sector, iv_offset, sectors, seed):
    """Sector n encrypts as one XTS unit under IV LE64(n + iv_offset) ‖ 0^64, both directions."""
    assume(key[:len(key) // 2] != key[len(key) // 2:])
    data = (seed * (512 * sectors // len(seed) + 1))[:512 * sectors]
    target = CryptTarget(XTS_PLAIN64, key, iv_offset)
    ciphertext = target.encrypt(sector, data)
    assert ciphertext == reference_sectors(key, sector + iv_offset, data)
    assert target.decrypt(sector, ciphertext) == data


def test_plain_truncates_iv_to_32_bits():
    """`plain` uses the low 32 bits of the sector only (so sector 2^32 reuses sector 0's IV)."""
    key = bytes(range(64))
    target = CryptTarget(CipherSpec.parse("aes-xts-plain"), key)
    data = os.urandom(512)
    assert target.encrypt(2 ** 32, data) == target.encrypt(0, data) == reference_sectors(key, 0, data)


def test_essiv_sha256():
    """`essiv:sha256`: IV = AES_{SHA-256(key)}(LE64(sector) ‖ 0^64)."""
    key = bytes(range(32))
    salt = hashlib.sha256(key).digest()

    def essiv(sector: int) -> bytes:
        encryptor = Cipher(algorithms.AES(salt), modes.ECB()).encryptor()
        return encryptor.update(sector.to_bytes(8, "little") + bytes(8))

    data = os.urandom(1536)
    target = CryptTarget(CipherSpec.parse("aes-xts-essiv:sha256"), key, iv_offset=5)
    assert target.encrypt(100, data) == reference_sectors(key, 105, data, iv_bytes=essiv)


def test_parse_table_line():
    """A full table line parses into its fields; the key is raw bytes from hex."""
    key = bytes(range(64))
    line = CryptTableLine.parse(f"0 2048 crypt aes-xts-plain64 {key.hex()} 7 /dev/vda 16 1 allow_discards")
    assert (line.start, line.length, line.iv_offset, line.device, line.offset) == (0, 2048, 7, "/dev/vda", 16)
    assert line.key == key and line.spec == CipherSpec("aes", "xts", "plain64", None)
    assert line.options == ("allow_discards",)
    capi = CryptTableLine.parse(f"0 8 crypt capi:xts(aes)-plain64 {key.hex()} 0 disk 0")
    assert capi.spec == line.spec


@pytest.mark.parametrize("line, why", [
    ("0 8 linear /dev/vda 0", "not crypt"),
    ("0 8 crypt aes-cbc-plain64 " + "00" * 32 + " 0 d 0", "chain mode"),
    ("0 8 crypt aes-xts-benbi " + "00" * 32 + " 0 d 0", "IV mode"),
    ("0 8 crypt aes-xts-essiv " + "00" * 32 + " 0 d 0", "essiv needs a hash"),
    ("0 8 crypt aes-xts-plain64:sha256 " + "00" * 32 + " 0 d 0", "plain64 takes no options"),
    ("0 8 crypt aes-xts-plain64 " + "00" * 24 + " 0 d 0", "key size"),
    ("0 8 crypt aes-xts-plain64 zz" + "00" * 31 + " 0 d 0", "hex"),
    ("0 8 crypt aes-xts-plain64 :64:logon:key 0 d 0", "keyring"),
    ("0 -8 crypt aes-xts-plain64 " + "00" * 32 + " 0 d 0", "negative length"),
    ("0 8 crypt aes-xts-plain64 " + "00" * 32 + " 0 d 0 1 sector_size:4096", "format-changing option"),
    ("0 8 crypt aes-xts-plain64 " + "00" * 32 + " 0 d 0 2 allow_discards", "option count"),
])
def test_parse_refuses_bad_lines(line, why):
    """Malformed or unsupported table lines are refused with ValueError (dm's -EINVAL)."""
    with pytest.raises(ValueError):
        CryptTableLine.parse(line)


def test_crypt_device_maps_with_offset():
    """Mapped sector n is stored at backing sector offset+n, encrypted with IV n (offset moves
    data, never IVs); out-of-range I/O is refused before touching the backing device."""
    key = os.urandom(64)
    backing_image = bytearray(16 * 512)
    device = CryptDevice(MemoryDevice(backing_image), CryptTarget(XTS_PLAIN64, key), offset=4, length=10)
    data = os.urandom(3 * 512)
    device.write(2, data)
    assert device.read(2, 3) == data
    assert bytes(backing_image[6 * 512:9 * 512]) == reference_sectors(key, 2, data)
    with pytest.raises(ValueError):
        device.write(9, bytes(1024))
    assert bytes(backing_image[13 * 512:]) == bytes(3 * 512)


@pytest.mark.parametrize("in_place", [False, True])
def test_image_helpers_round_trip(tmp_path, in_place):
    """encrypt_image/decrypt_image stream whole images (more than one chunk), in place or not,
    and agree with the independent implementation."""
    key = os.urandom(64)
    plain = os.urandom(1300 * 512)
    source = tmp_path / "plain.img"
    source.write_bytes(plain)
    encrypted = source if in_place else tmp_path / "crypt.img"
    assert encrypt_image(source, encrypted, key) == 1300
    assert encrypted.read_bytes() == reference_sectors(key, 0, plain)
    decrypted = encrypted if in_place else tmp_path / "back.img"
    decrypt_image(encrypted, decrypted, key)
    assert decrypted.read_bytes() == plain


def test_image_helpers_refuse_partial_sectors(tmp_path):
    """An image that is not whole sectors is refused before anything is written."""
    source = tmp_path / "odd.img"
    source.write_bytes(bytes(1000))
    with pytest.raises(ValueError):
        encrypt_image(source, tmp_path / "out.img", bytes(range(64)))
    assert not (tmp_path / "out.img").exists()
