"""The Linux ARM EABI syscall table, declared once as data.

Each `Syscall` says: its number (r7), its name, its arguments (r0..r5, in order, each
with a `Kind` telling how to read it), what it returns, and the fragment that serves it.
The dispatcher routes by `fragment` and answers -ENOSYS for numbers `by_number` does
not know; strace lines, help text and the fragment reachability of a program all come
from this table.

Invariants (tested):
- numbers are unique and equal arch/arm/tools/syscall.tbl (EABI, __NR_SYSCALL_BASE 0);
  ARM-private calls sit at __ARM_NR_BASE 0xf0000 + n;
- names are unique;
- an argument's `ref` is the index of another argument of the same syscall (the length
  of a buffer, or the flags that decide whether a mode is passed);
- an argument's `struct` names a `struct.Struct` in `abi`.
"""

from dataclasses import dataclass
from enum import Enum, StrEnum


class Fragment(StrEnum):
    """Who serves a syscall. The console is not listed: it is reached through the VFS,
    which forwards the reads, writes and ioctls of terminal file descriptors to it."""

    PROCESS = "process"  # processes, signals, identity, time, randomness, TLS
    VFS = "vfs"  # file descriptors, paths, pipes, directories, terminals
    PAGER = "pager"  # the address space: brk, mmap2 and friends


class Kind(Enum):
    """How an argument register is read (and how strace renders it)."""

    INT = "int"  # signed 32-bit value
    SIZE = "size"  # unsigned 32-bit count or length
    PTR = "ptr"  # a user address the syscall does not read through for tracing
    FD = "fd"  # a file descriptor
    DIRFD = "dirfd"  # a file descriptor or AT_FDCWD (-100)
    PATH = "path"  # NUL-terminated string in user memory, read by the call
    PATH_OUT = "path_out"  # NUL-terminated string the call writes (getcwd)
    BUF_IN = "buf_in"  # `ref` bytes the call reads from user memory
    BUF_OUT = "buf_out"  # up to `ref` bytes the call writes; the result says how many
    IOVEC_IN = "iovec_in"  # array of `ref` struct iovec the call reads through
    IOVEC_OUT = "iovec_out"  # array of `ref` struct iovec the call writes through
    DIRENTS_OUT = "dirents_out"  # up to `ref` bytes of linux_dirent64 records
    STRUCT_IN = "struct_in"  # pointer to an `abi.<struct>` the call reads (may be NULL)
    STRUCT_OUT = "struct_out"  # pointer to an `abi.<struct>` the call writes (may be NULL)
    ARGV = "argv"  # NULL-terminated array of string pointers (execve argv)
    ENVP = "envp"  # the same, rendered as a count (execve envp)
    MODE = "mode"  # file mode bits, octal
    CREAT_MODE = "creat_mode"  # mode, only meaningful if the flags at `ref` hold O_CREAT
    OPEN_FLAGS = "open_flags"  # abi.OpenFlag with O_ACCMODE
    AT_FLAGS = "at_flags"  # abi.AtFlag
    ACCESS_MODE = "access_mode"  # abi.AccessMode, F_OK 0
    SIGNAL = "signal"  # abi.Signal number
    SIGMASK_HOW = "sigmask_how"  # abi.SigmaskHow
    IOCTL_REQUEST = "ioctl_request"  # abi.Ioctl
    FCNTL_CMD = "fcntl_cmd"  # abi.FcntlCmd
    WHENCE = "whence"  # abi.Whence
    PROT = "prot"  # abi.Prot, PROT_NONE 0
    MAP_FLAGS = "map_flags"  # abi.MapFlag
    MADVISE = "madvise"  # abi.Madvise
    CLONE_FLAGS = "clone_flags"  # abi.CloneFlag | exit signal in the low byte
    WAIT_OPTIONS = "wait_options"  # abi.WaitOption
    RLIMIT = "rlimit"  # abi.Rlimit
    CLOCK = "clock"  # abi.Clock
    STATX_MASK = "statx_mask"  # abi.StatxMask
    GRND_FLAGS = "grnd_flags"  # abi.GrndFlag
    PRCTL_OPTION = "prctl_option"  # abi.Prctl


