"""An ARM core's view of one task: a unicorn instance running that task's threads.

Each task that runs ARM code gets one ``Uc`` whose memory is the task's page table (see
``addrspace``). A thread's registers live in a saved unicorn context while it does not run;
``activate`` swaps them in.

Traps never run kernel logic inside a unicorn hook: the hooks record a ``Trap`` and stop the
emulator; ``run`` returns it and the kernel acts after ``emu_start`` has returned.
Instructions are counted exactly by a C hook (``_icount.c``): a quantum stops on its limit,
and an instruction that faults or is undefined is not counted (it has not completed; the
fault handler's retry counts it). SVC has completed when the hook runs; unicorn leaves PC
after it, and ``Trap.pc`` is rewound to the SVC itself as Fiasco reports it.
"""

from __future__ import annotations

import ctypes
import importlib.util
from dataclasses import dataclass

from unicorn import (UC_ARCH_ARM, UC_HOOK_CODE, UC_HOOK_INTR, UC_HOOK_MEM_PROT,
                     UC_HOOK_MEM_UNMAPPED, UC_MEM_FETCH_PROT, UC_MEM_FETCH_UNMAPPED,
                     UC_MEM_WRITE_PROT, UC_MEM_WRITE_UNMAPPED, UC_MODE_ARM, Uc, UcError)
from unicorn import arm_const as A
from unicorn.unicorn_py3 import unicorn as _ucmod

from .caps import MEM_R, MEM_W, MEM_X

GPRS = [A.UC_ARM_REG_R0, A.UC_ARM_REG_R1, A.UC_ARM_REG_R2, A.UC_ARM_REG_R3, A.UC_ARM_REG_R4,
        A.UC_ARM_REG_R5, A.UC_ARM_REG_R6, A.UC_ARM_REG_R7, A.UC_ARM_REG_R8, A.UC_ARM_REG_R9,
        A.UC_ARM_REG_R10, A.UC_ARM_REG_R11, A.UC_ARM_REG_R12]
SP, LR, PC, CPSR = A.UC_ARM_REG_SP, A.UC_ARM_REG_LR, A.UC_ARM_REG_PC, A.UC_ARM_REG_CPSR
TPIDRURO = A.UC_ARM_REG_C13_C0_3   # user read-only thread register (Linux TLS)
# TPIDRURW (user read-write thread register, the UTCB pointer) is reached as p15 c13 c0 2.
TPIDRURW_CP = (15, 0, 0, 13, 0, 0, 2)
CPSR_THUMB = 0x20
REG_NAMES = [f"r{i}" for i in range(13)] + ["sp", "lr", "pc", "cpsr"]

INTR_SVC = 2


class _ICount(ctypes.Structure):
    _fields_ = [("count", ctypes.c_uint64), ("limit", ctypes.c_uint64),
                ("emu_stop", ctypes.c_void_p)]


def _load_icount():
    spec = importlib.util.find_spec("kernel_model._icount")
    if spec is None or spec.origin is None:
        raise ImportError("kernel_model._icount is not built: install the package "
                          "(pip install -e .) so that its C hook is compiled")
    return ctypes.CDLL(spec.origin)


_ICOUNT_LIB = _load_icount()
_ICOUNT_HOOK = ctypes.cast(_ICOUNT_LIB.l4_icount_hook, ctypes.c_void_p)
_EMU_STOP = ctypes.cast(_ucmod.uclib.uc_emu_stop, ctypes.c_void_p)


@dataclass(frozen=True)
class Trap:
    """Why a quantum ended early. ``kind``: svc, fault, undef."""

    kind: str
    pc: int
    thumb: bool
    address: int = 0
    access: int = 0        # MEM_R / MEM_W / MEM_X for faults
    present: bool = False  # the page was mapped (a rights violation)


