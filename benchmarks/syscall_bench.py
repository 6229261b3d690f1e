"""Linux-personality benchmark (issue 3): host cost of a null syscall and of fork+exec+wait.

Prints one table of host-time measurements, with ratios to a baseline taken in the same
run. Nothing is asserted: the numbers depend on the host.

1. Host µs per null syscall: demos/arm/syscall_loop (N × getppid) run
   - by bare unicorn: the same ELF loaded into one ``Uc``, the initial stack built by the
     loader's pure helpers (``fragments.linux.elf``), and a minimal Python UC_HOOK_INTR
     hook that answers the few syscalls musl's start-up and the loop make;
   - through the model, as ``l4shell run`` does it (Machine, boot_linux, the file in /bin,
     spawn, machine.run).
   Two rows measure what any model of this design pays at the least, whatever its kernel
   code costs: leaving and re-entering the emulator at every svc (``StopAtSvc``: the bare
   run, but the hook stops emulation and Python answers outside it, as a kernel that takes
   the exception out of the emulator must), and the trace events a null syscall makes
   (every kernel-visible event is one, DESIGN.md principle 5), each costed on its own.
   Each side runs two sizes (N and N/10) and reports the slope, so start-up (boot, ELF
   load, page faults, printf) cancels out. Both sides are timed in CPU time of the thread
   that runs them (``time.thread_time``), so that other load on a shared machine inflates
   them less than wall-clock time would. Goal of the issue: model within 3× of bare in
   the monolithic composition.
2. fork+exec+wait per second: demos/arm/forkexec (no iteration argument; each run does
   2 forks, 1 execve of /bin/hello, 2 wait4s, plus the parent's own start and exit), host
   seconds from spawn to its end, (a) each run in a freshly booted system and (b) all runs
   one after another in one system, with the host memory each run leaves behind (growth
   means per-process state outlives the process).

Run: python benchmarks/syscall_bench.py [--quick] [--composition NAME] [--profile]
     ``--profile`` adds a cProfile of the model's syscall loop (top entries, cumulative).
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import cProfile
import errno
import gc
import io
import pstats
import struct
import sys
import time
from pathlib import Path

from unicorn import UC_ARCH_ARM, UC_HOOK_INTR, UC_MODE_ARM, UC_PROT_ALL, Uc
from unicorn import arm_const as A

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fragments.linux.abi import CORTEX_A15_HWCAP, PAGE_SIZE  # noqa: E402
from fragments.linux.elf import build_initial_stack, parse_executable, standard_auxv  # noqa: E402
from fragments.linux.syscall_table import by_name  # noqa: E402
from fragments.linux.system import boot_linux  # noqa: E402
from kernel_model import trace as T  # noqa: E402
from kernel_model.machine import Machine  # noqa: E402
from table import print_table  # noqa: E402  (benchmarks/, run as scripts)

DEMOS = ROOT / "demos" / "arm"
ENV = ["PATH=/bin:/usr/bin", "HOME=/", "TERM=dumb"]   # l4shell run's DEFAULT_ENV

# ------------------------------------------------------------------ bare unicorn baseline

BARE_STACK_TOP = 0xBEFF0000
BARE_STACK_SIZE = 1 << 20
BARE_HEAP = 0x40000000           # brk and mmap2 bump regions (syscall_loop uses neither)
BARE_HEAP_SIZE = 16 << 20
REGS = [A.UC_ARM_REG_R0, A.UC_ARM_REG_R1, A.UC_ARM_REG_R2]
NR = {name: by_name(name).number for name in (
    "getppid", "write", "writev", "ioctl", "exit", "exit_group", "set_tid_address", "set_tls",
    "brk", "mmap2", "munmap", "rt_sigprocmask", "cacheflush")}


class BareLinux:
    """The least a static musl binary needs: memory, a stack, and a syscall hook that
    answers in Python (no model, no IPC, no scheduler)."""

    def __init__(self, elf: bytes, argv: list[bytes]):
        exe = parse_executable(elf)
        self.uc = uc = Uc(UC_ARCH_ARM, UC_MODE_ARM)
        lo = min(s.vaddr for s in exe.segments) & ~(PAGE_SIZE - 1)
        hi = (exe.end_of_data + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)
        uc.mem_map(lo, hi - lo, UC_PROT_ALL)
        for seg in exe.segments:
            uc.mem_write(seg.vaddr, seg.data)
        uc.mem_map(BARE_STACK_TOP - BARE_STACK_SIZE, BARE_STACK_SIZE, UC_PROT_ALL)
        uc.mem_map(BARE_HEAP, BARE_HEAP_SIZE, UC_PROT_ALL)
        self.brk = self.mmap_next = BARE_HEAP
        sp, image = build_initial_stack(BARE_STACK_TOP, argv, [e.encode() for e in ENV],
                                        standard_auxv(exe, CORTEX_A15_HWCAP), argv[0], bytes(16))
        uc.mem_write(sp, image)
        uc.reg_write(A.UC_ARM_REG_SP, sp)
        uc.reg_write(A.UC_ARM_REG_FPEXC, 0x40000000)   # VFP on, as Linux leaves it
        self.entry = exe.entry
        self.output = bytearray()
        self.status: int | None = None
        self.syscalls = 0
        uc.hook_add(UC_HOOK_INTR, self._svc)

    def _svc(self, uc, intno, _):
        """unicorn has already moved PC past the svc: answer r0 and return."""
        self.syscalls += 1
        nr = uc.reg_read(A.UC_ARM_REG_R7)
        if nr == NR["getppid"]:
            result = 1
        else:
            result = self._slow(uc, nr, [uc.reg_read(r) for r in REGS])
        if result is not None:
            uc.reg_write(A.UC_ARM_REG_R0, result & 0xFFFFFFFF)

    def _slow(self, uc, nr: int, args: list[int]) -> int | None:
        if nr in (NR["exit"], NR["exit_group"]):
            self.status = args[0] & 0xFF
            uc.emu_stop()
            return None
        if nr == NR["write"]:
            self.output += uc.mem_read(args[1], args[2])
            return args[2]
        if nr == NR["writev"]:
            total = 0
            for i in range(args[2]):
                base, length = struct.unpack("<II", uc.mem_read(args[1] + 8 * i, 8))
                self.output += uc.mem_read(base, length)
                total += length
            return total
        if nr == NR["ioctl"]:
            return -errno.ENOTTY
        if nr == NR["set_tls"]:
            uc.reg_write(A.UC_ARM_REG_C13_C0_3, args[0])
            return 0
        if nr == NR["brk"]:
            if BARE_HEAP <= args[0] <= BARE_HEAP + BARE_HEAP_SIZE // 2:
                self.brk = args[0]
            return self.brk
        if nr == NR["mmap2"]:
            size = (args[1] + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)
            if self.mmap_next + size > BARE_HEAP + BARE_HEAP_SIZE:
                return -errno.ENOMEM
            self.mmap_next = max(self.mmap_next, BARE_HEAP + BARE_HEAP_SIZE // 2) + size
            return self.mmap_next - size
        if nr == NR["set_tid_address"]:
            return 1
        if nr in (NR["munmap"], NR["rt_sigprocmask"], NR["cacheflush"]):
            return 0
        return -errno.ENOSYS

    def run(self) -> None:
        self.uc.emu_start(self.entry, 0xFFFFFFFF + 1)
        if self.status is None:
            raise RuntimeError(f"bare run stopped without exit at pc {self.uc.reg_read(A.UC_ARM_REG_PC):#x}")


class StopAtSvc(BareLinux):
    """The bare run, but every svc leaves the emulator: the hook stops it, Python answers
    the syscall outside, and emulation starts again after the svc."""

    def _svc(self, uc, intno, _):
        self.trapped = True
        uc.emu_stop()

    def run(self) -> None:
        pc = self.entry
        while self.status is None:
            self.trapped = False
            thumb = self.uc.reg_read(A.UC_ARM_REG_CPSR) & 0x20
            self.uc.emu_start(pc | (1 if thumb else 0), 0xFFFFFFFF + 1)
            pc = self.uc.reg_read(A.UC_ARM_REG_PC)
            if not self.trapped:
                raise RuntimeError(f"stopped without a svc at pc {pc:#x}")
            BareLinux._svc(self, self.uc, 2, None)


def bare_syscall_loop(n: int, engine: type = BareLinux) -> float:
    bare = engine((DEMOS / "syscall_loop").read_bytes(), [b"syscall_loop", str(n).encode()])
    start = time.thread_time()
    bare.run()
    elapsed = time.thread_time() - start
    _check_loop_output("bare", n, bare.output, bare.status)
    return elapsed


# ------------------------------------------------------------------ through the model

def boot(composition: str):
    """A machine and a booted Linux system, as ``l4shell run`` makes them (1 core, seed 0);
    the program's output is collected, not printed."""
    gc.collect()   # free the unicorn instances of earlier machines before timing a new one
    machine = Machine(cores=1, seed=0)
    output = bytearray()
    machine.uart.sink = output.extend
    system = boot_linux(machine, composition, is_tty=False)
    system.console.err_sink = output.extend
    machine.uart.feed(b"")   # stdin at end of input, like `l4shell run </dev/null`
    return machine, system, output


