"""IPC: the invoke syscall's send and receive phases, rendezvous, replies, timeouts.

The protocol (Fiasco semantics, l4-facts §2.5):
- An invocation is an optional send phase followed atomically by an optional receive phase.
  Nothing is buffered: a sender whose partner is not receiving blocks in the partner's
  ``senders`` queue (or fails at once with a zero send timeout).
- A call (SEND|RECV, no OPEN_WAIT) is answered only through the implicit reply capability
  the receiver gets (``reply_to``); the caller waits with ``awaiting`` set to its message.
  Page faults and exceptions are calls the kernel makes on a thread's behalf.
- An open wait takes the first queued sender, else the first pending Irq; a closed wait
  (RECV on a Thread or Irq capability) takes only that source.
- Errors never raise: a bad capability, a missing right, a cut message or a timeout ends
  the invocation with the error flag in the tag and the code in the UTCB's TCR error word.

Every function here takes the kernel first; none runs inside a unicorn hook.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import trace as T
from .caps import CAP_SHIFT, FPAGE_MEMORY, Fpage, INVALID_CAP_BIT
from .ipc_abi import (E_NO_REPLY_CAP, E_NOT_EXISTENT, E_RECV_ABORTED, E_RECV_MSG_CUT,
                      E_RECV_TIMEOUT, E_SEND_ABORTED, E_SEND_MAP_FAILED, E_SEND_MSG_CUT,
                      E_SEND_TIMEOUT, ERROR_NAMES, ITEM_GRANT, ITEM_MAP, MR_COUNT, OPEN_WAIT,
                      RECV, REPLY, SEND, TAG_ERROR, TIMEOUT_ZERO,
                      UTCB_BR0, UTCB_TCR_ERROR, MsgTag, tag_of, timeout_us)
from .objects import IpcGate, Irq, Message, Receive, Thread, ThreadState
from .physmem import OutOfFrames

if TYPE_CHECKING:
    from .kernel import Kernel

REPLY_WAIT = "reply"   # after_send marker: a call waits for its reply


# --- entry ------------------------------------------------------------------------------
def syscall(k: "Kernel", thread: Thread, dest: int, tag_word: int, timeout: int, label: int) -> None:
    """The invoke syscall of ``thread`` (which is running). On return the thread either
    has ``ipc_result`` set and stays runnable, or is blocked."""
    flags = dest & 0xF
    tag = MsgTag.decode(tag_word)
    send_timeout, recv_timeout = (timeout >> 16) & 0xFFFF, timeout & 0xFFFF
    if flags & SEND:
        if flags & REPLY:
            error = reply(k, thread, tag)
            if error:
                return complete(k, thread, MsgTag(), 0, error)
        else:
            _send(k, thread, dest & ~0xF, flags, tag, label, send_timeout, recv_timeout)
            return
    if flags & RECV:
        receive(k, thread, dest & ~0xF, bool(flags & OPEN_WAIT), recv_timeout)
    else:
        complete(k, thread, MsgTag(), 0)


def _send(k, thread, sel, flags, tag, label, send_timeout, recv_timeout) -> None:
    node = None if sel & INVALID_CAP_BIT else thread.task.caps.lookup_selector(sel)
    if node is None:
        return fail(k, thread, E_NOT_EXISTENT, on=f"cap {sel >> CAP_SHIFT:#x}")
    obj = node.resource
    if invoke.is_kernel_invocation(obj, tag):
        reply_tag = invoke.dispatch(k, thread, node, tag)
        return complete(k, thread, reply_tag, 0)
    if isinstance(obj, IpcGate):
        target, out_label = obj.thread, obj.label | (node.rights & 0x3)
    elif isinstance(obj, Thread):
        target, out_label = obj, label
    else:
        return fail(k, thread, E_NOT_EXISTENT, on=repr(obj))
    message = capture(k, thread, tag, out_label, call=bool(flags & RECV) and not flags & OPEN_WAIT,
                      source=obj if isinstance(obj, IpcGate) else None)
    if message is None:
        return fail(k, thread, E_SEND_MSG_CUT, on=repr(obj))
    if message.call:
        after = REPLY_WAIT
    elif flags & RECV:
        after = Receive(None)
    else:
        after = None
    send_message(k, thread, target, obj, message, send_timeout, after, recv_timeout)


def capture(k, thread: Thread, tag: MsgTag, label: int, call: bool, source=None,
            kind: str = "ipc") -> Message | None:
    """Read the message from ``thread``'s UTCB; None if it does not fit the MRs."""
    if tag.words + 2 * tag.items > MR_COUNT:
        return None
    words = thread.task.space.read_words(thread.utcb, tag.words + 2 * tag.items, 0)
    items = ([(words[tag.words + 2 * i], words[tag.words + 2 * i + 1]) for i in range(tag.items)]
             if tag.items else [])
    return Message(tag, words[:tag.words], items, label, thread, call, kind, source)


