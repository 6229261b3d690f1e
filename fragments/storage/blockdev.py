"""The block device protocol the storage code is written against, and two devices.

A block device is an array of ``sector_count`` 512-byte sectors (Linux's
SECTOR_SIZE; device-mapper tables and bios always count in these units):

* ``read(sector, count) -> bytes`` returns exactly ``count * 512`` bytes;
* ``write(sector, data)`` takes a whole number of sectors.

Both refuse (ValueError) a range that is not wholly inside the device, before
touching anything. ``MemoryDevice`` keeps the sectors in a host ``bytearray``
(what the model's disk and the tests use); ``FileDevice`` keeps them in an image file.
"""

import os
from typing import Protocol

SECTOR_SIZE = 512


class BlockDevice(Protocol):
    sector_count: int

    def read(self, sector: int, count: int) -> bytes: ...

    def write(self, sector: int, data: bytes) -> None: ...


def check_range(device: BlockDevice, sector: int, size: int) -> int:
    """Validate an access of ``size`` bytes at ``sector``; return its sector count."""
    count, partial = divmod(size, SECTOR_SIZE)
    if partial:
        raise ValueError(f"block I/O of {size} bytes is not a whole number of {SECTOR_SIZE}-byte sectors")
    if sector < 0 or sector + count > device.sector_count:
        raise ValueError(f"sectors [{sector}, {sector + count}) outside a device of {device.sector_count} sectors")
    return count


class MemoryDevice:
    """A block device whose sectors live in ``self.image`` (shared, not copied)."""

    def __init__(self, image: bytearray) -> None:
        if len(image) % SECTOR_SIZE:
            raise ValueError(f"image of {len(image)} bytes is not a whole number of sectors")
        self.image = image
        self.sector_count = len(image) // SECTOR_SIZE

    def read(self, sector: int, count: int) -> bytes:
        check_range(self, sector, count * SECTOR_SIZE)
        return bytes(self.image[sector * SECTOR_SIZE:(sector + count) * SECTOR_SIZE])

    def write(self, sector: int, data: bytes) -> None:
        check_range(self, sector, len(data))
        self.image[sector * SECTOR_SIZE:sector * SECTOR_SIZE + len(data)] = data


class FileDevice:
    """A block device backed by an image file, opened read-write; close() when done."""

    def __init__(self, path: str | os.PathLike) -> None:
        self._fd = os.open(path, os.O_RDWR)
        size = os.fstat(self._fd).st_size
        if size % SECTOR_SIZE:
            os.close(self._fd)
            raise ValueError(f"{path}: {size} bytes is not a whole number of sectors")
        self.sector_count = size // SECTOR_SIZE

    def read(self, sector: int, count: int) -> bytes:
        check_range(self, sector, count * SECTOR_SIZE)
        return os.pread(self._fd, count * SECTOR_SIZE, sector * SECTOR_SIZE)

    def write(self, sector: int, data: bytes) -> None:
        check_range(self, sector, len(data))
        os.pwrite(self._fd, data, sector * SECTOR_SIZE)

    def close(self) -> None:
        os.close(self._fd)

    def __enter__(self) -> "FileDevice":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
