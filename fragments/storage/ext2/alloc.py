"""Block and inode allocation over the per-group bitmaps.

Invariants kept by every method (e2fsck's pass 5 checks exactly these):

* a bit is set in a group's block (inode) bitmap iff that block (inode) is in use;
  bits past the end of a short last group are set and never touched;
* each group descriptor's free_blocks_count / free_inodes_count is the number of
  clear bits of its bitmap, used_dirs_count the number of directory inodes in use,
  and the superblock's free counts are the sums over all groups.

Allocation raises FsError(ENOSPC) when nothing is free — callers check ``free_blocks``
/ ``free_inodes`` first so that an operation fails before changing anything. The
reserved-block count is not enforced: every caller is treated as root.
"""

import errno
import re

from fragments.storage.ext2.cache import BlockCache
from fragments.storage.ext2.errors import FsError
from fragments.storage.ext2.layout import GroupDescriptor, Superblock

_NOT_FULL = re.compile(rb"[^\xff]")


class Allocator:
    def __init__(self, cache: BlockCache, superblock: Superblock, groups: list[GroupDescriptor]) -> None:
        self._cache = cache
        self._sb = superblock
        self._groups = groups

    @property
    def free_blocks(self) -> int:
        return self._sb.free_blocks_count

    @property
    def free_inodes(self) -> int:
        return self._sb.free_inodes_count

    def group_of_block(self, block: int) -> int:
        return (block - self._sb.first_data_block) // self._sb.blocks_per_group

    def group_of_inode(self, ino: int) -> int:
        return (ino - 1) // self._sb.inodes_per_group

    def allocate_block(self, goal: int) -> int:
        """Allocate a free block, the first at or after ``goal`` in its group if possible, then
        any group in order after it."""
        sb = self._sb
        goal = goal if sb.first_data_block <= goal < sb.blocks_count else sb.first_data_block
        first_group = self.group_of_block(goal)
        for step in range(sb.group_count):
            group = (first_group + step) % sb.group_count
            if self._groups[group].free_blocks_count == 0:
                continue
            start = goal - sb.group_first_block(group) if step == 0 else 0
            bit = self._take_bit(self._groups[group].block_bitmap, start, sb.group_block_count(group))
            if bit is None and step == 0:
                bit = self._take_bit(self._groups[group].block_bitmap, 0, start)
            if bit is not None:
                self._count_blocks(group, -1)
                return sb.group_first_block(group) + bit
        raise FsError(errno.ENOSPC, "no free blocks")

    def free_block(self, block: int) -> None:
        group = self.group_of_block(block)
        self._clear_bit(self._groups[group].block_bitmap, block - self._sb.group_first_block(group), "block", block)
        self._count_blocks(group, +1)

    def allocate_inode(self, parent_ino: int, is_dir: bool) -> int:
        """Allocate an inode: a file goes near its parent; a directory goes to the group with
        the most free inodes (spreading directories, a simple Orlov)."""
        sb = self._sb
        groups = range(sb.group_count)
        if is_dir:
            order = sorted(groups, key=lambda g: -self._groups[g].free_inodes_count)
        else:
            home = self.group_of_inode(parent_ino)
            order = [(home + step) % sb.group_count for step in groups]
        for group in order:
            if self._groups[group].free_inodes_count == 0:
                continue
            first = max(0, sb.first_ino - 1 - group * sb.inodes_per_group)
            bit = self._take_bit(self._groups[group].inode_bitmap, first, sb.inodes_per_group)
            if bit is not None:
                self._count_inodes(group, -1, is_dir)
                return group * sb.inodes_per_group + bit + 1
        raise FsError(errno.ENOSPC, "no free inodes")

    def free_inode(self, ino: int, is_dir: bool) -> None:
        group = self.group_of_inode(ino)
        self._clear_bit(self._groups[group].inode_bitmap, (ino - 1) % self._sb.inodes_per_group, "inode", ino)
        self._count_inodes(group, +1, is_dir)

    def _count_blocks(self, group: int, delta: int) -> None:
        self._groups[group].free_blocks_count += delta
        self._sb.free_blocks_count += delta

    def _count_inodes(self, group: int, delta: int, is_dir: bool) -> None:
        self._groups[group].free_inodes_count += delta
        self._sb.free_inodes_count += delta
        if is_dir:
            self._groups[group].used_dirs_count -= delta

    def _take_bit(self, bitmap_block: int, start: int, limit: int) -> int | None:
        """Set and return the first clear bit in [start, limit) of a bitmap block, or None."""
        bitmap = self._cache.read(bitmap_block)
        position = start
        while position < limit:
            byte_index = position >> 3
            byte = bitmap[byte_index]
            free = [bit for bit in range(position & 7, 8) if not byte & (1 << bit)]
            if free and (byte_index << 3) + free[0] < limit:
                bit = (byte_index << 3) + free[0]
                self._cache.patch(bitmap_block, byte_index, bytes([byte | (1 << free[0])]))
                return bit
            if free:
                return None
            match = _NOT_FULL.search(bitmap, byte_index + 1, -(-limit // 8))
            if match is None:
                return None
            position = match.start() << 3
        return None

    def _clear_bit(self, bitmap_block: int, bit: int, kind: str, number: int) -> None:
        byte = self._cache.read(bitmap_block)[bit >> 3]
        if not byte & (1 << (bit & 7)):
            raise FsError(errno.EIO, f"freeing {kind} {number}, which is already free")
        self._cache.patch(bitmap_block, bit >> 3, bytes([byte & ~(1 << (bit & 7))]))