def send_message(k, sender: Thread, target: Thread | None, via, message: Message,
                 send_timeout: int, after, recv_timeout: int = 0) -> None:
    """Hand ``message`` to ``target`` or queue ``sender`` on it (or on an unbound gate)."""
    sender.after_send = after
    if target is not None and not target.alive:
        return fail(k, sender, E_NOT_EXISTENT, on=target.name)
    if target is not None and accepts(target, message):
        deliver(k, message, target)
        return after_delivery(k, sender, message, recv_timeout)
    if send_timeout == TIMEOUT_ZERO:
        return fail(k, sender, E_SEND_TIMEOUT, on=target.name if target else repr(via))
    sender.outgoing = message
    sender.state = ThreadState.SEND_BLOCKED
    sender.pending_recv_timeout = recv_timeout
    if target is None:  # an unbound gate: wait for a server to bind
        via.waiting.append(sender)
        sender.send_target = None
    else:
        target.senders.append(sender)
        sender.send_target = target
    k.machine.scheduler.block(sender)
    _arm_timeout(k, sender, send_timeout, E_SEND_TIMEOUT)
    k.emit_data(T.IPC_BLOCK, sender, {"phase": "send", "on": target.name if target else repr(via)})


def accepts(receiver: Thread, message: Message) -> bool:
    want = receiver.receiving
    if receiver.state is not ThreadState.RECV_BLOCKED or want is None:
        return False
    return want.source is None or want.source is message.sender


def after_delivery(k, sender: Thread, message: Message, recv_timeout: int) -> None:
    """The send phase of ``sender`` is done: wait for the reply, receive, or finish."""
    after, sender.after_send = sender.after_send, None
    if after == REPLY_WAIT:
        sender.awaiting = message
        sender.state = ThreadState.RECV_BLOCKED
        sender.receiving = None
        k.machine.scheduler.block(sender)
    elif isinstance(after, Receive):
        receive_from(k, sender, after, recv_timeout)
    else:
        complete(k, sender, MsgTag(), 0)


# --- delivery ---------------------------------------------------------------------------
def deliver(k, message: Message, receiver: Thread) -> None:
    """Rendezvous: copy ``message`` into ``receiver`` and make it runnable."""
    window = _receive_window(k, receiver) if message.items else None   # for items only
    error = _transfer(k, message, receiver, window)
    message.receiver = receiver
    receiver.receiving = None
    _cancel_timeout(receiver)
    sender = message.sender
    if message.call:
        receiver.reply_to = sender
    _charge_ipc(k, sender, receiver)
    k.emit_data(T.IPC_SEND, sender, {
        "to": receiver.name, "to_task": receiver.task.name, "label": message.tag.label,
        "words": len(message.words), "items": len(message.items), "msg": message.kind,
        "via": repr(message.source) if message.source else ""})
    tag = tag_of(message.tag.label, len(message.words), len(message.items))
    complete(k, receiver, tag, message.label, error, woken_by=sender)


def _transfer(k, message: Message, receiver: Thread, window: Fpage | None) -> int:
    """Write words (and what the typed items mapped) into the receiver's UTCB; returns an
    error code (0 if all went through)."""
    space = receiver.task.space
    words = list(message.words) if message.items else message.words
    error = 0
    for control, fpage_word in message.items:
        if not control & ITEM_MAP:
            error = E_SEND_MSG_CUT
            continue
        fpage = Fpage.decode(fpage_word)
        if window is None:
            error = E_SEND_MSG_CUT
            continue
        try:
            _map_item(k, message.sender, receiver, control, fpage, window)
        except OutOfFrames:
            error = E_SEND_MAP_FAILED
        words += [control, fpage_word]
    space.poke_words(receiver.utcb, words)
    return error


