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
3. The whole fragment stack in the model: busybox (``cp`` from the ramfs, then, on a fresh
   boot, ``cat`` to /dev/null) writes and reads an 8 MiB file on an encrypted image through
   vfs → ext2 → devmapper → crypto → blockdev → the virtual disk, in the monolithic and
   the fragmented composition (mount and the flush at unmount included), vs a plain Python
   loop that encrypts the same bytes with the same AES-XTS and writes (reads) the image
   file in the same run. The written file is checked. These rows also give the modeled
   cycles per KiB (from the cost table and the disk's timing, not host time).

Host time only in the MiB/s column. Run: python benchmarks/storage_bench.py
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

from fragments.linux.system import FRAGMENTS, boot_linux  # noqa: E402
from fragments.runtime import graph  # noqa: E402
from fragments.storage.blockdev import FileDevice, MemoryDevice  # noqa: E402
from fragments.storage.dmcrypt import (IMAGE_CHUNK_SECTORS, CipherSpec, CryptDevice,  # noqa: E402
                                      CryptTarget)
from fragments.storage.ext2 import Ext2  # noqa: E402
from kernel_model.machine import Machine  # noqa: E402
from table import print_table  # noqa: E402  (benchmarks/, run as scripts)

MIB = 1 << 20
CRYPT_BYTES = 16 * MIB
FILE_BYTES = 8 * MIB
IMAGE_BYTES = 64 * MIB
IO_CHUNK = 64 << 10
KEY = bytes(range(64))
SECTOR = 512
BUSYBOX = Path("/tmp/bb/bin/busybox")


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
def blank_image(size: int = IMAGE_BYTES) -> bytearray | None:
    mke2fs = shutil.which("mke2fs", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if mke2fs is None:
        return None
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "bench.img"
        subprocess.run([mke2fs, "-q", "-t", "ext2", "-F", "-b", "4096", str(path),
                        f"{size // 1024}k"], check=True, capture_output=True)
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


# --- the whole fragment stack in the model ---------------------------------------------
def in_model(composition: str, image: Path, argv: list[str], files=(), traces: list | None = None
             ) -> tuple[float, int]:
    """Boot, attach ``image``, run busybox ``argv`` to its end, detach (flush): (host
    seconds, modeled cycles) of all of it. ``traces`` collects the machine's trace."""
    machine = Machine(cores=1, seed=0)
    system = boot_linux(machine, composition)
    system.fs.add_file(b"/bin/busybox", BUSYBOX.read_bytes())
    for path, data in files:
        system.fs.add_file(path, data)
    machine.uart.feed(b"")
    start, cycles = time.perf_counter(), machine.modeled_time()
    if system.attach_disk(str(image), KEY) is not None:
        raise SystemExit(f"{image}: the model refused the image: benchmark void")
    pid = system.spawn("/bin/busybox", ["busybox", *argv], [])
    machine.run()
    if system.detach_disk() is not None or system.exit_status(pid) != 0 or machine.crashes:
        raise SystemExit(f"busybox {' '.join(argv)} failed in the model: benchmark void")
    if traces is not None:
        traces.append(machine.trace)
    return time.perf_counter() - start, machine.modeled_time() - cycles


def planned_composition(trace, directory: str) -> str:
    """The planner's composition for the profiled run (one core), as a TOML file."""
    proposal = graph.plan(graph.profile(graph.event_dicts(trace)), FRAGMENTS, 1)
    path = Path(directory) / "plan-storage.toml"
    path.write_text(proposal.composition("plan-storage").to_toml())
    return str(path)


def python_loop(payload: bytes, path: Path) -> tuple[float, float]:
    """(write+fsync, read) seconds of the baseline: encrypt 4 KiB at a time with the same
    AES-XTS and write the image file there, then read and decrypt it back."""
    target = CryptTarget(CipherSpec.parse("aes-xts-plain64"), KEY)
    step = 4096
    with FileDevice(path) as device:
        start = time.perf_counter()
        for pos in range(0, len(payload), step):
            device.write(pos // SECTOR, target.encrypt(pos // SECTOR, payload[pos:pos + step]))
        os.fsync(device._fd)
        write = time.perf_counter() - start
        start = time.perf_counter()
        back = b"".join(target.decrypt(pos // SECTOR, device.read(pos // SECTOR, step // SECTOR))
                        for pos in range(0, len(payload), step))
        read = time.perf_counter() - start
    if back != payload:
        raise SystemExit("the baseline loop read back different bytes: benchmark void")
    return write, read


def stack_rows() -> list[tuple]:
    image = blank_image(4 * FILE_BYTES)
    if image is None or not BUSYBOX.exists():
        print("(mke2fs or /tmp/bb/bin/busybox missing: fragment-stack rows skipped)", file=sys.stderr)
        return []
    payload = random.Random(2).randbytes(FILE_BYTES)
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "stack.img"
        path.write_bytes(ours(bytes(image), False))
        loop_write, loop_read = python_loop(payload, Path(directory) / "stack.img")
        path.write_bytes(ours(bytes(image), False))
        base_write, base_read = FILE_BYTES / MIB / loop_write, FILE_BYTES / MIB / loop_read
        rows += [("stack 8 MiB write+sync, Python loop (AES-XTS + file)", base_write, 1.0, ""),
                 ("stack 8 MiB read, Python loop (file + AES-XTS)", base_read, 1.0, "")]
        traces: list = []
        for composition in ("monolithic", "fragmented", "planner"):
            if composition == "planner":     # planned from the fragmented runs' traffic
                composition = planned_composition(traces[-1], directory)
            path.write_bytes(ours(bytes(image), False))
            write, write_cycles = in_model(composition, path, ["cp", "/tmp/src", "/mnt/f"],
                                           [(b"/tmp/src", payload)], traces)
            fs = Ext2(CryptDevice(MemoryDevice(bytearray(path.read_bytes())),
                                  CryptTarget(CipherSpec.parse("aes-xts-plain64"), KEY)), Clock())
            if fs.read(fs.lookup("/f"), 0, FILE_BYTES + 1) != payload:
                raise SystemExit("the model wrote different bytes: benchmark void")
            read, read_cycles = in_model(composition, path, ["sh", "-c", "cat /mnt/f > /dev/null"])
            speed_w, speed_r = FILE_BYTES / MIB / write, FILE_BYTES / MIB / read
            per_kib = FILE_BYTES // 1024
            name = Path(composition).stem
            rows += [(f"stack 8 MiB write+sync, model {name}", speed_w, speed_w / base_write,
                      f"{write_cycles // per_kib:,} cycles/KiB"),
                     (f"stack 8 MiB read, model {name}", speed_r, speed_r / base_read,
                      f"{read_cycles // per_kib:,} cycles/KiB")]
    return rows


def main() -> None:
    rows = [(*row, "") for row in crypt_rows() + ext2_rows()] + stack_rows()
    print_table(("measure", "MiB/s", "ratio", ""),
                [(name, f"{speed:.1f}", f"{ratio:.2f}", note) for name, speed, ratio, note in rows])
    print("ratio: to cryptography's XTS (dm-crypt rows), to plain memory (ext2 rows), or to the "
          "Python loop (stack rows), same run; cycles/KiB: modeled, per KiB of the file")


if __name__ == "__main__":
    main()
