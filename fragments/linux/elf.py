"""The exec front end: check a static ARM EABI executable and lay out its initial stack.

Pure functions, no model state: `parse_executable` turns file bytes into an
`Executable` (or raises `ExecFormatError`, which the process fragment answers with
-ENOEXEC); `standard_auxv` and `build_initial_stack` produce the bytes Linux's
`create_elf_tables` would leave on the new stack. Mapping the segments and the stack
into an address space is the caller's job.

Invariants of an `Executable` (all checked by `parse_executable`):
- ELF32, little-endian, EM_ARM, ET_EXEC, EABI version 5, no PT_INTERP.
- Each PT_LOAD lies inside the file (offset + filesz), has filesz <= memsz, lies in
  [PAGE_SIZE, TASK_SIZE), and has vaddr and offset congruent modulo the page size (so it can be
  mapped page by page). No two PT_LOAD ranges overlap byte-wise; two may share a page.
- The entry point is inside an executable PT_LOAD; the program header table is inside a
  PT_LOAD (libc start-up reads PT_TLS through AT_PHDR).
"""

import io
import struct
from dataclasses import dataclass
from enum import IntFlag

from elftools.elf.elffile import ELFFile

from .abi import ELF_PLATFORM, PAGE_SIZE, TASK_SIZE, USER_HZ, Auxv

EM_ARM = 40
EF_ARM_EABIMASK = 0xFF000000
EF_ARM_EABI_VER5 = 0x05000000
ELF32_HEADER_SIZE = 52
ELF32_PHENT_SIZE = 32

# Program header types as pyelftools names them.
PT_LOAD = "PT_LOAD"
PT_INTERP = "PT_INTERP"
PT_GNU_STACK = "PT_GNU_STACK"


class ExecFormatError(Exception):
    """The file is not an executable this loader runs (execve answers -ENOEXEC)."""


class Rights(IntFlag):
    """Segment rights, bit for bit ELF's p_flags PF_X/PF_W/PF_R."""

    X = 1
    W = 2
    R = 4

    def __str__(self) -> str:
        return "".join(c if self & bit else "-" for c, bit in (("r", Rights.R), ("w", Rights.W), ("x", Rights.X)))


@dataclass(frozen=True)
class Segment:
    """A PT_LOAD: memory [vaddr, vaddr + memsz) starts with `data` (p_filesz bytes), the
    rest is zero. Bytes of the first and last page outside that range are zero in the
    model (Linux would show neighbouring file bytes there; no program relies on it)."""

    vaddr: int
    memsz: int
    data: bytes
    rights: Rights

    @property
    def end(self) -> int:
        return self.vaddr + self.memsz


@dataclass(frozen=True)
class Executable:
    """A checked static executable (see the module invariants)."""

    entry: int  # e_entry as in the header; bit 0 set = start in Thumb state
    segments: tuple[Segment, ...]  # PT_LOADs in ascending vaddr
    phdr: int  # virtual address of the program header table (AT_PHDR)
    phent: int  # AT_PHENT, always 32
    phnum: int  # AT_PHNUM
    end_of_data: int  # highest vaddr + memsz of any PT_LOAD
    stack_executable: bool  # PT_GNU_STACK has PF_X; absent = False on ARMv7 Linux

    @property
    def thumb(self) -> bool:
        return bool(self.entry & 1)

    @property
    def initial_brk(self) -> int:
        """Where the heap starts without brk randomization: end_of_data rounded up to a
        page (Linux's start_brk; busybox's first brk(NULL) returns it)."""
        return _page_up(self.end_of_data)


def _page_up(address: int) -> int:
    return (address + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)


def parse_executable(data: bytes) -> Executable:
    """Check `data` as a static ARM EABI executable. Raises only ExecFormatError."""
    _check_ident(data)
    try:
        elf = ELFFile(io.BytesIO(data))
        header = elf.header
        _check_header(header, len(data))
        phdrs = [elf.get_segment(i).header for i in range(header.e_phnum)]
    except ExecFormatError:
        raise
    except Exception as e:  # pyelftools raises ELFError, construct and struct errors, ValueError...
        raise ExecFormatError(f"malformed ELF: {e}") from e
    if any(p.p_type == PT_INTERP for p in phdrs):
        raise ExecFormatError("dynamically linked: needs an interpreter")
    segments = _load_segments(data, phdrs)
    entry = header.e_entry
    if not any(s.vaddr <= (entry & ~1) < s.end and s.rights & Rights.X for s in segments):
        raise ExecFormatError(f"entry point {entry:#x} is not in an executable segment")
    stack = [p for p in phdrs if p.p_type == PT_GNU_STACK]
    return Executable(
        entry=entry,
        segments=segments,
        phdr=_phdr_address(header, phdrs),
        phent=header.e_phentsize,
        phnum=header.e_phnum,
        end_of_data=max(s.end for s in segments),
        stack_executable=bool(stack and stack[0].p_flags & Rights.X),
    )


