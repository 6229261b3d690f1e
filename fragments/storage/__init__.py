"""Pure storage logic wrapped by the storage fragments (crypto, devmapper, ext2).

Nothing here knows about IPC, tasks or the kernel model: the modules are plain
functions and objects over a block device (see ``blockdev``), so the fragments that
wrap them can be cut, merged and moved without touching this code.
"""
