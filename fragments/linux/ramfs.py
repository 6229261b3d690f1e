"""The `ramfs` fragment: the root file system, a tree of inodes in memory.

The vfs mounts it at / and reaches it like any mounted file system, through the
file-system interface (``filesystem``): ``RamFsFragment`` serves it over the tree
``RamFs``, which has the ext2 driver's API. So the ramfs may live in the vfs's task or in a
task of its own. The tree starts with /bin, /tmp (sticky, world-writable), /etc, /proc
and /proc/self (the vfs answers /proc/self/exe itself), and /dev with the terminal and
null device files (their numbers are the data; the vfs serves them). The host places
files with ``add_file`` before programs run (a call from outside the model).

Where things live: the *metadata* (names, inode numbers, modes, link counts, times, sizes)
is Python data of the fragment, as small and as simple as a dentry cache; the *data* (file
contents and symlink targets) is in pages of the fragment's own area (``FramePages``): page
``i`` of a file is the 4 KiB at ``i * 4096`` of it, backed by a frame mapped RW- (RWX in a
monolithic task) in whatever task holds the ramfs, read and written with ``peek``/``poke``
through that task's page table. So a split, merge or migration moves the data with the
fragment (``Runtime.move`` grants its pages), ``info mem`` shows the pages, and the
isolation report finds the frames (marked secret ``FILE_DATA``) and who can reach them.
Files placed by ``add_file`` get their pages the same way: the fragment and its task exist
from boot, before any program runs.

Invariants: ``inodes`` holds, by number, every inode that has a link or is open
(``opened`` counts the vfs's opens not yet released, see ``filesystem``); numbers are
handed out in creation order and never reused, so they are the same in every run. A
directory's ``entries`` maps its names (no '/', not . or ..) to inode numbers; every
directory but the root has exactly one entry naming it, and ``parent`` is the directory
holding that entry (the root's is itself). ``nlink`` counts a file's entries, a
directory's entry, its . and its subdirectories' .. (a removed directory's is 0). An inode
goes with its last link, or, if it is open then, with its last release, and its pages with
it. Times come from the modeled clock, read once per operation; reading does not touch
atime (noatime).

Pages: a regular file or symlink's ``pages`` maps a page index to a page of the store; an
index below the size that has none is a hole and reads as zeros (only a write allocates,
truncating to a larger size does not); bytes of a page past ``size`` are zero, so a file
that grows shows zeros there. ``blocks`` counts the pages, 8 sectors each, as Linux's ramfs
does. A write that needs more pages than the store can give fails with ENOSPC before it
changes anything (ext2's rule); the store never takes the last ``reserve_frames`` free
frames of RAM, Linux's ``min_free_kbytes`` for that RAM, so the pager, binding windows and
the kernel still find frames when the files have filled the rest.
"""

from __future__ import annotations

import errno
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Protocol

from fragments.runtime.fragment import DATA, PAGE, operation

from .abi import S_IFCHR, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG
from .filesystem import FileSystem, FsError, FsStat
from .pager import reserve_frames

ROOT_INO = 1
NAME_MAX = 255
BOOT_DIRS = (("bin", 0o755), ("tmp", 0o1777), ("dev", 0o755), ("proc/self", 0o755), ("etc", 0o755))
DEVICES = (("console", 0x0501), ("tty", 0x0500), ("null", 0x0103), ("zero", 0x0105),
           ("random", 0x0108), ("urandom", 0x0109))                    # /dev: name, rdev
FILE_DATA = "file data"         # the data pages' secret name (see fragments.runtime.isolation)


class Pages(Protocol):
    """Where a ``RamFs`` keeps file data: pages of PAGE bytes, zero-filled when new."""

    def available(self) -> int: ...                    # pages ``alloc`` can give now
    def alloc(self) -> int: ...                        # a new page (its address)
    def free(self, page: int) -> None: ...
    def read(self, page: int, offset: int, length: int) -> bytes: ...
    def write(self, page: int, offset: int, data: bytes) -> None: ...


