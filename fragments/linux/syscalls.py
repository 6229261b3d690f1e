"""The `syscalls` fragment: the exception handler of every Linux process, and the shape of
a syscall as the serving fragments see it.

An ``svc`` of a process arrives as an exception IPC (22-word frame, PC at the svc) on the
process's exception gate (made by ``attach``). This fragment decodes r7, finds the entry
in the declared table and routes the call through its binding to the fragment that serves
it (``entry.fragment``): ``peer.syscall(pid, nr, frame)``. A serving handler answers with:
- an int: the result (r0); the reply advances PC past the svc;
- ``DEFER``: the call is kept here (``pending``) and completed later: the serving fragment
  queues ``(pid, value)`` and triggers this fragment's wake-up Irq; on it, this fragment
  collects the completions from its peers and replies;
- ``("return", value, frame)``: the frame to reply with, signals already delivered
  (``frame`` None: the process ended). The ``process`` fragment answers this way, as it
  holds the signal state: its handlers' ints and whole new frames (execve, sigreturn);
- None: no reply at all (the process is gone).
Before replying with an int, this fragment asks ``process.deliver``, which may redirect
the frame into a signal handler or end the process. An unknown number, or a declared
syscall no fragment serves, answers -ENOSYS and leaves a ``syscall`` trace event with
``unknown=True``. A fault that is not an svc ends the process (SIGSEGV for aborts, SIGILL
otherwise). A syscall whose serving fragment (or a fragment it calls) the composition
leaves out answers -ENOSYS; the runtime's ``fragment`` event with ``mode="absent"``
records which.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass

from kernel_model import ipc
from kernel_model.ipc_abi import (EC_DABT, EC_IABT, EC_SVC32, EXC_CPSR, EXC_PC, EXC_WORDS,
                                  PROTO_EXCEPTION, MsgTag)

from fragments.runtime.fragment import Fragment, operation
from fragments.runtime.runtime import AbsentFragment

from .abi import Signal
from .strace import format_call
from .syscall_table import by_name, by_number

DEFER = "defer"
EXC_SLOT = 9                # the exception gate's slot in a process task
EXECVE_NR = by_name("execve").number
FORKS = ("fork", "vfork", "clone")


@dataclass(eq=False)
class Call:
    """One syscall as a serving fragment sees it: ``proc`` is that fragment's own record
    of the calling process."""

    proc: object
    nr: int
    frame: list            # the 22-word exception frame

    @property
    def pid(self) -> int:
        return self.proc.pid


@dataclass
class Replace:
    """A handler's answer that replaces the whole register frame (execve)."""
    frame: list


class SyscallServer:
    """Mixin of the fragments that serve syscalls: the ``syscall`` operation."""

    def handlers(self) -> dict:
        raise NotImplementedError

    def record(self, pid: int):
        """This fragment's record of process ``pid`` (None if it has none)."""
        raise NotImplementedError

    @operation
    def syscall(self, pid, nr, frame):
        proc = self.record(pid)
        entry = by_number(nr)
        if "_handlers" not in self.__dict__:     # the table is declared data: built once
            self._handlers = self.handlers()
        handler = self._handlers.get(entry.name) if entry else None
        if proc is None or handler is None:
            return -errno.ENOSYS
        return self.answer(pid, frame, handler(Call(proc, nr, list(frame)), *frame[2:8]))

    def answer(self, pid: int, frame: list, answer):
        """What crosses the binding back to ``syscalls`` (see the module's docstring)."""
        return int(answer) if isinstance(answer, int) else answer   # flags enums -> int


def returned(frame: list, value: int) -> list:
    """``frame`` returning ``value`` from its svc: r0 set, PC past the svc."""
    frame = list(frame)
    frame[2] = value & 0xFFFFFFFF
    frame[EXC_PC] += 2 if frame[EXC_CPSR] & 0x20 else 4
    return frame


@dataclass(eq=False)
class Pending:
    thread: object
    frame: list
    nr: int
    strace_line: str


