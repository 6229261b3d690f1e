"""Linux ARM EABI (32-bit, little-endian) constants and struct layouts, as data.

Every number here is the value a 32-bit ARM Linux kernel uses at the syscall boundary,
which is not always the value of the host (x86-64) Linux: open flags O_DIRECTORY,
O_NOFOLLOW, O_DIRECT and O_LARGEFILE differ on ARM, and the struct layouts are the
32-bit ones. Sources: the kernel uapi headers for ARM (`asm/stat.h`, `linux/stat.h`,
`asm/termbits.h`, `asm/ioctls.h`, `asm/signal.h`, `asm-generic/fcntl.h` with ARM's
`asm/fcntl.h`), and sizes/offsets printed by an ARM program compiled against them and
run under qemu-arm (stat64 104 bytes, statx 256, termios 36, new_utsname 390,
linux_dirent64 header 19, kernel sigaction 20).

Errno numbers are Python's `errno` values: on a Linux host they are the asm-generic
numbers, which ARM uses too.

Invariants:
- Constant classes are `IntEnum` (one value names one thing) or `IntFlag` (bits);
  strace rendering and argument decoding read them, so a name is declared only here.
- Every `struct.Struct` is little-endian with explicit padding (`x`), so its `.size` is
  the kernel's `sizeof`; the field list is in the comment above it.
"""

import errno
import os
import struct
from enum import Enum, IntEnum, IntFlag

# ---------------------------------------------------------------------------- errno

# errno.errorcode picks one name per number; strace prints these preferred names.
_ERRNO_PREFERRED = {errno.EAGAIN: "EAGAIN", errno.EOPNOTSUPP: "EOPNOTSUPP", errno.EDEADLK: "EDEADLK"}

ERRNO_NAMES: dict[int, str] = {**errno.errorcode, **_ERRNO_PREFERRED}
"""errno number -> symbolic name, e.g. 2 -> "ENOENT"."""

MAX_ERRNO = 4095
"""A syscall return in [-4095, -1] is an error; anything else is a value (mmap2 may
return addresses above 0x80000000, which are negative as int32 but not errors)."""


def errno_message(number: int) -> str:
    """The strerror text strace prints after the name, e.g. "No such file or directory"."""
    return os.strerror(number)


# ---------------------------------------------------------------------------- signals

NSIG = 64
"""Signals 1..64; a kernel sigset_t on ARM is 64 bits (8 bytes: `rt_sigaction`'s
`sigsetsize` argument must be 8)."""

SIGSET_SIZE = 8


class Signal(IntEnum):
    SIGHUP = 1
    SIGINT = 2
    SIGQUIT = 3
    SIGILL = 4
    SIGTRAP = 5
    SIGABRT = 6
    SIGBUS = 7
    SIGFPE = 8
    SIGKILL = 9
    SIGUSR1 = 10
    SIGSEGV = 11
    SIGUSR2 = 12
    SIGPIPE = 13
    SIGALRM = 14
    SIGTERM = 15
    SIGSTKFLT = 16
    SIGCHLD = 17
    SIGCONT = 18
    SIGSTOP = 19
    SIGTSTP = 20
    SIGTTIN = 21
    SIGTTOU = 22
    SIGURG = 23
    SIGXCPU = 24
    SIGXFSZ = 25
    SIGVTALRM = 26
    SIGPROF = 27
    SIGWINCH = 28
    SIGIO = 29
    SIGPWR = 30
    SIGSYS = 31


SIGRTMIN = 32
"""Kernel's first real-time signal (libcs reserve a few above it for themselves)."""


class DefaultAction(Enum):
    """What SIG_DFL does (signal(7))."""

    TERM = "term"
    CORE = "core"  # terminate; a real kernel may also dump core
    IGNORE = "ignore"
    STOP = "stop"
    CONTINUE = "continue"


_CORE = {Signal.SIGQUIT, Signal.SIGILL, Signal.SIGTRAP, Signal.SIGABRT, Signal.SIGBUS,
         Signal.SIGFPE, Signal.SIGSEGV, Signal.SIGXCPU, Signal.SIGXFSZ, Signal.SIGSYS}
_IGNORE = {Signal.SIGCHLD, Signal.SIGURG, Signal.SIGWINCH}
_STOP = {Signal.SIGSTOP, Signal.SIGTSTP, Signal.SIGTTIN, Signal.SIGTTOU}

