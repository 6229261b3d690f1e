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

Device requests are batched: ``sync`` writes, and ``prefetch`` (read-ahead) reads, each
run of consecutive blocks (up to RUN_BYTES) with one device request.
"""

import errno
import struct
from collections import OrderedDict
from collections.abc import Iterable

from fragments.storage.blockdev import SECTOR_SIZE, BlockDevice
from fragments.storage.ext2.errors import FsError

DEFAULT_CAPACITY = 4096
RUN_BYTES = 128 << 10        # largest write-back request: Linux's classic max_sectors_kb


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

    def holds(self, block: int) -> bool:
        return block in self._blocks

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
        """Write every dirty block back, each run of consecutive ones in one device write."""
        for run in self._runs(self._dirty):
            self._device.write(run[0] * self._sectors_per_block, b"".join(self._blocks[b] for b in run))
        self._dirty.clear()

    def prefetch(self, blocks: Iterable[int]) -> None:
        """Bring the uncached ``blocks`` in (at most ``capacity`` of them), each run of
        consecutive ones in one device read."""
        wanted = [b for b in blocks if b not in self._blocks][:self._capacity]
        for block in wanted:
            self._check(block)
        for run in self._runs(wanted):
            data = self._device.read(run[0] * self._sectors_per_block, len(run) * self._sectors_per_block)
            for i, block in enumerate(run):
                self._insert(block, bytearray(data[i * self._block_size:(i + 1) * self._block_size]))

    def _runs(self, blocks: Iterable[int]) -> list[list[int]]:
        """``blocks`` sorted and cut into runs of consecutive numbers, RUN_BYTES at most."""
        runs: list[list[int]] = []
        for block in sorted(set(blocks)):
            if runs and block == runs[-1][-1] + 1 and len(runs[-1]) * self._block_size < RUN_BYTES:
                runs[-1].append(block)
            else:
                runs.append([block])
        return runs

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