class Syscalls(Fragment):
    NAME = "syscalls"
    USES = ("process", "vfs", "pager", "syscalls")
    REPLICABLE = True    # per-core: a process's calls are pending in the replica of its core

    def __init__(self, runtime):
        super().__init__(runtime)
        self.pending: dict[int, Pending] = {}     # pid -> its deferred call
        self.wake = None                          # endpoint of the completion Irq
        self.strace = None                        # callable(pid, line) or None (observer)
        self.peek = None                          # callable(pid, address, n) for strace

    def boot(self) -> None:
        irq = self.runtime.kernel.create_irq(f"{self.label}.wake")
        self.wake = self.runtime.endpoint(self, irq, self._woken)

    # --- processes ----------------------------------------------------------------------
    @operation
    def attach(self, pid):
        """Make ``pid``'s exception gate and map it into its task (at EXC_SLOT); forget
        the processes that ended."""
        for old in [p for p in self.client_gates if not getattr(self.caps.get(("task", p)), "alive", False)]:
            self.detach(old)
        return self.client_gate(pid, "exc", EXC_SLOT, lambda r: self._exception(pid, r))

    def launch(self, pid: int) -> None:
        """A new process: its exception gate from the replica of its core, then it runs."""
        core = self.use.process.core_of(pid)
        self.use.process.start(pid, self.use.syscalls.on(core).attach(pid))

    @operation
    def detach(self, pid):
        self.pending.pop(pid, None)
        self.forget_client(pid)

    # --- exceptions ---------------------------------------------------------------------
    def _exception(self, pid: int, result) -> MsgTag | None:
        if result.tag.label != PROTO_EXCEPTION:
            return None
        ctx = self.server.ctx
        caller = self.server.thread.reply_to
        frame = ctx.mrs(EXC_WORDS)
        ec = frame[1] >> 26
        if ec != EC_SVC32:
            self.use.process.kill(pid, int(Signal.SIGSEGV if ec in (EC_DABT, EC_IABT) else Signal.SIGILL))
            return None
        nr = frame[2 + 7]
        entry = by_number(nr)
        line = self._strace_line(pid, nr, frame, 0) if self.strace and nr == EXECVE_NR else ""
        try:
            answer = -errno.ENOSYS if entry is None else getattr(self.use, entry.fragment.value).syscall(pid, nr, frame)
        except AbsentFragment:
            answer = -errno.ENOSYS
        if answer == DEFER:
            self.pending[pid] = Pending(caller, frame, nr, line)
            return None
        if answer is None:
            self._record(pid, nr, frame, None, line)
            return None
        if isinstance(answer, int):
            value, out = answer, self._answer_frame(pid, frame, answer)
        else:
            _, value, out = answer
        if entry is not None and entry.name in FORKS and value > 0:
            self.launch(value)
        self._record(pid, nr, frame, value, line)
        if out is None:
            return None
        ctx.set_mrs(out)
        return MsgTag(0, EXC_WORDS)

    def _answer_frame(self, pid: int, frame: list, value: int) -> list | None:
        """The frame that returns ``value`` from the svc (or enters a signal handler)."""
        return self.use.process.deliver(pid, returned(frame, value))

    def _woken(self, result) -> None:
        """Peers finished deferred calls: collect and answer them."""
        from kernel_model import irqs
        irqs.unmask(self.runtime.kernel, self.wake.obj)
        for peer in ("process", "vfs"):
            for pid, value in getattr(self.use, peer).take_completions(sorted(self.pending)):
                self._finish(pid, value)
        return None

    def _finish(self, pid: int, value: int) -> None:
        pending = self.pending.pop(pid, None)
        if pending is None or not pending.thread.alive:
            return
        out = self._answer_frame(pid, pending.frame, value)
        self._record(pid, pending.nr, pending.frame, value, pending.strace_line)
        if out is None or not pending.thread.alive:
            return
        self.server.ctx.set_mrs(out)
        ipc.reply_to_thread(self.runtime.kernel, self.server.thread, pending.thread, MsgTag(0, EXC_WORDS))

    # --- the record of a call -------------------------------------------------------------
    def _record(self, pid: int, nr: int, frame: list, value: int | None, line: str) -> None:
        entry = by_number(nr)
        name = entry.name if entry else f"syscall_{nr:#x}"
        ret = value if value is not None else 0
        self.runtime.kernel.emit("syscall", thread=self.server.thread, name=name, nr=nr, ret=ret,
                                 pid=pid, unknown=entry is None)
        if self.strace is not None:
            if not (value == 0 and line):
                line = self._strace_line(pid, nr, frame, ret)
            if value is None and line.endswith(" = 0"):   # the caller did not survive its call
                line = line[:-1] + "?"
            self.strace(pid, line)

    def _strace_line(self, pid: int, nr: int, frame: list, ret: int) -> str:
        return format_call(by_number(nr), nr, frame[2:8], ret & 0xFFFFFFFF,
                           lambda a, n: self.peek(pid, a, n))


class Completions:
    """Mixin of the fragments that complete deferred calls: ``complete`` queues the answer
    and triggers the wake-up Irq of every ``syscalls`` replica; the replica holding the
    call collects it with ``take_completions``."""

    def start_completions(self) -> None:
        self.completed: list[tuple[int, int]] = []

    def complete(self, pid: int, value: int) -> None:
        from kernel_model import irqs
        self.completed.append((pid, value))
        for key, irq in self.caps.items():
            if key[0] == "wake" and self.cap(key) is not None:
                irqs.trigger(self.runtime.kernel, irq)

    @operation
    def take_completions(self, pids):
        wanted = set(pids)
        taken = [(p, v) for p, v in self.completed if p in wanted]
        self.completed = [(p, v) for p, v in self.completed if p not in wanted]
        return taken
