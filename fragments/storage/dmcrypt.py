"""The device-mapper ``crypt`` target in its plain (header-less) form.

Table line (Documentation/admin-guide/device-mapper/dm-crypt.rst)::

    <start> <length> crypt <cipher> <hexkey> <iv_offset> <device> <offset> [<#opt> <opts>…]

with ``<cipher>`` = ``cipher-chainmode-ivmode[:ivopts]`` (``aes-xts-plain64``) or
``capi:chainmode(cipher)-ivmode[:ivopts]`` (``capi:xts(aes)-plain64``).

On-disk format, the invariant everything here keeps:

* sector n of the mapped device (n relative to the target start, 512 bytes) is stored
  encrypted at sector ``offset + n`` of the backing device; ciphertext length equals
  plaintext length, there is no header and no metadata;
* every 512-byte sector is one independent XTS data unit whose IV is derived from
  ``n + iv_offset`` alone: ``plain64`` = LE64 ‖ 0^64, ``plain`` = LE32 of the low 32
  bits ‖ 0^96, ``plain64be`` = 0^64 ‖ BE64, ``essiv:sha256`` = E_salt(LE64 ‖ 0^64)
  with salt = SHA-256(key) keying the chain mode's block cipher.
  ``offset`` moves the data but never changes an IV.

Only the ``xts`` chain mode is supported; options that change the format
(``sector_size:``, ``iv_large_sectors``, ``integrity:``) are refused.
"""

import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from fragments.storage import crypto_api
from fragments.storage.blockdev import SECTOR_SIZE, BlockDevice, check_range

DEFAULT_CIPHER = "aes-xts-plain64"
CHAIN_MODES = ("xts",)
# Options that only tune performance or discard handling; anything else is refused.
HARMLESS_OPTIONS = frozenset({"allow_discards", "same_cpu_crypt", "submit_from_crypt_cpus",
                              "no_read_workqueue", "no_write_workqueue"})
IMAGE_CHUNK_SECTORS = 512  # 256 KiB per conversion step: one XTS call per chunk

IvGenerator = Callable[[int], bytes]  # absolute IV sector (n + iv_offset) -> 16-byte IV


def _iv_plain(sector: int) -> bytes:
    return (sector & 0xFFFF_FFFF).to_bytes(16, "little")


def _iv_plain64(sector: int) -> bytes:
    return (sector & 0xFFFF_FFFF_FFFF_FFFF).to_bytes(16, "little")


def _iv_plain64be(sector: int) -> bytes:
    return (sector & 0xFFFF_FFFF_FFFF_FFFF).to_bytes(16, "big")


def _essiv(cipher: crypto_api.Algorithm, key: bytes, hash_name: str) -> IvGenerator:
    salted = cipher.new(hashlib.new(hash_name, key).digest())
    return lambda sector: salted.encrypt(_iv_plain64(sector))


class IvMode(NamedTuple):
    """How an IV mode is built: ``build(block cipher, whole key, ivopts)``; ivopts
    (e.g. the ESSIV hash name) is given exactly when ``takes_options``."""

    takes_options: bool
    build: Callable[[crypto_api.Algorithm, bytes, str], IvGenerator]


IV_MODES: dict[str, IvMode] = {
    "plain": IvMode(False, lambda cipher, key, opts: _iv_plain),
    "plain64": IvMode(False, lambda cipher, key, opts: _iv_plain64),
    "plain64be": IvMode(False, lambda cipher, key, opts: _iv_plain64be),
    "essiv": IvMode(True, _essiv),
}

_KAPI_SPEC = re.compile(r"capi:(?P<chain>[a-z0-9]+)\((?P<cipher>[a-z0-9]+)\)-(?P<iv>[a-z0-9]+)(?::(?P<opts>.+))?")
_PLAIN_SPEC = re.compile(r"(?P<cipher>[a-z0-9]+)-(?P<chain>[a-z0-9]+)-(?P<iv>[a-z0-9]+)(?::(?P<opts>.+))?")


