"""An ARM core's view of one task: a unicorn instance running that task's threads.

Each task that runs ARM code gets one ``Uc`` whose memory is the task's page table (see
``addrspace``). A thread's registers live in a saved unicorn context while it does not run;
``activate`` swaps them in.

Traps never run kernel logic inside a unicorn hook: the hooks record a ``Trap`` and stop the
emulator; ``run`` returns it and the kernel acts after ``emu_start`` has returned.

Instructions are counted exactly, by basic block, in C (``_icount.c``, which says how): a
quantum of N instructions runs whole blocks while they fit, then the first instructions of the
next block (its *tail*) with a per-instruction hook installed for that block only. An
instruction that faults or is undefined is not counted (it has not completed; the fault
handler's retry counts it). SVC has completed when the hook runs; unicorn leaves PC after it,
and ``Trap.pc`` is rewound to the SVC itself as Fiasco reports it. The one inexactness is
unicorn's: it will not stop inside a Thumb IT block, so a quantum whose end falls in one runs
to the end of the IT block (up to four instructions more), and counts them.
"""

from __future__ import annotations

import ctypes
import importlib.util
from dataclasses import dataclass

from unicorn import (UC_ARCH_ARM, UC_HOOK_BLOCK, UC_HOOK_CODE, UC_HOOK_INTR, UC_HOOK_MEM_PROT,
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


class _CpReg(ctypes.Structure):
    """unicorn's uc_arm_cp_reg: a coprocessor register named by (cp, is64, sec, crn, crm,
    opc1, opc2), and its value."""

    _fields_ = [(name, ctypes.c_uint32) for name in ("cp", "is64", "sec", "crn", "crm", "opc1",
                                                     "opc2")] + [("val", ctypes.c_uint64)]


# The registers of an exception frame, read and written in one call each into libunicorn
# (uc_reg_read_batch / uc_reg_write_batch; one Python call per register costs ~20 times more).
# Read: r0-r12, sp, lr, pc, cpsr, TPIDRURO, TPIDRURW. Written back in this order (CPSR before
# PC, whose bit 0 selects the instruction set): r0-r12, sp, lr, cpsr, pc, TPIDRURO.
FRAME_READ = GPRS + [SP, LR, PC, CPSR, TPIDRURO]       # then TPIDRURW as a coprocessor register
FRAME_WRITE = GPRS + [SP, LR, CPSR, PC, TPIDRURO]
# The invoke syscall's registers (r0 tag, r2 destination and flags, r3 timeouts, r4 label,
# r5 syscall number), and those of its result (r0 tag, r4 label).
SYSCALL_READ = [GPRS[0], GPRS[2], GPRS[3], GPRS[4], GPRS[5]]
RESULT_WRITE = [GPRS[0], GPRS[4]]


class _RegBatch:
    """Value buffers and the id and pointer arrays of one batch of 32-bit registers (plus,
    if ``cp``, the coprocessor register TPIDRURW at the end)."""

    def __init__(self, regs: list[int], cp: bool):
        count = len(regs)
        self.values = (ctypes.c_uint32 * count)()
        self.cp = _CpReg(*TPIDRURW_CP, 0)
        base = ctypes.addressof(self.values)
        pointers = [base + 4 * i for i in range(count)]
        if cp:
            regs, pointers = regs + [A.UC_ARM_REG_CP_REG], pointers + [ctypes.addressof(self.cp)]
        self.count = len(regs)
        self.ids = (ctypes.c_int * self.count)(*regs)
        self.pointers = (ctypes.c_void_p * self.count)(*pointers)


class _BlockLen(ctypes.Structure):
    _fields_ = [("address", ctypes.c_uint32), ("generation", ctypes.c_uint32),
                ("size", ctypes.c_uint32), ("insns", ctypes.c_uint32)]


class _ICount(ctypes.Structure):
    """Mirror of ``icount_t`` in _icount.c."""

    _fields_ = [("count", ctypes.c_uint64), ("limit", ctypes.c_uint64),
                ("block", ctypes.c_uint64), ("base", ctypes.c_uint64),
                ("refused", ctypes.c_uint64), ("stop_at", ctypes.c_uint64),
                ("tb_end", ctypes.c_uint64),
                ("refused_size", ctypes.c_uint32), ("tail", ctypes.c_int32),
                ("stopping", ctypes.c_int32), ("left", ctypes.c_int32),
                ("intno", ctypes.c_int32), ("cpsr_reg", ctypes.c_int32),
                ("generation", ctypes.c_uint32),
                ("emu_stop", ctypes.c_void_p), ("reg_read", ctypes.c_void_p),
                ("mem_read", ctypes.c_void_p), ("emu_start", ctypes.c_void_p),
                ("pc_reg", ctypes.c_int32), ("pc_from", ctypes.c_uint32),
                ("pc", ctypes.c_uint32), ("cpsr", ctypes.c_uint32),
                ("upto", ctypes.c_uint64), ("cache", _BlockLen * 4096)]


def _load_icount():
    spec = importlib.util.find_spec("kernel_model._icount")
    if spec is None or spec.origin is None:
        raise ImportError("kernel_model._icount is not built: install the package "
                          "(pip install -e .) so that its C hook is compiled")
    lib = ctypes.CDLL(spec.origin)
    lib.l4_icount_upto.restype = ctypes.c_uint64
    lib.l4_icount_upto.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint64]
    lib.l4_run.restype = ctypes.c_int
    lib.l4_run.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    return lib