SIGNAL_DEFAULT: dict[int, DefaultAction] = {
    int(s): (DefaultAction.CORE if s in _CORE else DefaultAction.IGNORE if s in _IGNORE
             else DefaultAction.STOP if s in _STOP
             else DefaultAction.CONTINUE if s is Signal.SIGCONT else DefaultAction.TERM)
    for s in Signal
} | {n: DefaultAction.TERM for n in range(SIGRTMIN, NSIG + 1)}
"""Signal number (1..64) -> default action. SIGKILL and SIGSTOP cannot be caught or
ignored; that rule belongs to the code that installs handlers."""

SIG_DFL = 0
SIG_IGN = 1


class SigactionFlag(IntFlag):
    """`sa_flags` of the kernel struct sigaction on ARM."""

    SA_NOCLDSTOP = 0x00000001
    SA_NOCLDWAIT = 0x00000002
    SA_SIGINFO = 0x00000004
    SA_THIRTYTWO = 0x02000000
    SA_RESTORER = 0x04000000
    SA_ONSTACK = 0x08000000
    SA_RESTART = 0x10000000
    SA_NODEFER = 0x40000000
    SA_RESETHAND = 0x80000000


class SigmaskHow(IntEnum):
    """First argument of rt_sigprocmask."""

    SIG_BLOCK = 0
    SIG_UNBLOCK = 1
    SIG_SETMASK = 2


# ---------------------------------------------------------------------------- auxv


class Auxv(IntEnum):
    """Auxiliary vector keys (`linux/auxvec.h`, ARM)."""

    AT_NULL = 0
    AT_IGNORE = 1
    AT_EXECFD = 2
    AT_PHDR = 3
    AT_PHENT = 4
    AT_PHNUM = 5
    AT_PAGESZ = 6
    AT_BASE = 7
    AT_FLAGS = 8
    AT_ENTRY = 9
    AT_NOTELF = 10
    AT_UID = 11
    AT_EUID = 12
    AT_GID = 13
    AT_EGID = 14
    AT_PLATFORM = 15
    AT_HWCAP = 16
    AT_CLKTCK = 17
    AT_SECURE = 23
    AT_BASE_PLATFORM = 24
    AT_RANDOM = 25
    AT_HWCAP2 = 26
    AT_EXECFN = 31
    AT_SYSINFO_EHDR = 33
    AT_MINSIGSTKSZ = 51


class HwCap(IntFlag):
    """AT_HWCAP bits of 32-bit ARM Linux (`asm/hwcap.h`)."""

    SWP = 1 << 0
    HALF = 1 << 1
    THUMB = 1 << 2
    BIT26 = 1 << 3  # HWCAP_26BIT
    FAST_MULT = 1 << 4
    FPA = 1 << 5
    VFP = 1 << 6
    EDSP = 1 << 7
    JAVA = 1 << 8
    IWMMXT = 1 << 9
    CRUNCH = 1 << 10
    THUMBEE = 1 << 11
    NEON = 1 << 12
    VFPV3 = 1 << 13
    VFPV3D16 = 1 << 14
    TLS = 1 << 15
    VFPV4 = 1 << 16
    IDIVA = 1 << 17
    IDIVT = 1 << 18
    VFPD32 = 1 << 19
    LPAE = 1 << 20
    EVTSTRM = 1 << 21


CORTEX_A15_HWCAP = (HwCap.HALF | HwCap.THUMB | HwCap.FAST_MULT | HwCap.VFP | HwCap.EDSP
                    | HwCap.NEON | HwCap.VFPV3 | HwCap.TLS | HwCap.VFPV4 | HwCap.IDIVA
                    | HwCap.IDIVT | HwCap.VFPD32 | HwCap.LPAE)
"""What Linux reports on a Cortex-A15 ("half thumb fastmult vfp edsp neon vfpv3 tls vfpv4
idiva idivt vfpd32 lpae"), minus SWP (not offered on ARMv7) and EVTSTRM (no generic
timer event stream in the model). unicorn 2.1.4's default ARM CPU is a Cortex-A15
(MIDR 0x412fc0f1) and executes VFP/NEON and SDIV, but only once FPEXC.EN (bit 30) is set:
with FPEXC = 0, as after `Uc()`, any VFP instruction stops with UC_ERR_INSN_INVALID.
Whoever creates the core must write FPEXC = 0x40000000 before running Linux code.
AT_HWCAP2 (crypto extensions) is 0 on this core."""

