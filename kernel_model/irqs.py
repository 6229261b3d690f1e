"""Interrupts: the GIC-like controller, Irq objects, and delivery as IPC.

Semantics (l4-facts §2.8): a device raises a line; if the line is enabled and bound to an
Irq object the kernel masks it and queues one message from the Irq to the bound thread
(label 0, no words; the receiver gets the Irq's bound label). While that message is queued
or not yet acknowledged (unmask), further triggers only mark the Irq pending: they are
coalesced into one later delivery. An Irq with no thread keeps the edge pending and
delivers it when a thread binds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import trace as T
from .ipc_abi import MsgTag
from .objects import Irq, Thread, ThreadState

if TYPE_CHECKING:
    from .kernel import Kernel


@dataclass
class Line:
    number: int
    enabled: bool = True
    target_core: int = 0
    irq: Irq | None = None
    raised: int = 0


class InterruptController:
    """Per-line enable, pending state (in the bound Irq), and target core."""

    def __init__(self, lines: int = 32):
        self.lines = [Line(i) for i in range(lines)]

    def line(self, number: int) -> Line | None:
        return self.lines[number] if 0 <= number < len(self.lines) else None


def raise_line(k: "Kernel", number: int) -> None:
    line = k.machine.gic.line(number)
    if line is None:
        return
    line.raised += 1
    core = k.machine.cores[line.target_core]
    k.trace.emit(core.now, core.index, T.IRQ, "", "", line=number,
                 bound=line.irq.name if line.irq else "", enabled=line.enabled)
    if line.enabled and line.irq is not None:
        trigger(k, line.irq)


def trigger(k: "Kernel", irq: Irq) -> None:
    if irq.queued or irq.masked or irq.thread is None:
        irq.pending = True
        irq.coalesced += irq.queued or irq.masked
        return
    thread = irq.thread
    if not thread.alive:
        irq.pending = True
        return
    want = thread.receiving
    if thread.state is ThreadState.RECV_BLOCKED and want is not None and want.source in (None, irq):
        take(k, irq, thread)
    else:
        irq.queued = True
        thread.pending_irqs.append(irq)


def take(k: "Kernel", irq: Irq, thread: Thread) -> None:
    """``thread`` receives ``irq``'s message now; the Irq stays masked until unmasked."""
    from . import ipc
    irq.queued = False
    irq.masked = True
    irq.delivered += 1
    core = k.machine.cores[thread.core]
    core.now += k.costs.irq_entry.cycles
    k.emit(T.IRQ_DELIVER, thread=thread, irq=irq.name, label=irq.label, line=irq.line)
    ipc.complete(k, thread, MsgTag(), irq.label)


def unmask(k: "Kernel", irq: Irq) -> None:
    irq.masked = False
    if irq.pending:
        irq.pending = False
        trigger(k, irq)


def attach(k: "Kernel", irq: Irq, thread: Thread, label: int) -> None:
    irq.thread, irq.label = thread, label
    if irq.pending and not irq.masked:
        irq.pending = False
        trigger(k, irq)


def detach(irq: Irq) -> None:
    if irq.thread is not None and irq in irq.thread.pending_irqs:
        irq.thread.pending_irqs.remove(irq)
    irq.thread, irq.queued = None, False