_ICOUNT_LIB = _load_icount()
_BLOCK_HOOK = ctypes.cast(_ICOUNT_LIB.l4_icount_block, ctypes.c_void_p)
_INSN_HOOK = ctypes.cast(_ICOUNT_LIB.l4_icount_insn, ctypes.c_void_p)
_INTR_HOOK = ctypes.cast(_ICOUNT_LIB.l4_icount_intr, ctypes.c_void_p)
_UC_FUNCTIONS = [ctypes.cast(getattr(_ucmod.uclib, name), ctypes.c_void_p).value
                 for name in ("uc_emu_stop", "uc_reg_read", "uc_mem_read", "uc_emu_start")]


def _add_c_hook(uc: Uc, kind: int, callback, data, begin: int = 1, end: int = 0):
    """Install a C function as a unicorn hook (the Python binding takes Python callables)."""
    handle = _ucmod.uc_hook_h()
    err = _ucmod.uclib.uc_hook_add(uc._uch, ctypes.byref(handle), kind, callback,
                                   ctypes.byref(data), ctypes.c_uint64(begin), ctypes.c_uint64(end))
    if err:
        raise RuntimeError(f"unicorn refused a hook ({err})")
    return handle


@dataclass(frozen=True)
class Trap:
    """Why a quantum ended early. ``kind``: svc, fault, undef."""

    kind: str
    pc: int
    thumb: bool
    address: int = 0
    access: int = 0        # MEM_R / MEM_W / MEM_X for faults
    present: bool = False  # the page was mapped (a rights violation)

    def __init__(self, kind: str, pc: int, thumb: bool, address: int = 0, access: int = 0,
                 present: bool = False):
        fields = self.__dict__   # faster than the generated frozen __init__ (see MsgTag)
        fields["kind"], fields["pc"], fields["thumb"] = kind, pc, thumb
        fields["address"], fields["access"], fields["present"] = address, access, present