@dataclass(frozen=True)
class CipherSpec:
    """A parsed ``<cipher>`` argument: block cipher, chain mode, IV mode and IV options."""

    cipher: str
    chainmode: str
    ivmode: str
    ivopts: str | None

    @classmethod
    def parse(cls, spec: str) -> "CipherSpec":
        match = _KAPI_SPEC.fullmatch(spec) or _PLAIN_SPEC.fullmatch(spec)
        if match is None:
            raise ValueError(f"bad cipher specification {spec!r}: want cipher-chainmode-ivmode[:ivopts]")
        parsed = cls(match["cipher"], match["chain"], match["iv"], match["opts"])
        if parsed.chainmode not in CHAIN_MODES:
            raise ValueError(f"chain mode {parsed.chainmode!r} not supported (supported: {', '.join(CHAIN_MODES)})")
        if parsed.ivmode not in IV_MODES:
            raise ValueError(f"IV mode {parsed.ivmode!r} not supported (supported: {', '.join(IV_MODES)})")
        takes_options = IV_MODES[parsed.ivmode].takes_options
        if takes_options != (parsed.ivopts is not None):
            raise ValueError(f"IV mode {parsed.ivmode!r} {'needs' if takes_options else 'takes no'} options")
        return parsed


KeyedMode = Callable[[crypto_api.Algorithm, bytes], object]   # (chain mode, key) -> transform


class CryptTarget:
    """A keyed crypt target: converts runs of sectors, numbered relative to the target start.

    ``keyed(mode, key)`` makes the keyed chain-mode transform (anything with
    ``encrypt_units``/``decrypt_units``); by default ``mode.new(key)`` here, while the
    devmapper fragment passes one that asks the crypto fragment.
    """

    def __init__(self, spec: CipherSpec, key: bytes, iv_offset: int = 0,
                 keyed: KeyedMode | None = None) -> None:
        if iv_offset < 0:
            raise ValueError("iv_offset must not be negative")
        try:
            block_cipher = crypto_api.allocate(spec.cipher)
            mode = crypto_api.allocate(f"{spec.chainmode}({spec.cipher})")
            hash_name = spec.ivopts or ""
            if spec.ivopts is not None and hash_name not in hashlib.algorithms_available:
                raise ValueError(f"unknown ESSIV hash {hash_name!r}")
        except crypto_api.NoSuchAlgorithm as error:
            raise ValueError(str(error)) from error
        if len(key) not in mode.key_sizes:
            raise ValueError(f"{mode.name} key must be {' or '.join(map(str, mode.key_sizes))} bytes, got {len(key)}")
        self.spec = spec
        self.iv_offset = iv_offset
        self._mode = mode.new(key) if keyed is None else keyed(mode, key)
        self._iv = IV_MODES[spec.ivmode].build(block_cipher, key, hash_name)

    def encrypt(self, sector: int, plaintext: bytes) -> bytes:
        """Encrypt the sectors ``sector, sector+1, …`` held in ``plaintext``."""
        return self._mode.encrypt_units(self._ivs(sector, plaintext), plaintext)

    def decrypt(self, sector: int, ciphertext: bytes) -> bytes:
        """Decrypt the sectors ``sector, sector+1, …`` held in ``ciphertext``."""
        return self._mode.decrypt_units(self._ivs(sector, ciphertext), ciphertext)

    def _ivs(self, sector: int, data: bytes) -> list[bytes]:
        count, partial = divmod(len(data), SECTOR_SIZE)
        if partial or count == 0 or sector < 0:
            raise ValueError(f"crypt I/O must be whole sectors at a sector >= 0, got {len(data)} bytes at {sector}")
        first = sector + self.iv_offset
        return [self._iv(first + i) for i in range(count)]


@dataclass(frozen=True)
class CryptTableLine:
    """One parsed ``crypt`` table line; ``key`` is the raw key bytes."""

    start: int
    length: int
    spec: CipherSpec
    key: bytes
    iv_offset: int
    device: str
    offset: int
    options: tuple[str, ...] = ()

    @classmethod
    def parse(cls, line: str) -> "CryptTableLine":
        """Parse and fully validate a table line (ValueError says what is wrong)."""
        fields = line.split()
        if len(fields) < 8 or fields[2] != "crypt":
            raise ValueError(f"not a crypt table line: {line!r}")
        start, length, iv_offset, offset = (_sector_number(fields[i], name) for i, name in
                                            ((0, "start"), (1, "length"), (5, "iv_offset"), (7, "offset")))
        options = _options(fields[8:])
        key_text = fields[4]
        if key_text.startswith(":"):
            raise ValueError("keyring keys are not supported; give the key in hex")
        try:
            key = bytes.fromhex(key_text)
        except ValueError:
            raise ValueError("key is not a hex string") from None
        parsed = cls(start, length, CipherSpec.parse(fields[3]), key, iv_offset, fields[6], offset, options)
        parsed.target()  # validates the key size for the cipher
        return parsed

    def target(self) -> CryptTarget:
        return CryptTarget(self.spec, self.key, self.iv_offset)