class Ret(Enum):
    """How the result register is read."""

    INT = "int"  # value >= 0, or -errno
    ADDR = "addr"  # an address (brk, mmap2); only -4095..-1 are errors
    OCTAL = "octal"  # a mode (umask)
    NONE = "none"  # never returns to the caller (exit, exit_group)


@dataclass(frozen=True)
class Arg:
    name: str
    kind: Kind
    ref: int | None = None  # index of the length / flags argument, see Kind
    struct: str | None = None  # name of the abi struct for STRUCT_IN/STRUCT_OUT


@dataclass(frozen=True)
class Syscall:
    number: int
    name: str
    fragment: Fragment
    args: tuple[Arg, ...]
    ret: Ret = Ret.INT
    note: str = ""


ARM_NR_BASE = 0xF0000

_P, _V, _M = Fragment.PROCESS, Fragment.VFS, Fragment.PAGER


def _a(name: str, kind: Kind, ref: int | None = None, struct: str | None = None) -> Arg:
    return Arg(name, kind, ref, struct)


def _s(number: int, name: str, fragment: Fragment, *args: Arg, ret: Ret = Ret.INT, note: str = "") -> Syscall:
    return Syscall(number, name, fragment, args, ret, note)


_K = Kind
_FD = _a("fd", _K.FD)
_DIRFD = _a("dirfd", _K.DIRFD)
_PATH = _a("pathname", _K.PATH)


def _out(name: str, struct: str) -> Arg:
    return _a(name, _K.STRUCT_OUT, struct=struct)


def _in(name: str, struct: str) -> Arg:
    return _a(name, _K.STRUCT_IN, struct=struct)


