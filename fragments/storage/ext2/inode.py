"""The ext2 inode: decoding, encoding, and what its mode says.

An inode is ``inode_size`` bytes (128, or 256 with an extra area this driver leaves
alone) at a fixed place in its group's inode table. Fields kept by the driver:

* ``size`` — bytes; 64-bit for regular files (``i_size_high`` at offset 108 in
  revision 1), 32-bit for everything else (offset 108 is ``i_dir_acl`` there);
* ``blocks`` — 512-byte sectors allocated: data, indirect and extended-attribute
  blocks, never holes;
* ``block`` — 15 words: 12 direct pointers, then single-, double- and triple-indirect
  pointers (0 = hole). A fast symlink (target < 60 bytes) keeps its target in these
  60 bytes instead;
* ``links``, ``dtime`` — an inode is in use iff its bitmap bit is set; a freed inode
  has links 0 and its deletion time set.
"""

import stat
import struct
from dataclasses import dataclass, field

_FIELDS = struct.Struct("<HHIIIIIHHII4x60sIII")  # mode … i_block, generation, file_acl, size_high
BLOCK_POINTERS = 15
DIRECT_BLOCKS = 12
FAST_SYMLINK_MAX = 59  # a target of < 60 bytes lives in i_block
LINK_MAX = 32000
INDEX_FLAG = 0x1000  # EXT2_INDEX_FL: hashed (htree) directory

# ext2 directory-entry file types (filetype feature) by S_IFMT, and Linux d_type by S_IFMT.
FILE_TYPES = {stat.S_IFREG: 1, stat.S_IFDIR: 2, stat.S_IFCHR: 3, stat.S_IFBLK: 4,
              stat.S_IFIFO: 5, stat.S_IFSOCK: 6, stat.S_IFLNK: 7}
FILE_TYPE_FORMATS = {code: fmt for fmt, code in FILE_TYPES.items()}


@dataclass
class Inode:
    raw: bytearray
    mode: int
    uid: int
    size: int
    atime: int
    ctime: int
    mtime: int
    dtime: int
    gid: int
    links: int
    blocks: int
    flags: int
    block: list[int] = field(default_factory=lambda: [0] * BLOCK_POINTERS)
    generation: int = 0
    file_acl: int = 0

    @classmethod
    def decode(cls, raw: bytes, large_sizes: bool) -> "Inode":
        """Decode; ``large_sizes`` (revision 1) makes regular-file sizes 64-bit."""
        (mode, uid, size, atime, ctime, mtime, dtime, gid, links, blocks, flags, block_bytes,
         generation, file_acl, size_high) = _FIELDS.unpack_from(raw)
        if large_sizes and stat.S_ISREG(mode):
            size |= size_high << 32
        return cls(bytearray(raw), mode, uid, size, atime, ctime, mtime, dtime, gid, links, blocks,
                   flags, list(struct.unpack("<15I", block_bytes)), generation, file_acl)

    @classmethod
    def new(cls, inode_size: int, mode: int, now: int) -> "Inode":
        """A fresh inode: all bytes zero (extra area included), one link, times = now."""
        return cls(bytearray(inode_size), mode, 0, 0, now, now, now, 0, 0, 1, 0, 0)

    def encode(self, large_sizes: bool) -> bytes:
        size_high = self.size >> 32 if large_sizes and stat.S_ISREG(self.mode) else \
            struct.unpack_from("<I", self.raw, 108)[0]
        _FIELDS.pack_into(self.raw, 0, self.mode, self.uid, self.size & 0xFFFF_FFFF, self.atime,
                          self.ctime, self.mtime, self.dtime, self.gid, self.links, self.blocks,
                          self.flags, struct.pack("<15I", *self.block), self.generation,
                          self.file_acl, size_high)
        return bytes(self.raw)

    @property
    def format(self) -> int:
        return stat.S_IFMT(self.mode)

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.mode)

    @property
    def is_fast_symlink(self) -> bool:
        """A symlink whose target is in ``block`` (e2fsprogs' rule: target shorter than 60 bytes)."""
        return stat.S_ISLNK(self.mode) and self.size <= FAST_SYMLINK_MAX

    @property
    def rdev(self) -> int:
        """A device file's number, as Linux stores it (old encoding in ``block[0]``, else the
        new one in ``block[1]``); 0 for every other kind of file."""
        if self.format not in (stat.S_IFCHR, stat.S_IFBLK):
            return 0
        return self.block[0] or self.block[1]

    @property
    def has_block_map(self) -> bool:
        """Whether ``block`` holds block pointers (everything but a fast symlink)."""
        return not self.is_fast_symlink