@dataclass(eq=False)
class Inode:
    ino: int
    mode: int                                   # S_IF* | permission bits
    nlink: int
    atime: int
    mtime: int
    ctime: int
    rdev: int = 0                               # a device file's number
    size: int = 0                               # a file's length, a symlink target's
    pages: dict[int, int] = field(default_factory=dict)     # page index -> page of the store
    entries: dict[str, int] = field(default_factory=dict)   # a directory's names -> inodes
    parent: int = 0                             # a directory's parent directory

    @property
    def is_dir(self) -> bool:
        return self.mode & S_IFMT == S_IFDIR

    @property
    def blocks(self) -> int:
        return len(self.pages) * (PAGE // 512)


class RamFs:
    """The tree and its operations on inode numbers (names are resolved by the vfs)."""

    def __init__(self, clock: Callable[[], int], pages: Pages):
        self._clock = clock
        self.pages = pages
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
        return self._load(inode, 0, inode.size).decode("utf-8", "surrogateescape")

    def statfs(self) -> FsStat:
        return FsStat(4096, 0, 0, len(self.inodes), 0, NAME_MAX)

    # --- file data ------------------------------------------------------------------------
    def read(self, ino: int, offset: int, count: int) -> bytes:
        """Up to ``count`` bytes from ``offset``; short at the end; holes read as zeros."""
        inode = self._regular(ino)
        if offset < 0 or count < 0:
            raise FsError(errno.EINVAL, "negative offset or count")
        return self._load(inode, offset, min(offset + count, inode.size))

    def write(self, ino: int, offset: int, data: bytes) -> int:
        """Write all of ``data`` at ``offset`` (past the end leaves a hole); its length."""
        inode = self._regular(ino)
        if offset < 0:
            raise FsError(errno.EINVAL, "negative offset")
        if not data:
            return 0
        self._store(inode, offset, data)
        inode.mtime = inode.ctime = self._clock()
        return len(data)

    def truncate(self, ino: int, size: int) -> None:
        """Set the size: shrinking frees the pages past it, growing leaves a hole."""
        inode = self._regular(ino)
        if size < 0:
            raise FsError(errno.EINVAL, "negative size")
        if size < inode.size:
            self._cut(inode, size)
        inode.size = size
        inode.mtime = inode.ctime = self._clock()

    def chmod(self, ino: int, mode: int) -> None:
        """Set the permission bits (and setuid, setgid, sticky); the file type stays."""
        inode = self._get(ino)
        inode.mode = (inode.mode & ~0o7777) | (mode & 0o7777)
        inode.ctime = self._clock()

    def utimes(self, ino: int, atime: int | None, mtime: int | None) -> None:
        """Set the access and modification times (seconds; None keeps one)."""
        inode = self._get(ino)
        if atime is not None:
            inode.atime = atime
        if mtime is not None:
            inode.mtime = mtime
        inode.ctime = self._clock()

    def _load(self, inode: Inode, start: int, end: int) -> bytes:
        """Bytes [start, end) of the inode's data (zeros in holes)."""
        out = bytearray()
        while start < end:
            index, at = divmod(start, PAGE)
            n = min(PAGE - at, end - start)
            page = inode.pages.get(index)
            out += bytes(n) if page is None else self.pages.read(page, at, n)
            start += n
        return bytes(out)

    def _store(self, inode: Inode, offset: int, data: bytes) -> None:
        """Put ``data`` at ``offset``, with the pages it lacks (ENOSPC, nothing changed, if
        the store cannot give them all) and the size grown to cover it."""
        end = offset + len(data)
        missing = [i for i in range(offset // PAGE, (end - 1) // PAGE + 1) if i not in inode.pages]
        if len(missing) > self.pages.available():
            raise FsError(errno.ENOSPC, f"needs {len(missing)} pages, {self.pages.available()} free")
        for index in missing:
            inode.pages[index] = self.pages.alloc()
        view, at = memoryview(data), offset
        while view:
            index, skip = divmod(at, PAGE)
            n = min(PAGE - skip, len(view))
            self.pages.write(inode.pages[index], skip, bytes(view[:n]))
            view, at = view[n:], at + n
        inode.size = max(inode.size, end)

    def _cut(self, inode: Inode, size: int) -> None:
        """Drop the data past ``size`` (below the inode's size): its pages go, the rest of
        the last kept page is zeroed."""
        keep = -(-size // PAGE)
        for index in [i for i in inode.pages if i >= keep]:
            self.pages.free(inode.pages.pop(index))
        tail, page = size % PAGE, inode.pages.get(size // PAGE)
        if tail and page is not None:
            self.pages.write(page, tail, bytes(min(PAGE, inode.size - size // PAGE * PAGE) - tail))

    # --- namespace ------------------------------------------------------------------------
    def create(self, dir_ino: int, name: str, mode: int) -> int:
        return self._add(dir_ino, name, S_IFREG | mode & 0o7777)

    def mkdir(self, dir_ino: int, name: str, mode: int) -> int:
        return self._add(dir_ino, name, S_IFDIR | mode & 0o7777)

    def symlink(self, dir_ino: int, name: str, target: str) -> int:
        raw = target.encode("utf-8", "surrogateescape")
        if -(-len(raw) // PAGE) > self.pages.available():
            raise FsError(errno.ENOSPC, "no page for the symlink's target")
        ino = self._add(dir_ino, name, S_IFLNK | 0o777)
        if raw:
            self._store(self.inodes[ino], 0, raw)
        return ino

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
                self._forget(self.inodes[ino])

    # --- the host's files -----------------------------------------------------------------
    def add_file(self, path: bytes, data: bytes, mode: int = 0o755) -> int:
        """Place a host file at ``path``, with missing directories (a file there is
        replaced). FsError(ENOSPC) if its pages do not fit: the new file is gone then, and
        so is the one it replaced."""
        directory, _, name = path.decode("utf-8", "surrogateescape").rpartition("/")
        parent = self._mkdirs(directory)
        if name in self.inodes[parent].entries:
            self.unlink(parent, name)
        ino = self.create(parent, name, mode)
        try:
            if data:
                self._store(self.inodes[ino], 0, bytes(data))
        except FsError as error:
            self.unlink(parent, name)
            raise FsError(error.errno, f"{path.decode(errors='replace')}: {len(data)} bytes do not fit"
                          f" ({error})") from None
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

    def link(self, ino: int, dir_ino: int, name: str) -> None:
        """Another name for an existing file that is not a directory (a hard link)."""
        inode = self._get(ino)
        if inode.is_dir:
            raise FsError(errno.EPERM, "a directory cannot be hard-linked")
        if inode.nlink == 0:
            raise FsError(errno.ENOENT, f"inode {ino} has no name left")
        _check_name(name)
        directory = self._dir(dir_ino)
        if name in directory.entries:
            raise FsError(errno.EEXIST, name)
        inode.nlink += 1
        self._attach(dir_ino, name, inode, self._clock())

    def _add(self, dir_ino: int, name: str, mode: int) -> int:
        """A new inode named ``name`` in a directory; returns its number."""
        _check_name(name)
        directory = self._dir(dir_ino)
        if name in directory.entries:
            raise FsError(errno.EEXIST, name)
        now = self._clock()
        inode = self._new(mode, now)
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
            self._forget(inode)

    def _forget(self, inode: Inode) -> None:
        """The inode goes, and its pages with it."""
        for page in inode.pages.values():
            self.pages.free(page)
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


class FramePages:
    """The ramfs's pages: data pages of the fragment's area (after its code), each a frame
    mapped in the task that holds the fragment, marked secret FILE_DATA. Addresses of freed
    pages are reused, last freed first; the area bounds how many there can be."""

    def __init__(self, fragment: "RamFsFragment"):
        self.fragment = fragment
        self._next = 0                  # lowest never-used address (0: none used yet)
        self._free: list[int] = []      # addresses of freed pages

    def available(self) -> int:
        f = self.fragment
        ram = f.runtime.kernel.ram
        room = len(self._free) + (f.area_base + f.AREA - (self._next or f.data_start)) // PAGE
        return max(0, min(room, ram.free_frames - reserve_frames(ram.size)))

    def alloc(self) -> int:
        if self._free:
            page = self._free.pop()
        else:
            page = self._next or self.fragment.data_start
            self._next = page + PAGE
        self.fragment.map_new_page(page, DATA, secret=FILE_DATA)
        return page

    def free(self, page: int) -> None:
        self.fragment.free_page(page)
        self._free.append(page)

    def read(self, page: int, offset: int, length: int) -> bytes:
        return self.fragment.peek(page + offset, length)

    def write(self, page: int, offset: int, data: bytes) -> None:
        self.fragment.poke(page + offset, data)


class RamFsFragment(FileSystem):
    NAME = "ramfs"
    ROOT_INO = ROOT_INO
    AREA = 256 << 20            # its code, and the pages of file data

    def __init__(self, runtime):
        super().__init__(runtime)
        self.fs = RamFs(self.seconds, FramePages(self))

    @operation
    def add_file(self, path, data, mode=0o755):
        """Place a host file in the tree (boot and ``--add``: a call from outside the model);
        FsError(ENOSPC) if it does not fit in RAM."""
        self.fs.add_file(path, data, mode)
