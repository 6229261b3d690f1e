"""The `pager` fragment: the region map of every Linux process and its page-fault handler.

The protocol (L4Linux's): every page a process sees is a frame the pager holds in its
pool (``saddr``: a page of its own area, in whatever task holds it, mapped RWX there
because it lends code pages too); the process gets a child mapping of it, either from a
page-fault reply (a map item on the process's page-fault gate) or when the pager
populates a page to copy a syscall buffer. So the pager's page table is the source of
truth and a process mapping can be dropped at any time (it refaults). Other fragments
reach process memory only through ``read``/``write``/``read_cstring`` with a pid.

Invariants:
- ``AddressMap.regions`` are sorted, disjoint, page-aligned; a page is valid iff a region
  holds it. ``pages`` maps a vpn to the ``Frame`` that backs it (only valid pages).
- ``Frame.users`` counts the address maps whose ``pages`` name it. A frame with more than
  one user is copy-on-write: it is mapped to processes without W, and a write (fault or
  syscall copy-out) first copies it into a frame of its own.
- A frame returns to the pool (its server mapping removed) when its last user drops it.
- The pool never takes the last ``reserve_frames`` free frames: with the RAM full, a fault
  is refused (the process dies of SIGSEGV, as a bad access does) and a syscall's buffer
  gives EFAULT, while the kernel and the fragments' own pages still find frames.
"""

from __future__ import annotations

import bisect
import errno
import math
from dataclasses import dataclass, field, replace

from kernel_model.addrspace import MemoryFault
from kernel_model.caps import MEM_R, MEM_RWX, MEM_W, MEM_X, Fpage
from kernel_model.ipc_abi import PROTO_PAGE_FAULT, MsgTag
from kernel_model.physmem import OutOfFrames

from fragments.runtime.fragment import Fragment, operation

from .abi import MapFlag, Prot
from .syscalls import SyscallServer

PAGE = 4096
PAGER_SLOT = 8               # the page-fault gate's slot in a process task
STACK_SIZE = 8 << 20
MMAP_GAP = 16 << 20


