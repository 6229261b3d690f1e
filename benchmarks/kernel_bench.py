"""Kernel-model benchmark: prints a table of host speed, as ratios to baselines measured in
the same run (never asserted in tests).

1. ARM instructions per second, bare unicorn (no hooks) against the model (quanta, exact
   instruction counting), on the same code:
   - a 4-instruction loop (subs/add/add/bne, then udf): the worst case for counting per
     basic block, one block per iteration;
   - demos/arm/compute, a static musl program (compiled code, a few syscalls): under bare
     unicorn its syscalls are answered in the SVC hook, through the model the thread is
     alien and a Python exception handler answers them.
2. Host µs per null IPC round trip between two ARM threads (demos/arm/native ping-pong),
   same core and across cores.

Run: python benchmarks/kernel_bench.py
"""

from __future__ import annotations

import io
import struct
import sys
import time
from pathlib import Path

from elftools.elf.elffile import ELFFile
from unicorn import UC_ARCH_ARM, UC_HOOK_INTR, UC_MODE_ARM, UC_PROT_ALL, Uc, UcError
from unicorn import arm_const as A

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kernel_model.boot import STACK_PAGES, STACK_TOP, load_native_elf, spawn_native  # noqa: E402
from kernel_model.caps import MEM_RW, MEM_RX, OBJ_ALL, OBJ_R, OBJ_W, selector  # noqa: E402
from kernel_model.ipc_abi import EXC_CPSR, EXC_PC, EXC_TPIDRURO, EXC_WORDS, MsgTag  # noqa: E402
from kernel_model.machine import Machine  # noqa: E402
from kernel_model.physmem import PAGE_SIZE  # noqa: E402
from table import print_table  # noqa: E402  (benchmarks/, run as scripts)

LOOP = struct.pack("<5I", 0xE2500001, 0xE2811001, 0xE2822001, 0x1AFFFFFB, 0xE7F000F0)
ITERATIONS = 2_000_000
INSTRUCTIONS = 4 * ITERATIONS
COMPUTE = (ROOT / "demos/arm/compute").read_bytes()
COMPUTE_ARGV = [b"compute", b"3000000"]


def bare_loop() -> float:
    uc = Uc(UC_ARCH_ARM, UC_MODE_ARM)
    uc.mem_map(0x10000, 0x1000, UC_PROT_ALL)
    uc.mem_write(0x10000, LOOP)
    uc.reg_write(A.UC_ARM_REG_R0, ITERATIONS)
    start = time.perf_counter()
    try:
        uc.emu_start(0x10000, 0x20000)
    except UcError:
        pass  # the udf at the end
    return time.perf_counter() - start


def model_loop() -> float:
    machine = Machine(cores=1)
    kernel = machine.kernel
    task = kernel.create_task("loop")
    kernel.alloc_page(task, 0x10000, MEM_RX)
    task.space.poke(0x10000, LOOP)
    thread = kernel.create_thread(task, "loop.main")
    machine.set_thread_start(thread, 0x10000, STACK_TOP - 16, {0: ITERATIONS})
    machine.start_thread(thread)
    start = time.perf_counter()
    machine.run()
    elapsed = time.perf_counter() - start
    assert machine.instructions() == INSTRUCTIONS, machine.instructions()
    return elapsed


# --- a static Linux program, bare and through the model -------------------------------
def initial_stack(argv: list[bytes]) -> tuple[int, bytes]:
    """sp and the bytes from sp to STACK_TOP: argc, argv, no environment, the auxv musl's
    start-up reads (AT_PHDR, AT_PHNUM, AT_PAGESZ, AT_RANDOM), the strings."""
    elf = ELFFile(io.BytesIO(COMPUTE))
    phdr = next(s["p_vaddr"] for s in elf.iter_segments() if s["p_type"] == "PT_PHDR")
    strings = b"".join(a + b"\0" for a in argv) + bytes(16)  # the 16 bytes: AT_RANDOM
    base = STACK_TOP - len(strings)
    pointers = [base + sum(len(a) + 1 for a in argv[:i]) for i in range(len(argv))]
    auxv = [3, phdr, 5, elf["e_phnum"], 6, PAGE_SIZE, 25, STACK_TOP - 16, 0, 0]
    words = [len(argv)] + pointers + [0, 0] + auxv
    sp = (base - 4 * len(words)) & ~15
    image = struct.pack(f"<{len(words)}I", *words)
    return sp, image + bytes(base - sp - len(image)) + strings


def linux_call(number: int, args: list[int], read, out: bytearray) -> int | None:
    """The syscalls compute makes; None for exit."""
    if number in (1, 248):                        # exit, exit_group
        return None
    if number == 146:                             # writev(fd, iov, count)
        iov = struct.unpack(f"<{2 * args[2]}I", read(args[1], 8 * args[2]))
        for base, length in zip(iov[::2], iov[1::2]):
            out += read(base, length)
        return sum(iov[1::2])
    # set_tls, set_tid_address, ioctl (not a tty); anything else ENOSYS
    return {0xF0005: 0, 256: 1, 54: -25}.get(number, -38) & 0xFFFFFFFF


