"""Read-only views of kernel state for the shell and the TUI: who waits for whom.

Every function returns frozen dataclasses of names and numbers, never kernel objects, so a
view may keep them without pinning or changing the model, and two snapshots of the same state
compare equal. Actors are named as in the trace: threads by ``Thread.name``, gates and Irqs
by ``repr`` (``gate:pp``, ``irq:uart-irq``).

What the views show, and the invariants of the model they rest on (``check`` verifies them):

- The senders of a thread: the threads blocked sending to it, in arrival order, which is the
  order an open wait takes them. Each is SEND_BLOCKED, in exactly one queue, and its
  ``send_target`` is that thread.
- The senders of a gate: for a bound gate, the part of its thread's queue that came through
  this gate; for an unbound gate, the callers waiting for a server to bind. Those are
  SEND_BLOCKED with no ``send_target``.
- A pending call: a call, page fault or exception that reached its receiver, whose sender
  now waits (RECV_BLOCKED) for the reply. The replier is the thread that received it;
  ``reply_cap`` says whether it still holds the implicit reply capability (it loses it by
  receiving another call; a deferred reply, ``ipc.reply_to_thread``, still reaches the
  caller).
- An Irq is ``queued`` exactly when it waits in its thread's ``pending_irqs``; it stays
  ``masked`` from delivery until unmasked; ``pending`` records edges coalesced meanwhile.
- A core: its ``current`` thread is RUNNING and its timer is armed; its run queue holds READY
  threads of that core, listed in the order the scheduler picks them (priority high to low,
  arrival order within one); every READY thread is in the run queue of its core.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .objects import IpcGate, Irq, Message, Thread, ThreadState

if TYPE_CHECKING:
    from .machine import Machine
    from .scheduler import Core


@dataclass(frozen=True)
class QueuedSender:
    thread: str
    kind: str        # ipc | pagefault | exception
    label: int       # the label the receiver will get
    words: int
    call: bool       # it will wait for a reply once delivered
    via: str         # the gate it came through ("" if sent to the thread)


@dataclass(frozen=True)
class PendingCall:
    caller: str
    replier: str
    kind: str        # ipc | pagefault | exception
    reply_cap: bool  # the replier still holds the implicit reply capability


@dataclass(frozen=True)
class IrqView:
    irq: str
    thread: str      # bound thread ("" if none)
    label: int
    line: int | None
    queued: bool
    masked: bool
    pending: bool
    delivered: int
    coalesced: int


@dataclass(frozen=True)
class ThreadView:
    name: str
    task: str
    state: str
    core: int
    prio: int
    senders: tuple[QueuedSender, ...]
    pending_irqs: tuple[str, ...]


@dataclass(frozen=True)
class GateView:
    gate: str
    thread: str      # bound server thread ("" if unbound)
    label: int
    senders: tuple[QueuedSender, ...]


@dataclass(frozen=True)
class CoreView:
    index: int
    now: int
    current: str | None
    runq: tuple[str, ...]
    timer_at: int | None  # when the running thread's slice ends


@dataclass(frozen=True)
class Snapshot:
    threads: tuple[ThreadView, ...]
    gates: tuple[GateView, ...]
    calls: tuple[PendingCall, ...]
    irqs: tuple[IrqView, ...]
    cores: tuple[CoreView, ...]


def _queued(sender: Thread) -> QueuedSender:
    message: Message = sender.outgoing
    via = message.source
    return QueuedSender(sender.name, message.kind, message.label, len(message.words),
                        message.call, repr(via) if isinstance(via, IpcGate) else "")


def thread_senders(thread: Thread) -> tuple[QueuedSender, ...]:
    return tuple(_queued(sender) for sender in thread.senders)


def gate_senders(gate: IpcGate) -> tuple[QueuedSender, ...]:
    if gate.thread is None:
        return tuple(_queued(sender) for sender in gate.waiting)
    return tuple(_queued(s) for s in gate.thread.senders if s.outgoing.source is gate)


def pending_calls(machine: "Machine") -> tuple[PendingCall, ...]:
    """Calls awaiting their reply, in thread creation order of the callers."""
    return tuple(PendingCall(t.name, t.awaiting.receiver.name, t.awaiting.kind,
                             t.awaiting.receiver.reply_to is t)
                 for t in machine.kernel.threads if t.awaiting is not None)


def irq_view(irq: Irq) -> IrqView:
    return IrqView(repr(irq), irq.thread.name if irq.thread else "", irq.label, irq.line,
                   irq.queued, irq.masked, irq.pending, irq.delivered, irq.coalesced)


def core_view(core: "Core") -> CoreView:
    return CoreView(core.index, core.now, core.current.name if core.current else None,
                    tuple(t.name for t in core.queued()), core.timer_at)


def thread_view(thread: Thread) -> ThreadView:
    return ThreadView(thread.name, thread.task.name, thread.state.value, thread.core,
                      thread.prio, thread_senders(thread),
                      tuple(repr(irq) for irq in thread.pending_irqs))


def snapshot(machine: "Machine") -> Snapshot:
    objects = machine.kernel.objects
    return Snapshot(
        tuple(thread_view(t) for t in machine.kernel.threads),
        tuple(GateView(repr(g), g.thread.name if g.thread else "", g.label, gate_senders(g))
              for g in objects if isinstance(g, IpcGate)),
        pending_calls(machine),
        tuple(irq_view(i) for i in objects if isinstance(i, Irq)),
        tuple(core_view(c) for c in machine.cores))


def check(machine: "Machine") -> list[str]:
    """The invariants of the module docstring; returns the violations (none: [])."""
    return _check_queues(machine.kernel) + _check_irqs(machine.kernel) + _check_cores(machine)


def _check_queues(kernel) -> list[str]:
    problems, times = [], {}
    holders = [(o, o.senders) for o in kernel.threads] + [
        (o, o.waiting) for o in kernel.objects if isinstance(o, IpcGate)]
    for holder, waiting in holders:
        target = holder if isinstance(holder, Thread) else None
        for sender in waiting:
            times[sender] = times.get(sender, 0) + 1
            if sender.state is not ThreadState.SEND_BLOCKED or sender.send_target is not target:
                problems.append(f"{sender.name} queued on {holder!r} but {sender.state.value}, "
                                f"sending to {sender.send_target!r}")
    for thread in kernel.threads:
        expected = int(thread.state is ThreadState.SEND_BLOCKED)
        if times.get(thread, 0) != expected:
            problems.append(f"{thread.name} is {thread.state.value} and in "
                            f"{times.get(thread, 0)} sender queues")
        if thread.awaiting is not None and (thread.state is not ThreadState.RECV_BLOCKED
                                            or thread.awaiting.receiver is None):
            problems.append(f"{thread.name} awaits a reply but is {thread.state.value}")
    return problems


def _check_irqs(kernel) -> list[str]:
    problems = []
    for irq in (o for o in kernel.objects if isinstance(o, Irq)):
        held = irq.thread.pending_irqs.count(irq) if irq.thread else 0
        if held != int(irq.queued):
            problems.append(f"{irq!r} queued={irq.queued} but held {held} times")
    return problems


def _check_cores(machine: "Machine") -> list[str]:
    problems, times = [], {}
    for core in machine.cores:
        if core.current is not None:
            times[core.current] = times.get(core.current, 0) + 1
            if core.current.state is not ThreadState.RUNNING or core.timer_at is None:
                problems.append(f"core {core.index} runs {core.current.name} "
                                f"({core.current.state.value}, timer {core.timer_at})")
        for thread in core.queued():
            times[thread] = times.get(thread, 0) + 1
            if thread.state is not ThreadState.READY or thread.core != core.index:
                problems.append(f"{thread.name} ({thread.state.value}, core {thread.core}) "
                                f"queued on core {core.index}")
    for thread in machine.kernel.threads:
        expected = int(thread.state in (ThreadState.READY, ThreadState.RUNNING))
        if times.get(thread, 0) != expected:
            problems.append(f"{thread.name} is {thread.state.value} and placed "
                            f"{times.get(thread, 0)} times on cores")
    return problems
