"""A disk image attached to a booted system: the storage fragments' start and stop.

``attach`` (at boot, before programs run, from outside the model):

1. the virtual disk over the image file (kernel_model.disk) is given to `blockdev`, which
   binds its interrupt line and maps its DMA pool;
2. `devmapper` loads a one-target table over the whole disk: ``crypt aes-xts-plain64``
   with the key (plain dm-crypt, as ``l4shell disk create --key-file`` makes it), or
   ``linear`` without a key;
3. the vfs mounts `ext2` at the mount point (made in the ramfs if absent);
4. `ext2` mounts the mapped device — on its own thread, in the model, since mounting reads
   the disk (``run_inside``).

A refusal (no disk, a wrong key, an image that is not ext2) is a one-line reason; nothing
was written, and everything attached so far is taken back. ``detach`` unmounts (flushing
the block cache and the disk, so a clean exit never leaves the image corrupt), removes the
table (wiping the key) and closes the image. Without ``attach`` the storage fragments hold
nothing: no Irq, no pages beyond their code, no disk.
"""

from __future__ import annotations

from kernel_model.disk import Disk

from fragments.runtime.blocking import run_inside
from fragments.storage.dmcrypt import DEFAULT_CIPHER

STORAGE = ("blockdev", "devmapper", "crypto", "ext2")
DEFAULT_MOUNT = b"/mnt"


def attach(system, image: str, key: bytes | None = None, point: bytes = DEFAULT_MOUNT) -> str | None:
    """Attach ``image`` (decrypted with ``key``) and mount it at ``point``; None when done,
    else the reason it was refused."""
    absent = [name for name in STORAGE if system.fragment(name) is None]
    if absent:
        return f"the composition leaves out {', '.join(absent)}: no disk can be attached"
    blockdev = system.fragment("blockdev")
    if blockdev.disk is not None:
        return "a disk is attached already"
    try:
        disk = Disk(system.machine, image)
    except (OSError, ValueError) as error:
        return f"{image}: {getattr(error, 'strerror', None) or error}"
    blockdev.attach(disk)
    target = (f"crypt {DEFAULT_CIPHER} {key.hex()} 0" if key is not None else "linear")
    refused = system.fragment("devmapper").create(f"0 {disk.sectors} {target} {disk.name} 0")
    if not refused and system.vfs.mount(point, "ext2"):
        refused = f"cannot mount on {point.decode(errors='replace')}: not a free directory"
    elif not refused:
        refused = run_inside(system.machine, system.fragment("ext2"), "mount")
        if refused:
            hint = "wrong key, or not an encrypted ext2 image" if key is not None else \
                "not an ext2 image (an encrypted one needs its key)"
            refused = f"{hint}: {str(refused).split(': ', 1)[-1]}"
    if refused:
        _release(system)
        return f"{image}: {refused}"
    return None


def detach(system) -> str | None:
    """Flush and unmount the disk, if one is mounted; None, or what went wrong."""
    blockdev = system.fragment("blockdev")
    if blockdev is None or blockdev.disk is None:
        return None
    status = run_inside(system.machine, system.fragment("ext2"), "unmount")
    name = blockdev.disk.path
    _release(system)
    return None if not status else f"{name}: flushing at unmount failed (errno {-status})"


def _release(system) -> None:
    """Take back what attach gave: the vfs mount, the table (wiping the key), the disk."""
    for mount in [m for m in system.vfs.mounts if m.fs == "ext2"]:
        system.vfs.umount(mount.point)
    system.fragment("devmapper").remove()
    system.fragment("blockdev").detach().close()
