"""strace-style formatting of syscalls (fragments.linux.strace)."""

import struct

from hypothesis import given
from hypothesis import strategies as st

from fragments.linux import abi
from fragments.linux.strace import format_call, open_flags
from fragments.linux.syscall_table import SYSCALLS, by_name


class Memory:
    """A sparse user memory: reads that leave the written ranges fault (None)."""

    def __init__(self, **regions: bytes):
        self.regions = {int(k[1:], 16): v for k, v in regions.items()}

    def __call__(self, address: int, length: int) -> bytes | None:
        for base, data in self.regions.items():
            if base <= address and address + length <= base + len(data):
                return data[address - base:address - base + length]
        return None


def line(name, args, result, memory=Memory()):
    entry = by_name(name)
    return format_call(entry, entry.number, list(args) + [0] * (6 - len(args)), result & 0xFFFFFFFF, memory)


def test_write_shows_the_buffer():
    """The canonical line: `write(1, "hello\\n", 6) = 6`."""
    assert line("write", [1, 0x1000, 6], 6, Memory(x1000=b"hello\n")) == 'write(1, "hello\\n", 6) = 6'


def test_long_strings_are_cut_at_32_bytes():
    """Like strace -s 32: 32 bytes then `...`."""
    out = line("write", [1, 0x1000, 100], 100, Memory(x1000=b"a" * 100))
    assert out == f'write(1, "{"a" * 32}"..., 100) = 100'


def test_errors_show_name_and_message():
    """A negative result is `-1 ENOENT (No such file or directory)`; open flags are symbolic
    and the mode is left out without O_CREAT."""
    out = line("openat", [abi.AT_FDCWD & 0xFFFFFFFF, 0x2000, abi.OpenFlag.O_CLOEXEC, 0o777], -2,
               Memory(x2000=b"/nope\0"))
    assert out == 'openat(AT_FDCWD, "/nope", O_RDONLY|O_CLOEXEC) = -1 ENOENT (No such file or directory)'


def test_creat_shows_the_mode():
    """With O_CREAT the mode argument appears, in octal."""
    flags = abi.OpenFlag.O_WRONLY | abi.OpenFlag.O_CREAT | abi.OpenFlag.O_TRUNC
    out = line("open", [0x2000, flags, 0o644], 3, Memory(x2000=b"/tmp/x\0"))
    assert out == 'open("/tmp/x", O_WRONLY|O_CREAT|O_TRUNC, 0644) = 3'


def test_unknown_syscall():
    """Numbers the table lacks print as syscall_0x<nr> with the raw registers and ENOSYS."""
    out = format_call(None, 0x1C3, [1, 2, 3, 4, 5, 6], (-38) & 0xFFFFFFFF, Memory())
    assert out == "syscall_0x1c3(0x1, 0x2, 0x3, 0x4, 0x5, 0x6) = -1 ENOSYS (Function not implemented)"


def test_open_flags_rendering():
    """Access mode first, then bits in ascending order, multi-bit names whole, unknown bits in hex."""
    o = abi.OpenFlag
    assert open_flags(0) == "O_RDONLY"
    assert open_flags(o.O_RDWR | o.O_DIRECTORY | o.O_LARGEFILE | o.O_NONBLOCK | o.O_CLOEXEC) == \
        "O_RDWR|O_NONBLOCK|O_DIRECTORY|O_LARGEFILE|O_CLOEXEC"
    assert open_flags(o.O_SYNC) == "O_RDONLY|O_SYNC"
    assert open_flags(3 | 0x80000000) == "0x3|0x80000000"


def test_addresses_and_no_return():
    """mmap2 and brk return addresses in hex (high ones are not errors); exit_group never returns."""
    out = line("mmap2", [0, 8192, 3, 0x22, 0xFFFFFFFF, 0], 0xB6F00000)
    assert out == "mmap2(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0xb6f00000"
    assert line("exit_group", [3], 0) == "exit_group(3) = ?"
    assert line("mprotect", [0x145000, 16384, 0], 0) == "mprotect(0x145000, 16384, PROT_NONE) = 0"