PAGE_SIZE = 4096
USER_HZ = 100  # AT_CLKTCK
ELF_PLATFORM = b"v7l"  # AT_PLATFORM on ARMv7 little-endian
TASK_SIZE = 0xBF000000  # top of user space with the 3G/1G split and 16 MiB for modules

# ---------------------------------------------------------------------------- files

AT_FDCWD = -100


class AtFlag(IntFlag):
    """The `flags` argument of the *at() calls. AT_EACCESS (faccessat) shares 0x200 with
    AT_REMOVEDIR (unlinkat); it is the module constant AT_EACCESS."""

    AT_SYMLINK_NOFOLLOW = 0x100
    AT_REMOVEDIR = 0x200
    AT_SYMLINK_FOLLOW = 0x400
    AT_NO_AUTOMOUNT = 0x800
    AT_EMPTY_PATH = 0x1000
    AT_STATX_FORCE_SYNC = 0x2000
    AT_STATX_DONT_SYNC = 0x4000


AT_EACCESS = 0x200

O_RDONLY = 0
O_ACCMODE = 3


class OpenFlag(IntFlag):
    """open/openat flags with ARM's values (O_RDONLY is 0, see O_ACCMODE)."""

    O_WRONLY = 0o1
    O_RDWR = 0o2
    O_CREAT = 0o100
    O_EXCL = 0o200
    O_NOCTTY = 0o400
    O_TRUNC = 0o1000
    O_APPEND = 0o2000
    O_NONBLOCK = 0o4000
    O_DSYNC = 0o10000
    O_ASYNC = 0o20000
    O_DIRECTORY = 0o40000  # ARM (x86: 0o200000)
    O_NOFOLLOW = 0o100000  # ARM (x86: 0o400000)
    O_DIRECT = 0o200000  # ARM (x86: 0o40000)
    O_LARGEFILE = 0o400000  # ARM (x86: 0o100000)
    O_NOATIME = 0o1000000
    O_CLOEXEC = 0o2000000
    O_SYNC = 0o4010000  # __O_SYNC | O_DSYNC
    O_PATH = 0o10000000
    O_TMPFILE = 0o20040000  # __O_TMPFILE | O_DIRECTORY


class AccessMode(IntFlag):
    """access/faccessat mode; F_OK is 0."""

    X_OK = 1
    W_OK = 2
    R_OK = 4


F_OK = 0


class Whence(IntEnum):
    SEEK_SET = 0
    SEEK_CUR = 1
    SEEK_END = 2


class FcntlCmd(IntEnum):
    """fcntl64 commands (ARM has the 64-bit lock commands 12..14)."""

    F_DUPFD = 0
    F_GETFD = 1
    F_SETFD = 2
    F_GETFL = 3
    F_SETFL = 4
    F_GETLK = 5
    F_SETLK = 6
    F_SETLKW = 7
    F_SETOWN = 8
    F_GETOWN = 9
    F_GETLK64 = 12
    F_SETLK64 = 13
    F_SETLKW64 = 14
    F_DUPFD_CLOEXEC = 1030


FD_CLOEXEC = 1

# File type and permission bits of st_mode.
S_IFMT = 0o170000
S_IFSOCK = 0o140000
S_IFLNK = 0o120000
S_IFREG = 0o100000
S_IFBLK = 0o060000
S_IFDIR = 0o040000
S_IFCHR = 0o020000
S_IFIFO = 0o010000
S_ISUID = 0o4000
S_ISGID = 0o2000
S_ISVTX = 0o1000


class DirentType(IntEnum):
    """d_type of linux_dirent64 (equals (st_mode & S_IFMT) >> 12)."""

    DT_UNKNOWN = 0
    DT_FIFO = 1
    DT_CHR = 2
    DT_DIR = 4
    DT_BLK = 6
    DT_REG = 8
    DT_LNK = 10
    DT_SOCK = 12


class StatxMask(IntFlag):
    """statx `mask` argument and `stx_mask` field."""

    STATX_TYPE = 0x001
    STATX_MODE = 0x002
    STATX_NLINK = 0x004
    STATX_UID = 0x008
    STATX_GID = 0x010
    STATX_ATIME = 0x020
    STATX_MTIME = 0x040
    STATX_CTIME = 0x080
    STATX_INO = 0x100
    STATX_SIZE = 0x200
    STATX_BLOCKS = 0x400
    STATX_BASIC_STATS = 0x7FF
    STATX_BTIME = 0x800


