"""The `loader` fragment: turn an executable file into a fresh address map and the first
registers of a process (execve's second half, and the first process's start).

ASLR is seeded: the stack top, the mmap base and the brk start are drawn from the
machine's RNG, so the same seed gives the same layout. Segment rights come from the ELF's
p_flags and the stack is NX unless PT_GNU_STACK asks for X.
"""

from __future__ import annotations

import errno

from kernel_model.caps import MEM_R, MEM_W, MEM_X

from fragments.runtime.fragment import Fragment, operation

from .abi import CORTEX_A15_HWCAP, TASK_SIZE
from .elf import ExecFormatError, Executable, build_initial_stack, parse_executable, standard_auxv
from .pager import MMAP_GAP, PAGE, STACK_SIZE, AddressMap, Region, page_down, page_up

__all__ = ["Loader", "ExecFormatError"]


def segment_rights(rights: int) -> int:
    return (MEM_R if rights & 4 else 0) | (MEM_W if rights & 2 else 0) | (MEM_X if rights & 1 else 0)


class Loader(Fragment):
    NAME = "loader"
    USES = ("pager",)
    REPLICABLE = True      # stateless

    def __init__(self, runtime):
        super().__init__(runtime)
        self.rng = runtime.machine.rng

    def layout(self, exe: Executable) -> tuple[AddressMap, int]:
        """The regions of a new image and its stack top."""
        amap = AddressMap()
        end = 0
        for seg in exe.segments:
            start, stop = max(page_down(seg.vaddr), end), page_up(seg.end)
            if start < stop:
                amap.add(Region(start, stop, segment_rights(seg.rights), "elf",
                                tuple((s.vaddr, s.data) for s in exe.segments)))
            end = max(end, stop)
        stack_top = TASK_SIZE - PAGE - self.rng.randrange(0, 2048) * PAGE
        stack_rights = MEM_R | MEM_W | (MEM_X if exe.stack_executable else 0)
        amap.add(Region(stack_top - STACK_SIZE, stack_top, stack_rights, "stack"))
        amap.brk_start = amap.brk = exe.initial_brk + self.rng.randrange(0, 8192) * PAGE
        amap.mmap_next = stack_top - STACK_SIZE - MMAP_GAP - self.rng.randrange(0, 256) * PAGE
        return amap, stack_top

    @operation
    def load(self, pid, data, argv, envp, execfn):
        """Give process ``pid`` a new image: (0, entry, sp), or (errno, reason). ENOEXEC
        and E2BIG are found before the process's memory is touched; ENOMEM (no frame left
        for the initial stack) after: its old image is gone."""
        try:
            exe = parse_executable(data)
            amap, stack_top = self.layout(exe)
            random16 = bytes(self.rng.randrange(256) for _ in range(16))
            sp, image = build_initial_stack(stack_top, argv, envp, standard_auxv(exe, CORTEX_A15_HWCAP),
                                            execfn, random16)
        except ExecFormatError as error:
            return errno.ENOEXEC, str(error)
        if stack_top - sp > STACK_SIZE // 2:
            return errno.E2BIG, "argument list too long"
        regions = [(r.start, r.end, r.rights, r.name, r.image) for r in amap.regions]
        self.use.pager.new_image(pid, regions, amap.brk_start, amap.mmap_next)
        if not self.use.pager.write(pid, sp, image):
            return errno.ENOMEM, "out of memory: no frame left for the initial stack"
        return 0, exe.entry, sp
