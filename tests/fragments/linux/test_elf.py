"""The exec front end: parse_executable, standard_auxv, build_initial_stack."""

import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fragments.linux.abi import CORTEX_A15_HWCAP, PAGE_SIZE, Auxv
from fragments.linux.elf import (BUILDER_AUXV, CALLER_AUXV, ExecFormatError, Rights, build_initial_stack,
                                 parse_executable, standard_auxv)

DEMOS = Path(__file__).parents[3] / "demos" / "arm"
DEMO_NAMES = ["hello", "hello_thumb", "compute", "compute_thumb", "fileio", "forkexec", "mmapcow",
              "nxstack", "pipes", "sysall", "syscall_loop"]
BUSYBOX = Path("/tmp/bb/bin/busybox")  # Debian busybox-static:armhf, unpacked (see DESIGN.md)

E_TYPE, E_MACHINE, E_FLAGS, E_PHOFF, E_PHNUM = 16, 18, 36, 28, 44


def _read(path: Path) -> bytes:
    if not path.exists():
        pytest.skip(f"{path} is absent")
    return path.read_bytes()


@pytest.fixture
def hello() -> bytes:
    return _read(DEMOS / "hello")


def _patch(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, value)
    return bytes(out)


def _phdr_offset(data: bytes, index: int) -> int:
    return struct.unpack_from("<I", data, E_PHOFF)[0] + 32 * index


def _load_indexes(data: bytes) -> list[int]:
    phnum = struct.unpack_from("<H", data, E_PHNUM)[0]
    return [i for i in range(phnum) if struct.unpack_from("<I", data, _phdr_offset(data, i))[0] == 1]


def _segment_bytes_at(executable, address: int, length: int) -> bytes:
    for segment in executable.segments:
        if segment.vaddr <= address and address + length <= segment.vaddr + len(segment.data):
            return segment.data[address - segment.vaddr:address - segment.vaddr + length]
    raise AssertionError(f"{address:#x} is not backed by file bytes")


@pytest.mark.parametrize("name", DEMO_NAMES)
def test_demo_programs_parse(name):
    """Every demo ELF loads: entry in an executable segment, segments sorted and
    disjoint, AT_PHDR points at the program header table's bytes."""
    data = _read(DEMOS / name)
    executable = parse_executable(data)
    assert any(s.vaddr <= executable.entry & ~1 < s.end and s.rights & Rights.X for s in executable.segments)
    ends = [(s.vaddr, s.end) for s in executable.segments]
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(ends, ends[1:]))
    phoff = struct.unpack_from("<I", data, E_PHOFF)[0]
    table = data[phoff:phoff + 32 * executable.phnum]
    assert _segment_bytes_at(executable, executable.phdr, len(table)) == table
    assert executable.phent == 32 and not executable.stack_executable
    assert executable.initial_brk % PAGE_SIZE == 0 and executable.initial_brk >= executable.end_of_data


def test_busybox_parses_like_linux_loads_it():
    """Debian's glibc busybox: Thumb entry, text r-x and data rw-, and the initial brk
    qemu-arm reports for its first brk(NULL) (0x14f000)."""
    executable = parse_executable(_read(BUSYBOX))
    assert executable.thumb and executable.entry == 0x38771
    assert [str(s.rights) for s in executable.segments] == ["r-x", "rw-"]
    assert executable.initial_brk == 0x14F000
    assert executable.phdr == 0x10034 and executable.phnum == 7


@pytest.mark.parametrize("data, message", [
    (b"", "not an ELF file"),
    (b"#!/bin/sh\necho hi\n", "not an ELF file"),
    (b"\x7fELF", "not an ELF file"),
    (b"\x7fELF\x02\x01\x01" + bytes(57), "32-bit"),
    (b"\x7fELF\x01\x02\x01" + bytes(45), "little-endian"),
    (b"\x7fELF\x01\x01\x01" + bytes(20), "truncated"),
])
def test_garbage_is_refused(data, message):
    """Empty files, scripts, bare magic, ELF64, big-endian and short headers raise
    ExecFormatError with a message saying why."""
    with pytest.raises(ExecFormatError, match=message):
        parse_executable(data)


def test_host_binary_is_refused():
    """An x86-64 host binary is not mistaken for an ARM one."""
    with pytest.raises(ExecFormatError):
        parse_executable(_read(Path("/bin/ls")))