def _check_ident(data: bytes) -> None:
    """e_ident checks, before pyelftools sees the bytes."""
    if len(data) < 16 or data[:4] != b"\x7fELF":
        raise ExecFormatError("not an ELF file")
    if data[4] != 1:
        raise ExecFormatError("not a 32-bit ELF file (ELFCLASS32 required)")
    if data[5] != 1:
        raise ExecFormatError("not a little-endian ELF file")
    if len(data) < ELF32_HEADER_SIZE:
        raise ExecFormatError("truncated ELF header")


def _check_header(header, size: int) -> None:
    if header.e_machine != "EM_ARM":
        raise ExecFormatError(f"not an ARM executable (machine {header.e_machine})")
    if header.e_type == "ET_DYN":
        raise ExecFormatError("position-independent executable (ET_DYN) is not supported")
    if header.e_type != "ET_EXEC":
        raise ExecFormatError(f"not an executable (type {header.e_type})")
    if header.e_flags & EF_ARM_EABIMASK != EF_ARM_EABI_VER5:
        raise ExecFormatError(f"not ARM EABI version 5 (flags {header.e_flags:#x})")
    if header.e_phentsize != ELF32_PHENT_SIZE or header.e_phnum == 0:
        raise ExecFormatError("no usable program header table")
    if header.e_phoff + header.e_phnum * ELF32_PHENT_SIZE > size:
        raise ExecFormatError("program header table past the end of the file")


def _load_segments(data: bytes, phdrs) -> tuple[Segment, ...]:
    segments = []
    for p in sorted((p for p in phdrs if p.p_type == PT_LOAD), key=lambda p: p.p_vaddr):
        where = f"segment at {p.p_vaddr:#x}"
        if p.p_offset + p.p_filesz > len(data):
            raise ExecFormatError(f"{where} extends past the end of the file")
        if p.p_filesz > p.p_memsz:
            raise ExecFormatError(f"{where} has filesz > memsz")
        if p.p_memsz and p.p_vaddr < PAGE_SIZE:
            raise ExecFormatError(f"{where} would map page zero")
        if p.p_vaddr + p.p_memsz > TASK_SIZE:
            raise ExecFormatError(f"{where} reaches beyond user space")
        if (p.p_vaddr - p.p_offset) % PAGE_SIZE:
            raise ExecFormatError(f"{where} is not page-congruent with its file offset")
        if segments and p.p_vaddr < segments[-1].end:
            raise ExecFormatError(f"{where} overlaps the previous segment")
        segments.append(Segment(p.p_vaddr, p.p_memsz, data[p.p_offset:p.p_offset + p.p_filesz],
                                Rights(p.p_flags & 7)))
    if not segments:
        raise ExecFormatError("no loadable segment")
    return tuple(segments)


def _phdr_address(header, phdrs) -> int:
    """Linux's rule: the vaddr of e_phoff inside the PT_LOAD whose file range holds it."""
    for p in phdrs:
        if p.p_type == PT_LOAD and p.p_offset <= header.e_phoff < p.p_offset + p.p_filesz:
            return p.p_vaddr + header.e_phoff - p.p_offset
    raise ExecFormatError("program header table is not in a loaded segment")


# ---------------------------------------------------------------------------- the stack

CALLER_AUXV = (Auxv.AT_HWCAP, Auxv.AT_PAGESZ, Auxv.AT_CLKTCK, Auxv.AT_PHDR, Auxv.AT_PHENT,
               Auxv.AT_PHNUM, Auxv.AT_BASE, Auxv.AT_FLAGS, Auxv.AT_ENTRY, Auxv.AT_UID,
               Auxv.AT_EUID, Auxv.AT_GID, Auxv.AT_EGID, Auxv.AT_SECURE)
"""The auxv entries the caller of build_initial_stack supplies, in Linux's order."""

BUILDER_AUXV = (Auxv.AT_RANDOM, Auxv.AT_EXECFN, Auxv.AT_PLATFORM, Auxv.AT_NULL)
"""The entries build_initial_stack appends, because they point into the stack it lays out."""