# ---------------------------------------------------------------------------- memory


class Prot(IntFlag):
    """mmap2/mprotect `prot`; PROT_NONE is 0."""

    PROT_READ = 0x1
    PROT_WRITE = 0x2
    PROT_EXEC = 0x4
    PROT_GROWSDOWN = 0x01000000
    PROT_GROWSUP = 0x02000000


PROT_NONE = 0


class MapFlag(IntFlag):
    MAP_SHARED = 0x01
    MAP_PRIVATE = 0x02
    MAP_FIXED = 0x10
    MAP_ANONYMOUS = 0x20
    MAP_GROWSDOWN = 0x0100
    MAP_DENYWRITE = 0x0800
    MAP_EXECUTABLE = 0x1000
    MAP_LOCKED = 0x2000
    MAP_NORESERVE = 0x4000
    MAP_POPULATE = 0x8000
    MAP_NONBLOCK = 0x10000
    MAP_STACK = 0x20000
    MAP_HUGETLB = 0x40000
    MAP_FIXED_NOREPLACE = 0x100000


MMAP2_PAGE_SHIFT = 12
"""mmap2's offset argument counts 4096-byte units on ARM."""


class Madvise(IntEnum):
    MADV_NORMAL = 0
    MADV_RANDOM = 1
    MADV_SEQUENTIAL = 2
    MADV_WILLNEED = 3
    MADV_DONTNEED = 4
    MADV_FREE = 8


# ---------------------------------------------------------------------------- processes


class CloneFlag(IntFlag):
    """clone flags; the low byte (CSIGNAL) is the exit signal, not a flag. ARM passes
    clone(flags, newsp, parent_tidptr, tls, child_tidptr) (CLONE_BACKWARDS)."""

    CLONE_VM = 0x00000100
    CLONE_FS = 0x00000200
    CLONE_FILES = 0x00000400
    CLONE_SIGHAND = 0x00000800
    CLONE_PIDFD = 0x00001000
    CLONE_PTRACE = 0x00002000
    CLONE_VFORK = 0x00004000
    CLONE_PARENT = 0x00008000
    CLONE_THREAD = 0x00010000
    CLONE_NEWNS = 0x00020000
    CLONE_SYSVSEM = 0x00040000
    CLONE_SETTLS = 0x00080000
    CLONE_PARENT_SETTID = 0x00100000
    CLONE_CHILD_CLEARTID = 0x00200000
    CLONE_DETACHED = 0x00400000
    CLONE_UNTRACED = 0x00800000
    CLONE_CHILD_SETTID = 0x01000000


CSIGNAL = 0xFF


class WaitOption(IntFlag):
    WNOHANG = 0x00000001
    WUNTRACED = 0x00000002
    WCONTINUED = 0x00000008
    WNOTHREAD = 0x20000000
    WALL = 0x40000000  # __WALL
    WCLONE = 0x80000000  # __WCLONE


class Rlimit(IntEnum):
    RLIMIT_CPU = 0
    RLIMIT_FSIZE = 1
    RLIMIT_DATA = 2
    RLIMIT_STACK = 3
    RLIMIT_CORE = 4
    RLIMIT_RSS = 5
    RLIMIT_NPROC = 6
    RLIMIT_NOFILE = 7
    RLIMIT_MEMLOCK = 8
    RLIMIT_AS = 9
    RLIMIT_LOCKS = 10
    RLIMIT_SIGPENDING = 11
    RLIMIT_MSGQUEUE = 12
    RLIMIT_NICE = 13
    RLIMIT_RTPRIO = 14
    RLIMIT_RTTIME = 15


RLIM_INFINITY = 0xFFFFFFFF  # ugetrlimit's 32-bit struct rlimit
RLIM64_INFINITY = 0xFFFFFFFFFFFFFFFF  # prlimit64's struct rlimit64


class Clock(IntEnum):
    CLOCK_REALTIME = 0
    CLOCK_MONOTONIC = 1
    CLOCK_PROCESS_CPUTIME_ID = 2
    CLOCK_THREAD_CPUTIME_ID = 3
    CLOCK_MONOTONIC_RAW = 4
    CLOCK_REALTIME_COARSE = 5
    CLOCK_MONOTONIC_COARSE = 6
    CLOCK_BOOTTIME = 7


