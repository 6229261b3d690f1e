"""The file-system interface: what the vfs asks of a file system mounted in its tree.

A file-system fragment serves these operations (the `ext2` fragment does; `ramfs` could,
once it has an IPC interface). They work on inode numbers, in the style of FUSE's
low-level API and Genode's File_system session: the vfs resolves paths one component at a
time (``lookup``) and keeps open files as (fragment, inode). Every argument and result is
plain data; names and symlink targets are bytes; a failure is a negative errno::

    root()                               -> attr
    lookup(dir, name)                    -> attr          (no symlink is followed)
    getattr(ino)                         -> attr
    read(ino, offset, count)             -> bytes         (short at the end of the file)
    write(ino, offset, data)             -> count         (-ENOSPC when the disk is full)
    truncate(ino, size)                  -> 0
    create(dir, name, mode)              -> attr          (a regular file)
    mkdir(dir, name, mode)               -> attr
    symlink(dir, name, target)           -> attr
    unlink(dir, name) / rmdir(dir, name) -> 0
    rename(src_dir, src_name, dst_dir, dst_name) -> 0     (replaces as POSIX rename does)
    readdir(dir)                         -> [(name, ino, d_type)], . and .. first
    readlink(ino)                        -> bytes
    sync()                               -> 0             (everything durable)
    statfs()                             -> (block_size, blocks, free_blocks, inodes, free_inodes, name_max)

Timestamps are the file system's business (from the modeled clock).
"""

from __future__ import annotations

from typing import NamedTuple

OPERATIONS = ("root", "lookup", "getattr", "read", "write", "truncate", "create", "mkdir",
              "symlink", "unlink", "rmdir", "rename", "readdir", "readlink", "sync", "statfs")


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