def bare_compute() -> tuple[float, bytes]:
    uc = Uc(UC_ARCH_ARM, UC_MODE_ARM)
    elf = ELFFile(io.BytesIO(COMPUTE))
    for seg in (s for s in elf.iter_segments() if s["p_type"] == "PT_LOAD"):
        start = seg["p_vaddr"] & ~(PAGE_SIZE - 1)
        uc.mem_map(start, -(-(seg["p_vaddr"] + seg["p_memsz"] - start) // PAGE_SIZE) * PAGE_SIZE,
                   UC_PROT_ALL)
        uc.mem_write(seg["p_vaddr"], seg.data())
    uc.mem_map(STACK_TOP - STACK_PAGES * PAGE_SIZE, STACK_PAGES * PAGE_SIZE, UC_PROT_ALL)
    sp, image = initial_stack(COMPUTE_ARGV)
    uc.mem_write(sp, image)
    uc.reg_write(A.UC_ARM_REG_SP, sp)
    uc.reg_write(A.UC_ARM_REG_FPEXC, 0x40000000)
    out, running = bytearray(), [True]

    def on_svc(uc, intno, _):
        args = [uc.reg_read(A.UC_ARM_REG_R0 + i) for i in range(6)]
        number = uc.reg_read(A.UC_ARM_REG_R7)
        result = linux_call(number, args, lambda a, n: bytes(uc.mem_read(a, n)), out)
        if number == 0xF0005:
            uc.reg_write(A.UC_ARM_REG_C13_C0_3, args[0])
        if result is None:
            running[0] = False
            uc.emu_stop()
        else:
            uc.reg_write(A.UC_ARM_REG_R0, result)
    uc.hook_add(UC_HOOK_INTR, on_svc)
    pc = elf["e_entry"]
    start = time.perf_counter()
    while running[0]:
        uc.emu_start(pc, 1 << 32)
        pc = uc.reg_read(A.UC_ARM_REG_PC)
    return time.perf_counter() - start, bytes(out)


def model_compute() -> tuple[float, bytes, int]:
    machine = Machine(cores=1)
    kernel = machine.kernel
    task = kernel.create_task("compute")
    entry = load_native_elf(kernel, task, COMPUTE)
    kernel.alloc_range(task, STACK_TOP - STACK_PAGES * PAGE_SIZE, STACK_PAGES * PAGE_SIZE, MEM_RW)
    sp, image = initial_stack(COMPUTE_ARGV)
    task.space.poke(sp, image)
    thread = kernel.create_thread(task, "compute.main")
    machine.set_thread_start(thread, entry, sp)
    thread.alien = True
    out = bytearray()

    def linux(ctx):  # the exception handler: one syscall per exception IPC
        yield ctx.wait()
        while True:
            frame = ctx.mrs(EXC_WORDS)
            result = linux_call(frame[9], frame[2:8], lambda a, n: kernel.copy_in(task, a, n), out)
            if result is None:
                return  # no reply: the program is over
            if frame[9] == 0xF0005:
                frame[EXC_TPIDRURO] = frame[2]
            thumb = frame[EXC_CPSR] & 0x20
            frame[2], frame[EXC_PC] = result, frame[EXC_PC] + (2 if thumb else 4)  # past the svc
            ctx.set_mrs(frame)
            yield ctx.reply_and_wait(MsgTag(0, EXC_WORDS))
    handler = kernel.create_thread(kernel.create_task("linux"), "linux.main", linux)
    machine.start_thread(handler, prio=2)
    kernel.install_cap(task, 12, handler, OBJ_ALL)
    thread.exc_handler = selector(12)
    machine.start_thread(thread)
    start = time.perf_counter()
    machine.run()
    return time.perf_counter() - start, bytes(out), thread.stats.instructions


def pingpong(rounds: int, client_core: int) -> float:
    native = lambda name: (ROOT / "demos/arm/native" / name).read_bytes()  # noqa: E731
    machine = Machine(cores=2)
    kernel = machine.kernel
    server = spawn_native(machine, "server", native("pingpong_server"))
    gate = kernel.create_gate("pp", server, 0x40)
    kernel.install_cap(server.task, 10, gate, OBJ_ALL)
    client = spawn_native(machine, "client", native("pingpong_client"), start=False)
    kernel.give_cap(server.task, gate, client.task, OBJ_R | OBJ_W, slot=10)
    machine.set_thread_start(client, 0x10000, STACK_TOP - 16, {0: selector(10), 1: rounds})
    machine.start_thread(client, core=client_core)
    start = time.perf_counter()
    machine.run()
    return (time.perf_counter() - start) / rounds * 1e6


def main() -> None:
    bare = min(bare_loop() for _ in range(3))
    model = min(model_loop() for _ in range(3))
    (bare_c, out_bare), (model_c, out_model, count) = (
        min(bare_compute() for _ in range(3)), min(model_compute() for _ in range(3)))
    assert out_bare == out_model and b"primes<10000=1229" in out_bare, (out_bare, out_model)
    same = pingpong(5000, 0)
    cross = pingpong(5000, 1)
    rows = [
        ("ARM instr/s, 4-instruction loop, bare", f"{INSTRUCTIONS / bare / 1e6:.1f} M", "1.00"),
        ("ARM instr/s, 4-instruction loop, model", f"{INSTRUCTIONS / model / 1e6:.1f} M",
         f"{bare / model:.2f}"),
        ("ARM instr/s, compute demo, bare", f"{count / bare_c / 1e6:.1f} M", "1.00"),
        ("ARM instr/s, compute demo, model", f"{count / model_c / 1e6:.1f} M",
         f"{bare_c / model_c:.2f}"),
        ("null IPC round trip, same core", f"{same:.1f} µs", "1.00"),
        ("null IPC round trip, across cores", f"{cross:.1f} µs", f"{cross / same:.2f}"),
    ]
    print_table(("measure", "host", "ratio"), rows)


if __name__ == "__main__":
    main()
