"""Physical RAM: one host buffer cut into 4 KiB frames.

Invariants:
- The buffer never moves, so a frame's host address (``host_address``) stays valid for the
  lifetime of the machine; address spaces hand it to unicorn with ``mem_map_ptr``.
- Frames are handed out lowest number first and returned to a sorted free set, so the
  frame an allocation gets depends only on the order of allocations (determinism).
- Frame 0 is never handed out: a frame number of 0 always means "none" in a debugger view.
- The buffer is a private mapping: a copy of the process (fork, as l4shell's checkpoints
  make) has RAM of its own.
"""

from __future__ import annotations

import ctypes
import heapq
import mmap
import struct

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
PAGE_MASK = ~(PAGE_SIZE - 1) & 0xFFFFFFFF


class OutOfFrames(Exception):
    """No free frame is left; the kernel turns this into an IPC map error."""


class PhysicalMemory:
    """The machine's RAM. Owns every frame; the mapping database records who maps them."""

    def __init__(self, size: int = 64 << 20):
        if size % PAGE_SIZE or size < 16 * PAGE_SIZE:
            raise ValueError(f"RAM size must be a multiple of 4 KiB and at least 64 KiB, not {size}")
        self.size = size
        self.frame_count = size // PAGE_SIZE
        self._buffer = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        self._view = memoryview(self._buffer)
        self.base = ctypes.addressof(ctypes.c_char.from_buffer(self._buffer))
        self._free = list(range(1, self.frame_count))  # already a heap: sorted
        self._free_set = set(self._free)

    @property
    def free_frames(self) -> int:
        return len(self._free_set)

    def allocate(self) -> int:
        """Take the lowest free frame, zero-filled."""
        if not self._free:
            raise OutOfFrames("physical memory exhausted")
        frame = heapq.heappop(self._free)
        self._free_set.discard(frame)
        start = frame << PAGE_SHIFT
        self._view[start:start + PAGE_SIZE] = bytes(PAGE_SIZE)
        return frame

    def release(self, frame: int) -> None:
        if frame in self._free_set or not 0 < frame < self.frame_count:
            raise ValueError(f"frame {frame} is not allocated")
        heapq.heappush(self._free, frame)
        self._free_set.add(frame)

    def is_allocated(self, frame: int) -> bool:
        return 0 < frame < self.frame_count and frame not in self._free_set

    def host_address(self, frame: int) -> int:
        return self.base + (frame << PAGE_SHIFT)

    def read(self, frame: int, offset: int, length: int) -> bytes:
        start = (frame << PAGE_SHIFT) + offset
        return bytes(self._view[start:start + length])

    def write(self, frame: int, offset: int, data: bytes) -> None:
        start = (frame << PAGE_SHIFT) + offset
        self._view[start:start + len(data)] = data

    def read_words(self, frame: int, offset: int, count: int) -> list[int]:
        """``count`` little-endian 32-bit words, unpacked in place (no copy of the bytes)."""
        return list(_words(count).unpack_from(self._view, (frame << PAGE_SHIFT) + offset))

    def write_words(self, frame: int, offset: int, words) -> None:
        """Each word's low 32 bits, little-endian, packed in place."""
        layout, start = _words(len(words)), (frame << PAGE_SHIFT) + offset
        try:
            layout.pack_into(self._view, start, *words)
        except struct.error:   # a negative or wider value: keep its low 32 bits
            layout.pack_into(self._view, start, *[w & 0xFFFFFFFF for w in words])

    def copy_frame(self, dst: int, src: int) -> None:
        d, s = dst << PAGE_SHIFT, src << PAGE_SHIFT
        self._view[d:d + PAGE_SIZE] = self._view[s:s + PAGE_SIZE]


_WORD_STRUCTS: dict[int, struct.Struct] = {}


def _words(count: int) -> struct.Struct:
    """The layout of ``count`` little-endian 32-bit words (one struct call per copy)."""
    layout = _WORD_STRUCTS.get(count)
    if layout is None:
        layout = _WORD_STRUCTS[count] = struct.Struct(f"<{count}I")
    return layout
