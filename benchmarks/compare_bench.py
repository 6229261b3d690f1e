"""Compare benchmark (issue 4): the demo programs under each composition, and the host cost
of a syscall in the fragmented composition against bare unicorn.

1. One table: each demo program (hello, forkexec, pipes, mmapcow, fileio, sysall) under
   monolithic, fragmented, mixed and the planner's composition for it (``l4shell plan``'s
   proposal from a fragmented profile on the same cores): output identical to monolithic,
   instructions, syscalls, IPC within and across cores, page faults, switches, modeled
   cycles, the ratio to monolithic, and host milliseconds of the run (boot excluded is
   not possible here: each row is a whole ``analysis.run``).
2. Host µs per null syscall (getppid in demos/arm/syscall_loop), by the slope between two
   sizes so start-up cancels out: bare unicorn with a Python hook (``syscall_bench``) vs
   the model in the fragmented composition (every syscall an exception IPC to the
   syscalls task, then an IPC to the process fragment's task). Goal: within 6×. Below bare,
   what no kernel code can save: leaving the emulator at each svc, the trace events (one per
   kernel-visible event, DESIGN principle 5), and the fragments' own Python code (host time
   inside the servers' generators); their sum is the model with a kernel costing nothing.

Nothing is asserted; host figures depend on the host.
Run: python benchmarks/compare_bench.py [--quick] [--cores N]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from fragments.linux.system import FRAGMENTS  # noqa: E402
from fragments.runtime import graph  # noqa: E402
from l4shell.analysis import COLUMNS, Program, run  # noqa: E402
from syscall_bench import (StopAtSvc, bare_syscall_loop, events_per_syscall,  # noqa: E402
                           model_syscall_loop, servers_us, slope_us)

DEMOS = ROOT / "demos" / "arm"
PROGRAMS = ("hello", "forkexec", "pipes", "mmapcow", "fileio", "sysall")
COMPOSITIONS = ("monolithic", "fragmented", "mixed")


def planned(program: Program, cores: int, out: Path) -> str:
    """The planner's composition for ``program`` (from a fragmented profile), written to ``out``."""
    profile = run(program, "fragmented", cores).profile
    out.write_text(graph.plan(profile, FRAGMENTS, cores).composition(f"plan-{program.name}").to_toml())
    return str(out)


def compare_table(cores: int, tmp: Path) -> Table:
    table = Table(title=f"demo programs on {cores} cores, seed 0 (ratio: cycles / monolithic)")
    for column in ("program", "composition", "identical", *COLUMNS, "ratio", "host ms"):
        table.add_column(column, justify="left" if column in ("program", "composition") else "right")
    for name in PROGRAMS:
        program = Program.from_args(str(DEMOS / name), [], [])
        names = list(COMPOSITIONS) + [planned(program, cores, tmp / f"{name}.plan.toml")]
        first = None
        for composition in names:
            start = time.perf_counter()
            result = run(program, composition, cores)
            host_ms = (time.perf_counter() - start) * 1e3
            first = first or result
            m = result.measures()
            table.add_row(name if result is first else "", Path(composition).stem.replace(f"{name}.", ""),
                          "yes" if result.result() == first.result() else "no",
                          *(f"{m[c]:,}" for c in COLUMNS),
                          f"{m['cycles'] / first.measures()['cycles']:.2f}", f"{host_ms:.0f}")
    return table


def syscall_table(n: int) -> Table:
    """Host µs per null syscall: bare, the floor any model of this design pays, the
    fragments' own Python code, and the model in two compositions."""
    bare = slope_us(bare_syscall_loop, n, 5)
    stop_at_svc = slope_us(lambda k: bare_syscall_loop(k, StopAtSvc), n, 5)
    events, per_event = events_per_syscall("fragmented", kernel_only=True)
    servers = servers_us(n, "fragmented")
    floor = stop_at_svc + events * per_event + servers
    rows = [("bare unicorn + Python hook", bare, ""),
            ("  leaving and re-entering unicorn at each svc", stop_at_svc, "bare included"),
            ("  the kernel's trace events of a fragmented syscall", events * per_event,
             f"{events:.0f} events, {per_event:.2f} µs each"),
            ("  the fragments' own Python code, fragmented", servers,
             "time inside the servers: handlers, bindings, UTCB, their events"),
            ("  the three above: the kernel at no cost", floor, "")]
    for composition in ("monolithic", "fragmented"):
        rows.append((f"model, {composition}", slope_us(lambda k: model_syscall_loop(k, composition), n, 2), ""))
    table = Table(title=f"host µs per null syscall (getppid), slope between N={n:,} and {n // 10:,}")
    for column in ("", "µs per syscall", "× bare", "notes"):
        table.add_column(column, justify="right" if column.startswith(("µs", "×")) else "left")
    for label, us, note in rows:
        table.add_row(label, f"{us:.2f}", f"{us / bare:.1f}", note)
    table.caption = "goal (issue 4): fragmented within 6× of bare"
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller syscall loop")
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args(argv)
    console = Console(width=220 if not sys.stdout.isatty() else None)
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        console.print(compare_table(args.cores, Path(tmp)))
    console.print(syscall_table(4_000 if args.quick else 20_000))


if __name__ == "__main__":
    main()
