"""The Linux personality booted on the kernel model, in its `monolithic` composition.

One task, ``l4linux``, holds every fragment (loader, syscalls, pager, process, vfs, ramfs,
console) and one Python server thread; its memory is one read-write-execute region (the
frames it lends to processes live there). Each Linux process is a task with one *alien*
ARM thread whose pager and exception handler is an IpcGate of that server labelled
``pid << 4``: its svc instructions arrive as exception IPC, its page faults as page-fault
IPC, both through the one gate (L4Linux's arrangement).

The server loop: receive; a page fault is answered with a map item (or refused: the kernel
turns it into an exception, and an exception that is not an svc kills the process with
SIGSEGV/SIGILL); an svc is dispatched through the syscall table and answered with the
register frame, r0 = result and PC past the svc. Deferred calls (wait4, reads that block)
keep the caller and are answered later with ``ipc.reply_to_thread``.
"""

from __future__ import annotations

import unicorn.arm_const as A

from kernel_model import ipc
from kernel_model.caps import OBJ_ALL, selector
from kernel_model.ipc_abi import (EC_DABT, EC_IABT, EC_SVC32, EXC_CPSR, EXC_PC, EXC_WORDS,
                                  PROTO_EXCEPTION, PROTO_PAGE_FAULT, MsgTag)

from .console import Console
from .elf import ExecFormatError
from .loader import Loader
from .pager import Pager
from .process import INIT_PID, Process, ProcessManager, Replace
from .ramfs import RamFs
from .strace import format_call
from .abi import Signal
from .syscall_table import by_name, by_number
from .syscalls import DEFER, Call, Syscalls
from .vfs import Vfs

GATE_SLOT = 8
EXECVE_NR = by_name("execve").number
FPEXC_EN = 0x40000000
COMPOSITIONS = ("monolithic",)


