"""Kernel entry from ARM code, and what the kernel does with a trap.

The flows (l4-facts §2.6–2.7):
- ``svc`` from a normal thread with r5 = 0 is the invoke syscall (``ipc.syscall``); any
  other r5, or any ``svc`` from an alien thread (a Linux process), becomes an exception IPC.
- A fault (unmapped page, or rights violated) becomes a page-fault IPC, a call from the
  faulting thread to its pager: label -2, MR0 = address with the low 3 bits replaced by the
  flags (1 not present, 2 write, 4 execute), MR1 = PC. A reply with a map item installs the
  page and the instruction is retried; a reply with a negative label turns the fault into an
  exception; a thread whose pager capability is empty is killed.
- An undefined instruction becomes an exception IPC to the exception handler: label -5,
  22 words laid out as l4_exc_regs_t, PC at the faulting instruction (for SVC too: the
  handler advances it). A reply of at least 22 words writes the registers back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import ipc, trace as T
from .arm import CPSR_THUMB, Trap
from .caps import MEM_W, MEM_X
from .ipc_abi import (EC_DABT, EC_IABT, EC_SVC32, EC_UNKNOWN, EXC_CPSR, EXC_LR, EXC_PC,
                      EXC_TPIDRURO, EXC_WORDS, PF_EXEC, PF_NOT_PRESENT, PF_WRITE, PROTO_EXCEPTION,
                      PROTO_PAGE_FAULT, SYS_INVOKE, TIMEOUT_NEVER, MsgTag, tag_of)
from .objects import IpcGate, Message, Thread

if TYPE_CHECKING:
    from .kernel import Kernel

EC_NAMES = {EC_UNKNOWN: "undefined instruction", EC_SVC32: "svc", EC_IABT: "prefetch abort",
            EC_DABT: "data abort"}


def on_trap(k: "Kernel", thread: Thread, trap: Trap) -> None:
    engine = thread.task.engine
    if trap.kind == "svc":
        if not thread.alien:
            r0, r2, r3, r4, r5 = engine.syscall_registers()
            if r5 == SYS_INVOKE:
                k.machine.charge(thread, k.costs.syscall_entry.cycles)
                return ipc.syscall(k, thread, r2, r0, r3, r4)
        engine.set_pc(trap.pc, trap.thumb)
        raise_exception(k, thread, EC_SVC32, 0, il=not trap.thumb)
    elif trap.kind == "fault":
        page_fault(k, thread, trap.address, trap.access, trap.present, trap.pc)
    else:
        raise_exception(k, thread, EC_UNKNOWN, 0, il=not trap.thumb)


def _handler(k, thread: Thread, sel: int):
    node = thread.task.caps.lookup_selector(sel)
    if node is None or not isinstance(node.resource, (Thread, IpcGate)):
        return None
    obj = node.resource
    if isinstance(obj, IpcGate):
        target, label = obj.thread, obj.label | (node.rights & 0x3)
    else:
        target, label = obj, 0
    if target is not None and not target.alive:
        return None
    return target, obj, label


def page_fault(k, thread: Thread, address: int, access: int, present: bool, pc: int) -> None:
    flags = ((0 if present else PF_NOT_PRESENT) | (PF_WRITE if access == MEM_W else 0)
             | (PF_EXEC if access == MEM_X else 0))
    thread.stats.page_faults += 1
    kind = "exec" if access == MEM_X else "write" if access == MEM_W else "read"
    k.emit_data(T.PAGE_FAULT, thread,
                {"address": address, "access": kind, "pc": pc, "present": present})
    k.machine.charge(thread, k.costs.page_fault_entry.cycles)
    handler = _handler(k, thread, thread.pager)
    if handler is None:
        return k.kill_thread(thread, f"page fault at {address:#x} ({kind}) with no pager")
    target, via, label = handler
    message = Message(tag_of(PROTO_PAGE_FAULT, 2), [(address & ~0x7) | flags, pc], [], label,
                      thread, True, "pagefault", via)
    ipc.send_message(k, thread, target, via, message, TIMEOUT_NEVER, ipc.REPLY_WAIT)


def exception_frame(thread: Thread, pfa: int, err: int) -> list[int]:
    engine = thread.task.engine
    engine.activate(thread)
    regs = engine.read_frame_registers()  # r0..r12, sp, lr, pc, cpsr, tpidruro, tpidrurw
    regs[15:15] = (0,)                     # the frame's unused word before pc
    return [pfa, err] + regs


def raise_exception(k, thread: Thread, ec: int, pfa: int, il: bool = True) -> None:
    err = (ec << 26) | ((1 << 25) if il else 0)
    frame = exception_frame(thread, pfa, err)
    thread.stats.exceptions += 1
    k.emit_data(T.EXCEPTION, thread,
                {"ec": ec, "what": EC_NAMES.get(ec) or hex(ec), "pc": frame[EXC_PC]})
    k.machine.charge(thread, k.costs.exception_entry.cycles)
    handler = _handler(k, thread, thread.exc_handler)
    if handler is None:
        return k.kill_thread(thread, f"{EC_NAMES.get(ec, 'exception')} at pc {frame[EXC_PC]:#x} "
                                     "with no exception handler")
    target, via, label = handler
    message = Message(tag_of(PROTO_EXCEPTION, EXC_WORDS), frame, [], label, thread, True,
                      "exception", via)
    ipc.send_message(k, thread, target, via, message, TIMEOUT_NEVER, ipc.REPLY_WAIT)


def reply_received(k, caller: Thread, message: Message) -> None:
    """A reply reached ``caller``: finish its call, fault or exception. The replier wakes
    the caller: across cores that is an IPI, and the caller cannot run before it lands."""
    awaiting, replier = caller.awaiting, message.sender
    if awaiting.kind == "ipc":
        error = ipc.deliver_reply_words(k, caller, message)
        tag = MsgTag(message.tag.label, len(message.words), len(message.items))
        return ipc.complete(k, caller, tag, 0, error, woken_by=replier)
    if awaiting.kind == "pagefault":
        ipc.deliver_reply_words(k, caller, message)
        if message.tag.label < 0:  # the pager refuses: the fault becomes an exception
            address, flags = awaiting.words[0] & ~0x7, awaiting.words[0] & 0x7
            ec = EC_IABT if flags & PF_EXEC else EC_DABT
            return raise_exception(k, caller, ec, address | (awaiting.words[0] & 0x7))
        return resume(k, caller, replier)
    # exception reply
    ipc.deliver_reply_words(k, caller, message)
    if len(message.words) >= EXC_WORDS:
        write_frame(caller, message.words)
    resume(k, caller, replier)


def write_frame(thread: Thread, frame: list[int]) -> None:
    """Registers from an exception reply; the mode bits cannot be raised (user mode kept)."""
    engine = thread.task.engine
    engine.activate(thread)
    cpsr = (frame[EXC_CPSR] & 0xF8000000) | 0x10 | (frame[EXC_CPSR] & CPSR_THUMB)
    pc = (frame[EXC_PC] & ~1) | (1 if cpsr & CPSR_THUMB else 0)   # as engine.set_pc
    # r0-r12, sp, lr, cpsr, pc, TPIDRURO (arm.FRAME_WRITE)
    engine.write_frame_registers(frame[2:EXC_LR + 1] + [cpsr, pc, frame[EXC_TPIDRURO]])


def resume(k, thread: Thread, woken_by: Thread | None = None) -> None:
    """Let a thread continue where it stopped, registers as they are now."""
    thread.awaiting = None
    thread.ipc_result = None
    thread.receiving = None
    k.machine.scheduler.wake(thread, woken_by)
