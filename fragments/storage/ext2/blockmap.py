"""The inode block map: logical block → physical block through (multi-)indirect blocks.

With P = block_size / 4 pointers per indirect block, logical block l is reached by
``i_block[l]`` for l < 12, then through the single- (``i_block[12]``, P blocks),
double- (``i_block[13]``, P²) and triple-indirect (``i_block[14]``, P³) trees.

Invariants:

* pointer 0 is a hole: reads see zeros, nothing is allocated;
* every allocated block — data or indirect — is counted in ``inode.blocks`` (in
  512-byte sectors) and set in the block bitmap;
* an indirect block exists only while it maps at least one block: ``cut`` frees the
  ones it empties;
* new indirect blocks are zeroed before a pointer to them is stored.

Decode, then perform: ``missing`` counts what ``ensure`` would allocate, so that a
caller can refuse with ENOSPC before allocating anything.
"""

import errno
import struct
from collections.abc import Iterable

from fragments.storage.blockdev import SECTOR_SIZE
from fragments.storage.ext2.alloc import Allocator
from fragments.storage.ext2.cache import BlockCache
from fragments.storage.ext2.errors import FsError
from fragments.storage.ext2.inode import BLOCK_POINTERS, DIRECT_BLOCKS, Inode

_ZERO_POINTER = bytes(4)


class BlockMap:
    def __init__(self, cache: BlockCache, allocator: Allocator, block_size: int) -> None:
        self._cache = cache
        self._allocator = allocator
        self._per_block = block_size // 4
        self._sectors = block_size // SECTOR_SIZE
        # (first logical block, tree depth) for each i_block slot
        per = self._per_block
        self._roots = [(slot, 0) for slot in range(DIRECT_BLOCKS)] + [
            (DIRECT_BLOCKS, 1), (DIRECT_BLOCKS + per, 2), (DIRECT_BLOCKS + per + per ** 2, 3)]
        self.limit = DIRECT_BLOCKS + per + per ** 2 + per ** 3  # logical blocks addressable

    def lookup(self, inode: Inode, lblock: int) -> int:
        """The physical block holding logical block ``lblock``, or 0 for a hole."""
        slot, indices = self._path(lblock)
        block = inode.block[slot]
        for index in indices:
            if block == 0:
                return 0
            block = self._cache.u32(block, index)
        return block

    def missing(self, inode: Inode, lblocks: Iterable[int]) -> int:
        """How many blocks (data + indirect) ``ensure`` would allocate to map all of ``lblocks``."""
        missing_data = 0
        missing_indirect: set[tuple[int, ...]] = set()
        for lblock in lblocks:
            slot, indices = self._path(lblock)
            block = inode.block[slot]
            depth = 0
            while block and depth < len(indices):
                block = self._cache.u32(block, indices[depth])
                depth += 1
            if block == 0:
                missing_data += 1
                missing_indirect.update((slot, *indices[:d]) for d in range(depth, len(indices)))
        return missing_data + len(missing_indirect)

    def ensure(self, inode: Inode, lblock: int, goal: int) -> tuple[int, bool]:
        """Map ``lblock``, allocating near ``goal``; return (physical block, newly allocated).

        A newly allocated data block is *not* initialised: the caller writes all of it.
        """
        slot, indices = self._path(lblock)
        block = inode.block[slot]
        if block == 0:
            block = self._allocate(inode, goal, zeroed=bool(indices))
            inode.block[slot] = block
            if not indices:
                return block, True
        for depth, index in enumerate(indices):
            child = self._cache.u32(block, index)
            if child == 0:
                child = self._allocate(inode, goal, zeroed=depth + 1 < len(indices))
                self._cache.patch(block, 4 * index, struct.pack("<I", child))
                if depth + 1 == len(indices):
                    return child, True
            block = child
        return block, False

    def cut(self, inode: Inode, keep: int) -> None:
        """Free every data block at logical index >= ``keep`` and every indirect block emptied."""
        for slot, (first, depth) in enumerate(self._roots):
            root = inode.block[slot]
            if root and self._cut_tree(inode, root, depth, first, keep):
                inode.block[slot] = 0

    def _cut_tree(self, inode: Inode, block: int, depth: int, first: int, keep: int) -> bool:
        """Cut the tree at ``block`` (mapping from logical ``first``); True if ``block`` was freed."""
        span = self._per_block ** depth
        if first + span <= keep:
            return False
        if depth:
            child_span = span // self._per_block
            children = struct.unpack(f"<{self._per_block}I", self._cache.read(block))
            freed, kept = [], False
            for index, child in enumerate(children):
                if child and self._cut_tree(inode, child, depth - 1, first + index * child_span, keep):
                    freed.append(index)
                elif child:
                    kept = True
            if kept:
                for index in freed:
                    self._cache.patch(block, 4 * index, _ZERO_POINTER)
                return False
        self._allocator.free_block(block)
        inode.blocks -= self._sectors
        return True

    def _allocate(self, inode: Inode, goal: int, zeroed: bool) -> int:
        block = self._allocator.allocate_block(goal)
        inode.blocks += self._sectors
        if zeroed:
            self._cache.write(block, b"")
        return block

    def _path(self, lblock: int) -> tuple[int, list[int]]:
        """(i_block slot, indices inside the indirect blocks from the root down)."""
        if not 0 <= lblock < self.limit:
            raise FsError(errno.EFBIG, f"logical block {lblock} beyond the block map")
        slot = next(slot for slot in range(BLOCK_POINTERS - 1, -1, -1) if lblock >= self._roots[slot][0])
        first, depth = self._roots[slot]
        offset = lblock - first
        return slot, [(offset // self._per_block ** level) % self._per_block for level in range(depth - 1, -1, -1)]
