"""The Linux personality booted on the kernel model, in any composition.

The fragments (loader, syscalls, pager, process, vfs, ramfs, console, and the storage
stack blockdev, devmapper, crypto, ext2 — see ``storage``) are placed in tasks
as the composition says (see ``fragments.runtime``): in ``monolithic`` one task holds
them all and its memory is read-write-execute, as L4Linux's; in ``fragmented`` each has
its own W^X task. Each Linux process is a task with one *alien* ARM thread whose pager is
a gate of the ``pager`` fragment and whose exception handler is a gate of the ``syscalls``
fragment (its replica on the process's core), both labelled for that process: its page
faults and svc instructions arrive there as IPC, whatever tasks those fragments live in.
At boot the vfs mounts `ramfs` at / (``ROOT_FS``), as it mounts any file system.

``LinuxSystem`` is the user's handle on it: it places files, spawns programs, feeds the
console and reads statuses — all calls from outside the model (direct calls, uncharged).
"""

from __future__ import annotations

from fragments.runtime import composition as compositions
from fragments.runtime import recut
from fragments.runtime.runtime import Runtime

from . import storage
from .block import BlockDriver
from .console import Console
from .crypto import CryptoApi
from .devmapper import DeviceMapper
from .elf import ExecFormatError
from .ext2fs import Ext2Fs
from .loader import Loader
from .pager import Pager
from .process import ProcessManager
from .ramfs import RamFsFragment
from .syscalls import Syscalls
from .vfs import Vfs

FRAGMENTS = {cls.NAME: cls for cls in (Loader, Syscalls, Pager, ProcessManager, Vfs,
                                       RamFsFragment, Console, BlockDriver, DeviceMapper,
                                       CryptoApi, Ext2Fs)}
COMPLETERS = ("process", "vfs")      # fragments that finish deferred syscalls
# Every program needs these (exception handler, page faults, spawn and exec, the root file
# system); a subset composition (``subset = true``) may leave out only the others.
ENTRY = ("syscalls", "pager", "process", "loader", "vfs", "ramfs")
ROOT_FS = "ramfs"


class LinuxSystem:
    def __init__(self, machine, composition: str = "monolithic", is_tty: bool = False):
        self.machine = machine
        self.kernel = machine.kernel
        self.composition = compositions.load(composition, FRAGMENTS, len(machine.cores))
        missing = [f for f in ENTRY if f not in self.composition.fragments()]
        if missing:
            raise compositions.CompositionError(
                f"{composition}: leaves out {', '.join(missing)}, which every program needs")
        self.runtime = rt = Runtime(machine, FRAGMENTS, rwx=self.composition.rwx)
        for spec in self.composition.tasks:
            host = rt.new_host(spec.name, spec.core)
            for name in spec.fragments:
                rt.add(FRAGMENTS[name], host)
        for fragment in rt.all_fragments():
            if hasattr(fragment, "boot"):
                fragment.boot()
        self.vfs.mount(b"/", ROOT_FS)
        if self.console is not None:
            self.console.is_tty = is_tty
        for name in self.composition.duplicate:
            self.duplicate(name)
        self.wire_wakeups()
        rt.rewire()
        self._strace = None

    # --- fragments ----------------------------------------------------------------------
    def fragment(self, name: str):
        """The fragment ``name`` (its first replica); None if the composition leaves it out."""
        replicas = self.runtime.instances.get(name)
        return replicas[0] if replicas else None

    @property
    def process(self) -> ProcessManager:
        return self.fragment("process")

    @property
    def vfs(self) -> Vfs:
        return self.fragment("vfs")

    @property
    def pager(self) -> Pager:
        return self.fragment("pager")

    @property
    def console(self) -> Console:
        return self.fragment("console")

    @property
    def fs(self) -> RamFsFragment:
        """The root file system (its ``add_file`` places host files, from outside the model)."""
        return self.fragment(ROOT_FS)

    @property
    def notes(self) -> list[str]:
        return self.process.notes

    def wire_wakeups(self) -> None:
        """Every completer holds a capability to the wake-up Irq of every syscalls replica."""
        for replica in self.runtime.instances["syscalls"]:
            for name in COMPLETERS:
                self.fragment(name).hold(("wake", replica.label), replica.wake.obj)

    # --- re-cutting (see fragments.runtime.recut) ---------------------------------------
    def split(self, fragment: str):
        return self._recut(recut.split, fragment)

    def merge(self, fragments: list[str]):
        return self._recut(recut.merge, fragments)

    def migrate(self, name: str, core: int):
        return self._recut(recut.migrate, name, core)

    def duplicate(self, name: str):
        return self._recut(recut.duplicate, name, lambda f: f.boot() if hasattr(f, "boot") else None)

    def _recut(self, operation, *args):
        result = operation(self.runtime, *args)
        self.wire_wakeups()
        self.runtime.rewire()
        return result

    # --- observers ----------------------------------------------------------------------
    @property
    def strace(self):
        return self._strace

    @strace.setter
    def strace(self, callback) -> None:
        """``callback(pid, line)`` for every syscall (None: off). An observer: it reads
        process memory without going through the model."""
        self._strace = callback
        for replica in self.runtime.instances["syscalls"]:
            replica.strace, replica.peek = callback, self.pager.peek

    # --- the user's commands -------------------------------------------------------------
    def spawn(self, path: str | bytes, argv: list, envp: list) -> int:
        """Start a process running the file at ``path`` in the model; returns its pid.
        Raises ExecFormatError (with a one-line message) if the file cannot run."""
        answer = self.process.spawn(_b(path), [_b(a) for a in argv], [_b(e) for e in envp])
        if isinstance(answer, str):
            raise ExecFormatError(answer)
        self.fragment("syscalls").launch(answer)
        return answer

    def attach_disk(self, image: str, key: bytes | None = None,
                    point: bytes = storage.DEFAULT_MOUNT) -> str | None:
        """Mount the ext2 image (plain dm-crypt with ``key``) at ``point``; None, or the
        one-line reason it was refused (nothing written). See ``storage``."""
        return storage.attach(self, image, key, point)

    def detach_disk(self) -> str | None:
        """Flush, unmount and close the attached disk (if any)."""
        return storage.detach(self)

    def input(self, data: bytes) -> None:
        """Bytes typed at the console (b"" = end of input): the UART raises its interrupt
        and the console fragment wakes the readers when the machine runs."""
        self.machine.uart.feed(data)

    def waiting_for_input(self) -> bool:
        return self.vfs.waits_for_console() and not self.machine.uart.eof

    def exit_status(self, pid: int) -> int | None:
        """The wait status of a spawned process once it ended (None while it runs)."""
        return self.process.status(pid)


def _b(s) -> bytes:
    return s.encode() if isinstance(s, str) else bytes(s)


def boot_linux(machine, composition: str = "monolithic", is_tty: bool = False) -> LinuxSystem:
    return LinuxSystem(machine, composition, is_tty)
