"""``l4shell compare | minimize | plan | isolation``: what a cut costs and what it buys.

- ``compare [--compositions A,B,…] PROGRAM [ARGS…]`` runs the program under each
  composition and prints one table: output identical to the first row's (stdout, stderr
  and exit status), instructions, syscalls, IPC messages within one core and across cores,
  page faults, context and address-space switches, modeled cycles, ratio to the first row.
- ``minimize PROGRAM [ARGS…] [-o FILE]`` profiles the program, keeps the smallest closed set
  of fragments (``graph.minimal_set``: the entry fragments, those serving its syscalls and
  what they reached), writes that composition (``subset = true``) and runs the program on it.
- ``plan --cores K PROGRAM [ARGS…] | --trace FILE.jsonl`` profiles the program under
  ``fragmented`` on K cores (or reads a trace), proposes merges, replicas and a placement
  (``graph.plan``), writes the composition and prints predicted and measured cycles next
  to monolithic and fragmented.
- ``isolation COMPOSITION [PROGRAM ARGS…]`` prints, per fragment, the memory and
  capabilities it can reach (``fragments.runtime.isolation``) — after boot, or with a
  program at the moment it enters its last syscall (found by a first run; runs are
  deterministic, so a second run stops there).

Programs are placed as ``l4shell run`` places them (/bin/hello, /bin/NAME, ``--add``) and
read an empty standard input. A user's mistake is one line on stderr and a non-zero status.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from l4shell.disk import add_disk_options

from fragments.linux.elf import ExecFormatError
from fragments.linux.system import ENTRY, FRAGMENTS, boot_linux
from fragments.runtime import composition as compositions
from fragments.runtime import graph, isolation
from kernel_model.machine import Machine


class UserError(Exception):
    """A mistake of the user's: printed as one line; ``status`` is the exit status."""

    def __init__(self, message: str, status: int = 2):
        super().__init__(message)
        self.status = status