def test_output_buffers_show_what_was_written():
    """read/getcwd show the bytes after success, the pointer after failure; a faulting
    path shows the pointer."""
    memory = Memory(x1000=b"ab\x00\x01c", x3000=b"/tmp\0")
    assert line("read", [0, 0x1000, 4096], 5, memory) == 'read(0, "ab\\0\\1c", 4096) = 5'
    assert line("read", [0, 0x1000, 4096], -9, memory) == \
        "read(0, 0x1000, 4096) = -1 EBADF (Bad file descriptor)"
    assert line("getcwd", [0x3000, 256], 5, memory) == 'getcwd("/tmp", 256) = 5'
    assert line("chdir", [0x9000], -14, memory) == "chdir(0x9000) = -1 EFAULT (Bad address)"


def test_octal_escape_before_a_digit():
    """A control byte followed by a digit uses three octal digits, as strace does."""
    assert line("write", [1, 0x1000, 2], 2, Memory(x1000=b"\x011")) == 'write(1, "\\0011", 2) = 2'


def test_signals_clone_and_statx():
    """Enums and flag sets by name: signals, clone flags with the exit signal, statx masks."""
    assert line("kill", [42, 15], 0) == "kill(42, SIGTERM) = 0"
    clone = abi.CloneFlag.CLONE_CHILD_CLEARTID | abi.CloneFlag.CLONE_CHILD_SETTID | abi.Signal.SIGCHLD
    assert line("clone", [clone, 0, 0, 0, 0x14F068], 7) == \
        "clone(CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, NULL, NULL, NULL, 0x14f068) = 7"
    statx = line("statx", [abi.AT_FDCWD & 0xFFFFFFFF, 0x1000, 0x800, 0x7FF, 0x5000], 0, Memory(x1000=b".\0"))
    assert statx == 'statx(AT_FDCWD, ".", AT_NO_AUTOMOUNT, STATX_BASIC_STATS, 0x5000) = 0'


def test_vectors_argv_and_directories():
    """writev shows its iovecs, execve its argv and the envp count, getdents64 the entries."""
    iov = abi.IOVEC.pack(0x1000, 3) + abi.IOVEC.pack(0, 0)
    memory = Memory(x1000=b"hi\n", x2000=iov)
    assert line("writev", [1, 0x2000, 2], 3, memory) == \
        'writev(1, [{iov_base="hi\\n", iov_len=3}, {iov_base=NULL, iov_len=0}], 2) = 3'
    argv = struct.pack("<III", 0x3000, 0x3003, 0)
    memory = Memory(x3000=b"sh\0-c\0", x4000=argv, x5000=struct.pack("<II", 0x3000, 0), x6000=b"/bin/sh\0")
    assert line("execve", [0x6000, 0x4000, 0x5000], 0, memory) == \
        'execve("/bin/sh", ["sh", "-c"], 0x5000 /* 1 vars */) = 0'
    dirents = abi.pack_dirent64(1, 1, 4, b".") + abi.pack_dirent64(2, 2, 4, b"..")
    assert line("getdents64", [3, 0x7000, 32768], len(dirents), Memory(x7000=dirents)) == \
        f"getdents64(3, 0x7000 /* 2 entries */, 32768) = {len(dirents)}"


@given(registers=st.lists(st.integers(0, 0xFFFFFFFF), min_size=7, max_size=7))
def test_every_entry_formats_any_registers(registers):
    """No register values and no memory contents make formatting raise: the trace view
    must not crash on a buggy program."""
    memory = Memory(x1000=bytes(range(256)) * 16)
    for entry in SYSCALLS:
        out = format_call(entry, entry.number, registers[:6], registers[6], memory)
        assert out.startswith(entry.name + "(")
