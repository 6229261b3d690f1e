"""The vfs's mount table, path lookup across it, and its node operations (a mixin of the
`vfs` fragment).

Every file system is a fragment mounted in the table and reached only through the
file-system interface (``filesystem``), by a direct call or IPC as the composition binds
it: the root file system (`ramfs`) at /, mounted at boot; others (`ext2`) over a
directory of the root file system (``mount`` makes it if absent). Path lookup takes the
mount whose point is the longest prefix of the normalized path and from there resolves
one component at a time (``lookup`` of the interface), following symlinks (at most
SYMLOOP_MAX); a symlink's target is looked up from the top again, so it may lead into
another mount. What it finds is a ``Node``: the vfs holds it wherever it holds a file (in
open files too), with the attributes of its last lookup.

Two kinds of node are the vfs's own, not any file system's: a pipe (``fstat``) and the
/proc/self/exe link (the process's executable, which the vfs knows from ``exec_done``);
/proc and /proc/self themselves are plain directories of the root file system. Device
files are file-system data (mode and ``rdev``); the vfs serves them by number (see
``vfs``).

Every operation on a node's contents or names goes through the ``_node_*`` methods here.
A file system answers errors as -errno; they reach the program unchanged (ENOSPC, EXDEV…).

Invariants: the root mount is always in the table; a mount point cannot be removed or
renamed while mounted (EBUSY); a rename across mounts is EXDEV; a node carries st_dev its
mount's ``dev`` (the root 1, then 2, 3… in mount order), the vfs's own nodes 0.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass

from fragments.runtime.fragment import operation

from . import abi
from .abi import O_ACCMODE, S_IFMT, AtFlag
from .filesystem import Attr

SYMLOOP_MAX = 40
ROOT = b"/"
PROC_SELF_EXE = b"/proc/self/exe"
PROC_MOUNTS = b"/proc/mounts"
FS_MAGIC = {"ramfs": 0x858458F6, "ext2": 0xEF53}     # statfs's f_type


@dataclass
class Mount:
    point: bytes             # a normalized path
    fs: str                  # the file-system fragment mounted here
    dev: int


@dataclass(eq=False)
class Node:
    """A file the vfs holds: an inode of a mounted file system (``mount`` and its
    attributes), or one of the vfs's own (``mount`` None: a pipe, /proc/self/exe with its
    ``target``, /proc/mounts with its text in ``target``)."""

    mount: Mount | None
    attr: Attr
    target: bytes = b""

    ino = property(lambda self: self.attr.ino)
    mode = property(lambda self: self.attr.mode)
    nlink = property(lambda self: self.attr.nlink)
    size = property(lambda self: self.attr.size)
    rdev = property(lambda self: self.attr.rdev)
    dev = property(lambda self: 0 if self.mount is None else self.mount.dev)
    is_dir = property(lambda self: self.attr.mode & S_IFMT == abi.S_IFDIR)
    is_reg = property(lambda self: self.attr.mode & S_IFMT == abi.S_IFREG)
    is_link = property(lambda self: self.attr.mode & S_IFMT == abi.S_IFLNK)


def _node(mount: Mount, answer) -> Node | int:
    """The node an interface operation answered with its attributes (or its -errno)."""
    return answer if isinstance(answer, int) else Node(mount, Attr(*answer))


def normalize(path: bytes) -> bytes:
    parts: list[bytes] = []
    for part in path.split(b"/"):
        if part in (b"", b"."):
            continue
        if part == b"..":
            if parts:
                parts.pop()
        else:
            parts.append(part)
    return b"/" + b"/".join(parts)


class Mounts:
    def start_mounts(self) -> None:
        self.mounts: list[Mount] = []

    # --- the table ----------------------------------------------------------------------
    @operation
    def mount(self, point, fs):
        """Mount the file-system fragment ``fs`` at ``point``: the root file system at /
        (first), any other over a directory of the root file system (made if absent)."""
        if any(m.point == point for m in self.mounts):
            return -errno.EBUSY
        if point != ROOT:
            made = self._root_directory(point)
            if made:
                return made
        self.mounts.append(Mount(point, fs, 1 + max((m.dev for m in self.mounts), default=0)))
        return 0

    @operation
    def umount(self, point):
        """Forget the mount at ``point`` (its file system flushed itself: ``unmount``)."""
        before = len(self.mounts)
        self.mounts = [m for m in self.mounts if m.point != point]
        return 0 if len(self.mounts) < before else -errno.EINVAL

    def _root_directory(self, path: bytes) -> int:
        """Make the directory ``path`` (and its parents) in the root file system if absent;
        0 or -errno."""
        root = self._mount_of(ROOT)
        port = self._port(root)
        node = _node(root, port.root())
        for part in [p for p in path.split(b"/") if p]:
            answer = port.lookup(node.ino, part)
            if answer == -errno.ENOENT:
                answer = port.mkdir(node.ino, part, abi.S_IFDIR | 0o755)
            node = _node(root, answer)
            if isinstance(node, int):
                return node
            if not node.is_dir:
                return -errno.ENOTDIR
        return 0

    def _mount_of(self, path: bytes) -> Mount:
        """The mount ``path`` is in: the one whose point is its longest prefix."""
        inside = [m for m in self.mounts if path == m.point or path.startswith(m.point.rstrip(b"/") + b"/")]
        return max(inside, key=lambda m: len(m.point))

    def _port(self, mount: Mount):
        return getattr(self.use, mount.fs)

    # --- lookup -------------------------------------------------------------------------
    def lookup(self, proc, path: bytes, follow: bool = True, hops: int = 0) -> Node | int:
        """The node at the normalized ``path`` for the process ``proc`` (a FileContext);
        a symlink at the end is followed only with ``follow``."""
        if path == PROC_MOUNTS:
            text = b"".join(b"%s %s %s rw 0 0\n" % (m.fs.encode(), m.point, m.fs.encode()) for m in self.mounts)
            return self._own_node(1, abi.S_IFREG | 0o444, text)
        if path == PROC_SELF_EXE:
            if not follow:
                return self._own_node(0, abi.S_IFLNK | 0o777, proc.exe_path)
            if not proc.exe_path:
                return -errno.ENOENT
            path = proc.exe_path
        mount = self._mount_of(path)
        port = self._port(mount)
        node = _node(mount, port.root())
        parts = [p for p in path[len(mount.point):].split(b"/") if p]
        for i, part in enumerate(parts):
            if isinstance(node, int):
                return node
            if not node.is_dir:
                return -errno.ENOTDIR
            node = _node(mount, port.lookup(node.ino, part))
            if isinstance(node, Node) and node.is_link and (follow or i < len(parts) - 1):
                if hops >= SYMLOOP_MAX:
                    return -errno.ELOOP
                target = port.readlink(node.ino)
                if isinstance(target, int):
                    return target
                rest = b"/".join([target, *parts[i + 1:]])
                here = b"/".join([mount.point, *parts[:i]])
                return self.lookup(proc, normalize(rest if target.startswith(b"/") else here + b"/" + rest),
                                   follow, hops + 1)
        return node

    def _own_node(self, ino: int, mode: int, target: bytes = b"") -> Node:
        """A node of the vfs's own (no file system holds it), its times now."""
        now = self.seconds()
        return Node(None, Attr(ino, mode, 1, len(target), 0, now, now, now, 0), target)

    # --- contents -----------------------------------------------------------------------
    def _node_read(self, node: Node, offset: int, count: int) -> bytes | int:
        return self._port(node.mount).read(node.ino, offset, count)

    def _node_contents(self, node: Node) -> bytes | int:
        """A whole regular file (exec, mmap)."""
        node = self._node_fresh(node)
        return node if isinstance(node, int) else self._node_read(node, 0, node.size)

    def _node_write(self, f, data: bytes) -> int:
        """Write at the open file's offset (at the end with O_APPEND); the count or -errno."""
        node = f.inode
        if f.flags & abi.OpenFlag.O_APPEND:
            size = self._node_size(node)
            if size < 0:
                return size
            f.offset = size
        done = self._port(node.mount).write(node.ino, f.offset, data)
        if done > 0:
            f.offset += done
        return done

    def _node_size(self, node: Node) -> int:
        fresh = self._node_fresh(node)
        return fresh if isinstance(fresh, int) else fresh.size

    def _node_truncate(self, node: Node, size: int) -> int:
        if node.is_dir:
            return -errno.EISDIR
        if not node.is_reg:
            return -errno.EINVAL
        return self._port(node.mount).truncate(node.ino, size)

    def _node_change(self, node: Node, operation: str, *args) -> int:
        """An attribute change (``chmod`` or ``utimes`` of the interface) of ``node``: 0 or
        -errno; the vfs's own nodes (pipes) keep no mode or times."""
        if node.mount is None:
            return 0
        attr = getattr(self._port(node.mount), operation)(node.ino, *args)
        return attr if isinstance(attr, int) else 0

    def _node_open(self, node: Node) -> int:
        """A program opens the regular file ``node``: its file system keeps it until
        ``_node_release``, even past its last link."""
        return self._port(node.mount).open(node.ino)

    def _node_release(self, node: Node) -> None:
        self._port(node.mount).release(node.ino)

    def _node_fresh(self, node: Node) -> Node | int:
        """The node with its current attributes (the file may have changed)."""
        if node.mount is None:
            return node
        return _node(node.mount, self._port(node.mount).getattr(node.ino))

    def _node_readlink(self, node: Node) -> bytes | int:
        if not node.is_link:
            return -errno.EINVAL
        return node.target if node.mount is None else self._port(node.mount).readlink(node.ino)

    # --- directories --------------------------------------------------------------------
    def _node_entries(self, node: Node) -> list[tuple[bytes, int, int]] | int:
        """(name, ino, d_type) of a directory, . and .. first."""
        return self._port(node.mount).readdir(node.ino)

    def _node_new(self, parent: Node, name: bytes, mode: int, target: bytes = b"") -> Node | int:
        """A new file, directory or symlink (by ``mode``) named ``name`` in ``parent``."""
        port, ino, kind = self._port(parent.mount), parent.ino, mode & S_IFMT
        attr = (port.mkdir(ino, name, mode) if kind == abi.S_IFDIR else
                port.symlink(ino, name, target) if kind == abi.S_IFLNK else
                port.create(ino, name, mode))
        return _node(parent.mount, attr)

    def _node_unlink(self, path: bytes, node: Node, parent: Node, name: bytes, flags: int) -> int:
        if any(m.point == path for m in self.mounts):
            return -errno.EBUSY
        if flags & AtFlag.AT_REMOVEDIR and not node.is_dir:
            return -errno.ENOTDIR
        if not flags & AtFlag.AT_REMOVEDIR and node.is_dir:
            return -errno.EISDIR
        port = self._port(parent.mount)
        return (port.rmdir if node.is_dir else port.unlink)(parent.ino, name)

    def _node_rename(self, old: bytes, new: bytes, source: tuple, target: tuple) -> int:
        """Rename (``source``/``target``: (parent node, name)) within one mount."""
        if any(m.point in (old, new) for m in self.mounts):
            return -errno.EBUSY
        if source[0].mount is not target[0].mount:
            return -errno.EXDEV
        return self._port(source[0].mount).rename(source[0].ino, source[1], target[0].ino, target[1])

    # --- syscalls only the mounts need ----------------------------------------------------
    def mount_handlers(self) -> dict:
        return {"fsync": self.sys_fsync, "fdatasync": self.sys_fsync, "syncfs": self.sys_fsync,
                "sync": self.sys_sync, "truncate64": self.sys_truncate64,
                "ftruncate64": self.sys_ftruncate64, "symlink": self.sys_symlink,
                "symlinkat": self.sys_symlinkat, "link": self.sys_link, "linkat": self.sys_linkat,
                "statfs64": self.sys_statfs64, "fstatfs64": self.sys_fstatfs64}

    def sys_fsync(self, call, fd, *_):
        f = self._file(call.proc, fd)
        if f is None:
            return -errno.EBADF
        mount = None if f.inode is None else f.inode.mount
        return 0 if mount is None else self._port(mount).sync()

    def sys_sync(self, call, *_):
        for mount in self.mounts:
            self._port(mount).sync()
        return 0

    def sys_truncate64(self, call, path_addr, _pad, low, high, *_):
        path = self._path(call, abi.AT_FDCWD, path_addr)
        node = path if isinstance(path, int) else self.lookup(call.proc, path)
        return node if isinstance(node, int) else self._node_truncate(node, low | high << 32)

    def sys_ftruncate64(self, call, fd, _pad, low, high, *_):
        f = self._file(call.proc, fd)
        if f is None or f.flags & O_ACCMODE == abi.O_RDONLY:
            return -errno.EBADF if f is None else -errno.EINVAL
        return self._node_truncate(f.inode, low | high << 32) if f.kind == "file" else -errno.EINVAL

    def sys_symlink(self, call, target_addr, path_addr, *_):
        return self.sys_symlinkat(call, target_addr, abi.AT_FDCWD, path_addr)

    def sys_symlinkat(self, call, target_addr, dirfd, path_addr, *_):
        target = self.use.pager.read_cstring(call.pid, target_addr)
        if target is None:
            return -errno.EFAULT
        path = self._path(call, dirfd, path_addr)
        if isinstance(path, int):
            return path
        if not isinstance(self.lookup(call.proc, path, follow=False), int):
            return -errno.EEXIST
        parent = self._parent(call.proc, path)
        if isinstance(parent, int):
            return parent
        node = self._node_new(parent[0], parent[1], abi.S_IFLNK | 0o777, target)
        return node if isinstance(node, int) else 0

    def sys_link(self, call, old_addr, new_addr, *_):
        return self.sys_linkat(call, abi.AT_FDCWD, old_addr, abi.AT_FDCWD, new_addr, 0)

    def sys_linkat(self, call, olddir, old_addr, newdir, new_addr, flags, *_):
        """A hard link: the same inode under a new name, in the same mount (EXDEV else)."""
        old, new = self._path(call, olddir, old_addr), self._path(call, newdir, new_addr)
        for p in (old, new):
            if isinstance(p, int):
                return p
        node = self.lookup(call.proc, old, follow=bool(flags & AtFlag.AT_SYMLINK_FOLLOW))
        if isinstance(node, int):
            return node
        if not isinstance(self.lookup(call.proc, new, follow=False), int):
            return -errno.EEXIST
        parent = self._parent(call.proc, new)
        if isinstance(parent, int):
            return parent
        if node.mount is None or node.mount is not parent[0].mount:
            return -errno.EXDEV
        if node.is_dir:
            return -errno.EPERM
        attr = self._port(node.mount).link(node.ino, parent[0].ino, parent[1])
        return attr if isinstance(attr, int) else 0

    def sys_statfs64(self, call, path_addr, size, buf, *_):
        path = self._path(call, abi.AT_FDCWD, path_addr)
        node = path if isinstance(path, int) else self.lookup(call.proc, path)
        return node if isinstance(node, int) else self._put_statfs(call, node, size, buf)

    def sys_fstatfs64(self, call, fd, size, buf, *_):
        f = self._file(call.proc, fd)
        return -errno.EBADF if f is None else self._put_statfs(call, f.inode, size, buf)

    def _put_statfs(self, call, node: Node | None, size: int, buf: int) -> int:
        """The statfs64 of the file system holding ``node`` (the root's for the vfs's own
        files); the size must be the struct's, 84 or 88 as ARM EABI's kernel takes."""
        if size not in (abi.STATFS64.size, abi.STATFS64.size + 4):
            return -errno.EINVAL
        mount = node.mount if node is not None and node.mount is not None else self._mount_of(b"/")
        stat = self._port(mount).statfs()
        if isinstance(stat, int):
            return stat
        block_size, blocks, free, files, free_files, name_max = stat
        data = abi.STATFS64.pack(FS_MAGIC.get(mount.fs, 0), block_size, blocks, free, free, files, free_files,
                                 mount.dev, 0, name_max, block_size, 0)
        return 0 if self.use.pager.write(call.pid, buf, data) else -errno.EFAULT