@pytest.mark.parametrize("offset, fmt, value, message", [
    (E_MACHINE, "<H", 3, "not an ARM executable"),
    (E_TYPE, "<H", 3, "ET_DYN"),
    (E_TYPE, "<H", 1, "not an executable"),
    (E_FLAGS, "<I", 0x04000000, "EABI version 5"),
    (E_PHNUM, "<H", 0, "program header"),
    (E_PHOFF, "<I", 0x7FFFFFF0, "program header table past the end"),
])
def test_wrong_headers_are_refused(hello, offset, fmt, value, message):
    """Wrong machine (x86 ELF32), PIE, relocatable objects, non-EABI5, missing or
    out-of-file program headers."""
    with pytest.raises(ExecFormatError, match=message):
        parse_executable(_patch(hello, offset, fmt, value))


def test_dynamic_executable_is_refused(hello):
    """A PT_INTERP (here: the first non-load header turned into one) means a dynamic
    binary, which needs an interpreter the model does not have."""
    phnum = struct.unpack_from("<H", hello, E_PHNUM)[0]
    index = next(i for i in range(phnum) if i not in _load_indexes(hello))
    with pytest.raises(ExecFormatError, match="dynamically linked: needs an interpreter"):
        parse_executable(_patch(hello, _phdr_offset(hello, index), "<I", 3))


@pytest.mark.parametrize("field, value, message", [
    (4, 0x7FFFFF00, "past the end of the file"),  # p_offset
    (16, 0x7FFFFF00, "past the end of the file"),  # p_filesz
    (20, 0xFFFFFF00, "beyond user space"),  # p_memsz: a huge segment
    (20, 0, "filesz > memsz"),
    (8, 0x10001, "page-congruent"),  # p_vaddr
    (8, 0, "page zero"),
])
def test_bad_segments_are_refused(hello, field, value, message):
    """Segments outside the file, huge, inconsistent, misaligned or at page zero."""
    first = _load_indexes(hello)[0]
    with pytest.raises(ExecFormatError, match=message):
        parse_executable(_patch(hello, _phdr_offset(hello, first) + field, "<I", value))


def test_overlapping_segments_are_refused(hello):
    """Two PT_LOADs claiming the same addresses."""
    first, second = _load_indexes(hello)[:2]
    vaddr, = struct.unpack_from("<I", hello, _phdr_offset(hello, first) + 8)
    offset, = struct.unpack_from("<I", hello, _phdr_offset(hello, second) + 4)
    patched = _patch(hello, _phdr_offset(hello, second) + 8, "<I", vaddr + offset % PAGE_SIZE - PAGE_SIZE)
    with pytest.raises(ExecFormatError, match="overlaps"):
        parse_executable(patched)


def test_every_truncation_is_refused(hello):
    """Any prefix of a real executable that cuts into its headers or loaded bytes is
    refused cleanly, never with another exception."""
    loaded_end = max(sum(struct.unpack_from("<4xI8xI", hello, _phdr_offset(hello, i))) for i in _load_indexes(hello))
    for length in list(range(0, 600, 7)) + list(range(600, loaded_end, 997)):
        with pytest.raises(ExecFormatError):
            parse_executable(hello[:length])


@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(mutations=st.lists(st.tuples(st.integers(0, 511), st.integers(0, 255)), min_size=1, max_size=8))
def test_mutated_headers_parse_or_raise_exec_format_error(hello, mutations):
    """Random byte changes in the ELF and program headers either still parse or raise
    ExecFormatError: execve must never crash the process fragment."""
    data = bytearray(hello)
    for offset, value in mutations:
        data[offset] = value
    try:
        parse_executable(bytes(data))
    except ExecFormatError:
        pass


# ---------------------------------------------------------------------------- the stack

TOP = 0xBF000000


def _parse_stack(sp: int, image: bytes):
    """Read back what a libc's _start reads: argc, argv, envp, auxv."""
    def word(address):
        return struct.unpack_from("<I", image, address - sp)[0]

    def string(address):
        start = address - sp
        return image[start:image.index(b"\0", start)]

    argc, cursor = word(sp), sp + 4
    argv = [string(word(cursor + 4 * i)) for i in range(argc)]
    cursor += 4 * argc
    assert word(cursor) == 0
    cursor += 4
    envp = []
    while word(cursor):
        envp.append(string(word(cursor)))
        cursor += 4
    cursor += 4
    auxv = []
    while True:
        key, value = word(cursor), word(cursor + 4)
        auxv.append((key, value))
        cursor += 8
        if key == Auxv.AT_NULL:
            return argv, envp, auxv, string, word


