"""A write-back cache of filesystem blocks over a sector-addressed block device.

Invariants:

* the cache is the only path from the driver to the device, and every block number
  is checked against the filesystem size first (a pointer outside it is corruption:
  FsError(EIO));
* a cached block is newer than or equal to the device copy; ``_dirty`` holds the
  numbers of those that differ;
* callers get copies (``read``) or patch in place (``patch``/``write``), never a
  reference to a cached buffer, so eviction can never lose a change;
* when more than ``capacity`` blocks are cached the least recently used one is
  dropped, written back first if dirty. Write-back order is otherwise unspecified:
  ``sync()`` is the only durability point, and there is no crash consistency.
"""

import errno
import struct
from collections import OrderedDict

from fragments.storage.blockdev import SECTOR_SIZE, BlockDevice
from fragments.storage.ext2.errors import FsError

DEFAULT_CAPACITY = 4096


class BlockCache:
    def __init__(self, device: BlockDevice, block_size: int, block_count: int,
                 capacity: int = DEFAULT_CAPACITY) -> None:
        self._device = device
        self._block_size = block_size
        self._block_count = block_count
        self._sectors_per_block = block_size // SECTOR_SIZE
        self._capacity = capacity
        self._blocks: OrderedDict[int, bytearray] = OrderedDict()
        self._dirty: set[int] = set()

    def read(self, block: int) -> bytes:
        return bytes(self._buffer(block))

    def u32(self, block: int, index: int) -> int:
        """The ``index``-th little-endian 32-bit word of a block (block-pointer reads)."""
        return struct.unpack_from("<I", self._buffer(block), 4 * index)[0]

    def patch(self, block: int, offset: int, data: bytes) -> None:
        """Overwrite ``data`` at ``offset`` inside a block."""
        if offset < 0 or offset + len(data) > self._block_size:
            raise ValueError(f"patch [{offset}, +{len(data)}) outside a {self._block_size}-byte block")
        self._buffer(block)[offset:offset + len(data)] = data
        self._dirty.add(block)

    def write(self, block: int, data: bytes) -> None:
        """Replace a whole block without reading it (``data`` shorter than a block is zero-padded)."""
        self._check(block)
        if len(data) > self._block_size:
            raise ValueError(f"{len(data)} bytes do not fit a {self._block_size}-byte block")
        self._insert(block, bytearray(data.ljust(self._block_size, b"\0")))
        self._dirty.add(block)

    def sync(self) -> None:
        for block in sorted(self._dirty):
            self._write_back(block)
        self._dirty.clear()

    def _buffer(self, block: int) -> bytearray:
        self._check(block)
        buffer = self._blocks.get(block)
        if buffer is None:
            sector = block * self._sectors_per_block
            buffer = bytearray(self._device.read(sector, self._sectors_per_block))
            self._insert(block, buffer)
        else:
            self._blocks.move_to_end(block)
        return buffer

    def _insert(self, block: int, buffer: bytearray) -> None:
        self._blocks[block] = buffer
        self._blocks.move_to_end(block)
        while len(self._blocks) > self._capacity:
            oldest = next(iter(self._blocks))
            if oldest in self._dirty:
                self._write_back(oldest)
                self._dirty.discard(oldest)
            del self._blocks[oldest]

    def _write_back(self, block: int) -> None:
        self._device.write(block * self._sectors_per_block, bytes(self._blocks[block]))

    def _check(self, block: int) -> None:
        if not 0 <= block < self._block_count:
            raise FsError(errno.EIO, f"block {block} outside a filesystem of {self._block_count} blocks")
