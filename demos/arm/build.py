#!/usr/bin/env python3
"""Rebuild the ARM test programs of l4shell from their sources.

    python demos/arm/build.py            # build everything (only rewrites changed ELFs)
    python demos/arm/build.py hello sysall native/undef   # build some
    python demos/arm/build.py --check    # rebuild into a temp dir, compare, exit 1 on a difference
    python demos/arm/build.py --list     # list the programs and their command lines
    python demos/arm/build.py --qemu     # run the Linux programs under qemu-arm-static

The compiler is zig's clang (`pip install ziglang`, a dev-only dependency); the
built ELFs are committed next to their sources, so tests never need it.

* Linux programs: static musl, ARM EABI (soft-float ABI), ARM or Thumb-2.
  `-target arm-linux-musleabi` gives ARM code, `-target thumb-linux-musleabi`
  gives Thumb-2 code for the program *and* libc (`-mthumb` alone is ignored by
  zig's target handling: the output is byte-identical to the ARM build).
  zig strips the Linux ELFs (no symbols) in -Os mode.
* Native L4 programs (native/): freestanding, no libc, linked by ld.lld through
  zig with native/native.ld (text at 0x10000, `_start` first).  zig rejects
  `-Wl,-Ttext=...`, hence the linker script.  They keep their symbol table.

Every command runs with the source folder as working directory and relative
file names, so no host path ends up in an ELF; zig 0.17.1 output is then
byte-for-byte reproducible (no build-id, no timestamps).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import filecmp
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
NATIVE = os.path.join(HERE, "native")
ZIG_VERSION = "0.17.1"  # the version the committed ELFs were built with

LINUX_FLAGS = ["-static", "-Os", "-g0"]
NATIVE_FLAGS = [
    "-mcpu=cortex_a9",
    "-nostdlib",
    "-static",
    "-ffreestanding",
    "-O2",
    "-g0",
    "-fno-unwind-tables",
    "-fno-asynchronous-unwind-tables",
    "-Wl,-z,max-page-size=4096",
    "-Wl,-T,native.ld",
]


@dataclass
class Program:
    name: str  # output path relative to demos/arm, e.g. "hello" or "native/undef"
    source: str  # source file name, relative to the program's folder
    target: str  # zig target triple
    flags: list[str]
    deps: list[str] = field(default_factory=list)  # other inputs (headers, scripts)
    qemu_args: list[str] | None = None  # arguments for --qemu (None: not a Linux program)

    @property
    def folder(self) -> str:
        return os.path.join(HERE, os.path.dirname(self.name))

    @property
    def out_name(self) -> str:
        return os.path.basename(self.name)

    def command(self, out: str) -> list[str]:
        return [sys.executable, "-m", "ziglang", "cc", "-target", self.target, *self.flags,
                "-o", out, self.source]


def linux(name: str, source: str, thumb: bool = False, args: list[str] | None = None) -> Program:
    target = "thumb-linux-musleabi" if thumb else "arm-linux-musleabi"
    return Program(name, source, target, LINUX_FLAGS, qemu_args=args or [])


def native(name: str, source: str, thumb: bool = False) -> Program:
    target = "thumb-freestanding-eabi" if thumb else "arm-freestanding-eabi"
    return Program("native/" + name, source, target, NATIVE_FLAGS, deps=["l4.h", "native.ld"])


PROGRAMS: list[Program] = [
    linux("hello", "hello.c", args=["a", "b"]),
    linux("hello_thumb", "hello.c", thumb=True, args=["x"]),
    linux("fileio", "fileio.c"),
    linux("forkexec", "forkexec.c", args=["/bin/echo"]),
    linux("pipes", "pipes.c"),
    linux("mmapcow", "mmapcow.c"),
    linux("compute", "compute.c"),
    linux("compute_thumb", "compute.c", thumb=True),
    linux("syscall_loop", "syscall_loop.c"),
    linux("nxstack", "nxstack.c"),
    linux("nxstack_thumb", "nxstack.c", thumb=True),
    linux("sysall", "sysall.c"),
    linux("upcase", "upcase.c"),
    linux("notes", "notes.c"),
    linux("bigpipe", "bigpipe.c"),
    linux("fillfs", "fillfs.c", args=["4"]),
    linux("pollpipe", "pollpipe.c"),
    native("pingpong_client", "pingpong_client.c"),
    native("pingpong_server", "pingpong_server.c"),
    native("faults", "faults.c"),
    native("irq_wait", "irq_wait.c"),
    native("undef", "undef.S"),
    native("thumb_pingpong_client", "pingpong_client.c", thumb=True),
]


def zig_version() -> str:
    r = subprocess.run([sys.executable, "-m", "ziglang", "version"], capture_output=True,
                       text=True)
    if r.returncode != 0:
        sys.exit("build.py: zig not available; install it with `pip install ziglang`")
    return r.stdout.strip()


def build_one(p: Program, out_dir: str) -> tuple[Program, str, str]:
    """Compile p into out_dir; return (program, path of the new ELF, error text)."""
    out = os.path.join(out_dir, p.name.replace("/", "__"))
    r = subprocess.run(p.command(out), cwd=p.folder, capture_output=True, text=True)
    if r.returncode != 0:
        return p, "", (r.stderr or r.stdout).strip()
    return p, out, ""


def select(names: list[str]) -> list[Program]:
    if not names:
        return PROGRAMS
    by_name = {p.name: p for p in PROGRAMS}
    by_name.update({p.out_name: p for p in PROGRAMS if p.out_name not in by_name})
    unknown = [n for n in names if n not in by_name]
    if unknown:
        sys.exit(f"build.py: unknown program(s): {', '.join(unknown)}; see --list")
    return [by_name[n] for n in names]


def run_qemu(progs: list[Program]) -> int:
    qemu = shutil.which("qemu-arm-static") or shutil.which("qemu-arm")
    if not qemu:
        sys.exit("build.py: qemu-arm-static not found (apt-get install qemu-user-static)")
    with tempfile.TemporaryDirectory(prefix="l4shell-qemu-") as scratch:
        for p in progs:
            if p.qemu_args is None:
                continue
            elf = os.path.join(HERE, p.name)
            print(f"$ {p.name} {' '.join(p.qemu_args)}".rstrip())
            r = subprocess.run([qemu, elf, *p.qemu_args], cwd=scratch, stdin=subprocess.DEVNULL,
                               capture_output=True, text=True)
            sys.stdout.write(r.stdout)
            if r.stderr:
                sys.stdout.write("[stderr] " + r.stderr)
            status = r.returncode if r.returncode >= 0 else 128 - r.returncode
            print(f"[exit status {status}]\n")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("programs", nargs="*", help="names to build (default: all)")
    ap.add_argument("--check", action="store_true",
                    help="rebuild into a temp dir and compare with the committed ELFs")
    ap.add_argument("--list", action="store_true", help="list programs and command lines")
    ap.add_argument("--qemu", action="store_true",
                    help="run the (already built) Linux programs under qemu-arm-static")
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 2)
    a = ap.parse_args()
    progs = select(a.programs)

    if a.list:
        for p in progs:
            print(f"{p.name:28} (cd {os.path.relpath(p.folder)} && "
                  f"python {' '.join(p.command(p.out_name)[1:])})")
        return 0
    if a.qemu:
        return run_qemu(progs)

    version = zig_version()
    if version != ZIG_VERSION:
        print(f"warning: zig {version}, the committed ELFs come from zig {ZIG_VERSION}; "
              "output may differ byte-wise", file=sys.stderr)

    failed, differ = 0, 0
    with tempfile.TemporaryDirectory(prefix="l4shell-build-") as tmp:
        with concurrent.futures.ThreadPoolExecutor(max(1, a.jobs)) as pool:
            for p, out, err in pool.map(lambda p: build_one(p, tmp), progs):
                dest = os.path.join(HERE, p.name)
                if err:
                    failed += 1
                    print(f"FAILED  {p.name}  ({p.target}, {p.source})\n{err}")
                    continue
                size = os.path.getsize(out)
                same = os.path.exists(dest) and filecmp.cmp(out, dest, shallow=False)
                if a.check:
                    differ += not same
                    print(f"{'same   ' if same else 'DIFFERS'} {p.name:28} {size:6} bytes")
                    continue
                if not same:
                    shutil.copyfile(out, dest)
                    os.chmod(dest, 0o755)
                state = "unchanged" if same else "built    "
                print(f"{state} {p.name:28} {size:6} bytes  {p.target:24} from {p.source}")
    if failed:
        print(f"{failed} program(s) failed to build")
        return 1
    if a.check and differ:
        print(f"{differ} ELF(s) differ from a fresh build")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
