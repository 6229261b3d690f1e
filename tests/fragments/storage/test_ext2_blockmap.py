"""Direct, single-, double- and triple-indirect blocks and holes (fragments.storage.ext2.blockmap),
checked by e2fsck and debugfs."""

import hashlib
import os
import pytest

from fragments.storage.blockdev import MemoryDevice
from fragments.storage.ext2 import Ext2

from .conftest import Mounted, assert_clean, debugfs, debugfs_cat, make_image, needs_e2fsprogs

pytestmark = needs_e2fsprogs


@pytest.mark.parametrize("block_size", [1024, 2048, 4096])
def test_eight_mib_file_uses_double_indirect(tmp_path, block_size):
    """An 8 MiB file (past the single-indirect range for every block size up to 4 KiB) round-trips
    through the driver, debugfs and e2fsck; i_blocks counts data plus indirect blocks."""
    path = make_image(tmp_path / "fs.img", 12 * 1024, block_size)
    mounted = Mounted(path)
    fs = mounted.fs
    data = os.urandom(8 << 20)
    ino = fs.create(2, "big")
    fs.write(ino, 0, data)
    per = block_size // 4
    blocks = len(data) // block_size
    indirect = 1 + 1 + -(-(blocks - 12 - per) // per)
    assert fs.stat(ino).blocks == (blocks + indirect) * block_size // 512
    assert fs.read(ino, 0, len(data)) == data
    mounted.save()
    assert_clean(path)
    assert hashlib.sha256(debugfs_cat(path, "/big")).digest() == hashlib.sha256(data).digest()
    reread = Mounted(path).fs
    assert reread.read(reread.lookup("/big"), 3 << 20, 4096) == data[3 << 20:(3 << 20) + 4096]


@pytest.mark.parametrize("block_size, offset", [(1024, 70 << 20), (4096, 5 << 30)])
def test_sparse_file_reaches_triple_indirect(tmp_path, block_size, offset):
    """A write far past the end lands in the triple-indirect tree without allocating the hole
    (with 4 KiB blocks the file passes 4 GiB, exercising large_file); holes read as zeros."""
    path = make_image(tmp_path / "fs.img", 2048, block_size, extra=("-O", "^large_file"))
    mounted = Mounted(path)
    fs = mounted.fs
    free = fs.statfs().free_blocks
    ino = fs.create(2, "sparse")
    fs.write(ino, 0, b"head")
    fs.write(ino, offset, b"tail" * 700)
    assert fs.stat(ino).size == offset + 2800
    assert fs.read(ino, offset - 10, 14) == bytes(10) + b"tail"
    assert fs.read(ino, 4, 100) == bytes(100)
    tail_blocks = -(-2800 // block_size)
    assert free - fs.statfs().free_blocks == 1 + tail_blocks + 3  # head, tail, one block per tree level
    mounted.save()
    assert_clean(path)
    assert "(TIND)" in debugfs(path, "stat /sparse")
    assert ("large_file" in debugfs(path, "features")) == (offset >= 2 ** 31)
    fs.truncate(ino, 4)
    assert fs.statfs().free_blocks == free - 1
    mounted.save()
    assert_clean(path)
    assert debugfs_cat(path, "/sparse") == b"head"


def test_truncate_frees_indirect_blocks_and_zeroes_the_tail(tmp_path):
    """Shrinking frees every block past the end, indirect ones included; the bytes past the new
    end inside its last block read as zeros when the file grows again."""
    path = make_image(tmp_path / "fs.img", 4096, 1024)
    mounted = Mounted(path)
    fs = mounted.fs
    free = fs.statfs().free_blocks
    ino = fs.create(2, "f")
    fs.write(ino, 0, b"\xff" * (400 * 1024))
    fs.truncate(ino, 1500)
    assert fs.statfs().free_blocks == free - 2
    fs.truncate(ino, 3000)
    assert fs.read(ino, 0, 3000) == b"\xff" * 1500 + bytes(1500)
    assert fs.statfs().free_blocks == free - 2  # growing allocates nothing
    fs.truncate(ino, 0)
    assert fs.statfs().free_blocks == free and fs.stat(ino).blocks == 0
    mounted.save()
    assert_clean(path)


def test_small_cache_evicts_without_losing_writes(tmp_path):
    """With a tiny write-back cache, evicted dirty blocks reach the device and reads see them."""
    path = make_image(tmp_path / "fs.img", 4096, 1024)
    image = bytearray(path.read_bytes())
    fs = Ext2(MemoryDevice(image), lambda: 1, cache_blocks=8)
    data = os.urandom(300 * 1024)
    ino = fs.create(2, "f")
    fs.write(ino, 0, data)
    assert fs.read(ino, 0, len(data)) == data
    fs.sync()
    path.write_bytes(image)
    assert_clean(path)
    assert debugfs_cat(path, "/f") == data