# --- running a program ------------------------------------------------------------------
@dataclass
class Program:
    path: str                     # as the user gave it (argv[0])
    data: bytes
    args: list[str]
    adds: list[tuple[str, bytes]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return os.path.basename(self.path)

    @classmethod
    def from_args(cls, program: str, args: list[str], adds: list[str]) -> "Program":
        try:
            data = Path(program).read_bytes()
        except OSError as error:
            raise UserError(f"{program}: {error.strerror}", 127) from None
        placed = []
        for spec in adds:
            host, sep, path = spec.rpartition(":")
            if not sep or not path.startswith("/"):
                raise UserError(f"--add {spec}: expected HOST:/PATH")
            try:
                placed.append((path, Path(host).read_bytes()))
            except OSError as error:
                raise UserError(f"--add {host}: {error.strerror}", 127) from None
        return cls(program, data, list(args), placed)


@dataclass
class Run:
    composition: str
    machine: Machine
    system: object
    stdout: bytes
    stderr: bytes
    status: int | None
    profile: graph.Profile
    pid: int

    def result(self) -> tuple:
        return self.stdout, self.stderr, self.status

    def measures(self) -> dict[str, int]:
        c, m = self.machine.trace.counters, self.machine
        return {"instructions": m.instructions(), "syscalls": sum(c.syscalls.values()),
                "IPC 1 core": self.profile.messages["local"],
                "IPC x-core": self.profile.messages["remote"],
                "page faults": sum(c.faults.values()), "switches": c.kinds["schedule"],
                "AS switches": sum(core.space_switches for core in m.cores),
                "cycles": m.modeled_time()}


def boot(composition: str, cores: int, seed: int):
    try:
        machine = Machine(cores=cores, seed=seed)
        return machine, boot_linux(machine, composition)
    except ValueError as error:        # CompositionError, a bad core count
        raise UserError(str(error)) from None


def run(program: Program, composition: str, cores: int = 1, seed: int = 0, stop=None,
        disk=None) -> Run:
    """Boot ``composition``, place the files as ``l4shell run`` does, run the program to
    its end (or until ``stop(event)``); stdout and stderr are collected. ``disk``: options
    with ``disk``/``key_file``/``mount`` — a private copy of the image is mounted, so every
    run starts from the same bytes and the user's file is never written."""
    from l4shell.cli import DEFAULT_ENV, DEMOS      # here: cli imports this module
    machine, system = boot(composition, cores, seed)
    if disk is not None and disk.disk is not None:
        _attach_copy(system, disk)
    stdout, stderr = bytearray(), bytearray()
    machine.uart.sink = stdout.extend
    if system.console is not None:
        system.console.err_sink = stderr.extend
    hello = DEMOS / "hello"
    if hello.exists():
        system.fs.add_file(b"/bin/hello", hello.read_bytes())
    system.fs.add_file(f"/bin/{program.name}".encode(), program.data)
    for path, data in program.adds:
        system.fs.add_file(path.encode(), data)
    machine.uart.feed(b"")
    try:
        pid = system.spawn(f"/bin/{program.name}", [program.path] + program.args, DEFAULT_ENV)
    except ExecFormatError as error:
        raise UserError(f"{program.path}: cannot execute: {error}", 126) from None
    machine.run(predicate=stop)
    if machine.crashes:
        raise UserError(f"model error under {composition}: {machine.crashes[0]}", 70)
    return Run(composition, machine, system, bytes(stdout), bytes(stderr), system.exit_status(pid),
               graph.profile(graph.event_dicts(machine.trace)), pid)


def _attach_copy(system, disk) -> None:
    import shutil
    import tempfile
    from types import SimpleNamespace
    from l4shell.disk import attach_disk
    with tempfile.NamedTemporaryFile(prefix="l4shell-compare-", suffix=".img", delete=False) as copy:
        try:
            with open(disk.disk, "rb") as image:
                shutil.copyfileobj(image, copy)
        except OSError as error:
            raise UserError(f"{disk.disk}: {error.strerror}") from None
    try:
        error = attach_disk(system, SimpleNamespace(disk=copy.name, key_file=disk.key_file, mount=disk.mount))
    finally:
        Path(copy.name).unlink()          # the device keeps its open file
    if error:
        raise UserError(error.replace(copy.name, disk.disk))


# --- compare ------------------------------------------------------------------------------
COLUMNS = ("instructions", "syscalls", "IPC 1 core", "IPC x-core", "page faults", "switches",
           "AS switches", "cycles")


def compare(program: Program, names: list[str], cores: int, seed: int, disk=None) -> list[Run]:
    return [run(program, name, cores, seed, disk=disk) for name in names]


def compare_table(runs: list[Run], title: str = "") -> Table:
    table = Table(title=title or None)
    table.add_column("composition")
    table.add_column("identical")
    for column in COLUMNS:
        table.add_column(column, justify="right")
    table.add_column("ratio", justify="right")
    first = runs[0]
    for r in runs:
        m = r.measures()
        ratio = m["cycles"] / max(first.measures()["cycles"], 1)
        table.add_row(Path(r.composition).stem, "yes" if r.result() == first.result() else "no",
                      *(f"{m[c]:,}" for c in COLUMNS), f"{ratio:.2f}")
    return table


def cmd_compare(args) -> int:
    program = Program.from_args(args.program, args.args, args.add)
    names = [n.strip() for n in args.compositions.split(",") if n.strip()]
    if not names:
        raise UserError("--compositions: name at least one composition")
    runs = compare(program, names, args.cores, args.seed, disk=args)
    _console().print(compare_table(runs, f"{program.name} on {args.cores} core(s), seed {args.seed}"))
    _unfinished(runs)
    return 0 if all(r.result() == runs[0].result() for r in runs) else 1


# --- minimize -----------------------------------------------------------------------------
def minimal_composition(profile: graph.Profile, base: compositions.Composition,
                        name: str) -> compositions.Composition:
    """``base`` with only the fragments the profiled program needs."""
    keep = set(graph.minimal_set(FRAGMENTS, profile.syscalls, ENTRY, profile.reached()))
    tasks = [compositions.TaskSpec(t.name, [f for f in t.fragments if f in keep], t.core)
             for t in base.tasks]
    left_out = [f for f in FRAGMENTS if f not in keep]
    return compositions.Composition(
        name, [t for t in tasks if t.fragments], base.rwx, [d for d in base.duplicate if d in keep],
        f"minimal for {name.removeprefix('minimal-')}: leaves out {', '.join(left_out) or 'nothing'}",
        subset=bool(left_out))


def cmd_minimize(args) -> int:
    program = Program.from_args(args.program, args.args, args.add)
    profiled = run(program, args.composition, args.cores, args.seed)
    base = _load(args.composition, args.cores)
    minimal = minimal_composition(profiled.profile, base, f"minimal-{program.name}")
    out = Path(args.output or f"{program.name}.minimal.toml")
    _write(out, minimal)
    again = run(program, str(out), args.cores, args.seed)
    kept = minimal.fragments()
    console = _console()
    console.print(f"syscalls made: {len(profiled.profile.syscalls)} distinct, "
                  f"{sum(profiled.profile.syscalls.values())} calls "
                  f"({', '.join(sorted(profiled.profile.syscalls))})")
    console.print(f"fragments kept: {len(kept)} of {len(FRAGMENTS)} ({', '.join(kept)})")
    console.print(f"left out: {', '.join(f for f in FRAGMENTS if f not in kept) or 'nothing'}")
    console.print(f"wrote {out}")
    console.print(compare_table([profiled, again]))
    same = again.result() == profiled.result()
    console.print(f"identical output on the minimal composition: {'yes' if same else 'no'}")
    _unfinished([profiled, again])
    return 0 if same else 1


# --- plan ---------------------------------------------------------------------------------
def cmd_plan(args) -> int:
    if args.cores < 1:
        raise UserError("--cores must be at least 1")
    program = Program.from_args(args.program, args.args, args.add) if args.program else None
    if args.trace:
        try:
            profile = graph.profile(graph.read_jsonl(args.trace))
        except (OSError, ValueError, KeyError) as error:
            raise UserError(f"{args.trace}: not a trace in JSON Lines ({error})") from None
    elif program is None:
        raise UserError("plan needs a PROGRAM or --trace FILE.jsonl")
    else:
        profile = run(program, "fragmented", args.cores, args.seed).profile
    isolate = [n.strip() for n in (args.isolate or "").split(",") if n.strip()]
    for name in isolate:
        if name not in FRAGMENTS:
            raise UserError(f"--isolate: no fragment {name!r} (fragments: {', '.join(FRAGMENTS)})")
    proposal = graph.plan(profile, FRAGMENTS, args.cores, isolate=isolate, max_task=args.max_task)
    label = program.name if program else Path(args.trace).stem
    out = Path(args.output or f"{label}.plan.toml")
    _write(out, proposal.composition(f"plan-{label}"))
    console = _console()
    for a, b, calls in proposal.merges:
        console.print(f"merge {a} + {b}: {calls} calls become direct")
    for task, fragments in _tasks(proposal.placement).items():
        console.print(f"task {task} on core {proposal.placement.core_of[task]}: {', '.join(fragments)}")
    if proposal.placement.duplicate:
        console.print(f"a replica per core of: {', '.join(sorted(proposal.placement.duplicate))}")
    console.print(f"wrote {out}")
    costs = graph.CallCosts.from_table()
    table = Table(title=f"modeled cycles on {args.cores} core(s)")
    for column in ("composition", "predicted", "measured", "identical"):
        table.add_column(column, justify="left" if column == "composition" else "right")
    runs = []
    for name in ("monolithic", "fragmented", str(out)):
        predicted = graph.predict(profile, graph.placement_of(_load(name, args.cores)), costs)
        cells = [Path(name).stem, f"{predicted:,}", "", ""]
        if program is not None:
            runs.append(run(program, name, args.cores, args.seed))
            cells[2] = f"{runs[-1].machine.modeled_time():,}"
            cells[3] = "yes" if runs[-1].result() == runs[0].result() else "no"
        table.add_row(*cells)
    console.print(table)
    _unfinished(runs)
    return 0 if all(r.result() == runs[0].result() for r in runs) else 1


def _tasks(placement: graph.Placement) -> dict[str, list[str]]:
    tasks: dict[str, list[str]] = {}
    for fragment, task in placement.task_of.items():
        tasks.setdefault(task, []).append(fragment)
    return tasks


# --- isolation ------------------------------------------------------------------------------
def snapshot(composition: str, program: Program | None, cores: int, seed: int):
    """The booted system, or with a program the system as its main process enters its
    last syscall (its exit)."""
    if program is None:
        return boot(composition, cores, seed)[1]
    first = run(program, composition, cores, seed)
    task = f"{program.name}.{first.pid}"
    last = max((e.seq for e in first.machine.trace.filter(["exception"], task=task)), default=None)
    if last is None:
        raise UserError(f"{program.path} made no syscall under {composition}")
    return run(program, composition, cores, seed, stop=lambda e: e.seq == last).system


def isolation_tables(report: isolation.Report) -> list[Table | str]:
    table = Table(title="what each fragment can reach (live page and capability tables)")
    for column in ("fragment", "task", "shares task with", "tasks reached", "pages", "r-x",
                   "rw-", "rwx", "w+x", "caps", "interfaces", "secrets"):
        table.add_column(column, justify="right" if column in ("pages", "r-x", "rw-", "rwx", "w+x", "caps") else "left")
    for r in report.fragments:
        shared = f"{len(r.colocated)} others" if len(r.colocated) > 3 else ", ".join(r.colocated) or "-"
        table.add_row(r.fragment, r.task, shared, ", ".join(r.tasks[1:]) or "-",
                      str(r.pages()), str(r.pages(0x5)), str(r.pages(0x6)), str(r.pages(0x7)),
                      str(r.writable_and_executable()), str(len(r.caps)),
                      ", ".join(r.interfaces) or "-", ", ".join(r.secrets) or "-")
    secrets = Table(title="secrets: which fragments can reach them")
    for column in ("secret", "frames", "reachable from"):
        secrets.add_column(column)
    for name, labels in report.secrets.items():
        secrets.add_row(name, str(len(report.secret_frames[name])), ", ".join(labels) or "none")
    if not report.secrets:
        return [table, "secrets: none yet; they come with use (a process's memory, file data): "
                       "give a program, e.g. demos/arm/fileio"]
    return [table, secrets]


def cmd_isolation(args) -> int:
    program = Program.from_args(args.program, args.args, args.add) if args.program else None
    system = snapshot(args.composition, program, args.cores, args.seed)
    report = isolation.report(system.runtime)
    console = _console()
    for table in isolation_tables(report):
        console.print(table)
    if args.regions:
        for r in report.fragments:
            console.print(f"\n{r.fragment} (task {r.task}):")
            for region in r.regions:
                console.print(f"  {region}", markup=False)
            for cap in r.caps:
                console.print(f"  cap {cap}", markup=False)
    return 0


# --- parsers -------------------------------------------------------------------------------
def add_analysis_parsers(subparsers) -> None:
    def program_args(parser, optional: bool = False) -> None:
        parser.add_argument("--add", action="append", default=[], metavar="HOST:PATH",
                            help="place a host file in the model at PATH")
        parser.add_argument("program", nargs="?" if optional else None,
                            help="an ARM Linux ELF file on the host (e.g. demos/arm/fileio)"
                            + (", run first" if optional else ""))
        parser.add_argument("args", nargs=argparse.REMAINDER, help="its arguments")

    def common(parser, cores: int = 1) -> None:
        parser.add_argument("--cores", type=int, default=cores, help=f"ARM cores (default: {cores})")
        parser.add_argument("--seed", type=int, default=0, help="seed of ASLR and getrandom (default: 0)")

    compare_p = subparsers.add_parser("compare", help="run a program under several compositions, one table")
    compare_p.add_argument("--compositions", default="monolithic,fragmented", metavar="A,B,…")
    common(compare_p)
    add_disk_options(compare_p)
    program_args(compare_p)
    compare_p.set_defaults(handler=_guarded(cmd_compare))

    minimize = subparsers.add_parser("minimize", help="the smallest composition a program needs")
    minimize.add_argument("-o", "--output", metavar="FILE", help="the composition to write")
    minimize.add_argument("--composition", default="fragmented", metavar="NAME|FILE",
                          help="the layout to cut down (default: fragmented)")
    common(minimize)
    program_args(minimize)
    minimize.set_defaults(handler=_guarded(cmd_minimize))

    plan = subparsers.add_parser("plan", help="propose merges and a placement on K cores")
    plan.add_argument("--trace", metavar="FILE.jsonl", help="plan from this trace instead of a run")
    plan.add_argument("-o", "--output", metavar="FILE", help="the composition to write")
    plan.add_argument("--isolate", metavar="A,B", help="fragments that keep a task of their own")
    plan.add_argument("--max-task", type=int, metavar="N", help="at most N fragments per task")
    common(plan, cores=2)
    program_args(plan, optional=True)
    plan.set_defaults(handler=_guarded(cmd_plan))

    iso = subparsers.add_parser("isolation", help="what each fragment can reach, from the live tables")
    iso.add_argument("--regions", action="store_true", help="also list every region and capability")
    common(iso)
    iso.add_argument("composition", metavar="COMPOSITION",
                     help="a composition's name (monolithic, fragmented, mixed) or TOML file")
    program_args(iso, optional=True)
    iso.set_defaults(handler=_guarded(cmd_isolation))


def _guarded(command):
    """Run ``command``; a UserError is one line on stderr and its status."""
    def handler(args) -> int:
        try:
            return command(args)
        except UserError as error:
            print(f"l4shell: {error}", file=sys.stderr)
            return error.status
    return handler


# --- helpers ---------------------------------------------------------------------------------
def _console() -> Console:
    return Console(width=None if sys.stdout.isatty() else 200, highlight=False)


def _load(name: str, cores: int) -> compositions.Composition:
    try:
        return compositions.load(name, FRAGMENTS, cores)
    except compositions.CompositionError as error:
        raise UserError(str(error)) from None


def _write(path: Path, composition: compositions.Composition) -> None:
    try:
        path.write_text(composition.to_toml())
    except OSError as error:
        raise UserError(f"{path}: {error.strerror}") from None


def _unfinished(runs: list[Run]) -> None:
    for r in runs:
        if r.status is None:
            print(f"l4shell: the program did not finish under {r.composition}", file=sys.stderr)
