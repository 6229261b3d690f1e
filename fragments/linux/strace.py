"""strace-style lines from the syscall table: `write(1, "hello\\n", 6) = 6`.

`format_call` is pure: it reads user memory only through the `read_user(addr, n)`
callable it is given (None = the range faults), after the call has completed, so output
buffers (read, getcwd, readlink) show what the call wrote. Rendering follows strace's
defaults: strings quoted with C escapes and cut at 32 bytes with `...`, flags joined
with `|` (ascending bit order, unknown bits as hex), errors as
`= -1 ENOENT (No such file or directory)`, unknown syscalls as
`syscall_0x1c3(0x1, ...) = -1 ENOSYS (Function not implemented)` with the six raw
registers.
"""

from collections.abc import Callable
from enum import IntEnum, IntFlag

from kernel_model.ipc_abi import signed32

from . import abi
from .syscall_table import Arg, Kind, Ret, Syscall

ReadUser = Callable[[int, int], bytes | None]

STRING_LIMIT = 32  # strace -s default
ARRAY_LIMIT = 8  # elements of argv / iovec shown before `...`

_SYMBOLS: dict[Kind, type[IntEnum] | type[IntFlag]] = {
    Kind.AT_FLAGS: abi.AtFlag, Kind.ACCESS_MODE: abi.AccessMode, Kind.SIGNAL: abi.Signal,
    Kind.SIGMASK_HOW: abi.SigmaskHow, Kind.IOCTL_REQUEST: abi.Ioctl, Kind.FCNTL_CMD: abi.FcntlCmd,
    Kind.WHENCE: abi.Whence, Kind.PROT: abi.Prot, Kind.MAP_FLAGS: abi.MapFlag,
    Kind.MADVISE: abi.Madvise, Kind.WAIT_OPTIONS: abi.WaitOption, Kind.RLIMIT: abi.Rlimit,
    Kind.CLOCK: abi.Clock, Kind.STATX_MASK: abi.StatxMask, Kind.GRND_FLAGS: abi.GrndFlag,
    Kind.PRCTL_OPTION: abi.Prctl,
}
"""Kinds rendered by name from an abi enum or flag set."""

_ZERO_NAMES = {Kind.ACCESS_MODE: "F_OK", Kind.PROT: "PROT_NONE"}


def format_call(entry: Syscall | None, number: int, args: list[int], result: int,
                read_user: ReadUser) -> str:
    """One strace line. `args` are the six argument registers r0..r5 as unsigned 32-bit
    values, `result` is r0 after the call (unsigned or signed), `number` is r7."""
    if entry is None:
        raw = ", ".join(hex(a) for a in args[:6])
        return f"syscall_{number:#x}({raw}) = {_render_result(Ret.INT, result)}"
    ok = not _is_error(entry.ret, result)
    rendered = [text for arg, value in zip(entry.args, args)
                if (text := _render_arg(arg, value, args, signed32(result) if ok else None, read_user))
                is not None]
    return f"{entry.name}({', '.join(rendered)}) = {_render_result(entry.ret, result)}"


def _is_error(ret: Ret, result: int) -> bool:
    return ret is not Ret.NONE and -abi.MAX_ERRNO <= signed32(result) < 0


def _render_result(ret: Ret, result: int) -> str:
    if ret is Ret.NONE:
        return "?"
    value = signed32(result)
    if _is_error(ret, result):
        number = -value
        name = abi.ERRNO_NAMES.get(number, str(number))
        return f"-1 {name} ({abi.errno_message(number)})"
    if ret is Ret.ADDR:
        return hex(result & 0xFFFFFFFF)
    if ret is Ret.OCTAL:
        return f"{value:#o}".replace("0o", "0")
    return str(value)


