"""Boot-time helpers of the root task: load a native (non-Linux) ARM ELF into a task.

This plays moe's loader for the kernel tests and demos: each PT_LOAD segment is backed by
fresh frames with the segment's rights (R, W, X from p_flags), so W^X holds as the ELF asks.
"""

from __future__ import annotations

import io

from elftools.elf.elffile import ELFFile
from elftools.common.exceptions import ELFError

from .caps import MEM_R, MEM_W, MEM_X
from .physmem import PAGE_SIZE


class BadImage(Exception):
    """The file is not a loadable 32-bit little-endian ARM ELF."""


def segment_rights(p_flags: int) -> int:
    return (MEM_R if p_flags & 4 else 0) | (MEM_W if p_flags & 2 else 0) | (MEM_X if p_flags & 1 else 0)


def load_native_elf(kernel, task, data: bytes) -> int:
    """Map the ELF's segments into ``task``; returns the entry point (odd for Thumb)."""
    try:
        elf = ELFFile(io.BytesIO(data))
        if elf.elfclass != 32 or not elf.little_endian or elf["e_machine"] != "EM_ARM":
            raise BadImage("not a 32-bit little-endian ARM ELF")
        segments = [s for s in elf.iter_segments() if s["p_type"] == "PT_LOAD"]
        loads = [(s["p_vaddr"], s["p_memsz"], s.data(), segment_rights(s["p_flags"]))
                 for s in segments]
        entry = elf["e_entry"]
    except (ELFError, ValueError, KeyError) as error:
        raise BadImage(str(error)) from None
    for vaddr, memsz, content, rights in loads:
        start = vaddr & ~(PAGE_SIZE - 1)
        kernel.alloc_range(task, start, vaddr + memsz - start, rights)
        task.space.poke(vaddr, content)
    return entry


STACK_TOP = 0x80000
STACK_PAGES = 4


def spawn_native(machine, name: str, data: bytes, regs: dict[int, int] | None = None,
                 core: int = 0, prio: int = 1, start: bool = True):
    """A new task running one native ARM thread from an ELF image: segments loaded, a
    stack below STACK_TOP, TPIDRURW = its UTCB, r0..r3 from ``regs``. Returns the thread."""
    kernel = machine.kernel
    task = kernel.create_task(name)
    entry = load_native_elf(kernel, task, data)
    kernel.alloc_range(task, STACK_TOP - STACK_PAGES * PAGE_SIZE, STACK_PAGES * PAGE_SIZE,
                       MEM_R | MEM_W)
    thread = kernel.create_thread(task, f"{name}.main")
    machine.set_thread_start(thread, entry, STACK_TOP - 16, regs)
    if start:
        machine.start_thread(thread, prio=prio, core=core)
    return thread