TIMER_ABSTIME = 1  # clock_nanosleep flags


class GrndFlag(IntFlag):
    GRND_NONBLOCK = 1
    GRND_RANDOM = 2


class Prctl(IntEnum):
    """The prctl options the test programs use (glibc: PR_GET_NAME at start-up)."""

    PR_SET_PDEATHSIG = 1
    PR_GET_PDEATHSIG = 2
    PR_SET_DUMPABLE = 4
    PR_SET_NAME = 15
    PR_GET_NAME = 16


# ---------------------------------------------------------------------------- terminals


class Ioctl(IntEnum):
    """ioctl request numbers for terminals (ARM uses the asm-generic values)."""

    TCGETS = 0x5401
    TCSETS = 0x5402
    TCSETSW = 0x5403
    TCSETSF = 0x5404
    TCFLSH = 0x540B
    TIOCSCTTY = 0x540E
    TIOCGPGRP = 0x540F
    TIOCSPGRP = 0x5410
    TIOCGWINSZ = 0x5413
    TIOCSWINSZ = 0x5414
    FIONREAD = 0x541B
    FIONBIO = 0x5421


NCCS = 19
"""Control characters in the kernel's struct termios (the libcs' userspace struct is
larger — musl 60 bytes — and is converted by tcgetattr; TCGETS moves the 36-byte one)."""

# c_cc indices
VINTR, VQUIT, VERASE, VKILL, VEOF, VTIME, VMIN = 0, 1, 2, 3, 4, 5, 6
VSTART, VSTOP, VSUSP = 8, 9, 10

# c_iflag / c_oflag / c_cflag / c_lflag bits used by a line discipline
ICRNL = 0o400
IXON = 0o2000
OPOST = 0o1
ONLCR = 0o4
B38400 = 0o17
CS8 = 0o60
CREAD = 0o200
ISIG = 0o1
ICANON = 0o2
ECHO = 0o10
ECHOE = 0o20
ECHOK = 0o40
ECHOCTL = 0o1000
ECHOKE = 0o4000
IEXTEN = 0o100000


# ---------------------------------------------------------------------------- polling


class PollEvent(IntFlag):
    POLLIN = 0x001
    POLLPRI = 0x002
    POLLOUT = 0x004
    POLLERR = 0x008
    POLLHUP = 0x010
    POLLNVAL = 0x020


# ---------------------------------------------------------------------------- structs
#
# Layouts of the kernel structs that cross the syscall boundary on 32-bit ARM EABI.
# 64-bit members are 8-byte aligned under EABI, hence the explicit padding.

STAT64 = struct.Struct("<Q4xIIIIIQ8xqI4xQIIIIIIQ")
"""struct stat64 (stat64, lstat64, fstat64, fstatat64), 104 bytes:
st_dev u64 @0, __pad0[4], __st_ino u32 @12 (low 32 bits of st_ino), st_mode u32 @16,
st_nlink u32 @20, st_uid u32 @24, st_gid u32 @28, st_rdev u64 @32, __pad3[4] and 4 bytes of alignment,
st_size s64 @48, st_blksize u32 @56, pad to 8, st_blocks u64 @64 (512-byte units),
st_atime u32 @72, st_atime_nsec u32 @76, st_mtime u32 @80, st_mtime_nsec u32 @84,
st_ctime u32 @88, st_ctime_nsec u32 @92, st_ino u64 @96."""

STATX_TIMESTAMP = struct.Struct("<qIi")
"""struct statx_timestamp, 16 bytes: tv_sec s64, tv_nsec u32, __reserved s32."""

STATFS64 = struct.Struct("<IIQQQQQiiIII16x")
"""struct statfs64 as ARM EABI's kernel writes it, 84 bytes (packed: the kernel takes 84 or
88 for its size): f_type, f_bsize, f_blocks u64, f_bfree u64, f_bavail u64, f_files u64,
f_ffree u64, f_fsid[2], f_namelen, f_frsize, f_flags, f_spare[4]."""

