"""Kernel-object invocations: every capability-type operation dispatched in one place.

Each handler follows seL4's shape: decode (look up arguments, check rights; nothing
changes) then perform (cannot fail). The result goes back as a reply tag whose label is 0
or a negative errno, with reply words in the caller's message registers.

Operation numbers follow the reference where it gives them (Task 0 map / 1 unmap /
2 cap_info; Thread 0 control / 1 ex_regs; Icu 0 bind / 1 unbind / 4 unmask / 5 mask;
gate 0x10 bind / 0x11 get_info; Factory protocols -11 task, -12 thread, -15 factory,
-18 irq, 0 gate). Simplifications, stated: arguments that Fiasco passes as typed items or
receive buffers (the new object's slot, the thread to bind) are passed as selectors in MRs;
the scheduler's run_thread is Thread op 0x10 ("run": prio, core); Irq ops are 0 attach,
1 detach, 2 trigger, 4 unmask.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Callable

from . import irqs, trace as T
from .caps import INVALID_CAP, OBJ_ALL, OBJ_S, OBJ_SERVER, OBJ_W, Fpage
from .ipc_abi import (PROTO_FACTORY, PROTO_IRQ_SENDER, PROTO_KOBJECT, PROTO_SCHEDULER,
                      PROTO_TASK, PROTO_THREAD, MsgTag)
from .objects import Factory, Icu, IpcGate, Irq, Task, Thread

if TYPE_CHECKING:
    from .kernel import Kernel
    from .mapdb import MapNode

FACTORY_KINDS = {PROTO_TASK: "task", PROTO_THREAD: "thread", PROTO_FACTORY: "factory",
                 PROTO_IRQ_SENDER: "irq", 0: "gate"}

CONTROL_PAGER = 0x10000
CONTROL_BIND_TASK = 0x200000
CONTROL_ALIEN = 0x400000
CONTROL_EXC_HANDLER = 0x1000000
THREAD_OP_CONTROL, THREAD_OP_EX_REGS, THREAD_OP_RUN = 0, 1, 0x10


class Refused(Exception):
    """Decode failed: the errno to reply with (never escapes ``dispatch``)."""

    def __init__(self, code: int, why: str):
        super().__init__(why)
        self.code = code


def is_kernel_invocation(obj, tag: MsgTag) -> bool:
    if isinstance(obj, (Task, Factory, Icu, Irq)):
        return True
    if isinstance(obj, Thread):
        return tag.label in (PROTO_THREAD, PROTO_SCHEDULER)
    if isinstance(obj, IpcGate):
        return tag.label == PROTO_KOBJECT
    return False


def dispatch(k: "Kernel", thread: Thread, node: "MapNode", tag: MsgTag) -> MsgTag:
    obj = node.resource
    words = _read_mrs(thread, tag.words)
    handler = HANDLERS[type(obj)]
    k.machine.charge(thread, k.costs.kernel_op.cycles)
    try:
        perform, op = handler(k, thread, node, words)
    except Refused as refused:
        k.emit(T.INVOKE, thread=thread, object=repr(obj), op="?", result=-refused.code,
               why=str(refused))
        return MsgTag(-refused.code)
    reply = perform() or []
    _write_mrs(thread, reply)
    k.emit(T.INVOKE, thread=thread, object=repr(obj), op=op, result=0)
    return MsgTag(0, len(reply))


def _read_mrs(thread: Thread, count: int) -> list[int]:
    return thread.task.space.read_words(thread.utcb, count, 0) + [0] * 8


def _write_mrs(thread: Thread, words: list[int]) -> None:
    thread.task.space.poke_words(thread.utcb, words)


def _need(node: "MapNode", rights: int, what: str) -> None:
    if node.rights & rights != rights:
        raise Refused(errno.EPERM, f"{what} needs rights {rights:#x}")


def _cap(thread: Thread, sel: int, cls, what: str):
    node = thread.task.caps.lookup_selector(sel)
    if node is None or not isinstance(node.resource, cls):
        raise Refused(errno.EINVAL, f"{what}: selector {sel:#x} is not a {cls.__name__}")
    return node


def _free_slot(thread: Thread, sel: int) -> int:
    from .caps import slot_of
    slot = slot_of(sel)
    if slot is None or slot == 0:
        raise Refused(errno.EINVAL, f"bad destination selector {sel:#x}")
    return slot


# --- Task -------------------------------------------------------------------------------
def _task(k, thread, node, w) -> tuple[Callable, str]:
    task: Task = node.resource
    op = w[0]
    if op == 0:  # map: MR1 send flexpage in the caller's task, MR2 destination base
        _need(node, OBJ_W, "task map")
        fpage = Fpage.decode(w[1])
        base = w[2] if fpage.kind == 1 else w[2] >> 12
        return (lambda: [k.map_fpage(thread.task, fpage, task, base, False)]), "map"
    if op == 1:  # unmap: MR1 flexpage in this task, MR2 bit 31 = this space too
        fpage = Fpage.decode(w[1])
        include_self = bool(w[2] & 0x80000000)
        if fpage.kind == 1:
            return (lambda: [k.unmap_pages(task, fpage.base, fpage.size, fpage.rights or 0x7,
                                           include_self)]), "unmap"
        return (lambda: [sum(k.unmap_cap(task, fpage.base + i, fpage.rights or OBJ_ALL,
                                         include_self) for i in range(fpage.size))]), "unmap"
    if op == 2:  # cap_info: MR1 selector → 1 if the slot holds a capability
        return (lambda: [int(task.caps.lookup_selector(w[1]) is not None)]), "cap_info"
    raise Refused(errno.ENOSYS, f"task op {op}")


# --- Factory ----------------------------------------------------------------------------
def _factory(k, thread, node, w):
    factory: Factory = node.resource
    _need(node, OBJ_W, "factory create")
    proto = w[0] - (1 << 32) if w[0] & 0x80000000 else w[0]
    kind = FACTORY_KINDS.get(proto)
    if kind is None:
        raise Refused(errno.ENOSYS, f"factory protocol {proto}")
    slot = _free_slot(thread, w[1])
    bound = None
    if kind == "gate" and w[2] != INVALID_CAP and w[2]:
        bound = _cap(thread, w[2], Thread, "gate thread").resource
    if not factory.fits(kind):
        raise Refused(errno.ENOMEM, f"{factory.name} quota exhausted")
    if kind == "task" and not k.task_fits():
        raise Refused(errno.ENOMEM, "no memory left for a task's UTCB area")
    name = f"{kind}{len(k.objects)}"

    def perform():
        factory.charge(kind)
        obj = {"task": lambda: k.create_task(f"{thread.task.name}.{name}"),
               "thread": lambda: k.create_thread(thread.task, name),
               "factory": lambda: k.create_factory(name, w[2]),
               "irq": lambda: k.create_irq(name),
               "gate": lambda: k.create_gate(name, bound, w[3])}[kind]()
        k.install_cap(thread.task, slot, obj, OBJ_ALL)
        return [slot << 12]
    return perform, f"create {kind}"


# --- Thread -----------------------------------------------------------------------------
def _thread(k, thread, node, w):
    target: Thread = node.resource
    op = w[0]
    _need(node, OBJ_W, "thread control")
    if op == THREAD_OP_CONTROL:
        flags = w[1]
        if flags & CONTROL_BIND_TASK:  # threads are created inside their task here
            raise Refused(errno.ENOSYS, "moving a thread to another task is not modeled")

        def control():
            if flags & CONTROL_PAGER:
                target.pager = w[2]
            if flags & CONTROL_EXC_HANDLER:
                target.exc_handler = w[3]
            if flags & CONTROL_ALIEN:
                target.alien = bool(w[4] & CONTROL_ALIEN)
        return control, "control"
    if op == THREAD_OP_EX_REGS:
        return (lambda: k.machine.set_thread_start(target, w[1], w[2])), "ex_regs"
    if op == THREAD_OP_RUN:
        if not 0 <= w[2] < len(k.machine.cores):
            raise Refused(errno.EINVAL, f"no core {w[2]}")
        return (lambda: k.machine.start_thread(target, prio=max(1, min(w[1], 255)),
                                               core=w[2])), "run"
    raise Refused(errno.ENOSYS, f"thread op {op}")


# --- Ipc_gate ---------------------------------------------------------------------------
def _gate(k, thread, node, w):
    gate: IpcGate = node.resource
    op = w[0]
    if op == 0x10:
        _need(node, OBJ_SERVER, "gate bind")
        server = _cap(thread, w[1], Thread, "gate bind").resource
        return (lambda: k.bind_gate(gate, server, w[2])), "bind"
    if op == 0x11:
        _need(node, OBJ_SERVER, "gate get_info")
        return (lambda: [gate.label]), "get_info"
    raise Refused(errno.ENOSYS, f"gate op {op}")


# --- Irq and Icu ------------------------------------------------------------------------
def _irq(k, thread, node, w):
    irq: Irq = node.resource
    op = w[0]
    if op == 0:
        _need(node, OBJ_S, "irq attach")
        target_node = _cap(thread, w[1], Thread, "irq attach")
        _need(target_node, OBJ_S, "irq attach (thread)")
        return (lambda: irqs.attach(k, irq, target_node.resource, w[2] & ~0x3)), "attach"
    if op == 1:
        return (lambda: irqs.detach(irq)), "detach"
    if op == 2:
        return (lambda: irqs.trigger(k, irq)), "trigger"
    if op == 4:
        return (lambda: irqs.unmask(k, irq)), "unmask"
    raise Refused(errno.ENOSYS, f"irq op {op}")


def _icu(k, thread, node, w):
    op, number = w[0], w[1]
    line = k.machine.gic.line(number)
    if line is None:
        raise Refused(errno.EINVAL, f"no interrupt line {number}")
    if op == 0:
        irq = _cap(thread, w[2], Irq, "icu bind").resource

        def bind():
            line.irq, irq.line = irq, number
        return bind, "bind"
    if op == 1:
        return (lambda: setattr(line, "irq", None)), "unbind"
    if op in (4, 5):
        return (lambda: setattr(line, "enabled", op == 4)), "unmask" if op == 4 else "mask"
    raise Refused(errno.ENOSYS, f"icu op {op}")


HANDLERS = {Task: _task, Factory: _factory, Thread: _thread, IpcGate: _gate, Irq: _irq, Icu: _icu}