def _example_auxv():
    return [(int(key), 1000 + key) for key in CALLER_AUXV]


def test_stack_reads_back_as_linux_lays_it_out():
    """argc, argv and envp strings, the caller's auxv in order followed by AT_RANDOM,
    AT_EXECFN, AT_PLATFORM, AT_NULL pointing at the right bytes; sp 16-aligned; a zero
    word at the top."""
    random16 = bytes(range(100, 116))
    sp, image = build_initial_stack(TOP, [b"busybox", b"sh", b"-c", b"echo hi"], [b"HOME=/", b"TERM=vt100"],
                                    _example_auxv(), b"/bin/busybox", random16)
    assert sp % 16 == 0 and len(image) == TOP - sp and image[-4:] == bytes(4)
    argv, envp, auxv, string, _ = _parse_stack(sp, image)
    assert argv == [b"busybox", b"sh", b"-c", b"echo hi"]
    assert envp == [b"HOME=/", b"TERM=vt100"]
    assert auxv[:len(CALLER_AUXV)] == _example_auxv()
    tail = dict(auxv[len(CALLER_AUXV):])
    assert [key for key, _ in auxv[len(CALLER_AUXV):]] == list(BUILDER_AUXV)
    at_random = tail[Auxv.AT_RANDOM]
    assert image[at_random - sp:at_random - sp + 16] == random16
    assert string(tail[Auxv.AT_EXECFN]) == b"/bin/busybox"
    assert string(tail[Auxv.AT_PLATFORM]) == b"v7l"
    assert tail[Auxv.AT_EXECFN] + len(b"/bin/busybox") + 1 == TOP - 4


@given(argv=st.lists(st.binary(max_size=40).filter(lambda s: b"\0" not in s), min_size=1, max_size=12),
       envp=st.lists(st.binary(max_size=40).filter(lambda s: b"\0" not in s), max_size=12),
       top_pages=st.integers(0x10000, 0xBF000))
def test_stack_round_trips_any_arguments(argv, envp, top_pages):
    """For any argument/environment strings and any page-aligned top, the stack parses
    back to the same lists and sp is 16-byte aligned."""
    top = top_pages * PAGE_SIZE
    sp, image = build_initial_stack(top, argv, envp, _example_auxv(), b"/x", bytes(16))
    assert sp % 16 == 0 and len(image) == top - sp
    parsed_argv, parsed_envp, _, _, _ = _parse_stack(sp, image)
    assert (parsed_argv, parsed_envp) == (argv, envp)


def test_standard_auxv_describes_the_executable(hello):
    """The caller part: the executable's AT_PHDR/PHENT/PHNUM/ENTRY, 4 KiB pages,
    100 Hz, AT_BASE 0 (no interpreter), root identity, Linux's key order."""
    executable = parse_executable(hello)
    auxv = standard_auxv(executable, CORTEX_A15_HWCAP)
    assert [key for key, _ in auxv] == list(CALLER_AUXV)
    values = dict(auxv)
    assert values[Auxv.AT_PHDR] == executable.phdr and values[Auxv.AT_PHNUM] == executable.phnum
    assert values[Auxv.AT_ENTRY] == executable.entry and values[Auxv.AT_HWCAP] == CORTEX_A15_HWCAP
    assert (values[Auxv.AT_PAGESZ], values[Auxv.AT_CLKTCK], values[Auxv.AT_BASE]) == (4096, 100, 0)
    assert values[Auxv.AT_UID] == values[Auxv.AT_EGID] == values[Auxv.AT_SECURE] == 0


@pytest.mark.parametrize("auxv, message", [
    ([], "lacks"),
    ([(int(k), 0) for k in CALLER_AUXV] + [(int(Auxv.AT_RANDOM), 0)], "must not hold AT_RANDOM"),
])
def test_stack_builder_rejects_a_wrong_auxv(auxv, message):
    """The split between caller and builder entries is enforced."""
    with pytest.raises(ValueError, match=message):
        build_initial_stack(TOP, [b"a"], [], auxv, b"a", bytes(16))


def test_stack_builder_rejects_bad_arguments():
    """NUL inside a string, a short AT_RANDOM, a misaligned top are caller bugs."""
    good = _example_auxv()
    for args in ((TOP, [b"a\0b"], [], good, b"a", bytes(16)),
                 (TOP, [b"a"], [], good, b"a", bytes(15)),
                 (TOP - 4, [b"a"], [], good, b"a", bytes(16))):
        with pytest.raises(ValueError):
            build_initial_stack(*args)