STATX = struct.Struct("<IIQIIIHHQQQQ" + "qIi" * 4 + "IIIIQII96x")
"""struct statx, 256 bytes: stx_mask u32 @0, stx_blksize u32 @4, stx_attributes u64 @8,
stx_nlink u32 @16, stx_uid u32 @20, stx_gid u32 @24, stx_mode u16 @28, __spare0 u16,
stx_ino u64 @32, stx_size u64 @40, stx_blocks u64 @48, stx_attributes_mask u64 @56,
stx_atime @64, stx_btime @80, stx_ctime @96, stx_mtime @112 (each statx_timestamp,
three fields), stx_rdev_major u32 @128, stx_rdev_minor u32 @132, stx_dev_major u32 @136,
stx_dev_minor u32 @140, stx_mnt_id u64 @144, stx_dio_mem_align u32 @152,
stx_dio_offset_align u32 @156, __spare3[12] u64 (zero)."""

DIRENT64_HEADER = struct.Struct("<QqHB")
"""struct linux_dirent64 without its name, 19 bytes: d_ino u64, d_off s64 (cookie for
the next entry), d_reclen u16, d_type u8; then d_name, NUL-terminated, and padding so
that d_reclen is a multiple of 8."""


def pack_dirent64(ino: int, next_offset: int, dtype: int, name: bytes) -> bytes:
    """One getdents64 record; its length (d_reclen) is a multiple of 8 and holds the NUL."""
    reclen = (DIRENT64_HEADER.size + len(name) + 1 + 7) & ~7
    record = DIRENT64_HEADER.pack(ino, next_offset, reclen, dtype) + name
    return record + bytes(reclen - len(record))


TIMESPEC32 = struct.Struct("<ii")
"""struct old_timespec32 (nanosleep, clock_gettime 263): tv_sec s32, tv_nsec s32."""

TIMESPEC64 = struct.Struct("<qq")
"""struct __kernel_timespec (clock_gettime64 403, clock_nanosleep_time64 407,
ppoll_time64 414 — what musl's time64 ABI uses): tv_sec s64, tv_nsec s64. Reading from a
32-bit task the kernel ignores the upper half of tv_nsec."""

TIMEVAL32 = struct.Struct("<ii")
"""struct old_timeval32 (gettimeofday): tv_sec s32, tv_usec s32."""

UTSNAME_FIELD = 65
NEW_UTSNAME = struct.Struct("<65s65s65s65s65s65s")
"""struct new_utsname (uname 122), 390 bytes: sysname, nodename, release, version,
machine, domainname, each char[65] NUL-padded."""

TERMIOS = struct.Struct("<IIIIB19s")
"""kernel struct termios (TCGETS/TCSETS*), 36 bytes: c_iflag u32, c_oflag u32,
c_cflag u32, c_lflag u32, c_line u8, c_cc[19] (indices VINTR..)."""

WINSIZE = struct.Struct("<HHHH")
"""struct winsize (TIOCGWINSZ): ws_row, ws_col, ws_xpixel, ws_ypixel, each u16."""

RLIMIT32 = struct.Struct("<II")
"""struct rlimit (ugetrlimit): rlim_cur u32, rlim_max u32 (RLIM_INFINITY = 0xffffffff)."""

RLIMIT64 = struct.Struct("<QQ")
"""struct rlimit64 (prlimit64): rlim_cur u64, rlim_max u64."""

IOVEC = struct.Struct("<II")
"""struct iovec (readv/writev): iov_base u32, iov_len u32."""

SIGACTION = struct.Struct("<IIIQ")
"""kernel struct sigaction (rt_sigaction on ARM), 20 bytes: sa_handler u32
(SIG_DFL 0, SIG_IGN 1, else an address, Thumb bit included), sa_flags u32
(SigactionFlag), sa_restorer u32, sa_mask u64 (bit n-1 = signal n). The u64 is only
4-byte aligned here: the struct holds two unsigned longs, so it has no padding."""

INT32 = struct.Struct("<i")
"""An int written through a pointer: wait4's wstatus."""

FD_PAIR = struct.Struct("<ii")
"""int[2] of pipe/pipe2: read end, write end."""

LOFF = struct.Struct("<q")
"""loff_t written by _llseek: the new offset, s64."""

SIGSET = struct.Struct("<Q")
"""kernel sigset_t (rt_sigprocmask, ppoll): u64, bit n-1 = signal n."""

POLLFD = struct.Struct("<ihh")
"""struct pollfd (poll/ppoll): fd s32, events s16, revents s16."""