def standard_auxv(executable: Executable, hwcap: int, *, uid: int = 0, gid: int = 0) -> list[tuple[int, int]]:
    """The caller part of the auxv for a static executable (no interpreter: AT_BASE 0;
    no vDSO: no AT_SYSINFO_EHDR; AT_HWCAP2 left out, it is 0 on the modeled core)."""
    values = {
        Auxv.AT_HWCAP: hwcap, Auxv.AT_PAGESZ: PAGE_SIZE, Auxv.AT_CLKTCK: USER_HZ,
        Auxv.AT_PHDR: executable.phdr, Auxv.AT_PHENT: executable.phent,
        Auxv.AT_PHNUM: executable.phnum, Auxv.AT_BASE: 0, Auxv.AT_FLAGS: 0,
        Auxv.AT_ENTRY: executable.entry, Auxv.AT_UID: uid, Auxv.AT_EUID: uid,
        Auxv.AT_GID: gid, Auxv.AT_EGID: gid, Auxv.AT_SECURE: 0,
    }
    return [(int(key), values[key]) for key in CALLER_AUXV]


def build_initial_stack(stack_top: int, argv: list[bytes], envp: list[bytes],
                        auxv: list[tuple[int, int]], execfn: bytes, random16: bytes,
                        platform: bytes = ELF_PLATFORM) -> tuple[int, bytes]:
    """Lay out the stack a new Linux/ARM process starts with; return (sp, the bytes of
    [sp, stack_top)).

    From high to low addresses, as Linux's exec and create_elf_tables leave it:
    a zero word at stack_top - 4, the execfn string, the envp strings, the argv strings
    (argv[0] lowest), then — after aligning down to 16 — the platform string, the 16
    AT_RANDOM bytes, and from sp upward: argc, argv pointers, NULL, envp pointers, NULL,
    the auxv pairs (caller's, then AT_RANDOM, AT_EXECFN, AT_PLATFORM, AT_NULL). sp is
    16-byte aligned (STACK_ROUND). Strings must not contain NUL; `auxv` must hold every
    CALLER_AUXV key and none of BUILDER_AUXV (ValueError otherwise: a caller bug).
    """
    _check_stack_arguments(stack_top, argv + envp + [execfn, platform], auxv, random16)
    p = stack_top - 4
    p -= len(execfn) + 1
    execfn_at = p
    strings_size = sum(len(s) + 1 for s in argv + envp)
    p -= strings_size
    strings_at = p
    pointers, cursor = [], strings_at
    for s in argv + envp:
        pointers.append(cursor)
        cursor += len(s) + 1
    p &= ~15
    p -= len(platform) + 1
    platform_at = p
    p -= len(random16)
    random_at = p
    full_auxv = list(auxv) + [(Auxv.AT_RANDOM, random_at), (Auxv.AT_EXECFN, execfn_at),
                              (Auxv.AT_PLATFORM, platform_at), (Auxv.AT_NULL, 0)]
    words = ([len(argv)] + pointers[:len(argv)] + [0] + pointers[len(argv):] + [0]
             + [int(x) for pair in full_auxv for x in pair])
    sp = (p - 4 * len(words)) & ~15
    image = bytearray(stack_top - sp)
    image[0:4 * len(words)] = struct.pack(f"<{len(words)}I", *words)

    def put(address: int, blob: bytes) -> None:
        image[address - sp:address - sp + len(blob)] = blob

    put(random_at, random16)
    put(platform_at, platform + b"\0")
    put(strings_at, b"".join(s + b"\0" for s in argv + envp))
    put(execfn_at, execfn + b"\0")
    return sp, bytes(image)


def _check_stack_arguments(stack_top: int, strings: list[bytes], auxv: list[tuple[int, int]],
                           random16: bytes) -> None:
    if stack_top % 16:
        raise ValueError(f"stack_top {stack_top:#x} is not 16-byte aligned")
    if len(random16) != 16:
        raise ValueError("AT_RANDOM needs exactly 16 bytes")
    if any(b"\0" in s for s in strings):
        raise ValueError("argument, environment or name string contains NUL")
    keys = {key for key, _ in auxv}
    if missing := [k.name for k in CALLER_AUXV if k not in keys]:
        raise ValueError(f"auxv lacks {', '.join(missing)}")
    if extra := [k.name for k in BUILDER_AUXV if k in keys]:
        raise ValueError(f"auxv must not hold {', '.join(extra)}: build_initial_stack adds them")