class TimedBody:
    """A Python thread's generator that adds up the host time spent inside it: the code of
    the fragments its server runs, UTCB reads and writes and trace events they make
    included; the kernel's IPC and scheduling run between its yields, outside."""

    def __init__(self, body, spent: list[float]):
        self.body, self.spent = body, spent

    def send(self, value):
        start = time.perf_counter()   # wall time (a cheap clock; the slices are µs long)
        try:
            return self.body.send(value)
        finally:
            self.spent[0] += time.perf_counter() - start


def model_syscall_loop(n: int, composition: str, profile: cProfile.Profile | None = None,
                       in_servers: list[float] | None = None) -> float:
    """Host CPU seconds from spawn to the end of the program (boot excluded). With
    ``in_servers``, the seconds spent inside the Python servers are added to its item 0."""
    machine, system, output = boot(composition)
    system.fs.add_file(b"/bin/syscall_loop", (DEMOS / "syscall_loop").read_bytes())
    if in_servers is not None:
        for thread in machine.kernel.threads:
            if thread.is_python and thread.alive:
                thread.python_body = TimedBody(thread.python_body, in_servers)
    start = time.thread_time()
    pid = system.spawn("/bin/syscall_loop", ["syscall_loop", str(n)], ENV)
    if profile is not None:
        profile.enable()
    machine.run()
    if profile is not None:
        profile.disable()
    elapsed = time.thread_time() - start
    status = system.exit_status(pid)
    _check_loop_output("model", n, output, None if status is None else (status >> 8) & 0xFF)
    return elapsed


