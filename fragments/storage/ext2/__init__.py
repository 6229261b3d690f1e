"""A read-write ext2 driver over a sector-addressed block device.

Reading order: ``errors`` (FsError) → ``layout`` (superblock, group descriptors, mount
checks) → ``cache`` (write-back block cache) → ``alloc`` (bitmaps) → ``inode`` →
``blockmap`` (direct and indirect blocks) → ``volume`` (mount, inode table, sync) →
``directory`` (entry format) → ``fs`` (the ``Ext2`` facade: every operation decodes and
validates, then performs).
"""

from fragments.storage.ext2.errors import FsError
from fragments.storage.ext2.fs import DirEntry, Ext2, Stat, StatFs

__all__ = ["DirEntry", "Ext2", "FsError", "Stat", "StatFs"]