def _map_item(k, sender: Thread, receiver: Thread, control: int, fpage: Fpage, window: Fpage) -> None:
    """Place a send flexpage in a receive window: the send base (control bits 12+) picks the
    spot when the window is larger, the window picks the part when it is smaller."""
    send_base = control & ~0xFFF & 0xFFFFFFFF
    if fpage.kind == FPAGE_MEMORY:
        if window.order >= fpage.order:
            offset = (send_base & ((1 << window.order) - 1)) & ~((1 << fpage.order) - 1)
            src, dst, order = fpage.base, window.base + offset, fpage.order
        else:
            offset = send_base & ((1 << fpage.order) - 1) & ~((1 << window.order) - 1)
            src, dst, order = fpage.base + offset, window.base, window.order
        pages = 1 << max(order - 12, 0)
        k.map_pages(sender.task, src, receiver.task, dst & 0xFFFFFFFF, pages, fpage.rights,
                    grant=bool(control & ITEM_GRANT))
    else:
        base = window.base if window.kind == fpage.kind else fpage.base
        k.map_fpage(sender.task, fpage, receiver.task, base, bool(control & ITEM_GRANT),
                    obj_extra=control & 0xF0)


def _receive_window(k, receiver: Thread) -> Fpage | None:
    """The receiver's BR0/BR1 receive item, or for a thread awaiting a page-fault reply the
    whole address space (Fiasco sets that window during the fault)."""
    awaiting = receiver.awaiting
    if awaiting is not None and awaiting.kind == "pagefault":
        return Fpage.memory(0, 32, 0x7)
    raw = receiver.task.space.read(receiver.utcb + 4 * UTCB_BR0, 8, 0)
    control, fpage = int.from_bytes(raw[:4], "little"), int.from_bytes(raw[4:], "little")
    return Fpage.decode(fpage) if control & ITEM_MAP and fpage else None


# --- replies ----------------------------------------------------------------------------
def reply(k, replier: Thread, tag: MsgTag) -> int:
    """Send ``replier``'s UTCB message through its implicit reply capability."""
    caller, replier.reply_to = replier.reply_to, None
    if caller is None or caller.awaiting is None or not caller.alive:
        k.emit(T.IPC_ERROR, thread=replier, error=ERROR_NAMES[E_NO_REPLY_CAP], code=E_NO_REPLY_CAP)
        return E_NO_REPLY_CAP
    message = capture(k, replier, tag, 0, call=False)
    if message is None:
        finish_caller(k, caller, MsgTag(), 0, E_RECV_MSG_CUT)
        return E_SEND_MSG_CUT
    _charge_ipc(k, replier, caller)
    k.emit_data(T.IPC_REPLY, replier, {
        "to": caller.name, "to_task": caller.task.name, "label": tag.label,
        "words": len(message.words), "items": len(message.items), "msg": caller.awaiting.kind})
    traps.reply_received(k, caller, message)
    return 0


def reply_to_thread(k, replier: Thread, caller: Thread, tag: MsgTag) -> int:
    """A deferred reply: answer ``caller``'s pending call, fault or exception with
    ``replier``'s UTCB message, as through an explicit reply capability (Fiasco's, l4-facts
    §1.3 bit 10) kept since the call arrived. ``replier``'s implicit reply capability is
    left as it was. Returns the error code (0 if delivered)."""
    saved, replier.reply_to = replier.reply_to, caller
    try:
        return reply(k, replier, tag)
    finally:
        replier.reply_to = saved


def finish_caller(k, caller: Thread, tag: MsgTag, label: int, error: int = 0) -> None:
    caller.awaiting = None
    complete(k, caller, tag, label, error)


def deliver_reply_words(k, caller: Thread, message: Message) -> int:
    """An ordinary reply: words and items into the caller's UTCB; returns the error."""
    window = _receive_window(k, caller) if message.items else None   # for items only
    caller.awaiting = None  # the page-fault window applies only while awaiting a PF reply
    return _transfer(k, message, caller, window)


# --- receiving --------------------------------------------------------------------------
def receive(k, thread: Thread, sel: int, open_wait: bool, recv_timeout: int) -> None:
    if open_wait:
        return receive_from(k, thread, Receive(None), recv_timeout)
    if sel & INVALID_CAP_BIT:  # closed wait on the invalid cap: sleep for the timeout
        return receive_from(k, thread, Receive(thread), recv_timeout)
    node = thread.task.caps.lookup_selector(sel)
    if node is None or not isinstance(node.resource, (Thread, Irq)):
        return fail(k, thread, E_NOT_EXISTENT | 1, on=f"cap {sel >> CAP_SHIFT:#x}")
    receive_from(k, thread, Receive(node.resource), recv_timeout)


