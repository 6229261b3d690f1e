"""Kernel-model benchmark: prints a table of host speed, as ratios to baselines measured in
the same run (never asserted in tests).

1. ARM instructions per second: the same loop code (subs/add/add/bne, then udf) run by bare
   unicorn (count=0, no hooks) and through the model (quanta, exact instruction counting).
2. Host µs per null IPC round trip between two ARM threads (demos/arm/native ping-pong),
   same core and across cores.

Run: python benchmarks/kernel_bench.py
"""

from __future__ import annotations

import struct
import sys
import time
from pathlib import Path

from unicorn import UC_ARCH_ARM, UC_MODE_ARM, UC_PROT_EXEC, UC_PROT_READ, Uc, UcError
from unicorn.arm_const import UC_ARM_REG_R0

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kernel_model.boot import STACK_TOP, spawn_native  # noqa: E402
from kernel_model.caps import MEM_RX, OBJ_ALL, OBJ_R, OBJ_W, selector  # noqa: E402
from kernel_model.machine import Machine  # noqa: E402

LOOP = struct.pack("<5I", 0xE2500001, 0xE2811001, 0xE2822001, 0x1AFFFFFB, 0xE7F000F0)
ITERATIONS = 2_000_000
INSTRUCTIONS = 4 * ITERATIONS


def bare_loop() -> float:
    uc = Uc(UC_ARCH_ARM, UC_MODE_ARM)
    uc.mem_map(0x10000, 0x1000, UC_PROT_READ | UC_PROT_EXEC)
    uc.mem_write(0x10000, LOOP)
    uc.reg_write(UC_ARM_REG_R0, ITERATIONS)
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
    kernel.alloc_range(task, STACK_TOP - 0x1000, 0x1000, 0x6)
    thread = kernel.create_thread(task, "loop.main")
    machine.set_thread_start(thread, 0x10000, STACK_TOP - 16, {0: ITERATIONS})
    machine.start_thread(thread)
    start = time.perf_counter()
    machine.run()
    elapsed = time.perf_counter() - start
    assert machine.instructions() == INSTRUCTIONS, machine.instructions()
    return elapsed


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
    same = pingpong(5000, 0)
    cross = pingpong(5000, 1)
    rows = [
        ("ARM instr/s, bare unicorn", f"{INSTRUCTIONS / bare / 1e6:.1f} M", "1.00"),
        ("ARM instr/s, through the model", f"{INSTRUCTIONS / model / 1e6:.1f} M", f"{bare / model:.2f}"),
        ("null IPC round trip, same core", f"{same:.1f} µs", "1.00"),
        ("null IPC round trip, across cores", f"{cross:.1f} µs", f"{cross / same:.2f}"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'host':>10}  ratio")
    for name, value, ratio in rows:
        print(f"{name:<{width}}  {value:>10}  {ratio}")


if __name__ == "__main__":
    main()
