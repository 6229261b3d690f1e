"""ext2 on-disk layout: the superblock, the group descriptors, and what a mount accepts.

Geometry (all block numbers absolute, 32-bit):

* the superblock is the 1024 bytes at byte offset 1024 of the device;
* block ``first_data_block`` (1 for 1 KiB blocks, else 0) starts group 0; group g
  covers blocks ``first_data_block + g * blocks_per_group`` onwards, the last group
  may be shorter;
* the group descriptor table starts in the block after the one holding the
  superblock: 32 bytes per group (block bitmap, inode bitmap, inode table, free
  blocks, free inodes, used directories);
* inode i (from 1) lives in group ``(i - 1) // inodes_per_group`` at index
  ``(i - 1) % inodes_per_group`` of that group's inode table.

Only the primary superblock and descriptor table are kept up to date, as Linux's
ext2 does between resizes; the backups (sparse_super) hold the layout, which never
changes here.

Both structures keep their raw bytes and write back only the fields declared in their
field table, so fields this driver does not model survive untouched.
"""

import errno
import struct
from dataclasses import dataclass

from fragments.storage.ext2.errors import FsError

MAGIC = 0xEF53
SUPERBLOCK_OFFSET = 1024
SUPERBLOCK_SIZE = 1024
GOOD_OLD_REV, DYNAMIC_REV = 0, 1
GOOD_OLD_INODE_SIZE = 128
GOOD_OLD_FIRST_INO = 11
ROOT_INO = 2
DESCRIPTOR_SIZE = 32
BLOCK_SIZES = (1024, 2048, 4096)
INODE_SIZES = (128, 256)

# Feature bits (s_feature_compat / _incompat / _ro_compat).
COMPAT_DIR_INDEX = 0x0020
INCOMPAT_FILETYPE = 0x0002
RO_COMPAT_SPARSE_SUPER = 0x0001
RO_COMPAT_LARGE_FILE = 0x0002

# What a read-write mount accepts. Unknown compat features are safe by definition
# (dir_prealloc, ext_attr, resize_inode, dir_index, even has_journal on a clean fs);
# unknown incompat or ro_compat features make a read-write mount impossible.
SUPPORTED_INCOMPAT = INCOMPAT_FILETYPE
SUPPORTED_RO_COMPAT = RO_COMPAT_SPARSE_SUPER | RO_COMPAT_LARGE_FILE

INCOMPAT_NAMES = {0x1: "compression", 0x2: "filetype", 0x4: "needs_recovery", 0x8: "journal_dev",
                  0x10: "meta_bg", 0x40: "extent", 0x80: "64bit", 0x100: "mmp", 0x200: "flex_bg",
                  0x400: "ea_inode", 0x1000: "dirdata", 0x2000: "metadata_csum_seed",
                  0x4000: "large_dir", 0x8000: "inline_data", 0x10000: "encrypt", 0x20000: "casefold"}
RO_COMPAT_NAMES = {0x1: "sparse_super", 0x2: "large_file", 0x4: "btree_dir", 0x8: "huge_file",
                   0x10: "uninit_bg", 0x20: "dir_nlink", 0x40: "extra_isize", 0x100: "quota",
                   0x200: "bigalloc", 0x400: "metadata_csum", 0x1000: "readonly", 0x2000: "project",
                   0x8000: "verity"}

_SUPER_FIELDS = {  # name: (byte offset, struct format); revision-1 fields start at 84
    "inodes_count": (0, "<I"), "blocks_count": (4, "<I"), "r_blocks_count": (8, "<I"),
    "free_blocks_count": (12, "<I"), "free_inodes_count": (16, "<I"),
    "first_data_block": (20, "<I"), "log_block_size": (24, "<I"),
    "blocks_per_group": (32, "<I"), "inodes_per_group": (40, "<I"), "wtime": (48, "<I"),
    "magic": (56, "<H"), "rev_level": (76, "<I"),
    "first_ino": (84, "<I"), "inode_size": (88, "<H"),
    "feature_compat": (92, "<I"), "feature_incompat": (96, "<I"), "feature_ro_compat": (100, "<I"),
}
_DESCRIPTOR_FIELDS = {
    "block_bitmap": (0, "<I"), "inode_bitmap": (4, "<I"), "inode_table": (8, "<I"),
    "free_blocks_count": (12, "<H"), "free_inodes_count": (14, "<H"), "used_dirs_count": (16, "<H"),
}


def _decode(raw: bytes, fields: dict[str, tuple[int, str]]) -> dict[str, int]:
    return {name: struct.unpack_from(fmt, raw, offset)[0] for name, (offset, fmt) in fields.items()}


def _encode(raw: bytearray, fields: dict[str, tuple[int, str]], values: object) -> bytes:
    for name, (offset, fmt) in fields.items():
        struct.pack_into(fmt, raw, offset, getattr(values, name))
    return bytes(raw)


