"""The `ramfs` fragment: the root file system, a tree of inodes in memory.

The vfs mounts it at / and reaches it like any mounted file system, through the
file-system interface (``filesystem``): ``RamFsFragment`` serves it over the tree
``RamFs``, which has the ext2 driver's API. So the ramfs may live in the vfs's task or in a
task of its own. The tree starts with /bin, /tmp (sticky, world-writable), /etc, /proc
and /proc/self (the vfs answers /proc/self/exe itself), and /dev with the terminal and
null device files (their numbers are the data; the vfs serves them). The host places
files with ``add_file`` before programs run (a call from outside the model).

Invariants: ``inodes`` holds, by number, every inode that has a link or is open
(``opened`` counts the vfs's opens not yet released, see ``filesystem``); numbers are
handed out in creation order and never reused, so they are the same in every run. A
directory's ``entries`` maps its names (no '/', not . or ..) to inode numbers; every
directory but the root has exactly one entry naming it, and ``parent`` is the directory
holding that entry (the root's is itself). ``nlink`` counts a file's entries, a
directory's entry, its . and its subdirectories' .. (a removed directory's is 0). An inode
goes with its last link, or, if it is open then, with its last release. Times come from
the modeled clock, read once per operation; reading does not touch atime (noatime).
"""

from __future__ import annotations

import errno
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from fragments.runtime.fragment import operation

from .abi import S_IFCHR, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG
from .filesystem import FileSystem, FsError, FsStat, fs_operation

ROOT_INO = 1
NAME_MAX = 255
BOOT_DIRS = (("bin", 0o755), ("tmp", 0o1777), ("dev", 0o755), ("proc/self", 0o755), ("etc", 0o755))
DEVICES = (("console", 0x0501), ("tty", 0x0500), ("null", 0x0103))     # /dev: name, rdev


@dataclass(eq=False)
class Inode:
    ino: int
    mode: int                                   # S_IF* | permission bits
    nlink: int
    atime: int
    mtime: int
    ctime: int
    rdev: int = 0                               # a device file's number
    data: bytearray = field(default_factory=bytearray)      # file contents, symlink target
    entries: dict[str, int] = field(default_factory=dict)   # a directory's names -> inodes
    parent: int = 0                             # a directory's parent directory

    @property
    def is_dir(self) -> bool:
        return self.mode & S_IFMT == S_IFDIR

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def blocks(self) -> int:
        return (len(self.data) + 511) // 512