def forkexec_system(composition: str):
    """A booted system holding /bin/forkexec and /bin/hello: its machine, and a function
    that runs forkexec once more in it."""
    machine, system, output = boot(composition)
    system.fs.add_file(b"/bin/hello", (DEMOS / "hello").read_bytes())
    system.fs.add_file(b"/bin/forkexec", (DEMOS / "forkexec").read_bytes())

    def once() -> float:
        """One forkexec run in this system: host seconds from spawn to its end."""
        del output[:]
        start = time.perf_counter()
        pid = system.spawn("/bin/forkexec", ["forkexec"], ENV)
        machine.run()
        elapsed = time.perf_counter() - start
        if system.exit_status(pid) != 0 or b"forkexec: all ok" not in output:
            raise RuntimeError(f"forkexec failed in the model: {bytes(output)!r}")
        return elapsed
    return machine, once


def model_forkexec_fresh(runs: int, composition: str) -> float:
    """Host seconds per forkexec run, each in a freshly booted system (boot excluded)."""
    return sum(forkexec_system(composition)[1]() for _ in range(runs)) / runs


def model_forkexec_one_system(runs: int, composition: str) -> tuple[list[float], float, float]:
    """Host seconds of each of ``runs`` forkexec runs one after another in one system, the
    growth of the host process's resident memory per run in MiB (state a dead process
    leaves behind, e.g. its task's unicorn instance, would show here) and the trace events
    per run (the trace keeps them all: it is the debugger's history)."""
    machine, once = forkexec_system(composition)
    once()
    before, events = _rss_mib(), len(machine.trace)
    times = [once() for _ in range(runs)]
    return times, (_rss_mib() - before) / runs, (len(machine.trace) - events) / runs


def _rss_mib() -> float:
    """Resident set size of this process (Linux /proc; 0 elsewhere), garbage collected and
    with the memory glibc's malloc holds free given back (else a freed unicorn instance
    still counts)."""
    gc.collect()
    try:
        ctypes.CDLL(ctypes.util.find_library("c")).malloc_trim(0)
    except (OSError, AttributeError):
        pass
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * PAGE_SIZE / (1 << 20)
    except OSError:
        return 0.0


def _check_loop_output(who: str, n: int, output: bytes, status: int | None) -> None:
    expected = f"syscall_loop: {n} getppid calls, all equal: yes\n".encode()
    if bytes(output) != expected or status != 0:
        raise RuntimeError(f"{who} syscall_loop {n}: status {status}, output {bytes(output)!r}")


# ------------------------------------------------------------------ measuring