@dataclass
class Superblock:
    """The decoded primary superblock. The driver changes only the free counts, the
    write time and (when a file first passes 2 GiB) the large_file feature."""

    raw: bytearray
    inodes_count: int
    blocks_count: int
    r_blocks_count: int
    free_blocks_count: int
    free_inodes_count: int
    first_data_block: int
    log_block_size: int
    blocks_per_group: int
    inodes_per_group: int
    wtime: int
    magic: int
    rev_level: int
    first_ino: int
    inode_size: int
    feature_compat: int
    feature_incompat: int
    feature_ro_compat: int

    @classmethod
    def decode(cls, raw: bytes) -> "Superblock":
        """Decode and validate; FsError(EINVAL) says why a filesystem cannot be mounted."""
        fields = _decode(raw, _SUPER_FIELDS)
        if fields["magic"] != MAGIC:
            raise FsError(errno.EINVAL, f"bad magic 0x{fields['magic']:04x}: not an ext2 filesystem")
        if fields["rev_level"] == GOOD_OLD_REV:  # the revision-1 area holds no meaning
            fields.update(first_ino=GOOD_OLD_FIRST_INO, inode_size=GOOD_OLD_INODE_SIZE,
                          feature_compat=0, feature_incompat=0, feature_ro_compat=0)
        superblock = cls(bytearray(raw), **fields)
        superblock._validate()
        return superblock

    def _validate(self) -> None:
        if self.rev_level not in (GOOD_OLD_REV, DYNAMIC_REV):
            raise FsError(errno.EINVAL, f"unsupported revision {self.rev_level}")
        unknown = self.feature_incompat & ~SUPPORTED_INCOMPAT
        if unknown:
            raise FsError(errno.EINVAL, f"unsupported incompat features: {_names(unknown, INCOMPAT_NAMES)}"
                                        " (ext3/ext4 or newer, not ext2)")
        unknown = self.feature_ro_compat & ~SUPPORTED_RO_COMPAT
        if unknown:
            raise FsError(errno.EINVAL, f"unsupported ro_compat features: {_names(unknown, RO_COMPAT_NAMES)}"
                                        " (cannot mount read-write)")
        if self.log_block_size > 2:
            raise FsError(errno.EINVAL, f"unsupported block size {1024 << min(self.log_block_size, 20)}")
        bits_per_bitmap = 8 * self.block_size
        if self.first_data_block != (1 if self.block_size == 1024 else 0):
            raise FsError(errno.EINVAL, f"first data block {self.first_data_block} is wrong for the block size")
        if not 0 < self.blocks_per_group <= bits_per_bitmap or not 0 < self.inodes_per_group <= bits_per_bitmap:
            raise FsError(errno.EINVAL, "blocks or inodes per group out of range")
        if self.inode_size not in INODE_SIZES:
            raise FsError(errno.EINVAL, f"unsupported inode size {self.inode_size}")
        if self.blocks_count <= self.first_data_block or self.inodes_count != self.group_count * self.inodes_per_group:
            raise FsError(errno.EINVAL, "block or inode count inconsistent with the group geometry")
        if not GOOD_OLD_FIRST_INO <= self.first_ino <= self.inodes_count:
            raise FsError(errno.EINVAL, f"first non-reserved inode {self.first_ino} out of range")
        if self.free_blocks_count > self.blocks_count or self.free_inodes_count > self.inodes_count:
            raise FsError(errno.EINVAL, "free counts exceed the totals")

    @property
    def block_size(self) -> int:
        return 1024 << self.log_block_size

    @property
    def group_count(self) -> int:
        return -(-(self.blocks_count - self.first_data_block) // self.blocks_per_group)

    @property
    def descriptor_table_block(self) -> int:
        return self.first_data_block + 1

    @property
    def has_filetype(self) -> bool:
        return bool(self.feature_incompat & INCOMPAT_FILETYPE)

    def group_first_block(self, group: int) -> int:
        return self.first_data_block + group * self.blocks_per_group

    def group_block_count(self, group: int) -> int:
        return min(self.blocks_per_group, self.blocks_count - self.group_first_block(group))

    def encode(self) -> bytes:
        fields = _SUPER_FIELDS if self.rev_level == DYNAMIC_REV else \
            {name: spec for name, spec in _SUPER_FIELDS.items() if spec[0] < 84}
        return _encode(self.raw, fields, self)


@dataclass
class GroupDescriptor:
    """One decoded group descriptor; the allocator owns the three counters."""

    raw: bytearray
    block_bitmap: int
    inode_bitmap: int
    inode_table: int
    free_blocks_count: int
    free_inodes_count: int
    used_dirs_count: int

    @classmethod
    def decode(cls, raw: bytes) -> "GroupDescriptor":
        return cls(bytearray(raw), **_decode(raw, _DESCRIPTOR_FIELDS))

    def encode(self) -> bytes:
        return _encode(self.raw, _DESCRIPTOR_FIELDS, self)


def decode_descriptors(superblock: Superblock, table: bytes) -> list[GroupDescriptor]:
    """Decode and validate the descriptor table (FsError(EINVAL) if it points outside a group)."""
    groups = []
    inode_table_blocks = -(-superblock.inodes_per_group * superblock.inode_size // superblock.block_size)
    for group in range(superblock.group_count):
        descriptor = GroupDescriptor.decode(table[group * DESCRIPTOR_SIZE:(group + 1) * DESCRIPTOR_SIZE])
        for name, length in (("block_bitmap", 1), ("inode_bitmap", 1), ("inode_table", inode_table_blocks)):
            first = getattr(descriptor, name)
            if not (superblock.first_data_block < first and first + length <= superblock.blocks_count):
                raise FsError(errno.EINVAL, f"group {group}: {name} at block {first} outside the filesystem")
        if descriptor.free_blocks_count > superblock.group_block_count(group) or \
                descriptor.free_inodes_count > superblock.inodes_per_group:
            raise FsError(errno.EINVAL, f"group {group}: free counts exceed the group size")
        groups.append(descriptor)
    return groups


def descriptor_table_size(superblock: Superblock) -> int:
    """Bytes of the descriptor table, rounded up to whole blocks."""
    size = superblock.group_count * DESCRIPTOR_SIZE
    return -(-size // superblock.block_size) * superblock.block_size


def _names(bits: int, names: dict[int, str]) -> str:
    return ", ".join(names.get(1 << i, f"0x{1 << i:x}") for i in range(32) if bits & (1 << i))
