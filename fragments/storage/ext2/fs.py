"""The ext2 filesystem facade: namespace operations and file data over a mounted ``Volume``.

Each public operation is decode-then-perform: it looks up and validates everything
(names, types, emptiness, free inodes and blocks via ``BlockMap.missing``) and raises
``FsError(errno)`` before the first change; once it starts changing state it cannot
fail short of on-disk corruption (EIO). Mounting writes nothing (see ``volume``).

Link counts: a file has one link per directory entry; a directory has one for its
entry in the parent, one for its own ``.``, and one per subdirectory's ``..``.
A directory touched by a change loses its htree flag (see ``directory``).

Reads go through read-ahead: a file read that misses the cache first brings the blocks of
its range and of the READAHEAD bytes after it (within the file) in, consecutive ones in one
device request each.

Timestamps come from the caller's ``clock()`` (the model's clock, in seconds), read once
per operation so that everything one operation stamps carries the same time. Reads do
not update atime (as if mounted noatime), so reading never writes. Names are ``str``
encoded as UTF-8 (surrogateescape keeps arbitrary bytes).

Open inodes: ``open``/``release`` count the VFS's opens. An inode is freed when its last
link goes, unless it is open: then it stays allocated with no link (``orphans``), still
readable and writable, until its last release. ``drop_orphans`` frees them all when the
file system is unmounted. (On disk an orphan is an allocated inode with no link, which
e2fsck would clear, as after a crash of a Linux ext2 with files open.)
"""

import errno
import stat
import struct
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

from fragments.storage.blockdev import SECTOR_SIZE, BlockDevice
from fragments.storage.ext2 import directory
from fragments.storage.ext2.cache import DEFAULT_CAPACITY
from fragments.storage.ext2.errors import FsError
from fragments.storage.ext2.inode import (BLOCK_POINTERS, FAST_SYMLINK_MAX, FILE_TYPE_FORMATS, FILE_TYPES,
                                          INDEX_FLAG, LINK_MAX, Inode)
from fragments.storage.ext2.layout import ROOT_INO
from fragments.storage.ext2.volume import Volume

EA_MAGIC = 0xEA020000
READAHEAD = 64 << 10

Clock = Callable[[], int]


@dataclass(frozen=True)
class Stat:
    ino: int
    mode: int
    nlink: int
    uid: int
    gid: int
    size: int
    blocks: int  # 512-byte sectors allocated
    atime: int
    mtime: int
    ctime: int
    rdev: int  # a device file's number, else 0


@dataclass(frozen=True)
class StatFs:
    block_size: int
    blocks: int
    free_blocks: int
    inodes: int
    free_inodes: int
    name_max: int = directory.NAME_MAX


class DirEntry(NamedTuple):
    name: str
    ino: int
    d_type: int  # Linux DT_* (S_IFMT >> 12): DT_REG 8, DT_DIR 4, DT_LNK 10, …


class _Found(NamedTuple):
    """A live directory entry and the parse of the block holding it."""

    block: int
    entries: list[directory.Entry]
    entry: directory.Entry


class _Placement(NamedTuple):
    """Where a new entry will go: into a slot of an existing block, or (block None) a new block."""

    block: int | None
    slot: directory.Slot | None