SYSCALLS: tuple[Syscall, ...] = (
    _s(1, "exit", _P, _a("status", _K.INT), ret=Ret.NONE, note="ends the calling thread"),
    _s(2, "fork", _P),
    _s(3, "read", _V, _FD, _a("buf", _K.BUF_OUT, 2), _a("count", _K.SIZE)),
    _s(4, "write", _V, _FD, _a("buf", _K.BUF_IN, 2), _a("count", _K.SIZE)),
    _s(5, "open", _V, _PATH, _a("flags", _K.OPEN_FLAGS), _a("mode", _K.CREAT_MODE, 1)),
    _s(6, "close", _V, _FD),
    _s(9, "link", _V, _a("oldpath", _K.PATH), _a("newpath", _K.PATH)),
    _s(10, "unlink", _V, _PATH),
    _s(11, "execve", _P, _a("filename", _K.PATH), _a("argv", _K.ARGV), _a("envp", _K.ENVP)),
    _s(12, "chdir", _V, _PATH),
    _s(15, "chmod", _V, _PATH, _a("mode", _K.MODE)),
    _s(19, "lseek", _V, _FD, _a("offset", _K.INT), _a("whence", _K.WHENCE)),
    _s(20, "getpid", _P),
    _s(33, "access", _V, _PATH, _a("mode", _K.ACCESS_MODE)),
    _s(36, "sync", _V),
    _s(37, "kill", _P, _a("pid", _K.INT), _a("sig", _K.SIGNAL)),
    _s(38, "rename", _V, _a("oldpath", _K.PATH), _a("newpath", _K.PATH)),
    _s(39, "mkdir", _V, _PATH, _a("mode", _K.MODE)),
    _s(40, "rmdir", _V, _PATH),
    _s(41, "dup", _V, _a("oldfd", _K.FD)),
    _s(42, "pipe", _V, _out("pipefd", "FD_PAIR")),
    _s(45, "brk", _M, _a("addr", _K.PTR), ret=Ret.ADDR,
       note="returns the new break, or the old one if the request failed (never -errno)"),
    _s(54, "ioctl", _V, _FD, _a("request", _K.IOCTL_REQUEST), _a("argp", _K.PTR)),
    _s(57, "setpgid", _P, _a("pid", _K.INT), _a("pgid", _K.INT)),
    _s(60, "umask", _V, _a("mask", _K.MODE), ret=Ret.OCTAL),
    _s(63, "dup2", _V, _a("oldfd", _K.FD), _a("newfd", _K.FD)),
    _s(64, "getppid", _P),
    _s(65, "getpgrp", _P),
    _s(78, "gettimeofday", _P, _out("tv", "TIMEVAL32"), _a("tz", _K.PTR)),
    _s(83, "symlink", _V, _a("target", _K.PATH), _a("linkpath", _K.PATH)),
    _s(85, "readlink", _V, _PATH, _a("buf", _K.BUF_OUT, 2), _a("bufsiz", _K.SIZE)),
    _s(91, "munmap", _M, _a("addr", _K.PTR), _a("length", _K.SIZE)),
    _s(94, "fchmod", _V, _FD, _a("mode", _K.MODE)),
    _s(114, "wait4", _P, _a("pid", _K.INT), _out("wstatus", "INT32"), _a("options", _K.WAIT_OPTIONS),
       _a("rusage", _K.PTR)),
    _s(118, "fsync", _V, _FD),
    _s(119, "sigreturn", _P, note="restores the registers saved in the non-SA_SIGINFO signal frame"),
    _s(120, "clone", _P, _a("flags", _K.CLONE_FLAGS), _a("newsp", _K.PTR), _a("parent_tid", _K.PTR),
       _a("tls", _K.PTR), _a("child_tid", _K.PTR)),
    _s(122, "uname", _P, _out("buf", "NEW_UTSNAME")),
    _s(125, "mprotect", _M, _a("addr", _K.PTR), _a("len", _K.SIZE), _a("prot", _K.PROT)),
    _s(132, "getpgid", _P, _a("pid", _K.INT)),
    _s(140, "_llseek", _V, _FD, _a("offset_high", _K.SIZE), _a("offset_low", _K.SIZE),
       _out("result", "LOFF"), _a("whence", _K.WHENCE)),
    _s(145, "readv", _V, _FD, _a("iov", _K.IOVEC_OUT, 2), _a("iovcnt", _K.SIZE)),
    _s(146, "writev", _V, _FD, _a("iov", _K.IOVEC_IN, 2), _a("iovcnt", _K.SIZE)),
    _s(148, "fdatasync", _V, _FD),
    _s(158, "sched_yield", _P),
    _s(162, "nanosleep", _P, _in("req", "TIMESPEC32"), _out("rem", "TIMESPEC32")),
    _s(168, "poll", _V, _a("fds", _K.PTR), _a("nfds", _K.SIZE), _a("timeout", _K.INT)),
    _s(172, "prctl", _P, _a("option", _K.PRCTL_OPTION), _a("arg2", _K.PTR), _a("arg3", _K.PTR),
       _a("arg4", _K.PTR), _a("arg5", _K.PTR), note="-ENOSYS is acceptable"),
    _s(173, "rt_sigreturn", _P, note="restores the registers saved in the SA_SIGINFO signal frame"),
    _s(174, "rt_sigaction", _P, _a("sig", _K.SIGNAL), _in("act", "SIGACTION"), _out("oldact", "SIGACTION"),
       _a("sigsetsize", _K.SIZE)),
    _s(175, "rt_sigprocmask", _P, _a("how", _K.SIGMASK_HOW), _in("set", "SIGSET"), _out("oldset", "SIGSET"),
       _a("sigsetsize", _K.SIZE)),
    _s(183, "getcwd", _V, _a("buf", _K.PATH_OUT), _a("size", _K.SIZE),
       note="returns the length including the NUL"),
    _s(190, "vfork", _P),
    _s(191, "ugetrlimit", _P, _a("resource", _K.RLIMIT), _out("rlim", "RLIMIT32")),
    _s(192, "mmap2", _M, _a("addr", _K.PTR), _a("length", _K.SIZE), _a("prot", _K.PROT),
       _a("flags", _K.MAP_FLAGS), _FD, _a("pgoffset", _K.SIZE), ret=Ret.ADDR,
       note="offset in 4096-byte units"),
    _s(193, "truncate64", _V, _PATH, _a("pad", _K.INT), _a("length_lo", _K.SIZE), _a("length_hi", _K.SIZE),
       note="EABI: the 64-bit length sits in the register pair r2:r3"),
    _s(194, "ftruncate64", _V, _FD, _a("pad", _K.INT), _a("length_lo", _K.SIZE), _a("length_hi", _K.SIZE),
       note="EABI: the 64-bit length sits in the register pair r2:r3"),
    _s(195, "stat64", _V, _PATH, _out("statbuf", "STAT64")),
    _s(196, "lstat64", _V, _PATH, _out("statbuf", "STAT64")),
    _s(197, "fstat64", _V, _FD, _out("statbuf", "STAT64")),
    _s(199, "getuid32", _P),
    _s(200, "getgid32", _P),
    _s(201, "geteuid32", _P),
    _s(202, "getegid32", _P),
    _s(217, "getdents64", _V, _FD, _a("dirp", _K.DIRENTS_OUT, 2), _a("count", _K.SIZE)),
    _s(220, "madvise", _M, _a("addr", _K.PTR), _a("length", _K.SIZE), _a("advice", _K.MADVISE)),
    _s(221, "fcntl64", _V, _FD, _a("cmd", _K.FCNTL_CMD), _a("arg", _K.INT)),
    _s(224, "gettid", _P),
    _s(242, "sched_getaffinity", _P, _a("pid", _K.INT), _a("cpusetsize", _K.SIZE), _a("mask", _K.PTR),
       note="musl's sysconf(_SC_NPROCESSORS_ONLN); returns the bytes written"),
    _s(248, "exit_group", _P, _a("status", _K.INT), ret=Ret.NONE),
    _s(256, "set_tid_address", _P, _a("tidptr", _K.PTR)),
    _s(263, "clock_gettime", _P, _a("clockid", _K.CLOCK), _out("tp", "TIMESPEC32")),
    _s(265, "clock_nanosleep", _P, _a("clockid", _K.CLOCK), _a("flags", _K.INT), _in("req", "TIMESPEC32"),
       _out("rem", "TIMESPEC32")),
    _s(266, "statfs64", _V, _PATH, _a("sz", _K.SIZE), _out("buf", "STATFS64")),
    _s(267, "fstatfs64", _V, _FD, _a("sz", _K.SIZE), _out("buf", "STATFS64")),
    _s(268, "tgkill", _P, _a("tgid", _K.INT), _a("tid", _K.INT), _a("sig", _K.SIGNAL)),
    _s(322, "openat", _V, _DIRFD, _PATH, _a("flags", _K.OPEN_FLAGS), _a("mode", _K.CREAT_MODE, 2)),
    _s(323, "mkdirat", _V, _DIRFD, _PATH, _a("mode", _K.MODE)),
    _s(327, "fstatat64", _V, _DIRFD, _PATH, _out("statbuf", "STAT64"), _a("flags", _K.AT_FLAGS)),
    _s(328, "unlinkat", _V, _DIRFD, _PATH, _a("flags", _K.AT_FLAGS)),
    _s(329, "renameat", _V, _a("olddirfd", _K.DIRFD), _a("oldpath", _K.PATH), _a("newdirfd", _K.DIRFD),
       _a("newpath", _K.PATH)),
    _s(330, "linkat", _V, _a("olddirfd", _K.DIRFD), _a("oldpath", _K.PATH), _a("newdirfd", _K.DIRFD),
       _a("newpath", _K.PATH), _a("flags", _K.AT_FLAGS)),
    _s(331, "symlinkat", _V, _a("target", _K.PATH), _DIRFD, _a("linkpath", _K.PATH)),
    _s(332, "readlinkat", _V, _DIRFD, _PATH, _a("buf", _K.BUF_OUT, 3), _a("bufsiz", _K.SIZE)),
    _s(333, "fchmodat", _V, _DIRFD, _PATH, _a("mode", _K.MODE)),
    _s(334, "faccessat", _V, _DIRFD, _PATH, _a("mode", _K.ACCESS_MODE)),
    _s(336, "ppoll", _V, _a("fds", _K.PTR), _a("nfds", _K.SIZE), _in("tmo", "TIMESPEC32"),
       _in("sigmask", "SIGSET"), _a("sigsetsize", _K.SIZE)),
    _s(338, "set_robust_list", _P, _a("head", _K.PTR), _a("len", _K.SIZE)),
    _s(348, "utimensat", _V, _DIRFD, _PATH, _a("times", _K.PTR), _a("flags", _K.AT_FLAGS)),
    _s(358, "dup3", _V, _a("oldfd", _K.FD), _a("newfd", _K.FD), _a("flags", _K.OPEN_FLAGS)),
    _s(359, "pipe2", _V, _out("pipefd", "FD_PAIR"), _a("flags", _K.OPEN_FLAGS)),
    _s(369, "prlimit64", _P, _a("pid", _K.INT), _a("resource", _K.RLIMIT), _in("new_limit", "RLIMIT64"),
       _out("old_limit", "RLIMIT64")),
    _s(373, "syncfs", _V, _FD),
    _s(382, "renameat2", _V, _a("olddirfd", _K.DIRFD), _a("oldpath", _K.PATH), _a("newdirfd", _K.DIRFD),
       _a("newpath", _K.PATH), _a("flags", _K.INT)),
    _s(384, "getrandom", _P, _a("buf", _K.BUF_OUT, 1), _a("buflen", _K.SIZE), _a("flags", _K.GRND_FLAGS)),
    _s(397, "statx", _V, _DIRFD, _PATH, _a("flags", _K.AT_FLAGS), _a("mask", _K.STATX_MASK),
       _out("statxbuf", "STATX")),
    _s(398, "rseq", _P, _a("rseq", _K.PTR), _a("rseq_len", _K.SIZE), _a("flags", _K.INT), _a("sig", _K.SIZE),
       note="-ENOSYS is acceptable: glibc then goes without"),
    _s(403, "clock_gettime64", _P, _a("clockid", _K.CLOCK), _out("tp", "TIMESPEC64")),
    _s(407, "clock_nanosleep_time64", _P, _a("clockid", _K.CLOCK), _a("flags", _K.INT),
       _in("req", "TIMESPEC64"), _out("rem", "TIMESPEC64")),
    _s(412, "utimensat_time64", _V, _DIRFD, _PATH, _a("times", _K.PTR), _a("flags", _K.AT_FLAGS)),
    _s(414, "ppoll_time64", _V, _a("fds", _K.PTR), _a("nfds", _K.SIZE), _in("tmo", "TIMESPEC64"),
       _in("sigmask", "SIGSET"), _a("sigsetsize", _K.SIZE)),
    _s(439, "faccessat2", _V, _DIRFD, _PATH, _a("mode", _K.ACCESS_MODE), _a("flags", _K.AT_FLAGS)),
    _s(ARM_NR_BASE + 2, "cacheflush", _P, _a("start", _K.PTR), _a("end", _K.PTR), _a("flags", _K.INT),
       note="ARM private: instruction cache maintenance; nothing to do for an emulator"),
    _s(ARM_NR_BASE + 5, "set_tls", _P, _a("tls", _K.PTR),
       note="ARM private: the value goes to TPIDRURO (CP15 c13/c0/3)"),
)

_BY_NUMBER = {s.number: s for s in SYSCALLS}
_BY_NAME = {s.name: s for s in SYSCALLS}


def by_number(number: int) -> Syscall | None:
    """The entry for r7, or None: the dispatcher then answers -ENOSYS."""
    return _BY_NUMBER.get(number)


def by_name(name: str) -> Syscall | None:
    return _BY_NAME.get(name)