class LinuxSystem:
    def __init__(self, machine, composition: str = "monolithic", is_tty: bool = False):
        if composition not in COMPOSITIONS:
            raise ValueError(f"unknown composition {composition!r} (known: {', '.join(COMPOSITIONS)})")
        self.machine = machine
        self.kernel = k = machine.kernel
        self.server_task = k.create_task("l4linux")
        self.server_thread = k.create_thread(self.server_task, "l4linux.server", self._body)
        self.fs = RamFs()
        self.console = Console(machine.uart, is_tty)
        self.vfs = Vfs(self, self.fs, self.console)
        self.pager = Pager(self)
        self.loader = Loader(self)
        self.process = ProcessManager(self)
        self.syscalls = Syscalls(self)
        self.keep: set[int] = set()        # pids spawned from outside: status kept
        self.notes: list[str] = []         # messages for the user (failed execs…)
        self.strace = None                 # callable(pid, line) or None
        self.ctx = None
        machine.start_thread(self.server_thread, prio=2, core=0)

    # --- processes --------------------------------------------------------------------
    def _new_process(self, ppid: int, name: str) -> Process:
        k = self.kernel
        pid = self.process.next_pid
        self.process.next_pid += 1
        task = k.create_task(f"{name}.{pid}")
        thread = k.create_thread(task, f"{name}.{pid}")
        thread.alien = True
        gate = k.create_gate(f"linux.{pid}", self.server_thread, label=pid << 4)
        k.install_cap(task, GATE_SLOT, gate, OBJ_ALL)
        thread.pager = thread.exc_handler = selector(GATE_SLOT)
        proc = Process(pid, ppid, task, thread, name, pgid=pid)
        self.process.procs[pid] = proc
        return proc

    def _core_for(self, pid: int) -> int:
        return (pid - 1) % len(self.machine.cores)

    def spawn(self, path: str | bytes, argv: list, envp: list) -> int:
        """Start a process running the file at ``path`` in the model; returns its pid.
        Raises ExecFormatError (with a one-line message) if the file cannot run."""
        path = path.encode() if isinstance(path, str) else path
        inode = self.vfs.lookup(None, path)
        if isinstance(inode, int) or not inode.is_reg:
            raise ExecFormatError(f"{path.decode()}: no such file in the model")
        name = path.rsplit(b"/", 1)[-1].decode(errors="replace")
        proc = self._new_process(INIT_PID, name)
        try:
            entry, sp = self.loader.load(proc, bytes(inode.data), [_b(a) for a in argv],
                                         [_b(e) for e in envp], path)
        except ExecFormatError:
            self.kernel.destroy_task(proc.task)
            del self.process.procs[proc.pid]
            raise
        proc.fds = self.vfs.initial_fds()
        self.keep.add(proc.pid)
        self.machine.set_thread_start(proc.thread, entry, sp)
        engine = self.machine.engine(proc.task)
        engine.activate(proc.thread)
        engine.set_reg(A.UC_ARM_REG_FPEXC, FPEXC_EN)
        self.machine.start_thread(proc.thread, core=self._core_for(proc.pid))
        return proc.pid

    def fork(self, call: Call, newsp: int = 0, tls: int | None = None) -> int:
        parent = call.proc
        child = self._new_process(parent.pid, parent.name)
        self.pager.fork(parent, child)
        child.fds = self.vfs.fork_fds(parent.fds)
        for attr in ("cwd", "umask", "exe_path", "pgid", "sigmask"):
            setattr(child, attr, getattr(parent, attr))
        child.sigactions = dict(parent.sigactions)
        frame = call.frame
        thumb = frame[EXC_CPSR] & 0x20
        regs = {i: frame[2 + i] for i in range(13)}
        regs[0] = 0
        pc = frame[EXC_PC] + (2 if thumb else 4)
        self.machine.set_thread_start(child.thread, pc | (1 if thumb else 0), newsp or frame[15], regs)
        vfp = self._vfp_state(parent)
        engine = self.machine.engine(child.task)
        engine.activate(child.thread)
        engine.set_reg(A.UC_ARM_REG_LR, frame[16])
        engine.set_reg(A.UC_ARM_REG_CPSR, (frame[EXC_CPSR] & 0xF8000000) | 0x10 | thumb)
        engine.set_reg(A.UC_ARM_REG_C13_C0_3, frame[20] if tls is None else tls)
        for reg, value in vfp:
            engine.set_reg(reg, value)
        self.machine.start_thread(child.thread, core=self._core_for(child.pid))
        return child.pid

    def _vfp_state(self, proc) -> list[tuple[int, int]]:
        engine = proc.task.engine
        engine.activate(proc.thread)
        regs = [A.UC_ARM_REG_FPEXC, A.UC_ARM_REG_FPSCR] + [A.UC_ARM_REG_D0 + i for i in range(32)]
        return [(r, engine.reg(r)) for r in regs]

    def input(self, data: bytes) -> None:
        """Bytes typed at the console (b"" = end of input); wakes blocked readers. Call
        it only while the machine is stopped (the server is then waiting, so its message
        registers are free for the deferred replies)."""
        self.machine.uart.feed(data)
        self.vfs.wake_console()

    def waiting_for_input(self) -> bool:
        return bool(self.console.readers) and not self.machine.uart.eof

    def exit_status(self, pid: int) -> int | None:
        """The wait status of a spawned process once it ended (None while it runs)."""
        proc = self.process.procs.get(pid)
        return None if proc is None else proc.status

    def note(self, text: str) -> None:
        self.notes.append(text)

    # --- the server thread ------------------------------------------------------------
    def _body(self, ctx):
        self.ctx = ctx
        result = yield ctx.wait()
        while True:
            tag = None if result.error else self._handle(ctx, result)
            if tag is None:
                result = yield ctx.wait()
            else:
                result = yield ctx.reply_and_wait(tag)

    def _handle(self, ctx, result) -> MsgTag | None:
        proc = self.process.procs.get(result.label >> 4)
        if proc is None or not proc.alive:
            return None
        if result.tag.label == PROTO_PAGE_FAULT:
            word, _pc = ctx.mrs(2)
            item = self.pager.page_fault(proc, word & ~0x7, word & 0x7)
            if item is None:
                return MsgTag(-1)
            ctx.set_mrs(list(item))
            return MsgTag(0, 0, 1)
        if result.tag.label != PROTO_EXCEPTION:
            return None
        frame = ctx.mrs(EXC_WORDS)
        ec = frame[1] >> 26
        if ec != EC_SVC32:
            self.process.exit(proc, Signal.SIGSEGV if ec in (EC_DABT, EC_IABT) else Signal.SIGILL)
            return None
        nr = frame[2 + 7]
        call = Call(proc, proc.thread, frame, nr, by_number(nr), frame[2:8])
        if self.strace is not None and nr == EXECVE_NR:  # its arguments vanish with the old image
            call.strace_line = self._strace_line(call, 0)
        answer = self.syscalls.dispatch(call)
        if answer is None or answer == DEFER:
            if answer is None:
                self._record(call, None)
            return None
        if isinstance(answer, Replace):
            self._record(call, 0)
            ctx.set_mrs(self.process.deliver(proc, answer.frame))
            return MsgTag(0, EXC_WORDS)
        ctx.set_mrs(self._answer_frame(call, answer))
        self._record(call, answer)
        return MsgTag(0, EXC_WORDS)

    def _answer_frame(self, call: Call, value: int) -> list[int]:
        """The frame that returns ``value`` from the svc (or enters a signal handler)."""
        frame = list(call.frame)
        frame[2] = value & 0xFFFFFFFF
        frame[EXC_PC] += 2 if frame[EXC_CPSR] & 0x20 else 4
        return self.process.deliver(call.proc, frame)

    def finish(self, call: Call, value: int) -> None:
        """Answer a deferred call (from inside the server's handling of another message)."""
        if not call.proc.alive:
            return
        self.ctx.set_mrs(self._answer_frame(call, value))
        ipc.reply_to_thread(self.kernel, self.server_thread, call.thread, MsgTag(0, EXC_WORDS))
        self._record(call, value)

    def _record(self, call: Call, value: int | None) -> None:
        name = call.entry.name if call.entry else f"syscall_{call.nr:#x}"
        ret = value if value is not None else 0
        self.kernel.emit("syscall", thread=call.thread, name=name, nr=call.nr, ret=ret,
                         pid=call.proc.pid, unknown=call.entry is None)
        if self.strace is not None:
            line = call.strace_line if value == 0 and call.strace_line else self._strace_line(call, ret)
            if value is None and line.endswith(" = 0"):   # the caller did not survive its call
                line = line[:-1] + "?"
            self.strace(call.proc.pid, line)

    def _strace_line(self, call: Call, ret: int) -> str:
        pager, proc = self.pager, call.proc
        return format_call(call.entry, call.nr, call.args, ret & 0xFFFFFFFF,
                           lambda a, n: pager.peek(proc, a, n) if proc.alive else None)


def _b(s) -> bytes:
    return s.encode() if isinstance(s, str) else bytes(s)


def boot_linux(machine, composition: str = "monolithic", is_tty: bool = False) -> LinuxSystem:
    return LinuxSystem(machine, composition, is_tty)
