"""The `ext2` fragment: the read-write ext2 driver (fragments.storage.ext2) as a file system
the vfs mounts (see ``filesystem`` for the interface).

It reads and writes its blocks through the `devmapper` fragment (the mapped device, plain
or dm-crypt), and stamps times from the `process` fragment's modeled clock. ``mount``
decodes and validates the superblock and writes nothing; ``unmount`` and ``sync`` flush the
write-back block cache, the only durability points.

Operations may block (disk I/O), and the driver's state is not reentrant: one operation
runs at a time. A thread that comes in while another is blocked inside (possible when
several threads share the task, e.g. per-core syscall replicas merged with the vfs) sleeps
until it is done. Without a mount every operation answers -ENODEV.
"""

from __future__ import annotations

import errno
import functools

from fragments.runtime.blocking import WaitQueue
from fragments.runtime.fragment import Fragment, operation
from fragments.storage.ext2 import Ext2, FsError
from fragments.storage.ext2.layout import ROOT_INO

from .filesystem import Attr


def fs_operation(method):
    """An operation of the file-system interface: run alone, FsError -> -errno."""
    @functools.wraps(method)
    def run(self, *args):
        while self.busy:
            self.turn.sleep()
        if self.fs is None:
            return -errno.ENODEV
        self.busy = True
        try:
            return method(self, *args)
        except FsError as error:
            return -error.errno
        finally:
            self.busy = False
            self.turn.wake_all()
    return operation(run)


class Ext2Fs(Fragment):
    NAME = "ext2"
    USES = ("devmapper",)

    def __init__(self, runtime):
        super().__init__(runtime)
        self.fs: Ext2 | None = None
        self.busy = False
        self.turn = WaitQueue(runtime, "ext2")

    # --- mounting -----------------------------------------------------------------------
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
        self.fs.sync()
        self.use.devmapper.sync()
        self.fs = None
        return 0

    # --- the file-system interface --------------------------------------------------------
    @fs_operation
    def root(self):
        return self._attr(ROOT_INO)

    @fs_operation
    def lookup(self, directory, name):
        return self._attr(self.fs.find(directory, _str(name)))

    @fs_operation
    def getattr(self, ino):
        return self._attr(ino)

    @fs_operation
    def read(self, ino, offset, count):
        return self.fs.read(ino, offset, count)

    @fs_operation
    def write(self, ino, offset, data):
        return self.fs.write(ino, offset, data)

    @fs_operation
    def truncate(self, ino, size):
        self.fs.truncate(ino, size)
        return 0

    @fs_operation
    def create(self, directory, name, mode):
        return self._attr(self.fs.create(directory, _str(name), mode))

    @fs_operation
    def mkdir(self, directory, name, mode):
        return self._attr(self.fs.mkdir(directory, _str(name), mode))

    @fs_operation
    def symlink(self, directory, name, target):
        return self._attr(self.fs.symlink(directory, _str(name), _str(target)))

    @fs_operation
    def unlink(self, directory, name):
        self.fs.unlink(directory, _str(name))
        return 0

    @fs_operation
    def rmdir(self, directory, name):
        self.fs.rmdir(directory, _str(name))
        return 0

    @fs_operation
    def rename(self, src_dir, src_name, dst_dir, dst_name):
        self.fs.rename(src_dir, _str(src_name), dst_dir, _str(dst_name))
        return 0

    @fs_operation
    def readdir(self, directory):
        return [(_bytes(e.name), e.ino, e.d_type) for e in self.fs.readdir(directory)]

    @fs_operation
    def readlink(self, ino):
        return _bytes(self.fs.readlink(ino))

    @fs_operation
    def sync(self):
        self.fs.sync()
        return self.use.devmapper.sync()

    @fs_operation
    def statfs(self):
        s = self.fs.statfs()
        return s.block_size, s.blocks, s.free_blocks, s.inodes, s.free_inodes, s.name_max

    def _attr(self, ino: int) -> tuple:
        s = self.fs.stat(ino)
        return tuple(Attr(ino, s.mode, s.nlink, s.size, s.blocks, s.atime, s.mtime, s.ctime))


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


def _str(name: bytes) -> str:
    return bytes(name).decode("utf-8", "surrogateescape")


def _bytes(name: str) -> bytes:
    return name.encode("utf-8", "surrogateescape")