def _render_arg(arg: Arg, value: int, args: list[int], done: int | None,
                read_user: ReadUser) -> str | None:
    """Render one argument; None leaves it out (a mode without O_CREAT). `done` is the
    call's non-negative result, or None if it failed."""
    value &= 0xFFFFFFFF
    kind = arg.kind
    if kind in (Kind.INT, Kind.FD):
        return str(signed32(value))
    if kind is Kind.SIZE:
        return str(value)
    if kind is Kind.DIRFD:
        return "AT_FDCWD" if signed32(value) == abi.AT_FDCWD else str(signed32(value))
    if kind is Kind.PATH:
        return _string_at(value, read_user)
    if kind is Kind.PATH_OUT:
        return _string_at(value, read_user) if done is not None else _pointer(value)
    if kind is Kind.BUF_IN:
        return _buffer(value, args[arg.ref], read_user)
    if kind is Kind.BUF_OUT:
        return _buffer(value, done, read_user) if done is not None else _pointer(value)
    if kind is Kind.IOVEC_IN:
        return _iovec(value, args[arg.ref], None, read_user)
    if kind is Kind.IOVEC_OUT:
        return _iovec(value, args[arg.ref], done, read_user) if done is not None else _pointer(value)
    if kind is Kind.DIRENTS_OUT:
        return _dirents(value, done, read_user)
    if kind is Kind.ARGV:
        return _argv(value, read_user)
    if kind is Kind.ENVP:
        strings = _pointer_array(value, read_user)
        return _pointer(value) if strings is None else f"{_pointer(value)} /* {len(strings)} vars */"
    if kind is Kind.MODE:
        return _octal(value)
    if kind is Kind.CREAT_MODE:
        return _octal(value) if _creates(args[arg.ref]) else None
    if kind is Kind.OPEN_FLAGS:
        return open_flags(value)
    if kind is Kind.CLONE_FLAGS:
        signal = value & abi.CSIGNAL
        parts = [flags(abi.CloneFlag, value & ~abi.CSIGNAL, "")] if value & ~abi.CSIGNAL else []
        if signal:
            parts.append(_enum(abi.Signal, signal))
        return "|".join(parts) or "0"
    if kind in _SYMBOLS:
        symbols = _SYMBOLS[kind]
        if issubclass(symbols, IntFlag):
            return flags(symbols, value, _ZERO_NAMES.get(kind, "0"))
        return _enum(symbols, signed32(value) if kind is not Kind.IOCTL_REQUEST else value)
    return _pointer(value)  # PTR, STRUCT_IN, STRUCT_OUT


def _creates(open_flag_bits: int) -> bool:
    """Whether open/openat read their mode argument (O_CREAT or O_TMPFILE)."""
    tmpfile = abi.OpenFlag.O_TMPFILE
    return bool(open_flag_bits & abi.OpenFlag.O_CREAT) or open_flag_bits & tmpfile == tmpfile


def open_flags(value: int) -> str:
    """`O_RDONLY|O_CLOEXEC`: the access mode first, then the other bits."""
    access = {abi.O_RDONLY: "O_RDONLY", abi.OpenFlag.O_WRONLY: "O_WRONLY",
              abi.OpenFlag.O_RDWR: "O_RDWR"}.get(value & abi.O_ACCMODE, hex(value & abi.O_ACCMODE))
    rest = value & ~abi.O_ACCMODE
    return access + ("|" + flags(abi.OpenFlag, rest, "") if rest else "")


def flags(symbols: type[IntFlag], value: int, zero: str) -> str:
    """Names joined by `|` in ascending value order. Multi-bit names (STATX_BASIC_STATS,
    O_SYNC) are taken first when all their bits are set; bits with no name end in hex."""
    if value == 0:
        return zero
    members = sorted(symbols.__members__.items(), key=lambda item: (-item[1].bit_count(), item[1].value))
    chosen, left = [], value
    for name, member in members:
        if member.value and member.value & left == member.value:
            chosen.append((member.value, name))
            left &= ~member.value
    names = [name for _, name in sorted(chosen)]
    return "|".join(names + ([hex(left)] if left else []))


def _enum(symbols: type[IntEnum], value: int) -> str:
    try:
        return symbols(value).name
    except ValueError:
        return str(value) if -4096 < value < 4096 else hex(value & 0xFFFFFFFF)


