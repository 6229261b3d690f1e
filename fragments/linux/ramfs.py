"""The `ramfs` fragment: the root file system, a tree of inodes.

Invariants: a directory's ``children`` maps names (bytes, no '/') to inodes; every
directory but the root has exactly one parent entry; ``nlink`` of a file counts the
directory entries naming it. Inode numbers are handed out in creation order, so they are
the same in every run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fragments.runtime.fragment import Fragment, operation

from .abi import S_IFCHR, S_IFDIR, S_IFLNK, S_IFREG


@dataclass(eq=False)
class Inode:
    ino: int
    mode: int                                   # S_IF* | permission bits
    data: bytearray = field(default_factory=bytearray)
    children: dict[bytes, "Inode"] = field(default_factory=dict)
    parent: "Inode | None" = None
    device: str = ""                            # "console" | "null" for character devices
    target: bytes = b""                         # symlink target
    nlink: int = 1
    mtime: int = 0

    @property
    def is_dir(self) -> bool:
        return self.mode & 0o170000 == S_IFDIR

    @property
    def is_reg(self) -> bool:
        return self.mode & 0o170000 == S_IFREG

    @property
    def is_link(self) -> bool:
        return self.mode & 0o170000 == S_IFLNK

    @property
    def size(self) -> int:
        return len(self.target) if self.is_link else len(self.data)


class RamFs:
    """The tree and its operations on inodes (names are resolved by the vfs)."""

    def __init__(self):
        self._next_ino = 1
        self.root = self.new(S_IFDIR | 0o755)
        self.root.parent = self.root
        for path in (b"/bin", b"/tmp", b"/dev", b"/proc", b"/proc/self", b"/etc"):
            self.mkdirs(path)
        self.root.children[b"tmp"].mode = S_IFDIR | 0o1777
        dev = self.root.children[b"dev"]
        for name, device in ((b"console", "console"), (b"tty", "console"), (b"null", "null")):
            self.link(dev, name, self.new(S_IFCHR | 0o666, device=device))

    def new(self, mode: int, **kw) -> Inode:
        inode = Inode(self._next_ino, mode, **kw)
        self._next_ino += 1
        return inode

    def link(self, directory: Inode, name: bytes, inode: Inode) -> None:
        directory.children[name] = inode
        if inode.is_dir:
            inode.parent = directory
            directory.nlink += 1

    def unlink(self, directory: Inode, name: bytes) -> Inode:
        inode = directory.children.pop(name)
        if inode.is_dir:
            directory.nlink -= 1
        else:
            inode.nlink -= 1
        return inode

    def mkdirs(self, path: bytes) -> Inode:
        node = self.root
        for part in path.strip(b"/").split(b"/"):
            if part not in node.children:
                self.link(node, part, self.new(S_IFDIR | 0o755, nlink=2))
            node = node.children[part]
        return node

    def add_file(self, path: bytes, data: bytes, mode: int = 0o755) -> Inode:
        """Place a host file in the tree (boot and ``--add``)."""
        directory, _, name = path.rpartition(b"/")
        parent = self.mkdirs(directory) if directory.strip(b"/") else self.root
        inode = self.new(S_IFREG | mode, data=bytearray(data))
        parent.children[name] = inode
        return inode


class RamFsFragment(Fragment):
    """The ramfs as a fragment. The vfs reaches its tree by reference, so a composition
    must keep it in the vfs's task (``PINNED_TO``): it has no IPC interface yet."""

    NAME = "ramfs"
    PINNED_TO = "vfs"

    def __init__(self, runtime):
        super().__init__(runtime)
        self.fs = RamFs()

    @operation
    def add_file(self, path, data, mode):
        """Place a host file in the tree (boot and ``--add``)."""
        self.fs.add_file(path, data, mode)