def reserve_frames(ram_size: int) -> int:
    """The frames process memory and file data leave free, for the kernel and the fragments'
    own needs (binding windows, buffers): Linux's ``min_free_kbytes`` for ``ram_size`` bytes
    of RAM, sqrt(16 × KiB) clamped to [128 KiB, 256 MiB] (mm/page_alloc.c); 256 frames
    (1 MiB) for the default 64 MiB."""
    kib = min(max(math.isqrt(ram_size // 1024 * 16), 128), 262144)
    return kib * 1024 // PAGE


def page_down(a: int) -> int:
    return a & ~(PAGE - 1)


def page_up(a: int) -> int:
    return (a + PAGE - 1) & ~(PAGE - 1)


def prot_rights(prot: int) -> int:
    """mmap PROT_* to memory rights (ARM cannot give W or X without R)."""
    rights = (MEM_W if prot & Prot.PROT_WRITE else 0) | (MEM_X if prot & Prot.PROT_EXEC else 0)
    return rights | MEM_R if rights or prot & Prot.PROT_READ else 0


@dataclass(eq=False)
class Frame:
    saddr: int      # server address of the frame
    users: int = 1


@dataclass
class Region:
    start: int
    end: int
    rights: int                                   # MEM_* (0 = PROT_NONE)
    name: str                                     # "elf", "stack", "heap", "mmap"
    image: tuple[tuple[int, bytes], ...] = ()     # initial contents: (vaddr, bytes) pieces


@dataclass
class AddressMap:
    regions: list[Region] = field(default_factory=list)
    pages: dict[int, Frame] = field(default_factory=dict)
    brk_start: int = 0
    brk: int = 0
    mmap_next: int = 0

    def find(self, address: int) -> Region | None:
        i = bisect.bisect_right([r.start for r in self.regions], address) - 1
        if i >= 0 and address < self.regions[i].end:
            return self.regions[i]
        return None

    def add(self, region: Region) -> None:
        bisect.insort(self.regions, region, key=lambda r: r.start)

    def split(self, at: int) -> None:
        """Make ``at`` a region boundary (if a region straddles it)."""
        region = self.find(at)
        if region is not None and region.start < at:
            tail = replace(region, start=at)
            region.end = at
            self.add(tail)

    def covered(self, start: int, end: int) -> bool:
        at = start
        for r in self.regions:
            if r.end <= at or r.start >= end:
                continue
            if r.start > at:
                return False
            at = r.end
        return at >= end


@dataclass(eq=False)
class MemoryContext:
    """The pager's record of one process: its task and its address map."""
    pid: int
    task: object
    amap: AddressMap | None = None


class Pager(Fragment, SyscallServer):
    NAME = "pager"
    USES = ("vfs",)
    AREA = 256 << 20          # its code, and the pool of frames it lends to processes

    def __init__(self, runtime):
        super().__init__(runtime)
        self.kernel = runtime.kernel
        self.contexts: dict[int, MemoryContext] = {}
        self._next_saddr = 0
        self._free_saddrs: list[int] = []

    def record(self, pid: int) -> MemoryContext | None:
        return self.contexts.get(pid)

    # --- processes ----------------------------------------------------------------------
    @operation
    def attach(self, pid):
        """Start serving ``pid`` (whose task capability the creator gave this fragment):
        make its page-fault gate and map it into the task at PAGER_SLOT."""
        self.contexts[pid] = MemoryContext(pid, self.cap(("task", pid)))
        return self.client_gate(pid, "pf", PAGER_SLOT, lambda result: self._fault(pid, result))

    @operation
    def detach(self, pid):
        """``pid`` ended: release its pages and capabilities."""
        context = self.contexts.pop(pid, None)
        if context is not None:
            self._release(context)
        self.forget_client(pid)

    def _fault(self, pid: int, result) -> MsgTag | None:
        context = self.contexts.get(pid)
        if context is None or result.tag.label != PROTO_PAGE_FAULT:
            return None
        ctx = self.server.ctx
        word, _pc = ctx.mrs(2)
        item = self.page_fault(context, word & ~0x7, word & 0x7)
        if item is None:
            return MsgTag(-1)
        ctx.set_mrs(list(item))
        return MsgTag(0, 0, 1)

    # --- frames of the pager ------------------------------------------------------------
    @property
    def home(self):
        """The task holding the pager (and its pool)."""
        return self.host.task

    def _new_frame(self, content: bytes | None) -> Frame:
        ram = self.runtime.kernel.ram
        if ram.free_frames <= reserve_frames(ram.size):
            raise OutOfFrames("the RAM left is the kernel's and the fragments' reserve")
        saddr = self._free_saddrs.pop() if self._free_saddrs else self._take_saddr()
        try:
            self.map_new_page(saddr, MEM_RWX, secret="process memory")   # RWX: it lends code too
        except OutOfFrames:
            self._free_saddrs.append(saddr)
            raise
        if content:
            self.home.space.poke(saddr, content)
        return Frame(saddr)

    def _take_saddr(self) -> int:
        if not self._next_saddr:
            self._next_saddr = self.data_start
        saddr, self._next_saddr = self._next_saddr, self._next_saddr + PAGE
        return saddr

    def _drop(self, frame: Frame) -> None:
        frame.users -= 1
        if frame.users == 0:
            self.free_page(frame.saddr)
            self._free_saddrs.append(frame.saddr)

    @staticmethod
    def _content(region: Region, page: int) -> bytes | None:
        out = None
        for vaddr, data in region.image:
            lo, hi = max(vaddr, page), min(vaddr + len(data), page + PAGE)
            if lo < hi:
                out = out or bytearray(PAGE)
                out[lo - page:hi - page] = data[lo - vaddr:hi - vaddr]
        return bytes(out) if out else None

    # --- resolving a page --------------------------------------------------------------
    def resolve(self, proc, vpn: int, access: int) -> tuple[Frame, int] | None:
        """The frame backing page ``vpn`` of ``proc`` for ``access`` (MEM_R/W/X) and the
        rights to map it with; None if the access is not allowed (SIGSEGV / EFAULT)."""
        amap, page = proc.amap, vpn << 12
        region = amap.find(page)
        if region is None or not region.rights or region.rights & access != access:
            return None
        frame = amap.pages.get(vpn)
        try:
            if frame is None:
                frame = amap.pages[vpn] = self._new_frame(self._content(region, page))
            elif access == MEM_W and frame.users > 1:
                copy = self._new_frame(self.home.space.read(frame.saddr, PAGE))
                self._unmap_process(proc, page, MEM_RWX)
                self._drop(frame)
                frame = amap.pages[vpn] = copy
        except OutOfFrames:       # no RAM left: refused as a bad access is (nothing changed)
            return None
        rights = region.rights & ~MEM_W if frame.users > 1 else region.rights
        return frame, rights

    def _unmap_process(self, proc, page: int, rights: int) -> None:
        if proc.task.alive:
            self.kernel.unmap_pages(proc.task, page, 1, rights, True)

    def page_fault(self, proc, address: int, flags: int) -> tuple[int, int] | None:
        """A fault of ``proc``: (control word, fpage word) of the map item, or None."""
        access = MEM_X if flags & 4 else MEM_W if flags & 2 else MEM_R
        found = self.resolve(proc, address >> 12, access)
        if found is None:
            return None
        frame, rights = found
        return 0x8 | page_down(address), Fpage.memory(frame.saddr, 12, rights).encode()

    # --- the server touching process memory (syscall buffers) ---------------------------
    def _populate(self, proc, address: int, length: int, access: int) -> bool:
        for page in range(page_down(address), address + length, PAGE):
            found = self.resolve(proc, page >> 12, access)
            if found is None:
                return False
            frame, rights = found
            node = proc.task.space.lookup(page)
            if node is None or node.resource != self._frame_number(frame) or node.rights & access != access:
                self.kernel.map_pages(self.home, frame.saddr, proc.task, page, 1, rights)
        return True

    def _frame_number(self, frame: Frame) -> int:
        return self.home.space.lookup(frame.saddr).resource

    @operation
    def read(self, pid, address, length):
        """Bytes of process ``pid``'s memory (a syscall reading a user buffer); None = EFAULT."""
        proc = self.contexts.get(pid)
        return None if proc is None else self._read(proc, address, length)

    @operation
    def write(self, pid, address, data):
        """Write a syscall's result into process memory; False = EFAULT."""
        proc = self.contexts.get(pid)
        return proc is not None and self._write(proc, address, data)

    @operation
    def read_cstring(self, pid, address):
        proc = self.contexts.get(pid)
        return None if proc is None else self._read_cstring(proc, address)

    def _read(self, proc, address: int, length: int) -> bytes | None:
        if length == 0:
            return b""
        if address + length > 1 << 32 or not self._populate(proc, address, length, MEM_R):
            return None
        try:
            return self.kernel.copy_in(proc.task, address, length)
        except MemoryFault:
            return None

    def _write(self, proc, address: int, data: bytes) -> bool:
        if not data:
            return True
        if address + len(data) > 1 << 32 or not self._populate(proc, address, len(data), MEM_W):
            return False
        try:
            self.kernel.copy_out(proc.task, address, data)
            return True
        except MemoryFault:
            return False

    def _read_cstring(self, proc, address: int, limit: int = 4096) -> bytes | None:
        out = bytearray()
        while len(out) < limit:
            chunk = self._read(proc, address, PAGE - (address & (PAGE - 1)))
            if chunk is None:
                return None
            end = chunk.find(b"\0")
            if end >= 0:
                return bytes(out + chunk[:end])
            out += chunk
            address += len(chunk)
        return None

    def peek(self, pid: int, address: int, length: int) -> bytes | None:
        """Read without side effects (strace, an observer): only pages that exist."""
        proc = self.contexts.get(pid)
        if proc is None or proc.amap is None:
            return None
        out = bytearray()
        while length > 0:
            frame = proc.amap.pages.get(address >> 12)
            off = address & (PAGE - 1)
            n = min(length, PAGE - off)
            if frame is None:
                if proc.amap.find(address) is None:
                    return None
                out += bytes(n)
            else:
                out += self.home.space.read(frame.saddr + off, n, 0)
            address, length = address + n, length - n
        return bytes(out)

    # --- address-map life cycle ----------------------------------------------------------
    def _release(self, proc, start: int = 0, end: int = 1 << 32) -> None:
        """Drop the pages of [start, end) from ``proc`` (munmap, exec, exit)."""
        amap = proc.amap
        if amap is None:
            return
        for vpn in [v for v in amap.pages if start <= v << 12 < end]:
            self._unmap_process(proc, vpn << 12, MEM_RWX)
            self._drop(amap.pages.pop(vpn))

    @operation
    def fork(self, parent_pid, child_pid):
        """``child`` shares every page of ``parent`` copy-on-write."""
        parent, child = self.contexts[parent_pid], self.contexts[child_pid]
        pm = parent.amap
        child.amap = AddressMap([replace(r) for r in pm.regions], dict(pm.pages), pm.brk_start,
                                pm.brk, pm.mmap_next)
        for vpn, frame in pm.pages.items():
            frame.users += 1
            region = pm.find(vpn << 12)
            if region is not None and region.rights & MEM_W:
                self._unmap_process(parent, vpn << 12, MEM_W)

    def carve(self, proc, start: int, end: int) -> None:
        amap = proc.amap
        amap.split(start)
        amap.split(end)
        amap.regions = [r for r in amap.regions if r.end <= start or r.start >= end]
        self._release(proc, start, end)

    @operation
    def new_image(self, pid, regions, brk, mmap_next):
        """Replace ``pid``'s address map (execve): ``regions`` are (start, end, rights,
        name, image) tuples from the loader."""
        proc = self.contexts[pid]
        self._release(proc)
        proc.amap = AddressMap([Region(*r) for r in regions], {}, brk, brk, mmap_next)

    # --- syscalls -----------------------------------------------------------------------
    def handlers(self):
        return {"brk": self.sys_brk, "mmap2": self.sys_mmap2, "munmap": self.sys_munmap,
                "mprotect": self.sys_mprotect, "madvise": self.sys_madvise}

    def sys_brk(self, call, addr, *_):
        amap = call.proc.amap
        if addr < amap.brk_start:
            return amap.brk
        old_end, new_end = page_up(amap.brk), page_up(addr)
        if new_end > old_end:
            if any(r.start < new_end and r.end > old_end for r in amap.regions):
                return amap.brk
            heap = amap.find(old_end - 1) if old_end > amap.brk_start else None
            if heap is not None and heap.name == "heap" and heap.end == old_end:
                heap.end = new_end
            else:
                amap.add(Region(old_end, new_end, MEM_R | MEM_W, "heap"))
        elif new_end < old_end:
            self.carve(call.proc, new_end, old_end)
        amap.brk = addr
        return addr

    def sys_mmap2(self, call, addr, length, prot, flags, fd, pgoff):
        if length == 0 or length > 0xC0000000:
            return -errno.EINVAL
        size = page_up(length)
        amap = call.proc.amap
        image: tuple = ()
        if not flags & MapFlag.MAP_ANONYMOUS:
            data = self.use.vfs.file_bytes(call.pid, fd)
            if data is None:
                return -errno.EBADF
            offset = pgoff * PAGE
            image = ((0, data[offset:offset + length]),)
        if flags & MapFlag.MAP_FIXED:
            if addr & (PAGE - 1):
                return -errno.EINVAL
            start = addr
        else:
            start = self._find_gap(amap, size)
            if start is None:
                return -errno.ENOMEM
        self.carve(call.proc, start, start + size)
        image = tuple((start + v, d) for v, d in image)
        amap.add(Region(start, start + size, prot_rights(prot), "mmap", image))
        return start

    def _find_gap(self, amap: AddressMap, size: int) -> int | None:
        top = amap.mmap_next
        while top - size > amap.brk_start + (64 << 20):
            start = top - size
            clash = [r for r in amap.regions if r.start < top and r.end > start]
            if not clash:
                amap.mmap_next = start
                return start
            top = min(r.start for r in clash)
        return None

    def sys_munmap(self, call, addr, length, *_):
        if addr & (PAGE - 1) or length == 0:
            return -errno.EINVAL
        self.carve(call.proc, addr, addr + page_up(length))
        return 0

    def sys_mprotect(self, call, addr, length, prot, *_):
        if addr & (PAGE - 1):
            return -errno.EINVAL
        end = addr + page_up(length)
        amap = call.proc.amap
        if not amap.covered(addr, end):
            return -errno.ENOMEM
        amap.split(addr)
        amap.split(end)
        for r in amap.regions:
            if addr <= r.start and r.end <= end:
                r.rights = prot_rights(prot)
        for vpn in [v for v in amap.pages if addr <= v << 12 < end]:
            self._unmap_process(call.proc, vpn << 12, MEM_RWX)
        return 0

    def sys_madvise(self, call, addr, length, advice, *_):
        if advice == 4:  # MADV_DONTNEED: private anonymous pages read back as zeros
            amap = call.proc.amap
            end = addr + page_up(length)
            for vpn in [v for v in amap.pages if addr <= v << 12 < end]:
                region = amap.find(vpn << 12)
                if region is not None and not region.image:
                    self._unmap_process(call.proc, vpn << 12, MEM_RWX)
                    self._drop(amap.pages.pop(vpn))
        return 0
