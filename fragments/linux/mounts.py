"""The vfs's mount table and its node operations (a mixin of the `vfs` fragment).

The root file system is the ramfs, reached by reference; a file-system fragment (``ext2``)
may be mounted over a ramfs directory (``mount``). Path lookup crosses into a mount where
the normalized path starts with its point, and from there resolves one component at a
time through the file-system interface (``filesystem``), following symlinks (at most
SYMLOOP_MAX). What it finds is a ``Mounted`` node, which the vfs holds where it would hold a
ramfs ``Inode`` (in open files too); it reads like an inode for the metadata the vfs
needs, from the attributes of its last lookup.

Every operation on a node's contents or names goes through the ``_node_*`` methods here,
which serve a ramfs inode in place and a mounted node by a call to its fragment. A mounted
file system answers errors as -errno; they reach the program unchanged (ENOSPC, EXDEV…).

Invariants: a mount point is a ramfs directory and cannot be removed or renamed while
mounted (EBUSY); a rename across file systems is EXDEV; mounted nodes carry st_dev
``MOUNT_DEV`` + their mount's index, the ramfs 1.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass

from fragments.runtime.fragment import operation

from . import abi
from .abi import O_ACCMODE, S_IFMT, AtFlag, DirentType
from .filesystem import Attr

SYMLOOP_MAX = 40
MOUNT_DEV = 2


@dataclass
class Mount:
    point: bytes
    fs: str                  # the file-system fragment mounted here
    dev: int


@dataclass(eq=False)
class Mounted:
    """A node of a mounted file system: (fragment, inode) and its attributes."""

    mount: Mount
    attr: Attr
    device = ""             # never a console or null device

    ino = property(lambda self: self.attr.ino)
    mode = property(lambda self: self.attr.mode)
    nlink = property(lambda self: self.attr.nlink)
    size = property(lambda self: self.attr.size)
    is_dir = property(lambda self: self.attr.mode & S_IFMT == abi.S_IFDIR)
    is_reg = property(lambda self: self.attr.mode & S_IFMT == abi.S_IFREG)
    is_link = property(lambda self: self.attr.mode & S_IFMT == abi.S_IFLNK)


def _normalize(path: bytes) -> bytes:
    from .vfs import normalize      # vfs imports this module: resolve at call time
    return normalize(path)


def _attr(answer):
    return answer if isinstance(answer, int) else Attr(*answer)


class Mounts:
    def start_mounts(self) -> None:
        self.mounts: list[Mount] = []

    # --- the table ----------------------------------------------------------------------
    @operation
    def mount(self, point, fs):
        """Mount the file-system fragment ``fs`` at ``point`` (made in the ramfs if absent)."""
        if any(m.point == point for m in self.mounts):
            return -errno.EBUSY
        if not self.fs.mkdirs(point).is_dir:
            return -errno.ENOTDIR
        self.mounts.append(Mount(point, fs, MOUNT_DEV + len(self.mounts)))
        return 0

    @operation
    def umount(self, point):
        """Forget the mount at ``point`` (its file system flushed itself: ``unmount``)."""
        before = len(self.mounts)
        self.mounts = [m for m in self.mounts if m.point != point]
        return 0 if len(self.mounts) < before else -errno.EINVAL

    def _mount_of(self, path: bytes) -> Mount | None:
        inside = [m for m in self.mounts if path == m.point or path.startswith(m.point + b"/")]
        return max(inside, key=lambda m: len(m.point)) if inside else None

    def _port(self, node: Mounted):
        return getattr(self.use, node.mount.fs)

    # --- lookup -------------------------------------------------------------------------
    def _mounted_lookup(self, proc, path: bytes, follow: bool, mount: Mount, hops: int = 0):
        port = getattr(self.use, mount.fs)
        node = Mounted(mount, _attr(port.root()))
        if isinstance(node.attr, int):
            return node.attr
        parts = [p for p in path[len(mount.point):].split(b"/") if p]
        walked = mount.point
        for i, part in enumerate(parts):
            if not node.is_dir:
                return -errno.ENOTDIR
            attr = _attr(port.lookup(node.ino, part))
            if isinstance(attr, int):
                return attr
            node = Mounted(mount, attr)
            if node.is_link and (follow or i < len(parts) - 1):
                if hops >= SYMLOOP_MAX:
                    return -errno.ELOOP
                target = port.readlink(node.ino)
                if isinstance(target, int):
                    return target
                rest = b"/".join([target, *parts[i + 1:]])
                path = _normalize(rest if target.startswith(b"/") else walked + b"/" + rest)
                inner = self._mount_of(path)
                if inner is None:
                    return self.lookup(proc, path, follow)
                return self._mounted_lookup(proc, path, follow, inner, hops + 1)
            walked += b"/" + part
        return node

    # --- contents -----------------------------------------------------------------------
    def _node_read(self, node, offset: int, count: int) -> bytes | int:
        if isinstance(node, Mounted):
            return self._port(node).read(node.ino, offset, count)
        return bytes(node.data[offset:offset + count])

    def _node_contents(self, node) -> bytes | int:
        """A whole regular file (exec, mmap)."""
        if isinstance(node, Mounted):
            node = self._node_fresh(node)
            return node if isinstance(node, int) else self._node_read(node, 0, node.size)
        return bytes(node.data)

    def _node_write(self, f, data: bytes) -> int:
        """Write at the open file's offset (at the end with O_APPEND); the count or -errno."""
        node = f.inode
        if f.flags & abi.OpenFlag.O_APPEND:
            size = self._node_size(node)
            if size < 0:
                return size
            f.offset = size
        if isinstance(node, Mounted):
            done = self._port(node).write(node.ino, f.offset, data)
            if done > 0:
                f.offset += done
            return done
        end = f.offset + len(data)
        if len(node.data) < f.offset:
            node.data += bytes(f.offset - len(node.data))
        node.data[f.offset:end] = data
        f.offset = end
        return len(data)

    def _node_size(self, node) -> int:
        if isinstance(node, Mounted):
            fresh = self._node_fresh(node)
            return fresh if isinstance(fresh, int) else fresh.size
        return len(node.data)

    def _node_truncate(self, node, size: int) -> int:
        if node.is_dir:
            return -errno.EISDIR
        if not node.is_reg:
            return -errno.EINVAL
        if isinstance(node, Mounted):
            return self._port(node).truncate(node.ino, size)
        node.data[size:] = b""
        node.data += bytes(size - len(node.data))
        return 0

    def _node_fresh(self, node):
        """The node with its current attributes (a mounted file may have changed)."""
        if not isinstance(node, Mounted):
            return node
        attr = _attr(self._port(node).getattr(node.ino))
        return attr if isinstance(attr, int) else Mounted(node.mount, attr)

    def _node_stat(self, node, now: int) -> tuple[int, tuple[int, int, int], int]:
        """(st_dev, (atime, mtime, ctime), 512-byte blocks) of a fresh node."""
        if isinstance(node, Mounted):
            a = node.attr
            return node.mount.dev, (a.atime, a.mtime, a.ctime), a.blocks
        return 1, (now, now, now), (node.size + 511) // 512

    def _node_readlink(self, node) -> bytes | int:
        if not node.is_link:
            return -errno.EINVAL
        return self._port(node).readlink(node.ino) if isinstance(node, Mounted) else node.target

    # --- directories --------------------------------------------------------------------
    def _node_entries(self, node) -> list[tuple[int, int, bytes]] | int:
        """(ino, d_type, name) of a directory, . and .. first."""
        if isinstance(node, Mounted):
            entries = self._port(node).readdir(node.ino)
            return entries if isinstance(entries, int) else [(i, t, n) for n, i, t in entries]
        entries = [(node.ino, DirentType.DT_DIR, b"."), (node.parent.ino, DirentType.DT_DIR, b"..")]
        return entries + [(c.ino, (c.mode & S_IFMT) >> 12, name) for name, c in node.children.items()]

    def _node_new(self, parent, name: bytes, mode: int, target: bytes = b""):
        """A new file, directory or symlink (by ``mode``) named ``name`` in ``parent``."""
        kind = mode & S_IFMT
        if isinstance(parent, Mounted):
            port, ino = self._port(parent), parent.ino
            attr = (port.mkdir(ino, name, mode) if kind == abi.S_IFDIR else
                    port.symlink(ino, name, target) if kind == abi.S_IFLNK else
                    port.create(ino, name, mode))
            return _attr(attr) if isinstance(attr, int) else Mounted(parent.mount, _attr(attr))
        if name in parent.children:
            return -errno.EEXIST
        if kind == abi.S_IFLNK:
            return -errno.EPERM            # the vfs follows no ramfs symlink
        node = self.fs.new(mode, nlink=2 if kind == abi.S_IFDIR else 1)
        self.fs.link(parent, name, node)
        return node

    def _node_unlink(self, path: bytes, node, parent, name: bytes, flags: int) -> int:
        if any(m.point == path for m in self.mounts):
            return -errno.EBUSY
        if flags & AtFlag.AT_REMOVEDIR and not node.is_dir:
            return -errno.ENOTDIR
        if not flags & AtFlag.AT_REMOVEDIR and node.is_dir:
            return -errno.EISDIR
        if isinstance(parent, Mounted):
            port = self._port(parent)
            return (port.rmdir if node.is_dir else port.unlink)(parent.ino, name)
        if node.is_dir and node.children:
            return -errno.ENOTEMPTY
        self.fs.unlink(parent, name)
        return 0

    def _node_rename(self, old: bytes, new: bytes, source, target) -> int:
        """Rename when either side is mounted (``source``/``target``: (parent, name))."""
        if any(m.point in (old, new) for m in self.mounts):
            return -errno.EBUSY
        if not (isinstance(source[0], Mounted) and isinstance(target[0], Mounted)
                and source[0].mount is target[0].mount):
            return -errno.EXDEV
        return self._port(source[0]).rename(source[0].ino, source[1], target[0].ino, target[1])

    # --- syscalls only the mounts need ----------------------------------------------------
    def mount_handlers(self) -> dict:
        return {"fsync": self.sys_fsync, "fdatasync": self.sys_fsync, "syncfs": self.sys_fsync,
                "sync": self.sys_sync, "truncate64": self.sys_truncate64,
                "ftruncate64": self.sys_ftruncate64, "symlink": self.sys_symlink,
                "symlinkat": self.sys_symlinkat}

    def sys_fsync(self, call, fd, *_):
        f = self._file(call.proc, fd)
        if f is None:
            return -errno.EBADF
        return self._port(f.inode).sync() if isinstance(f.inode, Mounted) else 0

    def sys_sync(self, call, *_):
        for mount in self.mounts:
            getattr(self.use, mount.fs).sync()
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