def receive_from(k, thread: Thread, want: Receive, recv_timeout: int) -> None:
    for sender in list(thread.senders):
        if want.source is None or want.source is sender:
            thread.senders.remove(sender)
            message, sender.outgoing, sender.send_target = sender.outgoing, None, None
            _cancel_timeout(sender)
            thread.state = ThreadState.RECV_BLOCKED
            thread.receiving = want
            deliver(k, message, thread)
            after_delivery(k, sender, message, sender.pending_recv_timeout)
            return
    for irq in list(thread.pending_irqs):
        if want.source is None or want.source is irq:
            thread.pending_irqs.remove(irq)
            irqs.take(k, irq, thread)
            return
    if recv_timeout == TIMEOUT_ZERO:
        return fail(k, thread, E_RECV_TIMEOUT, on="wait")
    thread.state = ThreadState.RECV_BLOCKED
    thread.receiving = want
    k.machine.scheduler.block(thread)
    _arm_timeout(k, thread, recv_timeout, E_RECV_TIMEOUT)
    k.emit_data(T.IPC_BLOCK, thread, {
        "phase": "receive", "on": "any" if want.source is None else repr(want.source)})


# --- completion, errors, timeouts, cancel -----------------------------------------------
def complete(k, thread: Thread, tag: MsgTag, label: int, error: int = 0, woken_by=None) -> None:
    """End ``thread``'s invocation: result tag (error flag if ``error``), label, TCR error;
    the thread becomes runnable."""
    if error:
        tag = MsgTag(tag.label, tag.words, tag.items, tag.flags | TAG_ERROR)
        thread.task.space.poke(thread.utcb + 4 * UTCB_TCR_ERROR, error.to_bytes(4, "little"))
    thread.ipc_result = (tag.encode(), label & 0xFFFFFFFF, error)
    thread.receiving = None
    _cancel_timeout(thread)
    if thread.state in (ThreadState.SEND_BLOCKED, ThreadState.RECV_BLOCKED):
        k.machine.scheduler.wake(thread, woken_by)


def fail(k, thread: Thread, error: int, on: str = "") -> None:
    k.emit(T.IPC_ERROR, thread=thread, error=ERROR_NAMES.get(error & ~1, "error"), code=error, on=on)
    thread.after_send = None
    complete(k, thread, MsgTag(), 0, error)


def _arm_timeout(k, thread: Thread, raw: int, error: int) -> None:
    us = timeout_us(raw)
    if us is None:
        return
    cycles = us * k.machine.cycles_per_us
    token = object()
    thread.deadline = token

    def expire():
        if thread.deadline is token and thread.state in (ThreadState.SEND_BLOCKED,
                                                         ThreadState.RECV_BLOCKED):
            cancel(k, thread)
            k.emit(T.TIMEOUT, thread=thread, error=ERROR_NAMES[error])
            complete(k, thread, MsgTag(), 0, error)
    k.machine.at(k.machine.cores[thread.core].now + cycles, expire)


def _cancel_timeout(thread: Thread) -> None:
    thread.deadline = None


def cancel(k, thread: Thread) -> None:
    """Take ``thread`` out of every IPC it is part of (kill, ex_regs cancel, timeout).
    Partners that depend on it get an abort error instead of waiting forever."""
    if thread.send_target is not None and thread in thread.send_target.senders:
        thread.send_target.senders.remove(thread)
    for gate in k.objects:
        if isinstance(gate, IpcGate) and thread in gate.waiting:
            gate.waiting.remove(thread)
    thread.outgoing = thread.send_target = thread.after_send = thread.receiving = None
    thread.awaiting = None
    thread.deadline = None


def abort_partners(k, dead: Thread) -> None:
    """``dead`` is going away: its queued senders and the caller holding its reply
    capability fail instead of blocking forever."""
    for sender in list(dead.senders):
        dead.senders.remove(sender)
        kind = sender.outgoing.kind
        sender.outgoing = sender.send_target = None
        if kind in ("pagefault", "exception"):
            k.kill_thread(sender, f"{kind} handler {dead.name} died")
        else:
            fail(k, sender, E_SEND_ABORTED, on=dead.name)
    caller, dead.reply_to = dead.reply_to, None
    if caller is not None and caller.awaiting is not None and caller.alive:
        if caller.awaiting.kind in ("pagefault", "exception"):
            # a kernel-made call cannot fail back into the program: Fiasco halts it
            return k.kill_thread(caller, f"{caller.awaiting.kind} handler {dead.name} died")
        caller.awaiting = None
        fail(k, caller, E_RECV_ABORTED, on=dead.name)


def _charge_ipc(k, sender: Thread, receiver: Thread) -> None:
    costs = k.costs
    cycles = (costs.ipc_intra_task if sender.task is receiver.task else costs.ipc_inter_task).cycles
    k.machine.charge(sender, cycles)
    sender.stats.ipcs += 1


# Last, as they import this module (imported inside the functions, they cost a lookup per call).
from . import invoke, irqs, traps  # noqa: E402
