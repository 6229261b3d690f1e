"""Page faults and exceptions from real ARM code become IPC to Python pagers/handlers."""

import struct

from kernel_model import trace as T
from kernel_model.boot import STACK_TOP, spawn_native
from kernel_model.caps import MEM_R, MEM_RW, MEM_RX, MEM_RWX, OBJ_ALL, Fpage, selector
from kernel_model.ipc_abi import (EXC_WORDS, ITEM_MAP, PF_EXEC, PF_NOT_PRESENT, PF_WRITE,
                                  PROTO_EXCEPTION, MsgTag)
from kernel_model.machine import Machine

from .scenarios import mrs

PAGER_SLOT = 11
SCRATCH = 0x400000   # where the pager keeps the pages it hands out


def with_pager(native, test: int, address: int, fill: bytes, rights: int, refuse=False):
    """The `faults` program with a Python pager that answers each fault with a page of
    ``fill`` mapped with ``rights``; returns machine, faulting thread, the fault messages."""
    machine = Machine(cores=1)
    kernel = machine.kernel
    pager_task = kernel.create_task("pager")
    seen = []

    def pager(ctx):
        yield ctx.wait()
        while True:
            tag_words = ctx.mrs(2)
            seen.append(tag_words)
            if refuse:
                yield ctx.reply_and_wait(MsgTag(-1))
                continue
            page = SCRATCH + 0x1000 * len(seen)
            kernel.alloc_page(pager_task, page, MEM_RWX)
            pager_task.space.poke(page, fill)
            ctx.set_mrs([ITEM_MAP | (tag_words[0] & ~0xFFF), Fpage.memory(page, 12, rights).encode()])
            yield ctx.reply_and_wait(MsgTag(0, 0, 1))

    pager_thread = kernel.create_thread(pager_task, "pager.main", pager)
    machine.start_thread(pager_thread, prio=2)
    thread = spawn_native(machine, "faulty", native("faults"), start=False)
    kernel.give_cap(pager_task, pager_task, pager_task, OBJ_ALL)  # no-op sanity
    kernel.install_cap(thread.task, PAGER_SLOT, pager_thread, OBJ_ALL)
    thread.pager = selector(PAGER_SLOT)
    machine.set_thread_start(thread, 0x10000, STACK_TOP - 16, {0: test, 1: address})
    machine.start_thread(thread)
    return machine, thread, seen


def test_read_fault_maps_page(native):
    """A load from an unmapped page reaches the pager (label -2, MR0 addr|flags, MR1 pc) and
    the mapped page's word is what the retried load reads."""
    machine, thread, seen = with_pager(native, 1, 0x300010, struct.pack("<I", 0xCAFE) * 1024, MEM_R)
    machine.run()
    assert seen[0][0] == 0x300010 | PF_NOT_PRESENT
    assert mrs(thread, 1) == [0xCAFE]
    fault = next(machine.trace.filter([T.PAGE_FAULT]))
    assert fault.data["access"] == "read" and fault.data["pc"] == seen[0][1]
    assert thread.task.space.lookup(0x300010).rights == MEM_R


def test_write_fault_then_write_protect(native):
    """A store to an unmapped page faults as a write; mapped read-only it faults again as a
    write-protection fault (present) — the copy-on-write signal."""
    machine, thread, seen = with_pager(native, 2, 0x300000, bytes(4096), MEM_R)
    machine.run(max_steps=60)
    assert seen[0][0] & 0x7 == PF_NOT_PRESENT | PF_WRITE
    assert seen[1][0] & 0x7 == PF_WRITE  # present now, rights missing


def test_write_fault_resolved(native):
    machine, thread, seen = with_pager(native, 2, 0x300000, bytes(4096), MEM_RW)
    machine.run()
    assert mrs(thread, 1) == [0x1234]


def test_exec_fault_and_nx(native):
    """Jumping to an unmapped page is an execute fault; code mapped R-X then runs. The same
    code mapped RW- (no X) faults again: NX is enforced by the emulator."""
    code = struct.pack("<II", 0xE3A0002A, 0xE12FFF1E)  # mov r0,#42; bx lr
    machine, thread, seen = with_pager(native, 3, 0x500000, code, MEM_RX)
    machine.run()
    assert seen[0][0] & 0x7 == PF_NOT_PRESENT | PF_EXEC
    assert mrs(thread, 1) == [42]
    machine, thread, seen = with_pager(native, 3, 0x500000, code, MEM_RW)
    machine.run(max_steps=40)
    assert seen[1][0] & 0x7 == PF_EXEC


def test_refused_fault_becomes_exception_and_kills(native):
    """A pager that answers with a negative label turns the fault into an exception; with
    no exception handler the thread dies and the rest keeps running."""
    machine, thread, seen = with_pager(native, 1, 0x300000, b"", MEM_R, refuse=True)
    machine.run()
    assert not thread.alive and "no exception handler" in thread.exit_reason
    assert any(e.kind == T.EXCEPTION for e in machine.trace)


def test_no_pager_kills_thread(native):
    machine = Machine(cores=1)
    thread = spawn_native(machine, "faulty", native("faults"), regs={0: 1, 1: 0x300000})
    machine.run()
    assert "no pager" in thread.exit_reason


def test_undefined_instruction_exception_frame(native):
    """An undefined instruction sends the 22-word frame (r0-r12, pc) to the exception
    handler; a full-frame reply writes registers back and the thread resumes there."""
    machine = Machine(cores=1)
    kernel = machine.kernel
    handler_task = kernel.create_task("handler")
    frames = []

    def handler(ctx):
        result = yield ctx.wait()
        frames.append((result.tag, ctx.mrs(EXC_WORDS)))
        frame = ctx.mrs(EXC_WORDS)
        frame[2] = 0x777         # r0
        frame[18] -= 4           # pc: back one instruction (movw r12 …)
        ctx.set_mrs(frame)
        result = yield ctx.reply_and_wait(MsgTag(0, EXC_WORDS))
        frames.append((result.tag, ctx.mrs(EXC_WORDS)))

    handler_thread = kernel.create_thread(handler_task, "handler.main", handler)
    machine.start_thread(handler_thread, prio=2)
    thread = spawn_native(machine, "undef", native("undef"), start=False)
    kernel.install_cap(thread.task, 12, handler_thread, OBJ_ALL)
    thread.exc_handler = selector(12)
    machine.set_thread_start(thread, 0x10000, STACK_TOP - 16)
    machine.start_thread(thread)
    machine.run()
    tag, frame = frames[0]
    assert tag.label == PROTO_EXCEPTION and tag.words == EXC_WORDS
    assert frame[2:15] == list(range(0x100, 0x10D))
    assert frame[18] == 0x10034 and frame[1] >> 26 == 0
    _, second = frames[1]
    assert second[2] == 0x777 and second[18] == 0x10034  # re-ran movw r12, trapped again
