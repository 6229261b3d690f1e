"""The file-system interface: what the vfs asks of a file system mounted in its tree, and
``FileSystem``, the fragment base that serves it over a file-system library.

Every file system the vfs reaches is a fragment serving these operations, the root one
included: `ramfs` is mounted at / and `ext2` may be mounted over one of its directories
(see ``mounts``). They work on inode numbers, in the style of FUSE's low-level API and
Genode's File_system session: the vfs resolves paths one component at a time
(``lookup``) and keeps open files as (mount, inode). Every argument and result is plain
data, so the binding may be a direct call or IPC; names and symlink targets are bytes; a
failure is a negative errno::

    root()                               -> attr
    lookup(dir, name)                    -> attr          (no symlink is followed)
    getattr(ino)                         -> attr
    read(ino, offset, count)             -> bytes         (short at the end of the file)
    write(ino, offset, data)             -> count         (-ENOSPC when the disk is full)
    truncate(ino, size)                  -> 0
    chmod(ino, mode)                     -> attr          (permission bits; the type stays)
    utimes(ino, atime, mtime)            -> attr          (seconds; None keeps one)
    create(dir, name, mode)              -> attr          (a regular file)
    mkdir(dir, name, mode)               -> attr
    symlink(dir, name, target)           -> attr
    link(ino, dir, name)                 -> attr          (a hard link; not to a directory)
    unlink(dir, name) / rmdir(dir, name) -> 0             (an inode goes with its last link…)
    open(ino) / release(ino)             -> 0             (…or, if the vfs holds it open, when released)
    rename(src_dir, src_name, dst_dir, dst_name) -> 0     (replaces as POSIX rename does)
    readdir(dir)                         -> [(name, ino, d_type)], . and .. first
    readlink(ino)                        -> bytes
    sync()                               -> 0             (everything durable)
    statfs()                             -> (block_size, blocks, free_blocks, inodes, free_inodes, name_max)

The vfs calls ``open`` when a program opens a regular file and ``release`` when the last
descriptor of that open file closes, so that a file unlinked while open can still be read
and written, as POSIX wants. Timestamps are the file system's business (from the modeled
clock). A device file carries its device number (``rdev``); which driver serves it is the
vfs's business.

``FileSystem`` serves the interface over ``fs``, a library object with the ext2 driver's
API (``fragments.storage.ext2.Ext2``: ``find``, ``stat``, ``readdir``… on inode numbers,
``str`` names, ``FsError`` for a failure, nothing changed then, and ``open``/``release``
counting the vfs's opens, an inode outliving its last link while open). Its operations
run one at a time: a library may block inside (disk I/O) and is not reentrant, so a
thread that comes in while another is blocked inside (possible when several threads share
the task, e.g. per-core syscall replicas merged with the vfs) sleeps until it is done.
Without a library
(``fs`` None: nothing mounted) every operation answers -ENODEV.
"""

from __future__ import annotations

import errno
import functools
from typing import NamedTuple

from fragments.runtime.blocking import WaitQueue
from fragments.runtime.fragment import Fragment, operation
from fragments.storage.ext2.errors import FsError


class Attr(NamedTuple):
    """An inode's attributes as the interface carries them (a tuple across the binding)."""

    ino: int
    mode: int
    nlink: int
    size: int
    blocks: int        # 512-byte sectors allocated
    atime: int
    mtime: int
    ctime: int
    rdev: int          # a device file's number ((major << 8) | minor), else 0


class FsStat(NamedTuple):
    """What ``statfs`` answers."""

    block_size: int
    blocks: int
    free_blocks: int
    inodes: int
    free_inodes: int
    name_max: int


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


class FileSystem(Fragment):
    """A file-system fragment: the interface above over the library ``self.fs``, whose
    root directory is ``ROOT_INO``."""

    ROOT_INO = 0

    def __init__(self, runtime):
        super().__init__(runtime)
        self.fs = None                  # the library; None while nothing is mounted
        self.busy = False               # an operation is running (maybe blocked inside)
        self.turn = WaitQueue(runtime, self.NAME)

    @fs_operation
    def root(self):
        return self._attr(self.ROOT_INO)

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
    def chmod(self, ino, mode):
        self.fs.chmod(ino, mode)
        return self._attr(ino)

    @fs_operation
    def utimes(self, ino, atime, mtime):
        self.fs.utimes(ino, atime, mtime)
        return self._attr(ino)

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
    def link(self, ino, directory, name):
        self.fs.link(ino, directory, _str(name))
        return self._attr(ino)

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
        return [(_bytes(name), ino, d_type) for name, ino, d_type in self.fs.readdir(directory)]

    @fs_operation
    def readlink(self, ino):
        return _bytes(self.fs.readlink(ino))

    @fs_operation
    def open(self, ino):
        """The vfs opened ``ino``: it outlives its last link until ``release``."""
        self.fs.open(ino)
        return 0

    @fs_operation
    def release(self, ino):
        self.fs.release(ino)
        return 0

    @fs_operation
    def sync(self):
        self.fs.sync()
        return 0

    @fs_operation
    def statfs(self):
        s = self.fs.statfs()
        return tuple(FsStat(s.block_size, s.blocks, s.free_blocks, s.inodes, s.free_inodes, s.name_max))

    def _attr(self, ino: int) -> tuple:
        s = self.fs.stat(ino)
        return tuple(Attr(ino, s.mode, s.nlink, s.size, s.blocks, s.atime, s.mtime, s.ctime, s.rdev))


def _str(name: bytes) -> str:
    return bytes(name).decode("utf-8", "surrogateescape")


def _bytes(name: str) -> bytes:
    return name.encode("utf-8", "surrogateescape")
