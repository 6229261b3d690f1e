"""Mount validation (fragments.storage.ext2.layout): what is not a writable ext2 is refused with
EINVAL and a clear message, and nothing is written."""

import errno
import os
import struct

import pytest

from fragments.storage.blockdev import MemoryDevice
from fragments.storage.ext2 import Ext2, FsError

from .conftest import make_image, needs_e2fsprogs


class ReadOnlyDevice(MemoryDevice):
    """A device that fails the test on any write."""

    def write(self, sector: int, data: bytes) -> None:
        raise AssertionError(f"mount wrote sector {sector}")


def refuse_mount(image: bytes, *words: str) -> None:
    with pytest.raises(FsError) as raised:
        Ext2(ReadOnlyDevice(bytearray(image)), lambda: 0)
    assert raised.value.errno == errno.EINVAL
    for word in words:
        assert word in str(raised.value)


@needs_e2fsprogs
@pytest.mark.parametrize("block_size, revision", [(1024, 0), (1024, 1), (2048, 1), (4096, 0), (4096, 1)])
def test_mount_accepts_mke2fs_ext2_and_writes_nothing(tmp_path, block_size, revision):
    """Every revision and block size mke2fs makes mounts, without a single write."""
    image = make_image(tmp_path / "fs.img", 2048, block_size, revision).read_bytes()
    fs = Ext2(ReadOnlyDevice(bytearray(image)), lambda: 0)
    assert fs.statfs().block_size == block_size
    fs.sync()  # nothing changed, so nothing to write


def test_random_garbage_is_refused():
    """Random bytes are not ext2 (bad magic)."""
    refuse_mount(os.urandom(1 << 20), "bad magic", "not an ext2")


def test_zeroed_and_tiny_devices_are_refused():
    """An all-zero disk and a disk too small for a superblock are refused."""
    refuse_mount(bytes(1 << 20), "bad magic")
    refuse_mount(bytes(1024), "too small")


@needs_e2fsprogs
def test_ext4_is_refused(tmp_path):
    """ext4 (extents, 64bit, flex_bg, metadata_csum …) is refused, naming the features."""
    path = tmp_path / "ext4.img"
    make_image(path, 4096, 1024, extra=("-O", "^has_journal"), fs_type="ext4")
    refuse_mount(path.read_bytes(), "incompat", "extent")


@needs_e2fsprogs
def test_unsupported_ro_compat_is_refused(tmp_path):
    """A read-only-compatible feature we do not maintain (huge_file) forbids a read-write mount."""
    path = make_image(tmp_path / "fs.img", 2048, extra=("-O", "huge_file"))
    refuse_mount(path.read_bytes(), "ro_compat", "huge_file")


@needs_e2fsprogs
@pytest.mark.parametrize("offset, fmt, value, words", [
    (24, "<I", 5, ("block size",)),           # s_log_block_size: 32 KiB
    (76, "<I", 7, ("revision",)),             # s_rev_level
    (88, "<H", 200, ("inode size",)),         # s_inode_size
    (4, "<I", 1 << 30, ("inconsistent",)),   # s_blocks_count: groups no longer match the inodes
    (40, "<I", 0, ("per group",)),            # s_inodes_per_group
])
def test_corrupt_superblock_fields_are_refused(tmp_path, offset, fmt, value, words):
    """Superblock fields out of range are refused before any other read is trusted."""
    image = bytearray(make_image(tmp_path / "fs.img", 2048).read_bytes())
    struct.pack_into(fmt, image, 1024 + offset, value)
    refuse_mount(bytes(image), *words)


@needs_e2fsprogs
def test_truncated_image_is_refused(tmp_path):
    """A filesystem larger than its device is refused (its end would be unreadable)."""
    image = make_image(tmp_path / "fs.img", 2048).read_bytes()
    refuse_mount(image[:len(image) // 2], "larger than the device")


@needs_e2fsprogs
def test_descriptor_pointing_outside_is_refused(tmp_path):
    """A group descriptor whose inode table lies outside the filesystem is refused."""
    image = bytearray(make_image(tmp_path / "fs.img", 2048).read_bytes())
    struct.pack_into("<I", image, 2048 + 8, 10 ** 6)  # group 0 bg_inode_table (1 KiB blocks)
    refuse_mount(bytes(image), "inode_table")
