"""Debugger costs: host ms per `step` and per `stepi`, and reverse-step latency against
history length (by deterministic re-execution from boot).

    python benchmarks/debugger_bench.py [--quick]

Prints one table. Host time only; nothing here feeds the model.
"""

from __future__ import annotations

import argparse
import time

from l4shell.language import Options, execute, new_debugger
from table import print_table  # noqa: E402  (benchmarks/, run as scripts)


def per_command(line: str, repeat: int) -> float:
    dbg = new_debugger(Options("fragmented", 2, 0))
    execute(dbg, "start compute 100000000")
    execute(dbg, "next syscall")
    start = time.perf_counter()
    for _ in range(repeat):
        execute(dbg, line)
    return (time.perf_counter() - start) * 1000 / repeat


def reverse_latency(program: str, history: int) -> tuple[float, int, float]:
    """(forward seconds, instructions reached, ms for one reverse-step)."""
    dbg = new_debugger(Options("fragmented", 2, 0))
    execute(dbg, f"start {program}")
    session = dbg.session
    start = time.perf_counter()
    while session.machine.instructions() < history and session.step() is not None:
        pass
    forward = time.perf_counter() - start
    reached = session.machine.instructions()
    start = time.perf_counter()
    execute(dbg, "reverse-step 1")
    return forward, reached, (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rows = [("step (one kernel event)", f"{per_command('step', 50 if args.quick else 300):.2f} ms", ""),
            ("stepi (one ARM instruction)", f"{per_command('stepi', 50 if args.quick else 300):.2f} ms", "")]
    lengths = (10**5, 10**6) if args.quick else (10**5, 10**6, 10**7)
    for program in ("compute 100000000", "syscall_loop 1000000"):
        for history in lengths:
            forward, reached, back = reverse_latency(program, history)
            rows.append((f"reverse-step 1, {program.split()[0]}, history {reached:,} instr",
                         f"{back:,.0f} ms", f"forward run took {forward * 1000:,.0f} ms"))
    print_table(("measure", "host", "notes"), rows)


if __name__ == "__main__":
    main()