def events_per_syscall(composition: str, kernel_only: bool = False) -> tuple[float, float]:
    """(trace events per null syscall, host µs to emit one such event); with
    ``kernel_only``, the kernel's events only (not the fragments' ``syscall``, ``fragment``)."""
    def counted(events) -> list:
        return [e for e in events if e.kind in T.KERNEL_KINDS] if kernel_only else list(events)
    counts = []
    for n in (1000, 2000):
        machine, system, output = boot(composition)
        system.fs.add_file(b"/bin/syscall_loop", (DEMOS / "syscall_loop").read_bytes())
        system.spawn("/bin/syscall_loop", ["syscall_loop", str(n)], ENV)
        machine.run()
        counts.append(len(counted(machine.trace.events)))
    kinds = [(e.kind, e.thread, dict(e.data)) for e in counted(machine.trace.events[-200:])]
    threads = {t.name: t for t in machine.kernel.threads}
    start = time.thread_time()
    for kind, thread, data in kinds * 50:
        machine.kernel.emit_data(kind, threads.get(thread), data)
    per_event = (time.thread_time() - start) / (len(kinds) * 50) * 1e6
    return (counts[1] - counts[0]) / 1000, per_event


def servers_us(n: int, composition: str) -> float:
    """Host µs per null syscall spent inside the Python servers (the slope, as ``slope_us``;
    two clock reads per resumption included)."""
    def seconds(k: int) -> float:
        spent = [0.0]
        model_syscall_loop(k, composition, in_servers=spent)
        return spent[0]
    return slope_us(seconds, n, 2)


def slope_us(measure, n: int, repeat: int) -> float:
    """Host µs per syscall: (t(n) - t(n/10)) / (n - n/10), best of ``repeat``."""
    small = n // 10
    t_small = min(measure(small) for _ in range(repeat))
    t_large = min(measure(n) for _ in range(repeat))
    return (t_large - t_small) / (n - small) * 1e6


def print_profile(n: int, composition: str, top: int) -> None:
    profile = cProfile.Profile()
    model_syscall_loop(n, composition, profile)
    text = io.StringIO()
    stats = pstats.Stats(profile, stream=text)
    stats.sort_stats("cumulative").print_stats(top)
    print(f"\ncProfile of the model running syscall_loop {n} ({composition}), by cumulative time:")
    print(text.getvalue().split("\n", 4)[-1].rstrip())
    text = io.StringIO()
    pstats.Stats(profile, stream=text).sort_stats("tottime").print_stats(top)
    print("\n... and by own (tottime) time:")
    print(text.getvalue().split("\n", 4)[-1].rstrip())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller N (a few seconds)")
    parser.add_argument("--composition", default="monolithic", help="passed to boot_linux")
    parser.add_argument("--profile", action="store_true", help="also cProfile the model's loop")
    args = parser.parse_args(argv)
    try:
        boot(args.composition)
    except ValueError as error:   # an unknown composition: one line, like `l4shell run`
        parser.error(str(error))
    n, forks, repeat = (4_000, 5, 1) if args.quick else (20_000, 30, 2)

    bare = slope_us(bare_syscall_loop, n, 5)
    stop_at_svc = slope_us(lambda n: bare_syscall_loop(n, StopAtSvc), n, 5)
    events, per_event = events_per_syscall(args.composition)
    model = slope_us(lambda n: model_syscall_loop(n, args.composition), n, repeat)
    per_run = model_forkexec_fresh(forks, args.composition)
    series, rss_per_run, events_per_run = model_forkexec_one_system(forks, args.composition)
    rows = [
        ("null syscall (getppid), bare unicorn + Python hook", f"{bare:.2f} µs", "1.00",
         f"N={n:,} and {n // 10:,}, slope"),
        ("  the floor: leaving and re-entering unicorn at each svc", f"{stop_at_svc:.2f} µs",
         f"{stop_at_svc / bare:.1f}×", "same N; the bare hook answers outside the emulator"),
        ("  the floor: its trace events", f"{events * per_event:.2f} µs", f"{events * per_event / bare:.1f}×",
         f"{events:.0f} events per syscall, {per_event:.2f} µs each"),
        (f"null syscall (getppid), model ({args.composition})", f"{model:.1f} µs",
         f"{model / bare:.1f}×", "same N; goal ≤ 3×"),
        ("forkexec runs/s (2 fork, 1 execve, 2 wait4 each)", f"{1 / per_run:.1f} /s", "",
         f"{per_run * 1e3:.1f} ms per run, fresh system each, {forks} runs"),
        ("forkexec runs/s, all runs in one system", f"{len(series) / sum(series):.1f} /s", "",
         f"host RSS +{rss_per_run:.2f} MiB per run (the trace keeps {events_per_run:,.0f} events per run)"),
    ]
    print_table(("measure", "host", "ratio", "notes"), rows)
    if args.profile:
        print_profile(n // 2, args.composition, 25)


if __name__ == "__main__":
    main()