def _sector_number(text: str, name: str) -> int:
    if not text.isdigit():
        raise ValueError(f"{name} must be a non-negative sector number, got {text!r}")
    return int(text)


def _options(fields: list[str]) -> tuple[str, ...]:
    if not fields:
        return ()
    if not fields[0].isdigit() or int(fields[0]) != len(fields) - 1:
        raise ValueError(f"optional arguments must be '<count> <option>…', got {' '.join(fields)!r}")
    refused = [option for option in fields[1:] if option not in HARMLESS_OPTIONS]
    if refused:
        raise ValueError(f"unsupported crypt option(s): {', '.join(refused)}")
    return tuple(fields[1:])


class CryptDevice:
    """The mapped device of one crypt target: plaintext sectors over an encrypted backing device.

    Sector n (0 ≤ n < length) maps to backing sector ``offset + n``; every access is
    range-checked before the backing device is touched.
    """

    def __init__(self, backing: BlockDevice, target: CryptTarget, offset: int = 0, length: int | None = None) -> None:
        available = backing.sector_count - offset
        if offset < 0 or available < 0 or (length is not None and not 0 <= length <= available):
            raise ValueError(f"crypt target [{offset}, +{length}) does not fit a backing device of {backing.sector_count} sectors")
        self.sector_count = available if length is None else length
        self._backing = backing
        self._target = target
        self._offset = offset

    def read(self, sector: int, count: int) -> bytes:
        check_range(self, sector, count * SECTOR_SIZE)
        if count == 0:
            return b""
        return self._target.decrypt(sector, self._backing.read(self._offset + sector, count))

    def write(self, sector: int, data: bytes) -> None:
        check_range(self, sector, len(data))
        if data:
            self._backing.write(self._offset + sector, self._target.encrypt(sector, data))


def encrypt_image(src: str | os.PathLike, dst: str | os.PathLike, key: bytes,
                  cipher: str = DEFAULT_CIPHER, iv_offset: int = 0) -> int:
    """Encrypt the image ``src`` into ``dst`` (may be the same file); return the sector count."""
    target = CryptTarget(CipherSpec.parse(cipher), key, iv_offset)
    return _convert_image(src, dst, target.encrypt)


def decrypt_image(src: str | os.PathLike, dst: str | os.PathLike, key: bytes,
                  cipher: str = DEFAULT_CIPHER, iv_offset: int = 0) -> int:
    """Decrypt the image ``src`` into ``dst`` (may be the same file); return the sector count."""
    target = CryptTarget(CipherSpec.parse(cipher), key, iv_offset)
    return _convert_image(src, dst, target.decrypt)


def _convert_image(src: str | os.PathLike, dst: str | os.PathLike, convert: Callable[[int, bytes], bytes]) -> int:
    """Stream ``src`` through ``convert`` into ``dst`` chunk by chunk (sector 0 = image start)."""
    size = os.path.getsize(src)
    if size % SECTOR_SIZE:
        raise ValueError(f"{src}: {size} bytes is not a whole number of {SECTOR_SIZE}-byte sectors")
    in_place = os.path.exists(dst) and os.path.samefile(src, dst)
    source = os.open(src, os.O_RDWR if in_place else os.O_RDONLY)
    target = source if in_place else os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        chunk = IMAGE_CHUNK_SECTORS * SECTOR_SIZE
        for position in range(0, size, chunk):
            data = os.pread(source, min(chunk, size - position), position)
            os.pwrite(target, convert(position // SECTOR_SIZE, data), position)
    finally:
        os.close(source)
        if not in_place:
            os.close(target)
    return size // SECTOR_SIZE
