"""The linear directory-block format (fragments.storage.ext2.directory), as pure functions."""

import errno
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fragments.storage.ext2 import FsError
from fragments.storage.ext2.directory import (entry_size, find_slot, insert, new_directory_block, parse, remove,
                                              retarget, single_entry_block)

BLOCK = 1024


def live(block: bytes, filetype: bool = True) -> dict[bytes, int]:
    return {entry.name: entry.inode for entry in parse(block, filetype) if entry.inode}


@pytest.mark.parametrize("filetype", [True, False])
def test_new_directory_block(filetype):
    """A new directory's block holds `.` and `..`, and `..` spans the rest of the block."""
    entries = parse(new_directory_block(BLOCK, 12, 2, 2, filetype), filetype)
    assert [(e.name, e.inode) for e in entries] == [(b".", 12), (b"..", 2)]
    assert entries[1].rec_len == BLOCK - 12
    assert entries[0].file_type == (2 if filetype else 0)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.binary(min_size=1, max_size=40).filter(lambda n: b"/" not in n)),
                max_size=60), st.booleans())
def test_insert_and_remove_keep_the_block_tiled(operations, filetype):
    """Any sequence of inserts and removes keeps entries tiling the block exactly and the set of
    live names equal to a model."""
    block = bytearray(new_directory_block(BLOCK, 12, 2, 2, filetype))
    model = {b".": 12, b"..": 2}
    for number, (add, name) in enumerate(operations, start=100):
        entries = parse(block, filetype)
        if add and name not in model:
            slot = find_slot(entries, len(name))
            if slot is None:
                continue
            insert(block, slot, number, name, 1, filetype)
            model[name] = number
        elif not add and name in model and name not in (b".", b".."):
            remove(block, entries, next(e for e in entries if e.inode and e.name == name))
            del model[name]
        assert sum(e.rec_len for e in parse(block, filetype)) == BLOCK
        assert live(block, filetype) == model


def test_remove_first_entry_marks_it_unused_and_slot_reuses_it():
    """Removing a block's first entry clears its inode; a later insert reuses that space."""
    block = bytearray(single_entry_block(BLOCK, 20, b"only", 1, True))
    entries = parse(block, True)
    remove(block, entries, entries[0])
    assert parse(block, True)[0].inode == 0 and live(block) == {}
    slot = find_slot(parse(block, True), 10)
    assert slot.offset == 0 and slot.rec_len == BLOCK and slot.shrink is None


def test_full_block_has_no_slot():
    """find_slot reports no room when no entry has enough slack."""
    block = bytearray(single_entry_block(BLOCK, 20, b"x" * 255, 1, True))
    assert find_slot(parse(block, True), 255) is not None  # 1024 - 264 leaves room
    insert(block, find_slot(parse(block, True), 255), 21, b"y" * 255, 1, True)
    insert(block, find_slot(parse(block, True), 255), 22, b"z" * 255, 1, True)
    assert find_slot(parse(block, True), 255) is None
    assert entry_size(255) == 264


def test_retarget_changes_inode_and_type():
    """Retargeting rewrites inode number and file type in place, keeping the name and length."""
    block = bytearray(new_directory_block(BLOCK, 12, 2, 2, True))
    retarget(block, parse(block, True)[1], 40, 2, True)
    entry = parse(block, True)[1]
    assert (entry.name, entry.inode, entry.rec_len) == (b"..", 40, BLOCK - 12)


@pytest.mark.parametrize("rec_len", [0, 6, 10, 2000])
def test_corrupt_rec_len_is_eio(rec_len):
    """A rec_len that is too small, misaligned or past the block end is corruption (EIO)."""
    block = bytearray(new_directory_block(BLOCK, 12, 2, 2, True))
    struct.pack_into("<H", block, 4, rec_len)
    with pytest.raises(FsError) as raised:
        parse(block, True)
    assert raised.value.errno == errno.EIO
