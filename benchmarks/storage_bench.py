"""Storage-library benchmark: host speed of the pure storage code, as ratios to baselines
measured in the same run (never asserted in tests).

1. dm-crypt aes-xts-plain64 in ``fragments.storage`` (our XTS composed over pycryptodome's
   AES, one call per 256 KiB run of sectors, as image conversion does) vs the
   `cryptography` package's XTS (OpenSSL) on the same data, one call per 512-byte sector
   as dm-crypt's format requires. The outputs are compared, so a fast wrong answer fails.
   A third row shows OpenSSL's raw XTS speed over 1 MiB units (not the dm-crypt format),
   the ceiling once Python's per-call overhead is amortized.
2. ext2 from ``fragments.storage.ext2``: sequential write then read of an 8 MiB file in
   64 KiB calls on an in-memory image made by mke2fs, plain and over a CryptDevice
   (ext2 → dm-crypt → memory), with the write's sync included.

Host time only: the model's cycles are not involved. Run: python benchmarks/storage_bench.py
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fragments.storage.blockdev import MemoryDevice  # noqa: E402
from fragments.storage.dmcrypt import (IMAGE_CHUNK_SECTORS, CipherSpec, CryptDevice,  # noqa: E402
                                      CryptTarget)
from fragments.storage.ext2 import Ext2  # noqa: E402

MIB = 1 << 20
CRYPT_BYTES = 16 * MIB
FILE_BYTES = 8 * MIB
IMAGE_BYTES = 64 * MIB
IO_CHUNK = 64 << 10
KEY = bytes(range(64))
SECTOR = 512


def best(runs: int, work) -> float:
    """The fastest of ``runs`` timings of ``work()`` (host seconds)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


# --- dm-crypt ---------------------------------------------------------------------------
def ours(data: bytes, decrypt: bool) -> bytes:
    target = CryptTarget(CipherSpec.parse("aes-xts-plain64"), KEY)
    convert = target.decrypt if decrypt else target.encrypt
    chunk = IMAGE_CHUNK_SECTORS * SECTOR
    return b"".join(convert(pos // SECTOR, data[pos:pos + chunk]) for pos in range(0, len(data), chunk))


def openssl(data: bytes, decrypt: bool) -> bytes:
    algorithm = algorithms.AES(KEY)
    out = []
    for sector in range(len(data) // SECTOR):
        cipher = Cipher(algorithm, modes.XTS(sector.to_bytes(8, "little") + bytes(8)))
        worker = cipher.decryptor() if decrypt else cipher.encryptor()
        out.append(worker.update(data[sector * SECTOR:(sector + 1) * SECTOR]))
    return b"".join(out)


def openssl_ceiling(data: bytes, decrypt: bool) -> bytes:
    """OpenSSL's XTS over 1 MiB data units: not dm-crypt's format (which needs one unit per
    sector), only the raw AES-XTS speed with Python's per-call overhead amortized."""
    algorithm, unit, out = algorithms.AES(KEY), MIB, []
    for index in range(len(data) // unit):
        cipher = Cipher(algorithm, modes.XTS(index.to_bytes(16, "little")))
        worker = cipher.decryptor() if decrypt else cipher.encryptor()
        out.append(worker.update(data[index * unit:(index + 1) * unit]))
    return b"".join(out)


def crypt_rows() -> list[tuple[str, float, float]]:
    data = random.Random(0).randbytes(CRYPT_BYTES)
    ciphertext = openssl(data, False)
    if ours(data, False) != ciphertext or ours(ciphertext, True) != data:
        raise SystemExit("fragments.storage XTS disagrees with cryptography: benchmark void")
    rows = []
    for name, decrypt, source in (("encrypt", False, data), ("decrypt", True, ciphertext)):
        reference = CRYPT_BYTES / MIB / best(3, lambda: openssl(source, decrypt))
        speed = CRYPT_BYTES / MIB / best(3, lambda: ours(source, decrypt))
        rows.append((f"dm-crypt {name}, fragments.storage", speed, speed / reference))
        rows.append((f"dm-crypt {name}, cryptography (OpenSSL)", reference, 1.0))
        ceiling = CRYPT_BYTES / MIB / best(3, lambda: openssl_ceiling(source, decrypt))
        rows.append((f"  (raw XTS {name}, cryptography, 1 MiB units)", ceiling, ceiling / reference))
    return rows


# --- ext2 -------------------------------------------------------------------------------
def blank_image() -> bytearray | None:
    mke2fs = shutil.which("mke2fs", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if mke2fs is None:
        return None
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "bench.img"
        subprocess.run([mke2fs, "-q", "-t", "ext2", "-F", "-b", "4096", str(path),
                        f"{IMAGE_BYTES // 1024}k"], check=True, capture_output=True)
        return bytearray(path.read_bytes())


class Clock:
    def __init__(self):
        self.now = 1_700_000_000

    def __call__(self) -> int:
        self.now += 1
        return self.now


def file_speeds(device) -> tuple[float, float]:
    """(write MiB/s including sync, read MiB/s) of one 8 MiB file on a fresh mount."""
    payload = random.Random(1).randbytes(FILE_BYTES)
    fs = Ext2(device, Clock())
    ino = fs.create(2, "bench.bin")
    start = time.perf_counter()
    for pos in range(0, FILE_BYTES, IO_CHUNK):
        fs.write(ino, pos, payload[pos:pos + IO_CHUNK])
    fs.sync()
    write = time.perf_counter() - start
    fs = Ext2(device, Clock())  # remount: a cold cache, reads come from the device
    ino = fs.lookup("/bench.bin")
    start = time.perf_counter()
    back = b"".join(fs.read(ino, pos, IO_CHUNK) for pos in range(0, FILE_BYTES, IO_CHUNK))
    read = time.perf_counter() - start
    if back != payload:
        raise SystemExit("ext2 read back different bytes: benchmark void")
    return FILE_BYTES / MIB / write, FILE_BYTES / MIB / read


def ext2_rows() -> list[tuple[str, float, float]]:
    image = blank_image()
    if image is None:
        print("(mke2fs not found: ext2 rows skipped)", file=sys.stderr)
        return []
    plain_write, plain_read = file_speeds(MemoryDevice(bytearray(image)))
    encrypted = bytearray(ours(bytes(image), False))
    crypt_device = CryptDevice(MemoryDevice(encrypted), CryptTarget(CipherSpec.parse("aes-xts-plain64"), KEY))
    crypt_write, crypt_read = file_speeds(crypt_device)
    return [("ext2 8 MiB file write+sync, memory", plain_write, 1.0),
            ("ext2 8 MiB file read, memory", plain_read, 1.0),
            ("ext2 8 MiB file write+sync, over dm-crypt", crypt_write, crypt_write / plain_write),
            ("ext2 8 MiB file read, over dm-crypt", crypt_read, crypt_read / plain_read)]


def main() -> None:
    rows = crypt_rows() + ext2_rows()
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'MiB/s':>8}  ratio")
    for name, speed, ratio in rows:
        print(f"{name:<{width}}  {speed:>8.1f}  {ratio:.2f}")
    print("ratio: to cryptography's XTS (dm-crypt rows) or to plain memory (ext2 rows), same run")


if __name__ == "__main__":
    main()
