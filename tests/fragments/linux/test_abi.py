"""The ARM EABI constants and struct layouts of fragments.linux.abi."""

import errno

from fragments.linux import abi


def test_struct_sizes_are_the_kernel_sizeofs():
    """Each layout's size equals sizeof() printed by an ARM program built against the
    kernel headers and run under qemu-arm: a wrong size corrupts user memory."""
    sizes = {abi.STAT64: 104, abi.STATX: 256, abi.STATX_TIMESTAMP: 16, abi.DIRENT64_HEADER: 19,
             abi.TERMIOS: 36, abi.NEW_UTSNAME: 390, abi.WINSIZE: 8, abi.SIGACTION: 20,
             abi.RLIMIT32: 8, abi.RLIMIT64: 16, abi.IOVEC: 8, abi.TIMESPEC32: 8, abi.TIMESPEC64: 16,
             abi.TIMEVAL32: 8, abi.SIGSET: abi.SIGSET_SIZE, abi.FD_PAIR: 8, abi.LOFF: 8, abi.POLLFD: 8}
    assert {layout.format: layout.size for layout in sizes} == {layout.format: size for layout, size in sizes.items()}


def test_stat64_field_offsets():
    """st_mode @16, st_size @48, st_blocks @64, st_mtime @80, st_ino @96 (EABI 8-byte
    alignment of the 64-bit members): musl and glibc read these offsets."""
    values = (0x0102, 0x11, 0o100644, 1, 2, 3, 0, 0x1122334455, 4096, 8, 10, 11, 12, 13, 14, 15, 0x99)
    raw = abi.STAT64.pack(*values)
    assert int.from_bytes(raw[16:20], "little") == 0o100644
    assert int.from_bytes(raw[48:56], "little") == 0x1122334455
    assert int.from_bytes(raw[64:72], "little") == 8
    assert int.from_bytes(raw[80:84], "little") == 12
    assert int.from_bytes(raw[96:104], "little") == 0x99


def test_statx_field_offsets():
    """stx_mode @28 (u16), stx_size @40, stx_mtime @112, stx_dev_major @136."""
    ts = (0, 0, 0)
    raw = abi.STATX.pack(0x7FF, 4096, 0, 1, 0, 0, 0o40755, 0, 7, 1234, 8, 0,
                         *ts, *ts, *ts, 555, 6, 0, 0, 0, 8, 1, 0, 0, 0)
    assert int.from_bytes(raw[28:30], "little") == 0o40755
    assert int.from_bytes(raw[40:48], "little") == 1234
    assert int.from_bytes(raw[112:120], "little") == 555
    assert int.from_bytes(raw[136:140], "little") == 8


def test_open_flags_have_arm_values():
    """ARM differs from x86 for O_DIRECTORY/O_NOFOLLOW/O_DIRECT/O_LARGEFILE."""
    o = abi.OpenFlag
    assert (o.O_WRONLY, o.O_RDWR, o.O_CREAT, o.O_EXCL, o.O_NOCTTY, o.O_TRUNC, o.O_APPEND) == \
        (1, 2, 0o100, 0o200, 0o400, 0o1000, 0o2000)
    assert (o.O_NONBLOCK, o.O_DIRECTORY, o.O_NOFOLLOW, o.O_LARGEFILE, o.O_CLOEXEC) == \
        (0o4000, 0o40000, 0o100000, 0o400000, 0o2000000)
    assert abi.AT_FDCWD == -100


def test_errno_names_follow_strace():
    """Numbers are Linux's; aliases resolve to the names strace prints."""
    assert abi.ERRNO_NAMES[errno.ENOENT] == "ENOENT" and errno.ENOENT == 2
    assert abi.ERRNO_NAMES[11] == "EAGAIN"
    assert abi.ERRNO_NAMES[95] == "EOPNOTSUPP"
    assert abi.errno_message(errno.ENOSYS) == "Function not implemented"


def test_signal_default_actions():
    """Every signal 1..64 has a default action, and the classic ones are right."""
    assert set(abi.SIGNAL_DEFAULT) == set(range(1, abi.NSIG + 1))
    a = abi.DefaultAction
    assert abi.SIGNAL_DEFAULT[abi.Signal.SIGCHLD] is a.IGNORE
    assert abi.SIGNAL_DEFAULT[abi.Signal.SIGSEGV] is a.CORE
    assert abi.SIGNAL_DEFAULT[abi.Signal.SIGTSTP] is a.STOP
    assert abi.SIGNAL_DEFAULT[abi.Signal.SIGCONT] is a.CONTINUE
    assert abi.SIGNAL_DEFAULT[abi.Signal.SIGPIPE] is a.TERM
    assert abi.SIGNAL_DEFAULT[40] is a.TERM


def test_dirent64_records_are_8_aligned_and_terminated():
    """d_reclen is a multiple of 8, covers header + name + NUL, and is stored in the record."""
    for name in (b"", b"a", b"abcd", b"x" * 5, b"y" * 255):
        record = abi.pack_dirent64(7, 3, abi.DirentType.DT_REG, name)
        ino, off, reclen, dtype = abi.DIRENT64_HEADER.unpack_from(record)
        assert reclen == len(record) and reclen % 8 == 0
        assert record[19:19 + len(name) + 1] == name + b"\0"
        assert (ino, off, dtype) == (7, 3, 8)


def test_terminal_ioctl_numbers():
    """The TTY ioctls busybox and musl issue, with ARM's (asm-generic) numbers."""
    i = abi.Ioctl
    assert (i.TCGETS, i.TCSETS, i.TCSETSW, i.TCSETSF) == (0x5401, 0x5402, 0x5403, 0x5404)
    assert (i.TIOCGWINSZ, i.TIOCGPGRP, i.TIOCSPGRP, i.FIONREAD) == (0x5413, 0x540F, 0x5410, 0x541B)


def test_hwcap_of_the_modeled_core():
    """Cortex-A15 with VFPv4/NEON and hardware divide, no SWP: what glibc's start-up and
    string ifuncs read."""
    h = abi.CORTEX_A15_HWCAP
    assert h & abi.HwCap.VFP and h & abi.HwCap.NEON and h & abi.HwCap.TLS and h & abi.HwCap.IDIVA
    assert not h & abi.HwCap.SWP
