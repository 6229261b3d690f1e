"""Shared helpers for the storage tests: real ext2 images from mke2fs, and the e2fsprogs
checkers (e2fsck, debugfs) as independent judges of what the driver wrote."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from fragments.storage.blockdev import MemoryDevice
from fragments.storage.ext2 import Ext2

E2FSPROGS = all(shutil.which(tool) for tool in ("mke2fs", "e2fsck", "debugfs"))
needs_e2fsprogs = pytest.mark.skipif(not E2FSPROGS, reason="e2fsprogs (mke2fs, e2fsck, debugfs) not installed")

FIXED_TIME = 1_700_000_000


class ModelClock:
    """A stand-in for the model's clock: advances one second per reading."""

    def __init__(self, start: int = FIXED_TIME) -> None:
        self.now = start

    def __call__(self) -> int:
        self.now += 1
        return self.now


def make_image(path: Path, size_kib: int, block_size: int = 1024, revision: int = 1,
               source: Path | None = None, extra: tuple[str, ...] = (), fs_type: str = "ext2") -> Path:
    """Build an image with mke2fs (``-d source`` populates it)."""
    command = ["mke2fs", "-q", "-F", "-t", fs_type, "-b", str(block_size), "-r", str(revision),
               "-E", "root_owner=0:0", *extra]
    if source is not None:
        command += ["-d", str(source)]
    subprocess.run([*command, str(path), f"{size_kib}k"], check=True, capture_output=True,
                   env={**os.environ, "E2FSPROGS_FAKE_TIME": str(FIXED_TIME)})
    return path


def fsck(path: Path) -> subprocess.CompletedProcess:
    """``e2fsck -fn``: exit status 0 means the filesystem is fully consistent."""
    return subprocess.run(["e2fsck", "-fn", str(path)], capture_output=True, text=True)


def assert_clean(path: Path) -> None:
    result = fsck(path)
    assert result.returncode == 0, result.stdout + result.stderr


def debugfs_cat(path: Path, file: str) -> bytes:
    result = subprocess.run(["debugfs", "-R", f"cat {file}", str(path)], capture_output=True, check=True)
    return result.stdout


def debugfs(path: Path, request: str) -> str:
    return subprocess.run(["debugfs", "-R", request, str(path)], capture_output=True, text=True, check=True).stdout


def decrypt_with_cryptography(ciphertext: bytes, key: bytes) -> bytes:
    """plain64 dm-crypt decryption, sector by sector, by the `cryptography` package."""
    sectors = []
    for sector in range(len(ciphertext) // 512):
        iv = sector.to_bytes(8, "little") + bytes(8)
        decryptor = Cipher(algorithms.AES(key), modes.XTS(iv)).decryptor()
        sectors.append(decryptor.update(ciphertext[sector * 512:(sector + 1) * 512]))
    return b"".join(sectors)


class Mounted:
    """An image file loaded into memory and mounted; ``save()`` syncs and writes it back."""

    def __init__(self, path: Path, clock: ModelClock | None = None) -> None:
        self.path = path
        self.image = bytearray(path.read_bytes())
        self.fs = Ext2(MemoryDevice(self.image), clock or ModelClock())

    def save(self) -> Path:
        self.fs.sync()
        self.path.write_bytes(self.image)
        return self.path


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A small source tree for ``mke2fs -d``: files, a subdirectory, both symlink kinds."""
    root = tmp_path / "tree"
    (root / "docs").mkdir(parents=True)
    (root / "hello.txt").write_bytes(b"hello, ext2\n")
    (root / "docs" / "big.bin").write_bytes(bytes(range(256)) * 200)  # 51200 bytes: indirect with 1 KiB
    (root / "empty").write_bytes(b"")
    (root / "fast").symlink_to("hello.txt")
    (root / "slow").symlink_to("d/" * 40 + "target")
    return root
