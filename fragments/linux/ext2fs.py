"""The `ext2` fragment: the read-write ext2 driver (fragments.storage.ext2) as a file system
the vfs mounts, served through ``filesystem.FileSystem`` (the interface and how it is served:
one operation at a time, FsError -> -errno, -ENODEV without a mount).

It reads and writes its blocks through the `devmapper` fragment (the mapped device, plain
or dm-crypt), and stamps times from the modeled clock. ``mount`` decodes and validates the
superblock and writes nothing; ``unmount`` and ``sync`` flush the write-back block cache
(and the mapped device), the only durability points. Operations may block (disk I/O).
"""

from __future__ import annotations

from fragments.runtime.fragment import operation
from fragments.storage.ext2 import Ext2, FsError
from fragments.storage.ext2.layout import ROOT_INO

from .filesystem import FileSystem, fs_operation


class Ext2Fs(FileSystem):
    NAME = "ext2"
    USES = ("devmapper",)
    ROOT_INO = ROOT_INO

    @operation
    def mount(self):
        """Mount the mapped device; 0 or a one-line reason (nothing is written either way)."""
        sectors = self.use.devmapper.info()
        if sectors is None:
            return "no mapped device"
        try:
            self.fs = Ext2(_Mapped(self, sectors), self.seconds)
        except FsError as error:
            return error.strerror
        return 0

    @fs_operation
    def unmount(self):
        self.fs.drop_orphans()
        self.fs.sync()
        self.use.devmapper.sync()
        self.fs = None
        return 0

    @fs_operation
    def sync(self):
        self.fs.sync()
        return self.use.devmapper.sync()


class _Mapped:
    """The mapped device as the ext2 library's block device, over the binding to
    `devmapper`; a failed request is FsError(EIO) (or its own errno)."""

    def __init__(self, fragment: Ext2Fs, sectors: int):
        self.use = fragment.use
        self.sector_count = sectors

    def read(self, sector: int, count: int) -> bytes:
        return _ok(self.use.devmapper.read(sector, count))

    def write(self, sector: int, data: bytes) -> None:
        _ok(self.use.devmapper.write(sector, data))


def _ok(answer):
    if isinstance(answer, int) and answer < 0:
        raise FsError(-answer, "on the mapped device")
    return answer
