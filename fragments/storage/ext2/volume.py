"""A mounted ext2 volume: validated metadata, the block cache, allocation, the inode table.

Mounting is all decode: it reads the superblock, the descriptor table and the root
inode, validates them (FsError(EINVAL) with the reason), and writes nothing.

What lives where, and who changes it:

* the superblock and descriptors are decoded once and live in memory; the allocator
  changes their counters, ``note_size`` may set large_file, and ``sync`` encodes them
  into the cache (only the primary copies; see ``layout``) and flushes the cache —
  the only durability point;
* inodes live in the inode tables, read and written through the cache by ``get`` and
  ``put``; a caller holds at most one decoded copy of an inode at a time.
"""

import errno

from fragments.storage.blockdev import SECTOR_SIZE, BlockDevice
from fragments.storage.ext2.alloc import Allocator
from fragments.storage.ext2.blockmap import BlockMap
from fragments.storage.ext2.cache import BlockCache
from fragments.storage.ext2.errors import FsError
from fragments.storage.ext2.inode import Inode
from fragments.storage.ext2.layout import (DESCRIPTOR_SIZE, DYNAMIC_REV, RO_COMPAT_LARGE_FILE, ROOT_INO,
                                           SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE, Superblock, decode_descriptors,
                                           descriptor_table_size)

SMALL_FILE_MAX = 2 ** 31 - 1  # beyond this a file needs the large_file feature


class Volume:
    def __init__(self, device: BlockDevice, cache_blocks: int) -> None:
        if device.sector_count * SECTOR_SIZE < SUPERBLOCK_OFFSET + SUPERBLOCK_SIZE:
            raise FsError(errno.EINVAL, "device too small to hold an ext2 superblock")
        sb = Superblock.decode(device.read(SUPERBLOCK_OFFSET // SECTOR_SIZE, SUPERBLOCK_SIZE // SECTOR_SIZE))
        if sb.blocks_count * sb.block_size > device.sector_count * SECTOR_SIZE:
            raise FsError(errno.EINVAL, f"filesystem of {sb.blocks_count} blocks is larger than the device")
        table_sector = sb.descriptor_table_block * sb.block_size // SECTOR_SIZE
        groups = decode_descriptors(sb, device.read(table_sector, descriptor_table_size(sb) // SECTOR_SIZE))
        self.sb = sb
        self.groups = groups
        self.block_size = sb.block_size
        self.cache = BlockCache(device, sb.block_size, sb.blocks_count, cache_blocks)
        self.alloc = Allocator(self.cache, sb, groups)
        self.map = BlockMap(self.cache, self.alloc, sb.block_size)
        self._large_sizes = sb.rev_level == DYNAMIC_REV
        self._changed = False  # metadata or an inode changed since the last sync
        per = sb.block_size // 4
        # i_blocks is 32-bit, in sectors, and also counts the indirect blocks.
        blocks_cap = (2 ** 32 - 1) // (sb.block_size // SECTOR_SIZE) - (3 + 2 * per + per * per)
        self._max_size = min(self.map.limit, blocks_cap) * sb.block_size
        root = self.get(ROOT_INO)
        if not root.is_dir or root.links == 0:
            raise FsError(errno.EINVAL, "root inode is not a directory")

    def get(self, ino: int) -> Inode:
        block, offset = self._inode_location(ino)
        raw = self.cache.read(block)[offset:offset + self.sb.inode_size]
        return Inode.decode(raw, self._large_sizes)

    def put(self, ino: int, inode: Inode) -> None:
        block, offset = self._inode_location(ino)
        self.cache.patch(block, offset, inode.encode(self._large_sizes))
        self._changed = True

    def check_size(self, size: int) -> None:
        """FsError(EFBIG) unless a regular file may be ``size`` bytes long."""
        if size > self._max_size or (size > SMALL_FILE_MAX and not self._large_sizes):
            raise FsError(errno.EFBIG, f"file size {size} beyond what this filesystem can hold")

    def note_size(self, size: int) -> None:
        """Set large_file the first time a file passes 2 GiB, as Linux does (after check_size)."""
        if size > SMALL_FILE_MAX and not self.sb.feature_ro_compat & RO_COMPAT_LARGE_FILE:
            self.sb.feature_ro_compat |= RO_COMPAT_LARGE_FILE
            self._changed = True

    def group_goal(self, ino: int) -> int:
        """Where to start looking for blocks for an inode: the start of its group."""
        return self.sb.group_first_block(self.alloc.group_of_inode(ino))

    def sync(self, now: int) -> None:
        """Write the superblock (stamped ``now``) and descriptors into the cache, flush it all."""
        if self._changed:
            self.sb.wtime = now
            self.cache.patch(SUPERBLOCK_OFFSET // self.block_size, SUPERBLOCK_OFFSET % self.block_size,
                             self.sb.encode())
            for group, descriptor in enumerate(self.groups):
                block, offset = divmod(group * DESCRIPTOR_SIZE, self.block_size)
                self.cache.patch(self.sb.descriptor_table_block + block, offset, descriptor.encode())
            self._changed = False
        self.cache.sync()

    def _inode_location(self, ino: int) -> tuple[int, int]:
        if not 1 <= ino <= self.sb.inodes_count:
            raise FsError(errno.EINVAL, f"inode number {ino} out of range")
        group, index = divmod(ino - 1, self.sb.inodes_per_group)
        block, offset = divmod(index * self.sb.inode_size, self.block_size)
        return self.groups[group].inode_table + block, offset
