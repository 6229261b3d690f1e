"""Debugger costs: host ms per `step` and per `stepi`, and reverse-step latency against
history length: by re-execution from boot (the baseline) and from the latest checkpoint
(a frozen copy of the process, see l4shell/checkpoints.py).

    python benchmarks/debugger_bench.py [--quick]

Prints one table. Each reverse-step is measured in a process of its own (checkpoints fork
it). Host time only; nothing here feeds the model.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
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


def reverse_latency(program: str, history: int, checkpoints: bool) -> dict:
    """Run ``program`` for ``history`` instructions, then time one reverse-step (in a
    process of its own: see ``one_reverse_step``)."""
    result = subprocess.run([sys.executable, __file__, "--one", program, str(history)]
                            + (["--checkpoints"] if checkpoints else []),
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout.splitlines()[-1])


def one_reverse_step(program: str, history: int, checkpoints: bool) -> None:
    """Print, as JSON: forward seconds, instructions reached, ms of one reverse-step and
    the checkpoints kept. With checkpoints, the answer comes from the resumed process."""
    from l4shell.checkpoints import Checkpoints
    dbg = new_debugger(Options("fragmented", 2, 0))
    execute(dbg, f"start {program}")
    session = dbg.session
    if checkpoints:
        session.checkpoints = Checkpoints.anchor()
        session.checkpoints.resume = lambda message: report(dbg, message["loop"], message)
    start = time.perf_counter()
    while session.machine.instructions() < history and session.step() is not None:
        pass
    forward, reached, began = time.perf_counter() - start, session.machine.instructions(), time.perf_counter()
    dbg.loop = lambda: (forward, reached, began)
    execute(dbg, "reverse-step 1")
    report(dbg, dbg.loop())          # no checkpoint before the target: went back from boot, here
    if session.checkpoints is not None:
        session.checkpoints.finish(0)


def report(dbg, loop: tuple, message: dict | None = None) -> int:
    forward, reached, began = loop
    if message is not None:
        dbg.resume(message)
    back = (time.perf_counter() - began) * 1000
    kept = len(dbg.session.checkpoints.points) if dbg.session.checkpoints else 0
    print(json.dumps({"forward": forward, "reached": reached, "back_ms": back, "kept": kept}), flush=True)
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--one", nargs=2, metavar=("PROGRAM", "HISTORY"), help=argparse.SUPPRESS)
    parser.add_argument("--checkpoints", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        return one_reverse_step(args.one[0], int(args.one[1]), args.checkpoints)
    rows = [("step (one kernel event)", f"{per_command('step', 50 if args.quick else 300):.2f} ms", "", "", ""),
            ("stepi (one ARM instruction)", f"{per_command('stepi', 50 if args.quick else 300):.2f} ms", "", "", "")]
    lengths = (10**5, 10**6) if args.quick else (10**5, 10**6, 10**7)
    for program in ("compute 100000000", "syscall_loop 1000000"):
        for history in lengths:
            boot = reverse_latency(program, history, checkpoints=False)
            frozen = reverse_latency(program, history, checkpoints=True)
            rows.append((f"reverse-step 1, {program.split()[0]}, history {boot['reached']:,} instr",
                         f"{boot['back_ms']:,.0f} ms", f"{frozen['back_ms']:,.0f} ms",
                         f"{frozen['back_ms'] / boot['back_ms']:.2f}",
                         f"forward run {boot['forward']:,.1f} s; {frozen['kept']} checkpoints kept"))
    print_table(("measure", "from boot", "from a checkpoint", "ratio", "notes"), rows)


if __name__ == "__main__":
    main()