class RamFs:
    """The tree and its operations on inode numbers (names are resolved by the vfs)."""

    def __init__(self, clock: Callable[[], int]):
        self._clock = clock
        self._next_ino = ROOT_INO
        self.inodes: dict[int, Inode] = {}
        self.opened: Counter[int] = Counter()      # inode -> opens not yet released
        now = clock()
        root = self._new(S_IFDIR | 0o755, now)
        root.parent = root.ino
        for path, mode in BOOT_DIRS:
            self._mkdirs(path, mode)
        dev = self._mkdirs("dev")
        for name, rdev in DEVICES:
            self._attach(dev, name, self._new(S_IFCHR | 0o666, now, rdev=rdev), now)

    # --- lookup and metadata --------------------------------------------------------------
    def find(self, dir_ino: int, name: str) -> int:
        directory = self._dir(dir_ino)
        if name in (".", ".."):
            return directory.ino if name == "." else directory.parent
        if name not in directory.entries:
            raise FsError(errno.ENOENT, name)
        return directory.entries[name]

    def stat(self, ino: int) -> Inode:
        return self._get(ino)

    def readdir(self, dir_ino: int) -> list[tuple[str, int, int]]:
        """(name, inode, d_type) of every entry, . and .. first."""
        directory = self._dir(dir_ino)
        dot = S_IFDIR >> 12
        return [(".", directory.ino, dot), ("..", directory.parent, dot)] + [
            (name, ino, (self.inodes[ino].mode & S_IFMT) >> 12) for name, ino in directory.entries.items()]

    def readlink(self, ino: int) -> str:
        inode = self._get(ino)
        if inode.mode & S_IFMT != S_IFLNK:
            raise FsError(errno.EINVAL, f"inode {ino} is not a symlink")
        return inode.data.decode("utf-8", "surrogateescape")

    def statfs(self) -> FsStat:
        return FsStat(4096, 0, 0, len(self.inodes), 0, NAME_MAX)

    # --- file data ------------------------------------------------------------------------
    def read(self, ino: int, offset: int, count: int) -> bytes:
        return bytes(self._regular(ino).data[offset:offset + count])

    def write(self, ino: int, offset: int, data: bytes) -> int:
        """Write all of ``data`` at ``offset`` (past the end: zeros in between)."""
        inode = self._regular(ino)
        if len(inode.data) < offset:
            inode.data += bytes(offset - len(inode.data))
        inode.data[offset:offset + len(data)] = data
        inode.mtime = inode.ctime = self._clock()
        return len(data)

    def truncate(self, ino: int, size: int) -> None:
        inode = self._regular(ino)
        del inode.data[size:]
        inode.data += bytes(size - len(inode.data))
        inode.mtime = inode.ctime = self._clock()

    # --- namespace ------------------------------------------------------------------------
    def create(self, dir_ino: int, name: str, mode: int) -> int:
        return self._add(dir_ino, name, S_IFREG | mode & 0o7777)

    def mkdir(self, dir_ino: int, name: str, mode: int) -> int:
        return self._add(dir_ino, name, S_IFDIR | mode & 0o7777)

    def symlink(self, dir_ino: int, name: str, target: str) -> int:
        return self._add(dir_ino, name, S_IFLNK | 0o777, target.encode("utf-8", "surrogateescape"))

    def unlink(self, dir_ino: int, name: str) -> None:
        if self.inodes[self._entry(dir_ino, name)].is_dir:
            raise FsError(errno.EISDIR, name)
        self._drop(self._detach(dir_ino, name, self._clock()))

    def rmdir(self, dir_ino: int, name: str) -> None:
        directory = self.inodes[self._entry(dir_ino, name)]
        if not directory.is_dir:
            raise FsError(errno.ENOTDIR, name)
        if directory.entries:
            raise FsError(errno.ENOTEMPTY, name)
        self._drop(self._detach(dir_ino, name, self._clock()))

    def rename(self, src_dir: int, src_name: str, dst_dir: int, dst_name: str) -> None:
        """Move an entry, replacing an existing destination of a compatible kind (POSIX)."""
        ino = self._entry(src_dir, src_name)
        _check_name(dst_name)
        destination = self._dir(dst_dir)
        source, victim = self.inodes[ino], destination.entries.get(dst_name)
        if source.is_dir and self._is_ancestor(ino, dst_dir):
            raise FsError(errno.EINVAL, "cannot move a directory inside itself")
        if victim == ino:
            return
        if victim is not None:
            replaced = self.inodes[victim]
            if source.is_dir != replaced.is_dir:
                raise FsError(errno.ENOTDIR if source.is_dir else errno.EISDIR, dst_name)
            if replaced.entries:
                raise FsError(errno.ENOTEMPTY, dst_name)
        now = self._clock()
        if victim is not None:
            self._drop(self._detach(dst_dir, dst_name, now))
        self._attach(dst_dir, dst_name, self._detach(src_dir, src_name, now), now)

    def sync(self) -> None:
        """Nothing to do: the tree lives in memory."""

    # --- open inodes ----------------------------------------------------------------------
    def open(self, ino: int) -> None:
        self._get(ino)
        self.opened[ino] += 1

    def release(self, ino: int) -> None:
        self.opened[ino] -= 1
        if self.opened[ino] == 0:
            del self.opened[ino]
            if self.inodes[ino].nlink == 0:
                del self.inodes[ino]

    # --- the host's files -----------------------------------------------------------------
    def add_file(self, path: bytes, data: bytes, mode: int = 0o755) -> int:
        """Place a host file at ``path``, with missing directories (a file there is replaced)."""
        directory, _, name = path.decode("utf-8", "surrogateescape").rpartition("/")
        parent = self._mkdirs(directory)
        if name in self.inodes[parent].entries:
            self.unlink(parent, name)
        ino = self.create(parent, name, mode)
        self.inodes[ino].data[:] = data
        return ino

    # --- inodes ---------------------------------------------------------------------------
    def _new(self, mode: int, now: int, **kw) -> Inode:
        inode = Inode(self._next_ino, mode, 2 if mode & S_IFMT == S_IFDIR else 1, now, now, now, **kw)
        self.inodes[inode.ino] = inode
        self._next_ino += 1
        return inode

    def _get(self, ino: int) -> Inode:
        inode = self.inodes.get(ino)
        if inode is None:
            raise FsError(errno.ENOENT, f"inode {ino} is not in use")
        return inode

    def _dir(self, ino: int) -> Inode:
        inode = self._get(ino)
        if not inode.is_dir:
            raise FsError(errno.ENOTDIR, f"inode {ino}")
        return inode

    def _regular(self, ino: int) -> Inode:
        inode = self._get(ino)
        if inode.is_dir:
            raise FsError(errno.EISDIR, f"inode {ino}")
        if inode.mode & S_IFMT != S_IFREG:
            raise FsError(errno.EINVAL, f"inode {ino} is not a regular file")
        return inode

    def _entry(self, dir_ino: int, name: str) -> int:
        """The inode an existing entry names (not . or ..)."""
        if name in (".", ".."):
            raise FsError(errno.EINVAL, name)
        return self.find(dir_ino, name)

    def _mkdirs(self, path: str, mode: int = 0o755) -> int:
        """The directory at ``path``, made with its missing parents."""
        ino = ROOT_INO
        for part in path.split("/"):
            if part:
                ino = self._dir(ino).entries.get(part) or self.mkdir(ino, part, mode)
        return ino

    def _add(self, dir_ino: int, name: str, mode: int, data: bytes = b"") -> int:
        """A new inode named ``name`` in a directory; returns its number."""
        _check_name(name)
        directory = self._dir(dir_ino)
        if name in directory.entries:
            raise FsError(errno.EEXIST, name)
        now = self._clock()
        inode = self._new(mode, now, data=bytearray(data))
        self._attach(directory.ino, name, inode, now)
        return inode.ino

    def _attach(self, dir_ino: int, name: str, inode: Inode, now: int) -> None:
        """Enter ``inode`` as ``name`` (a free name) in a directory."""
        directory = self.inodes[dir_ino]
        directory.entries[name] = inode.ino
        if inode.is_dir:
            inode.parent = dir_ino
            directory.nlink += 1
        directory.mtime = directory.ctime = inode.ctime = now

    def _detach(self, dir_ino: int, name: str, now: int) -> Inode:
        """Take the entry ``name`` out of a directory; returns the inode it named."""
        directory = self.inodes[dir_ino]
        inode = self.inodes[directory.entries.pop(name)]
        if inode.is_dir:
            directory.nlink -= 1
        directory.mtime = directory.ctime = inode.ctime = now
        return inode

    def _drop(self, inode: Inode) -> None:
        """A detached entry's link is gone (a directory's only one): the inode goes with
        its last, unless it is open."""
        inode.nlink = 0 if inode.is_dir else inode.nlink - 1
        if inode.nlink == 0 and inode.ino not in self.opened:
            del self.inodes[inode.ino]

    def _is_ancestor(self, ancestor: int, ino: int) -> bool:
        """Whether ``ancestor`` is the directory ``ino`` or one of its parents."""
        while ino != ancestor:
            if ino == ROOT_INO:
                return False
            ino = self.inodes[ino].parent
        return True


def _check_name(name: str) -> None:
    raw = name.encode("utf-8", "surrogateescape")
    if len(raw) > NAME_MAX:
        raise FsError(errno.ENAMETOOLONG, name[:40])
    if not raw or b"/" in raw or b"\0" in raw or raw in (b".", b".."):
        raise FsError(errno.EINVAL, f"invalid name {name!r}")


class RamFsFragment(FileSystem):
    NAME = "ramfs"
    ROOT_INO = ROOT_INO

    def __init__(self, runtime):
        super().__init__(runtime)
        self.fs = RamFs(self.seconds)

    @fs_operation
    def open(self, ino):
        self.fs.open(ino)
        return 0

    @fs_operation
    def release(self, ino):
        self.fs.release(ino)
        return 0

    @operation
    def add_file(self, path, data, mode=0o755):
        """Place a host file in the tree (boot and ``--add``: a call from outside the model)."""
        self.fs.add_file(path, data, mode)