class ArmEngine:
    """The unicorn instance of one task and the thread currently loaded in it."""

    def __init__(self, space):
        self.uc = Uc(UC_ARCH_ARM, UC_MODE_ARM)
        # reg/set_reg call libunicorn directly: the binding's reg_read costs microseconds
        self._value = ctypes.c_uint32()
        self._value_ref = ctypes.byref(self._value)
        self._frame_in = _RegBatch(FRAME_READ, cp=True)
        self._frame_out = _RegBatch(FRAME_WRITE, cp=False)
        self._syscall_in = _RegBatch(SYSCALL_READ, cp=False)
        self._result_out = _RegBatch(RESULT_WRITE, cp=False)
        self.current = None
        self._trap: Trap | None = None
        self._icount = _ICount(cpsr_reg=CPSR, pc_reg=PC, generation=1,
                               emu_stop=_UC_FUNCTIONS[0], reg_read=_UC_FUNCTIONS[1],
                               mem_read=_UC_FUNCTIONS[2], emu_start=_UC_FUNCTIONS[3])
        self._icount_ref = ctypes.byref(self._icount)
        self.run_from = 0   # PC at the start of the last ``run``, and where it left the thread
        self.run_to = 0
        _add_c_hook(self.uc, UC_HOOK_BLOCK, _BLOCK_HOOK, self._icount)
        _add_c_hook(self.uc, UC_HOOK_INTR, _INTR_HOOK, self._icount)
        self.uc.hook_add(UC_HOOK_MEM_UNMAPPED, self._on_memory, False)
        self.uc.hook_add(UC_HOOK_MEM_PROT, self._on_memory, True)
        self._blank = self.uc.context_save()
        space.attach_unicorn(self.uc, self._code_changed)

    def _code_changed(self) -> None:
        """Code or mappings changed: cached block lengths may be stale."""
        self._icount.generation += 1

    # --- hooks: record and stop, nothing else ----------------------------------------
    def _pc_thumb(self):
        return self.reg(PC), self.thumb

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
            self.uc.context_update(self.current.arm_context)
        self.uc.context_restore(thread.arm_context)
        self.current = thread

    def forget(self, thread) -> None:
        """``thread`` is dead: unload it, keeping its last registers for a post-mortem."""
        if self.current is thread:
            thread.arm_context = self.uc.context_save()
            self.current = None

    def read_registers(self) -> list[int]:
        """r0–r12, sp, lr, pc, cpsr of the loaded thread."""
        return self.read_frame_registers()[:17]

    def read_frame_registers(self) -> list[int]:
        """r0–r12, sp, lr, pc, cpsr, TPIDRURO, TPIDRURW of the loaded thread (one call)."""
        values = self._read_batch(self._frame_in)
        values.append(self._frame_in.cp.val & 0xFFFFFFFF)
        return values

    def write_frame_registers(self, values: list[int]) -> None:
        """Write r0–r12, sp, lr, cpsr, pc, TPIDRURO in this order (``FRAME_WRITE``): CPSR
        before PC, so that bit 0 of the PC picks the instruction set (one call)."""
        self._write_batch(self._frame_out, values)

    def syscall_registers(self) -> list[int]:
        """r0, r2, r3, r4, r5 of the loaded thread (one call)."""
        return self._read_batch(self._syscall_in)

    def set_result_registers(self, tag: int, label: int) -> None:
        """r0 and r4: an invocation's result tag and label (one call)."""
        self._write_batch(self._result_out, (tag, label))

    def _read_batch(self, batch: _RegBatch) -> list[int]:
        err = _ucmod.uclib.uc_reg_read_batch(self.uc._uch, batch.ids, batch.pointers, batch.count)
        if err:
            raise UcError(err)
        return batch.values[:]

    def _write_batch(self, batch: _RegBatch, values) -> None:
        batch.values[:] = values   # ctypes keeps the low 32 bits of each, as set_reg does
        err = _ucmod.uclib.uc_reg_write_batch(self.uc._uch, batch.ids, batch.pointers, batch.count)
        if err:
            raise UcError(err)

    def tpidrurw(self) -> int:
        return self.uc.reg_read(A.UC_ARM_REG_CP_REG, TPIDRURW_CP)

    def set_tpidrurw(self, value: int) -> None:
        self.uc.reg_write(A.UC_ARM_REG_CP_REG, TPIDRURW_CP + (value & 0xFFFFFFFF,))

    def reg(self, reg: int) -> int:
        """A 32-bit register (r0–r12, sp, lr, pc, cpsr, TPIDRURO) of the loaded thread."""
        err = _ucmod.uclib.uc_reg_read(self.uc._uch, reg, self._value_ref)
        if err:
            raise UcError(err)
        return self._value.value

    def set_reg(self, reg: int, value: int) -> None:
        self._value.value = value & 0xFFFFFFFF
        err = _ucmod.uclib.uc_reg_write(self.uc._uch, reg, self._value_ref)
        if err:
            raise UcError(err)

    def set_pc(self, pc: int, thumb: bool) -> None:
        """Unicorn takes the instruction set from bit 0 of a PC write."""
        self.set_reg(PC, (pc & ~1) | int(thumb))

    @property
    def thumb(self) -> bool:
        return bool(self.reg(CPSR) & CPSR_THUMB)

    # --- running ----------------------------------------------------------------------
    def run(self, limit: int) -> tuple[int, Trap | None]:
        """Run the loaded thread for at most ``limit`` instructions (a little more only where
        unicorn will not stop, inside a Thumb IT block). Returns how many completed and the
        trap that ended the run early, if any; ``run_from`` and ``run_to`` are the PC before
        and after."""
        c = self._icount
        c.count, c.limit = 0, limit
        trap = self._emulate()
        self.run_from = c.pc_from
        if trap is None:  # stopped before the block that would cross the limit
            if c.count == limit:
                self.run_to = c.pc
                return limit, None
            trap = self._run_tail()
            if trap is None:
                self.run_to = c.pc
                end = c.refused + c.refused_size if c.left else c.pc
                return self._upto(end), None
        if trap.kind != "svc":
            self.set_pc(trap.pc, trap.thumb)
            self.run_to = self.reg(PC)
        else:
            self.run_to = c.pc
        if trap.kind == "fault" and trap.access == MEM_X:
            return c.count, trap  # fetching a new block failed: the blocks entered completed
        done = c.upto if c.intno >= 0 else self._upto(trap.pc)   # (l4_run counted to an svc)
        return done + (trap.kind == "svc"), trap

    def _upto(self, pc: int) -> int:
        return _ICOUNT_LIB.l4_icount_upto(self._icount_ref, self.uc._uch, pc)

    def _emulate(self) -> Trap | None:
        """One emu_start from the thread's PC (``l4_run``, which also reads PC and CPSR
        before and after); exceptions raised in Python hooks are re-raised as
        ``Uc.emu_start`` does."""
        self._trap = None
        uc, c = self.uc, self._icount
        uc._hook_exception = None
        if _ICOUNT_LIB.l4_run(self._icount_ref, uc._uch):
            if self._trap is None:  # unicorn reports undefined instructions this way
                self._trap = Trap("undef", c.pc, bool(c.cpsr & CPSR_THUMB))
        elif uc._hook_exception is not None:
            raise uc._hook_exception
        if c.intno >= 0:  # unicorn leaves PC after the svc (or bkpt)
            pc, thumb = c.pc, bool(c.cpsr & CPSR_THUMB)
            kind = "svc" if c.intno == INTR_SVC else "undef"  # bkpt: as undefined
            self._trap = Trap(kind, (pc - (2 if thumb else 4)) & 0xFFFFFFFF, thumb)
        return self._trap

    def _run_tail(self) -> Trap | None:
        """Run the refused block up to its ``stop_at``: the block is translated again with
        a per-instruction hook, then once more without it."""
        c = self._icount
        start, end = c.refused, c.refused + c.refused_size
        c.tail, c.stopping, c.left = 1, 0, 0
        hook = _add_c_hook(self.uc, UC_HOOK_CODE, _INSN_HOOK, c, start, end - 1)
        self.uc.ctl_remove_cache(start, end)
        try:
            return self._emulate()
        finally:
            _ucmod.uclib.uc_hook_del(self.uc._uch, hook)
            self.uc.ctl_remove_cache(start, end)
            c.tail = 0