class Ext2:
    def __init__(self, device: BlockDevice, clock: Clock, cache_blocks: int = DEFAULT_CAPACITY) -> None:
        """Mount (validate, write nothing); FsError(EINVAL) says why a device is refused."""
        self._volume = Volume(device, cache_blocks)
        self._clock = clock
        self._sb = self._volume.sb
        self._bs = self._volume.block_size
        self._cache = self._volume.cache
        self._alloc = self._volume.alloc
        self._map = self._volume.map
        self._get = self._volume.get
        self._put = self._volume.put
        self.opened: Counter[int] = Counter()    # inode -> opens not yet released
        self.orphans: set[int] = set()           # open inodes whose last link went

    # --- lookup and metadata --------------------------------------------------------

    def lookup(self, path: str) -> int:
        """The inode of a path from the root (symlinks are not followed)."""
        ino = ROOT_INO
        for part in path.split("/"):
            if part:
                ino = self.find(ino, part)
        return ino

    def find(self, dir_ino: int, name: str) -> int:
        """The inode named ``name`` (``.`` and ``..`` included) in a directory."""
        found = self._find(self._dir(dir_ino), _encode_name(name))
        if found is None:
            raise FsError(errno.ENOENT, name)
        return found.entry.inode

    def stat(self, ino: int) -> Stat:
        inode = self._live(ino)
        return Stat(ino, inode.mode, inode.links, inode.uid, inode.gid, inode.size, inode.blocks,
                    inode.atime, inode.mtime, inode.ctime, inode.rdev)

    def readdir(self, dir_ino: int) -> list[DirEntry]:
        """All entries in on-disk order, ``.`` and ``..`` first."""
        result = []
        for _, block in self._dir_blocks(self._dir(dir_ino)):
            for entry in directory.parse(self._cache.read(block), self._sb.has_filetype):
                if entry.inode:
                    fmt = FILE_TYPE_FORMATS.get(entry.file_type) or self._get(entry.inode).format
                    result.append(DirEntry(_decode_name(entry.name), entry.inode, fmt >> 12))
        return result

    def readlink(self, ino: int) -> str:
        inode = self._live(ino)
        if not stat.S_ISLNK(inode.mode):
            raise FsError(errno.EINVAL, f"inode {ino} is not a symlink")
        if inode.is_fast_symlink:
            return _decode_name(struct.pack(f"<{BLOCK_POINTERS}I", *inode.block)[:inode.size])
        return _decode_name(self._read_data(inode, 0, inode.size))

    def statfs(self) -> StatFs:
        sb = self._sb
        return StatFs(sb.block_size, sb.blocks_count, sb.free_blocks_count, sb.inodes_count, sb.free_inodes_count)

    # --- file data ----------------------------------------------------------------------

    def read(self, ino: int, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes from ``offset``; short at end of file; holes read as zeros."""
        inode = self._regular(ino)
        if offset < 0 or length < 0:
            raise FsError(errno.EINVAL, "negative offset or length")
        length = min(length, max(0, inode.size - offset))
        if length:
            self._read_ahead(inode, offset, offset + length + READAHEAD)
        return self._read_data(inode, offset, length)

    def write(self, ino: int, offset: int, data: bytes) -> int:
        """Write all of ``data`` at ``offset`` (past the end leaves a hole); return its length."""
        inode = self._regular(ino)
        if offset < 0:
            raise FsError(errno.EINVAL, "negative offset")
        if not data:
            return 0
        end = offset + len(data)
        self._volume.check_size(end)
        needed = self._map.missing(inode, range(offset // self._bs, (end - 1) // self._bs + 1))
        if needed > self._alloc.free_blocks:
            raise FsError(errno.ENOSPC, f"write needs {needed} blocks, {self._alloc.free_blocks} free")
        self._volume.note_size(end)
        self._write_data(ino, inode, offset, memoryview(data))
        inode.size = max(inode.size, end)
        inode.mtime = inode.ctime = self._now()
        self._put(ino, inode)
        return len(data)

    def truncate(self, ino: int, size: int) -> None:
        """Set the size: shrinking frees blocks past it, growing leaves a hole (no allocation)."""
        inode = self._regular(ino)
        if size < 0:
            raise FsError(errno.EINVAL, "negative size")
        self._volume.check_size(size)
        self._volume.note_size(size)
        if size < inode.size:
            self._map.cut(inode, -(-size // self._bs))
            tail = size % self._bs
            block = self._map.lookup(inode, size // self._bs) if tail else 0
            if block:  # bytes past EOF in the last block must read as zeros if the file grows again
                self._cache.patch(block, tail, bytes(self._bs - tail))
        inode.size = size
        inode.mtime = inode.ctime = self._now()
        self._put(ino, inode)

    def chmod(self, ino: int, mode: int) -> None:
        """Set the permission bits (and setuid, setgid, sticky); the file type stays."""
        inode = self._live(ino)
        inode.mode = (inode.mode & ~0o7777) | (mode & 0o7777)
        inode.ctime = self._now()
        self._put(ino, inode)

    def utimes(self, ino: int, atime: int | None, mtime: int | None) -> None:
        """Set the access and modification times (seconds; None keeps one)."""
        inode = self._live(ino)
        if atime is not None:
            inode.atime = atime & 0xFFFFFFFF
        if mtime is not None:
            inode.mtime = mtime & 0xFFFFFFFF
        inode.ctime = self._now()
        self._put(ino, inode)

    # --- namespace ----------------------------------------------------------------------

    def create(self, dir_ino: int, name: str, mode: int = 0o644) -> int:
        """A new empty regular file; returns its inode."""
        if stat.S_IFMT(mode) not in (0, stat.S_IFREG):
            raise FsError(errno.EINVAL, "create makes regular files only")
        raw, parent, placement = self._plan_new_entry(dir_ino, name, extra_blocks=0)
        ino = self._alloc.allocate_inode(dir_ino, is_dir=False)
        now = self._now()
        self._put(ino, Inode.new(self._sb.inode_size, stat.S_IFREG | stat.S_IMODE(mode), now))
        self._add_entry(dir_ino, parent, placement, raw, ino, FILE_TYPES[stat.S_IFREG], now)
        return ino

    def link(self, ino: int, dir_ino: int, name: str) -> None:
        """Another name for an existing file that is not a directory (a hard link)."""
        inode = self._live(ino)
        if inode.is_dir:
            raise FsError(errno.EPERM, "a directory cannot be hard-linked")
        if inode.links == 0:
            raise FsError(errno.ENOENT, f"inode {ino} has no name left")
        if inode.links >= LINK_MAX:
            raise FsError(errno.EMLINK, name)
        raw = _encode_name(name, new=True)
        parent = self._dir(dir_ino)
        if self._find(parent, raw) is not None:
            raise FsError(errno.EEXIST, name)
        placement = self._placement(parent, raw)
        now = self._now()
        inode.links += 1
        inode.ctime = now
        self._put(ino, inode)
        self._add_entry(dir_ino, parent, placement, raw, ino, FILE_TYPES[stat.S_IFMT(inode.mode)], now)

    def mkdir(self, dir_ino: int, name: str, mode: int = 0o755) -> int:
        """A new directory holding ``.`` and ``..``; returns its inode."""
        raw, parent, placement = self._plan_new_entry(dir_ino, name, extra_blocks=1)
        if parent.links >= LINK_MAX:
            raise FsError(errno.EMLINK, "parent directory has too many links")
        ino = self._alloc.allocate_inode(dir_ino, is_dir=True)
        now = self._now()
        inode = Inode.new(self._sb.inode_size, stat.S_IFDIR | stat.S_IMODE(mode), now)
        inode.links = 2
        block, _ = self._map.ensure(inode, 0, self._volume.group_goal(ino))
        dir_type = FILE_TYPES[stat.S_IFDIR]
        self._cache.write(block, directory.new_directory_block(self._bs, ino, dir_ino, dir_type, self._sb.has_filetype))
        inode.size = self._bs
        self._put(ino, inode)
        parent.links += 1
        self._add_entry(dir_ino, parent, placement, raw, ino, dir_type, now)
        return ino

    def symlink(self, dir_ino: int, name: str, target: str) -> int:
        """A symlink to ``target``: fast (in the inode) below 60 bytes, else one data block."""
        raw_target = _encode_target(target, limit=self._bs - 1)
        fast = len(raw_target) <= FAST_SYMLINK_MAX
        raw, parent, placement = self._plan_new_entry(dir_ino, name, extra_blocks=0 if fast else 1)
        ino = self._alloc.allocate_inode(dir_ino, is_dir=False)
        now = self._now()
        inode = Inode.new(self._sb.inode_size, stat.S_IFLNK | 0o777, now)
        inode.size = len(raw_target)
        if fast:
            inode.block = list(struct.unpack(f"<{BLOCK_POINTERS}I", raw_target.ljust(4 * BLOCK_POINTERS, b"\0")))
        else:
            block, _ = self._map.ensure(inode, 0, self._volume.group_goal(ino))
            self._cache.write(block, raw_target)
        self._put(ino, inode)
        self._add_entry(dir_ino, parent, placement, raw, ino, FILE_TYPES[stat.S_IFLNK], now)
        return ino

    def unlink(self, dir_ino: int, name: str) -> None:
        """Remove a non-directory entry; the inode is freed with its last link."""
        parent = self._dir(dir_ino)
        found = self._existing(parent, name)
        target_ino = found.entry.inode
        target = self._get(target_ino)
        if target.is_dir:
            raise FsError(errno.EISDIR, name)
        now = self._now()
        self._remove_entry(dir_ino, parent, found, now)
        self._drop_link(target_ino, target, now)

    def rmdir(self, dir_ino: int, name: str) -> None:
        """Remove an empty directory."""
        parent = self._dir(dir_ino)
        found = self._existing(parent, name)
        target_ino = found.entry.inode
        target = self._get(target_ino)
        if not target.is_dir:
            raise FsError(errno.ENOTDIR, name)
        if not self._is_empty(target):
            raise FsError(errno.ENOTEMPTY, name)
        now = self._now()
        parent.links -= 1
        self._remove_entry(dir_ino, parent, found, now)
        self._release(target_ino, target, now)

    def rename(self, src_dir: int, src_name: str, dst_dir: int, dst_name: str) -> None:
        """Move an entry, replacing an existing destination of a compatible kind (POSIX rename)."""
        source_parent = self._dir(src_dir)
        dest_parent = source_parent if dst_dir == src_dir else self._dir(dst_dir)
        found = self._existing(source_parent, src_name)
        dst_raw = _encode_name(dst_name, new=True)
        src_ino = found.entry.inode
        source = self._get(src_ino)
        if source.is_dir and self._is_ancestor(src_ino, dst_dir):
            raise FsError(errno.EINVAL, "cannot move a directory inside itself")
        existing = self._find(dest_parent, dst_raw)
        if existing is not None and existing.entry.inode == src_ino:
            return
        moves_dir = source.is_dir and src_dir != dst_dir
        victim = None if existing is None else self._get(existing.entry.inode)
        placement = None
        if victim is not None:
            if source.is_dir and not victim.is_dir:
                raise FsError(errno.ENOTDIR, dst_name)
            if not source.is_dir and victim.is_dir:
                raise FsError(errno.EISDIR, dst_name)
            if victim.is_dir and not self._is_empty(victim):
                raise FsError(errno.ENOTEMPTY, dst_name)
        else:
            if moves_dir and dest_parent.links >= LINK_MAX:
                raise FsError(errno.EMLINK, "destination directory has too many links")
            placement = self._placement(dest_parent, dst_raw)
        # perform
        now = self._now()
        file_type = FILE_TYPES[source.format]
        if existing is not None:
            self._rewrite_entry(dst_dir, dest_parent, existing, src_ino, file_type, now)
        else:
            self._add_entry(dst_dir, dest_parent, placement, dst_raw, src_ino, file_type, now)
        self._remove_entry(src_dir, source_parent, self._find(source_parent, found.entry.name), now)
        if moves_dir:
            dotdot = self._find(source, b"..")
            self._rewrite_entry(src_ino, source, dotdot, dst_dir, FILE_TYPES[stat.S_IFDIR], now)
            source_parent.links -= 1
            dest_parent.links += 1
        source.ctime = now
        self._put(src_ino, source)
        if existing is not None:
            if victim.is_dir:
                dest_parent.links -= 1
                self._release(existing.entry.inode, victim, now)
            else:
                self._drop_link(existing.entry.inode, victim, now)
        self._put(src_dir, source_parent)
        self._put(dst_dir, dest_parent)

    # --- durability -----------------------------------------------------------------------

    def sync(self) -> None:
        """Flush everything: superblock, descriptors, inodes, data (the only durability point)."""
        self._volume.sync(self._now())

    # --- open inodes ----------------------------------------------------------------------

    def open(self, ino: int) -> None:
        self._live(ino)
        self.opened[ino] += 1

    def release(self, ino: int) -> None:
        """One open of ``ino`` less; an orphan goes with its last."""
        self.opened[ino] -= 1
        if self.opened[ino] > 0:
            return
        del self.opened[ino]
        if ino in self.orphans:
            self.orphans.discard(ino)
            self._release(ino, self._get(ino), self._now())

    def drop_orphans(self) -> None:
        """Free every orphan (unmounting: nothing can reach them any more)."""
        for ino in sorted(self.orphans):
            del self.opened[ino]
            self._release(ino, self._get(ino), self._now())
        self.orphans.clear()

    # --- inodes -------------------------------------------------------------------------

    def _live(self, ino: int) -> Inode:
        inode = self._get(ino)
        if inode.links == 0 and ino not in self.orphans:
            raise FsError(errno.ENOENT, f"inode {ino} is not in use")
        return inode

    def _dir(self, ino: int) -> Inode:
        inode = self._live(ino)
        if not inode.is_dir:
            raise FsError(errno.ENOTDIR, f"inode {ino}")
        return inode

    def _regular(self, ino: int) -> Inode:
        inode = self._live(ino)
        if inode.is_dir:
            raise FsError(errno.EISDIR, f"inode {ino}")
        if not stat.S_ISREG(inode.mode):
            raise FsError(errno.EINVAL, f"inode {ino} is not a regular file")
        return inode

    def _drop_link(self, ino: int, inode: Inode, now: int) -> None:
        inode.links -= 1
        inode.ctime = now
        if inode.links == 0 and ino not in self.opened:
            self._release(ino, inode, now)
        else:
            if inode.links == 0:
                self.orphans.add(ino)
            self._put(ino, inode)

    def _release(self, ino: int, inode: Inode, now: int) -> None:
        """Free an inode and everything it owns (data, indirect and extended-attribute blocks)."""
        if inode.has_block_map:
            self._map.cut(inode, 0)
        if inode.file_acl:
            self._release_xattr_block(inode)
        inode.links = 0
        inode.size = 0
        inode.block = [0] * BLOCK_POINTERS
        inode.dtime = now
        self._put(ino, inode)
        self._alloc.free_inode(ino, inode.is_dir)

    def _release_xattr_block(self, inode: Inode) -> None:
        """Drop this inode's reference to its shared extended-attribute block."""
        magic, refcount = struct.unpack("<II", self._cache.read(inode.file_acl)[:8])
        if magic != EA_MAGIC:
            raise FsError(errno.EIO, f"extended-attribute block {inode.file_acl} has bad magic")
        if refcount > 1:
            self._cache.patch(inode.file_acl, 4, struct.pack("<I", refcount - 1))
        else:
            self._alloc.free_block(inode.file_acl)
        inode.blocks -= self._bs // SECTOR_SIZE
        inode.file_acl = 0

    # --- file data helpers ----------------------------------------------------------------

    def _read_ahead(self, inode: Inode, offset: int, end: int) -> None:
        """On a cache miss at ``offset``, bring the file's blocks up to ``end`` in."""
        first = self._map.lookup(inode, offset // self._bs)
        if not first or self._cache.holds(first):
            return
        lblocks = range(offset // self._bs, (min(end, inode.size) - 1) // self._bs + 1)
        self._cache.prefetch(block for block in (self._map.lookup(inode, b) for b in lblocks) if block)

    def _read_data(self, inode: Inode, offset: int, length: int) -> bytes:
        pieces = []
        position, end = offset, offset + length
        while position < end:
            lblock, within = divmod(position, self._bs)
            count = min(self._bs - within, end - position)
            block = self._map.lookup(inode, lblock)
            pieces.append(self._cache.read(block)[within:within + count] if block else bytes(count))
            position += count
        return b"".join(pieces)

    def _write_data(self, ino: int, inode: Inode, offset: int, data: memoryview) -> None:
        first = offset // self._bs
        previous = self._map.lookup(inode, first - 1) if first else 0
        goal = previous + 1 if previous else self._volume.group_goal(ino)
        position, end = offset, offset + len(data)
        while position < end:
            lblock, within = divmod(position, self._bs)
            count = min(self._bs - within, end - position)
            piece = bytes(data[position - offset:position - offset + count])
            block, fresh = self._map.ensure(inode, lblock, goal)
            if count == self._bs or fresh:
                self._cache.write(block, bytes(within) + piece)
            else:
                self._cache.patch(block, within, piece)
            goal = block + 1
            position += count

    def _now(self) -> int:
        return int(self._clock()) & 0xFFFF_FFFF

    # --- directory helpers ----------------------------------------------------------------

    def _dir_blocks(self, inode: Inode) -> Iterator[tuple[int, int]]:
        """(logical, physical) for each allocated block of a directory."""
        for lblock in range(inode.size // self._bs):
            block = self._map.lookup(inode, lblock)
            if block:
                yield lblock, block

    def _find(self, dir_inode: Inode, raw: bytes) -> _Found | None:
        for _, block in self._dir_blocks(dir_inode):
            entries = directory.parse(self._cache.read(block), self._sb.has_filetype)
            for entry in entries:
                if entry.inode and entry.name == raw:
                    return _Found(block, entries, entry)
        return None

    def _existing(self, dir_inode: Inode, name: str) -> _Found:
        found = self._find(dir_inode, _encode_name(name, new=True))
        if found is None:
            raise FsError(errno.ENOENT, name)
        return found

    def _is_empty(self, dir_inode: Inode) -> bool:
        return all(entry.inode == 0 or entry.name in (b".", b"..")
                   for _, block in self._dir_blocks(dir_inode)
                   for entry in directory.parse(self._cache.read(block), self._sb.has_filetype))

    def _is_ancestor(self, ancestor: int, ino: int) -> bool:
        """Whether ``ancestor`` is ``ino`` or one of its parents (walking ``..`` to the root)."""
        for _ in range(self._sb.inodes_count):
            if ino == ancestor:
                return True
            if ino == ROOT_INO:
                return False
            ino = self.find(ino, "..")
        raise FsError(errno.EIO, "directory '..' chain does not reach the root")

    def _plan_new_entry(self, dir_ino: int, name: str, extra_blocks: int) -> tuple[bytes, Inode, _Placement]:
        """Validate a new name in a directory and reserve nothing: check that an inode and
        ``extra_blocks`` plus any directory growth are free (ENOSPC otherwise)."""
        raw = _encode_name(name, new=True)
        parent = self._dir(dir_ino)
        if self._find(parent, raw) is not None:
            raise FsError(errno.EEXIST, name)
        placement = self._placement(parent, raw, extra_blocks)
        if self._alloc.free_inodes == 0:
            raise FsError(errno.ENOSPC, "no free inodes")
        return raw, parent, placement

    def _placement(self, dir_inode: Inode, raw: bytes, extra_blocks: int = 0) -> _Placement:
        """Where an entry for ``raw`` goes; ENOSPC if growing the directory (plus
        ``extra_blocks``) needs more blocks than are free."""
        for _, block in self._dir_blocks(dir_inode):
            slot = directory.find_slot(directory.parse(self._cache.read(block), self._sb.has_filetype), len(raw))
            if slot is not None:
                needed = extra_blocks
                placement = _Placement(block, slot)
                break
        else:
            needed = extra_blocks + self._map.missing(dir_inode, [dir_inode.size // self._bs])
            placement = _Placement(None, None)
        if needed > self._alloc.free_blocks:
            raise FsError(errno.ENOSPC, f"needs {needed} blocks, {self._alloc.free_blocks} free")
        return placement

    def _add_entry(self, dir_ino: int, dir_inode: Inode, placement: _Placement, raw: bytes,
                   ino: int, file_type: int, now: int) -> None:
        filetype = self._sb.has_filetype
        if placement.block is None:
            block, _ = self._map.ensure(dir_inode, dir_inode.size // self._bs, self._volume.group_goal(dir_ino))
            self._cache.write(block, directory.single_entry_block(self._bs, ino, raw, file_type, filetype))
            dir_inode.size += self._bs
        else:
            data = bytearray(self._cache.read(placement.block))
            directory.insert(data, placement.slot, ino, raw, file_type, filetype)
            self._cache.write(placement.block, data)
        self._touch_dir(dir_ino, dir_inode, now)

    def _remove_entry(self, dir_ino: int, dir_inode: Inode, found: _Found, now: int) -> None:
        data = bytearray(self._cache.read(found.block))
        directory.remove(data, found.entries, found.entry)
        self._cache.write(found.block, data)
        self._touch_dir(dir_ino, dir_inode, now)

    def _rewrite_entry(self, dir_ino: int, dir_inode: Inode, found: _Found, ino: int, file_type: int,
                       now: int) -> None:
        data = bytearray(self._cache.read(found.block))
        directory.retarget(data, found.entry, ino, file_type, self._sb.has_filetype)
        self._cache.write(found.block, data)
        self._touch_dir(dir_ino, dir_inode, now)

    def _touch_dir(self, dir_ino: int, dir_inode: Inode, now: int) -> None:
        """A directory's entries changed: it is now linear (htree flag cleared) and newer."""
        dir_inode.flags &= ~INDEX_FLAG
        dir_inode.mtime = dir_inode.ctime = now
        self._put(dir_ino, dir_inode)


def _encode_name(name: str, new: bool = False) -> bytes:
    """A directory-entry name as stored; ``new`` names may not be ``.`` or ``..``."""
    raw = name.encode("utf-8", "surrogateescape")
    if len(raw) > directory.NAME_MAX:
        raise FsError(errno.ENAMETOOLONG, name[:40])
    if not raw or b"/" in raw or b"\0" in raw or (new and raw in (b".", b"..")):
        raise FsError(errno.EINVAL, f"invalid name {name!r}")
    return raw


def _encode_target(target: str, limit: int) -> bytes:
    """A symlink target as stored: non-empty, no NUL, at most ``limit`` bytes."""
    raw = target.encode("utf-8", "surrogateescape")
    if not raw:
        raise FsError(errno.ENOENT, "empty symlink target")
    if b"\0" in raw:
        raise FsError(errno.EINVAL, "NUL in symlink target")
    if len(raw) > limit:
        raise FsError(errno.ENAMETOOLONG, f"symlink target of {len(raw)} bytes (at most {limit})")
    return raw


def _decode_name(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")