def _pointer(address: int) -> str:
    return "NULL" if address == 0 else hex(address)


def _octal(mode: int) -> str:
    return f"0{mode:o}" if mode else "0"


def _quote(data: bytes, more: bool) -> str:
    """C-quoted like strace: \\n \\t \\r \\v \\f \\\\ \\", other bytes as short octal."""
    out = []
    for i, byte in enumerate(data):
        char = chr(byte)
        if char in '"\\':
            out.append("\\" + char)
        elif char in "\n\t\r\v\f":
            out.append({"\n": "\\n", "\t": "\\t", "\r": "\\r", "\v": "\\v", "\f": "\\f"}[char])
        elif 0x20 <= byte < 0x7F:
            out.append(char)
        else:
            following = data[i + 1:i + 2]
            digits = "03o" if following and following in b"01234567" else "o"
            out.append("\\" + format(byte, digits))
    return '"' + "".join(out) + '"' + ("..." if more else "")


def _buffer(address: int, length: int, read_user: ReadUser) -> str:
    if address == 0:
        return "NULL"
    data = read_user(address, min(length, STRING_LIMIT))
    return _pointer(address) if data is None else _quote(data, length > STRING_LIMIT)


def _string_at(address: int, read_user: ReadUser) -> str:
    """A NUL-terminated string, cut at STRING_LIMIT; faulting memory shows the pointer."""
    if address == 0:
        return "NULL"
    data = bytearray()
    while len(data) <= STRING_LIMIT:
        byte = read_user(address + len(data), 1)
        if byte is None:
            return _pointer(address)
        if byte == b"\0":
            return _quote(bytes(data), False)
        data += byte
    return _quote(bytes(data[:STRING_LIMIT]), True)


def _pointer_array(address: int, read_user: ReadUser) -> list[int] | None:
    """The pointers of a NULL-terminated array (at most 4096), None if it faults."""
    pointers = []
    while len(pointers) < 4096:
        word = read_user(address + 4 * len(pointers), 4)
        if word is None:
            return None
        pointer = int.from_bytes(word, "little")
        if pointer == 0:
            return pointers
        pointers.append(pointer)
    return None


def _argv(address: int, read_user: ReadUser) -> str:
    pointers = _pointer_array(address, read_user)
    if pointers is None:
        return _pointer(address)
    shown = [_string_at(p, read_user) for p in pointers[:ARRAY_LIMIT]]
    return "[" + ", ".join(shown) + (", ..." if len(pointers) > ARRAY_LIMIT else "") + "]"


def _iovec(address: int, count: int, budget: int | None, read_user: ReadUser) -> str:
    """`[{iov_base="...", iov_len=3}, ...]`; for readv `budget` is the bytes read, which
    fill the buffers in order."""
    items = []
    for i in range(min(count, ARRAY_LIMIT)):
        raw = read_user(address + abi.IOVEC.size * i, abi.IOVEC.size)
        if raw is None:
            return _pointer(address)
        base, length = abi.IOVEC.unpack(raw)
        shown = length if budget is None else max(0, min(length, budget))
        if budget is not None:
            budget -= shown
        items.append(f"{{iov_base={_buffer(base, shown, read_user)}, iov_len={length}}}")
    return "[" + ", ".join(items) + (", ..." if count > ARRAY_LIMIT else "") + "]"


def _dirents(address: int, length: int | None, read_user: ReadUser) -> str:
    """`0x... /* 3 entries */` after a successful getdents64."""
    if length is None:
        return _pointer(address)
    data = read_user(address, length) if length else b""
    if data is None:
        return _pointer(address)
    count, offset = 0, 0
    while offset + abi.DIRENT64_HEADER.size <= len(data):
        reclen = abi.DIRENT64_HEADER.unpack_from(data, offset)[2]
        if reclen == 0:
            break
        count, offset = count + 1, offset + reclen
    return f"{_pointer(address)} /* {count} entries */"

