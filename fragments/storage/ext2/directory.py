"""Directory blocks in ext2's linear format — pure functions over one block's bytes.

A directory is a whole number of blocks, each completely tiled by entries::

    inode u32 | rec_len u16 | name_len u8 | file_type u8 | name … (padded to 4 bytes)

(without the filetype feature, name_len is a u16 and there is no type byte). Invariants:

* rec_len >= 8 + name_len rounded up to 4, a multiple of 4, and the entries of a block
  sum to exactly the block size;
* inode 0 marks an unused entry; only the first entry of a block is ever unused —
  removing any other entry folds its space into the entry before it;
* the first block starts with ``.`` then ``..``;
* with the filetype feature, file_type agrees with the inode's mode.

The htree index of a ``dir_index`` directory hides inside these blocks as unused
space, so reading linearly is always correct; a writer clears the directory's index
flag (as Linux's ext2 does), and the directory simply becomes linear.
"""

import errno
import struct
from dataclasses import dataclass

from fragments.storage.ext2.errors import FsError

HEADER_SIZE = 8
NAME_MAX = 255


@dataclass(frozen=True)
class Entry:
    offset: int  # byte offset inside its block
    inode: int
    rec_len: int
    name: bytes
    file_type: int  # 0 without the filetype feature


@dataclass(frozen=True)
class Slot:
    """Where a new entry fits: at ``offset`` with ``rec_len``; ``shrink`` = (offset, new
    rec_len) of the live entry whose slack it takes, if any."""

    offset: int
    rec_len: int
    shrink: tuple[int, int] | None


def entry_size(name_len: int) -> int:
    return (HEADER_SIZE + name_len + 3) & ~3


def parse(block: bytes, filetype: bool) -> list[Entry]:
    """All entries of a block, used and unused; FsError(EIO) if the tiling is broken."""
    entries = []
    offset = 0
    while offset < len(block):
        if offset + HEADER_SIZE > len(block):
            raise FsError(errno.EIO, f"directory entry header at {offset} crosses the block end")
        if filetype:
            inode, rec_len, name_len, file_type = struct.unpack_from("<IHBB", block, offset)
        else:
            (inode, rec_len, name_len), file_type = struct.unpack_from("<IHH", block, offset), 0
        if rec_len < entry_size(0) or rec_len % 4 or offset + rec_len > len(block) or \
                HEADER_SIZE + name_len > rec_len:
            raise FsError(errno.EIO, f"corrupt directory entry at {offset} (rec_len {rec_len}, name_len {name_len})")
        name = bytes(block[offset + HEADER_SIZE:offset + HEADER_SIZE + name_len])
        entries.append(Entry(offset, inode, rec_len, name, file_type))
        offset += rec_len
    return entries


def encode(inode: int, rec_len: int, name: bytes, file_type: int, filetype: bool) -> bytes:
    """One entry's header and zero-padded name (``rec_len`` may claim more space)."""
    header = struct.pack("<IHBB", inode, rec_len, len(name), file_type) if filetype else \
        struct.pack("<IHH", inode, rec_len, len(name))
    return (header + name).ljust(entry_size(len(name)), b"\0")


def find_slot(entries: list[Entry], name_len: int) -> Slot | None:
    """The first place in a block where an entry with a ``name_len``-byte name fits."""
    needed = entry_size(name_len)
    for entry in entries:
        if entry.inode == 0 and entry.rec_len >= needed:
            return Slot(entry.offset, entry.rec_len, None)
        used = entry_size(len(entry.name))
        if entry.inode and entry.rec_len - used >= needed:
            return Slot(entry.offset + used, entry.rec_len - used, (entry.offset, used))
    return None


def insert(block: bytearray, slot: Slot, inode: int, name: bytes, file_type: int, filetype: bool) -> None:
    if slot.shrink is not None:
        struct.pack_into("<H", block, slot.shrink[0] + 4, slot.shrink[1])
    entry = encode(inode, slot.rec_len, name, file_type, filetype)
    block[slot.offset:slot.offset + len(entry)] = entry


def remove(block: bytearray, entries: list[Entry], target: Entry) -> None:
    """Remove ``target`` (one of ``entries``, the parse of ``block``)."""
    position = entries.index(target)
    if position == 0:
        struct.pack_into("<I", block, target.offset, 0)
    else:
        previous = entries[position - 1]
        struct.pack_into("<H", block, previous.offset + 4, previous.rec_len + target.rec_len)


def retarget(block: bytearray, entry: Entry, inode: int, file_type: int, filetype: bool) -> None:
    """Point an existing entry at another inode (rename over an existing name, ``..`` moves)."""
    struct.pack_into("<I", block, entry.offset, inode)
    if filetype:
        block[entry.offset + 7] = file_type


def new_directory_block(block_size: int, ino: int, parent: int, dir_type: int, filetype: bool) -> bytes:
    """The first block of a new directory: ``.`` and ``..`` (which takes the rest of the block)."""
    dot = encode(ino, entry_size(1), b".", dir_type, filetype)
    return (dot + encode(parent, block_size - len(dot), b"..", dir_type, filetype)).ljust(block_size, b"\0")


def single_entry_block(block_size: int, ino: int, name: bytes, file_type: int, filetype: bool) -> bytes:
    """A fresh directory block holding one entry that spans the whole block."""
    return encode(ino, block_size, name, file_type, filetype).ljust(block_size, b"\0")
