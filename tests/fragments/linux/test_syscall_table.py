"""The ARM EABI syscall table declared in fragments.linux.syscall_table."""

import re
import struct
from pathlib import Path

import pytest

from fragments.linux import abi
from fragments.linux.syscall_table import ARM_NR_BASE, SYSCALLS, Fragment, Kind, by_name, by_number

REQUIRED = """open openat read write readv writev close lseek _llseek stat64 lstat64 fstat64 fstatat64
statx getdents64 mkdir mkdirat rmdir unlink unlinkat rename renameat renameat2 chdir getcwd readlink
readlinkat access faccessat faccessat2 umask ioctl dup dup2 dup3 fcntl64 pipe pipe2 brk mmap2 munmap
mprotect madvise fork vfork clone execve wait4 exit exit_group getpid getppid getpgid setpgid getpgrp
kill tgkill rt_sigaction rt_sigprocmask rt_sigreturn sigreturn set_tid_address set_robust_list
prlimit64 ugetrlimit uname getuid32 geteuid32 getgid32 getegid32 getrandom clock_gettime
clock_gettime64 gettimeofday nanosleep clock_nanosleep clock_nanosleep_time64 set_tls sched_yield
prctl poll ppoll ppoll_time64 rseq""".split()

OBSERVED = """_llseek brk clock_gettime64 clone close dup2 exit_group getdents64 getpid getppid getrandom
getuid32 ioctl mprotect openat pipe2 prctl read readlink rt_sigaction set_robust_list set_tid_address
sigreturn statx ugetrlimit uname wait4 write rseq writev fcntl64 mkdir mmap2 munmap open rename rmdir
sched_getaffinity unlink execve fork rt_sigprocmask pipe dup access chdir dup3 faccessat fstatat64
getcwd getegid32 geteuid32 getgid32 getpgid gettid gettimeofday kill nanosleep prlimit64 readv
renameat sched_yield setpgid umask unlinkat""".split()
"""What busybox `sh -c 'echo hi; ls | head -3'` and the demos/arm programs issued under
qemu-arm-static -strace."""

ZIG_UNISTD = "lib/libc/include/arm-linux-any/asm/unistd-eabi.h"


def test_known_numbers():
    """Spot checks against arch/arm/tools/syscall.tbl."""
    numbers = {"write": 4, "getppid": 64, "exit_group": 248, "clock_gettime64": 403, "set_tls": 0xF0005,
               "vfork": 190, "mmap2": 192, "statx": 397, "rseq": 398, "sigreturn": 119, "_llseek": 140}
    assert {name: by_name(name).number for name in numbers} == numbers
    assert by_number(4).name == "write"


def test_unknown_numbers_are_none():
    """The dispatcher answers -ENOSYS for whatever the table does not hold."""
    assert by_number(0x1C3) is None and by_number(-1) is None and by_name("socket") is None


def test_required_and_observed_syscalls_are_declared():
    """The brief's list and everything the test programs actually issue are in the table."""
    assert [name for name in REQUIRED + OBSERVED if by_name(name) is None] == []


def test_numbers_and_names_are_unique():
    assert len({s.number for s in SYSCALLS}) == len({s.name for s in SYSCALLS}) == len(SYSCALLS)


def test_argument_declarations_are_consistent():
    """At most six arguments; refs point at a SIZE argument (buffers) or at open flags
    (CREAT_MODE); struct names are abi layouts."""
    for entry in SYSCALLS:
        assert len(entry.args) <= 6, entry.name
        for arg in entry.args:
            if arg.kind in (Kind.BUF_IN, Kind.BUF_OUT, Kind.IOVEC_IN, Kind.IOVEC_OUT, Kind.DIRENTS_OUT):
                assert entry.args[arg.ref].kind is Kind.SIZE, entry.name
            elif arg.kind is Kind.CREAT_MODE:
                assert entry.args[arg.ref].kind is Kind.OPEN_FLAGS, entry.name
            else:
                assert arg.ref is None, entry.name
            if arg.kind in (Kind.STRUCT_IN, Kind.STRUCT_OUT):
                assert isinstance(getattr(abi, arg.struct), struct.Struct), entry.name
            else:
                assert arg.struct is None, entry.name


@pytest.mark.parametrize("names, fragment", [
    ("brk mmap2 munmap mprotect madvise", Fragment.PAGER),
    ("fork vfork clone execve wait4 exit exit_group kill rt_sigaction set_tls uname getrandom "
     "clock_gettime64 prlimit64 rseq", Fragment.PROCESS),
    ("open openat read write close pipe2 getdents64 ioctl statx dup2 fcntl64 getcwd", Fragment.VFS),
])
def test_fragments_serving_syscalls(names, fragment):
    """Memory calls go to the pager, process/signal/time calls to the process fragment,
    descriptor and path calls to the VFS."""
    assert {by_name(n).fragment for n in names.split()} == {fragment}


def test_numbers_match_the_kernel_header():
    """Every number equals __NR_<name> in the ARM EABI uapi header that ziglang ships
    (a copy of the kernel's generated unistd-eabi.h)."""
    ziglang = pytest.importorskip("ziglang")
    header = Path(ziglang.__file__).parent / ZIG_UNISTD
    if not header.exists():
        pytest.skip(f"{header} is absent")
    kernel = {name: number for name, number in ((m[1], int(m[2])) for m in re.finditer(
        r"#define __NR_(\w+) \(__NR_SYSCALL_BASE \+ (\d+)\)", header.read_text()))}
    ours = {s.name: s.number for s in SYSCALLS if s.number < ARM_NR_BASE}  # ARM-private calls are not in the header
    assert {name: kernel.get(name) for name in ours} == ours