class ArmEngine:
    """The unicorn instance of one task and the thread currently loaded in it."""

    def __init__(self, space):
        self.uc = Uc(UC_ARCH_ARM, UC_MODE_ARM)
        self.current = None
        self._trap: Trap | None = None
        self._icount = _ICount(0, 0, _EMU_STOP.value)
        handle = _ucmod.uc_hook_h()
        err = _ucmod.uclib.uc_hook_add(self.uc._uch, ctypes.byref(handle), UC_HOOK_CODE,
                                       _ICOUNT_HOOK, ctypes.byref(self._icount),
                                       ctypes.c_uint64(1), ctypes.c_uint64(0))
        if err:
            raise RuntimeError(f"unicorn refused the instruction counter hook ({err})")
        self.uc.hook_add(UC_HOOK_INTR, self._on_interrupt)
        self.uc.hook_add(UC_HOOK_MEM_UNMAPPED, self._on_memory, False)
        self.uc.hook_add(UC_HOOK_MEM_PROT, self._on_memory, True)
        self._blank = self.uc.context_save()
        space.attach_unicorn(self.uc)

    # --- hooks: record and stop, nothing else ----------------------------------------
    def _pc_thumb(self):
        pc = self.uc.reg_read(PC)
        return pc, bool(self.uc.reg_read(CPSR) & CPSR_THUMB)

    def _on_interrupt(self, uc, intno, _):
        pc, thumb = self._pc_thumb()
        if intno == INTR_SVC:
            self._trap = Trap("svc", (pc - (2 if thumb else 4)) & 0xFFFFFFFF, thumb)
        else:  # bkpt and other exceptions: reported like an undefined instruction
            self._trap = Trap("undef", (pc - (2 if thumb else 4)) & 0xFFFFFFFF, thumb)
        uc.emu_stop()

    def _on_memory(self, uc, access, address, size, value, present):
        pc, thumb = self._pc_thumb()
        kind = (MEM_X if access in (UC_MEM_FETCH_UNMAPPED, UC_MEM_FETCH_PROT)
                else MEM_W if access in (UC_MEM_WRITE_UNMAPPED, UC_MEM_WRITE_PROT) else MEM_R)
        if kind == MEM_X:
            pc = address
        self._trap = Trap("fault", pc, thumb, address & 0xFFFFFFFF, kind, present)
        return False

    # --- thread contexts --------------------------------------------------------------
    def new_context(self, pc: int, sp: int, utcb: int, regs: dict[int, int] | None = None):
        """A fresh register context: Thumb if ``pc`` is odd."""
        self.uc.context_restore(self._blank)
        # user mode first: SP and LR are banked, so they must be written in the new mode
        self.uc.reg_write(CPSR, 0x10 | (CPSR_THUMB if pc & 1 else 0))
        for reg in GPRS:
            self.uc.reg_write(reg, 0)
        for index, value in (regs or {}).items():
            self.uc.reg_write(GPRS[index], value & 0xFFFFFFFF)
        self.uc.reg_write(SP, sp)
        self.uc.reg_write(A.UC_ARM_REG_FPEXC, 0x40000000)  # VFP/NEON on, as Linux leaves it
        self.uc.reg_write(PC, pc)  # an odd PC keeps the Thumb state
        self.set_tpidrurw(utcb)
        context = self.uc.context_save()
        if self.current is not None:
            self.uc.context_restore(self.current.arm_context)
        return context

    def activate(self, thread) -> None:
        """Load ``thread``'s registers (saving those of the thread loaded before)."""
        if self.current is thread:
            return
        if self.current is not None and self.current.alive:
            self.current.arm_context = self.uc.context_save()
        self.uc.context_restore(thread.arm_context)
        self.current = thread

    def forget(self, thread) -> None:
        if self.current is thread:
            self.current = None

    def read_registers(self) -> list[int]:
        """r0–r12, sp, lr, pc, cpsr of the loaded thread."""
        return [self.uc.reg_read(r) for r in GPRS + [SP, LR, PC, CPSR]]

    def tpidrurw(self) -> int:
        return self.uc.reg_read(A.UC_ARM_REG_CP_REG, TPIDRURW_CP)

    def set_tpidrurw(self, value: int) -> None:
        self.uc.reg_write(A.UC_ARM_REG_CP_REG, TPIDRURW_CP + (value & 0xFFFFFFFF,))

    def reg(self, reg: int) -> int:
        return self.uc.reg_read(reg)

    def set_reg(self, reg: int, value: int) -> None:
        self.uc.reg_write(reg, value & 0xFFFFFFFF)

    def set_pc(self, pc: int, thumb: bool) -> None:
        """Unicorn takes the instruction set from bit 0 of a PC write."""
        self.uc.reg_write(PC, (pc & ~1) | int(thumb))

    @property
    def thumb(self) -> bool:
        return bool(self.uc.reg_read(CPSR) & CPSR_THUMB)

    # --- running ----------------------------------------------------------------------
    def run(self, limit: int) -> tuple[int, Trap | None]:
        """Run the loaded thread for at most ``limit`` instructions. Returns how many
        completed and the trap that ended the run early, if any."""
        self._trap = None
        self._icount.count = 0
        self._icount.limit = limit
        pc = self.uc.reg_read(PC)
        start = pc | 1 if self.thumb else pc
        try:
            self.uc.emu_start(start, 0xFFFFFFFF + 1)
        except UcError:
            if self._trap is None:  # unicorn reports undefined instructions this way
                pc, thumb = self._pc_thumb()
                self._trap = Trap("undef", pc, thumb)
        executed = self._icount.count
        trap = self._trap
        if trap is not None and trap.kind != "svc" and trap.access != MEM_X:
            executed -= 1  # begun and counted, not completed (an instruction fetch never begins)
        if trap is not None and trap.kind != "svc":
            self.set_pc(trap.pc, trap.thumb)
        return executed, trap
