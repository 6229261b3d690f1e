"""Address spaces: a page table (virtual page → frame with R/W/X) per task.

The page table is the set of ``MapNode``s the mapping database gives this space; it is
changed only through ``mapdb`` (``_slot_*`` below), never directly, so that revocation
reaches it. A space that runs ARM code is mirrored into its unicorn instance with
``mem_map_ptr`` on the very frame, so the emulator itself enforces NX and write protection,
and two spaces mapping one frame share its bytes. Python-coded tasks read and write their
memory through ``read``/``write``, which walk the same page table with the same checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterator

from unicorn import UC_PROT_EXEC, UC_PROT_READ, UC_PROT_WRITE

from . import mapdb
from .caps import MEM_R, MEM_W, MEM_X
from .physmem import PAGE_SHIFT, PAGE_SIZE, PhysicalMemory

if TYPE_CHECKING:
    from unicorn import Uc

ADDRESS_LIMIT = 1 << 32


def uc_prot(rights: int) -> int:
    return ((UC_PROT_READ if rights & MEM_R else 0) | (UC_PROT_WRITE if rights & MEM_W else 0)
            | (UC_PROT_EXEC if rights & MEM_X else 0))


@dataclass(frozen=True)
class MemoryFault(Exception):
    """An access that the page table does not allow: ``present`` is False for an unmapped
    page, True for a rights violation. ``access`` is MEM_R, MEM_W or MEM_X."""

    address: int
    access: int
    present: bool


class AddressSpace:
    """Virtual memory of one task. ``pages`` is owned by the mapping database."""

    def __init__(self, name: str, ram: PhysicalMemory):
        self.name = name
        self.ram = ram
        self.pages: dict[int, mapdb.MapNode] = {}
        self._uc: Uc | None = None
        self._on_code_change: Callable[[], None] = lambda: None

    def __repr__(self) -> str:
        return f"<space of {self.name}>"

    def detach_unicorn(self) -> None:
        """The task is gone: stop mirroring (and let go of the unicorn instance)."""
        self._uc = None
        self._on_code_change = lambda: None

    def attach_unicorn(self, uc: "Uc", on_code_change: Callable[[], None] | None = None) -> None:
        """Mirror the page table into ``uc`` from now on; ``on_code_change`` is called
        whenever translated code may have become stale."""
        self._uc = uc
        self._on_code_change = on_code_change or (lambda: None)
        for vpn, node in self.pages.items():
            self._uc_map(vpn, node)

    # --- mapdb owner protocol ---------------------------------------------------------
    def _uc_map(self, vpn: int, node: mapdb.MapNode) -> None:
        self._uc.mem_map_ptr(vpn << PAGE_SHIFT, PAGE_SIZE, uc_prot(node.rights),
                             self.ram.host_address(node.resource))
        self._forget_code(vpn << PAGE_SHIFT, PAGE_SIZE)

    def _forget_code(self, address: int, length: int) -> None:
        """Drop unicorn's translated code for a range whose bytes or frame changed behind
        its back (it caches translations by virtual address)."""
        if self._uc is not None and length > 0:
            start = address & ~(PAGE_SIZE - 1)
            self._uc.ctl_remove_cache(start, address + length)
            self._on_code_change()

    def _slot_installed(self, vpn: int, node: mapdb.MapNode) -> None:
        self.pages[vpn] = node
        if self._uc is not None:
            self._uc_map(vpn, node)

    def _slot_changed(self, vpn: int, node: mapdb.MapNode) -> None:
        if self._uc is not None:
            self._uc.mem_unmap(vpn << PAGE_SHIFT, PAGE_SIZE)
            self._uc_map(vpn, node)

    def _slot_removed(self, vpn: int, node: mapdb.MapNode) -> None:
        del self.pages[vpn]
        if self._uc is not None:
            self._uc.mem_unmap(vpn << PAGE_SHIFT, PAGE_SIZE)

    # --- queries ----------------------------------------------------------------------
    def lookup(self, address: int) -> mapdb.MapNode | None:
        return self.pages.get((address & 0xFFFFFFFF) >> PAGE_SHIFT)

    def frames(self) -> set[int]:
        return {node.resource for node in self.pages.values()}

    def regions(self) -> Iterator[tuple[int, int, int, list[int]]]:
        """Runs of consecutive pages with equal rights: (start, end, rights, frames)."""
        run: list = []
        for vpn in sorted(self.pages):
            node = self.pages[vpn]
            if run and vpn == run[1] and node.rights == run[2]:
                run[1] += 1
                run[3].append(node.resource)
            else:
                if run:
                    yield run[0] << PAGE_SHIFT, run[1] << PAGE_SHIFT, run[2], run[3]
                run = [vpn, vpn + 1, node.rights, [node.resource]]
        if run:
            yield run[0] << PAGE_SHIFT, run[1] << PAGE_SHIFT, run[2], run[3]

    def check(self, address: int, length: int, access: int) -> None:
        """Raise ``MemoryFault`` at the first byte of [address, address+length) that
        ``access`` may not touch."""
        if address < 0 or address + length > ADDRESS_LIMIT:
            raise MemoryFault(address & 0xFFFFFFFF, access, False)
        page = address & ~(PAGE_SIZE - 1)
        while page < address + length:
            node = self.pages.get(page >> PAGE_SHIFT)
            at = max(page, address)
            if node is None:
                raise MemoryFault(at, access, False)
            if node.rights & access != access:
                raise MemoryFault(at, access, True)
            page += PAGE_SIZE

    def _one_page(self, address: int, length: int, access: int):
        """The map node of the one page holding [address, address+length) (``check`` for a
        single page: MemoryFault if ``access`` may not touch it); None if the range is
        empty, spans pages or leaves the address space, for the general path."""
        if 0 < length <= PAGE_SIZE - (address & (PAGE_SIZE - 1)) and 0 <= address < ADDRESS_LIMIT:
            node = self.pages.get(address >> PAGE_SHIFT)
            if node is None:
                raise MemoryFault(address, access, False)
            if node.rights & access != access:
                raise MemoryFault(address, access, True)
            return node
        return None

    def read(self, address: int, length: int, access: int = MEM_R) -> bytes:
        node = self._one_page(address, length, access)
        if node is not None:
            return self.ram.read(node.resource, address & (PAGE_SIZE - 1), length)
        self.check(address, length, access)
        out = bytearray()
        while length:
            node = self.pages[address >> PAGE_SHIFT]
            offset = address & (PAGE_SIZE - 1)
            chunk = min(length, PAGE_SIZE - offset)
            out += self.ram.read(node.resource, offset, chunk)
            address, length = address + chunk, length - chunk
        return bytes(out)

    def write(self, address: int, data: bytes) -> None:
        self.check(address, len(data), MEM_W)
        self.poke(address, data)

    def poke(self, address: int, data: bytes) -> None:
        """Write through the frames ignoring W (the kernel writing a UTCB or a loader filling
        a read-only segment); the pages must be mapped. Only executable pages can hold
        translated code, so only their translations are dropped."""
        node = self._one_page(address, len(data), 0)
        if node is not None:
            self.ram.write(node.resource, address & (PAGE_SIZE - 1), data)
            if node.rights & MEM_X:
                self._forget_code(address, len(data))
            return
        self.check(address, len(data), 0)
        view = memoryview(data)
        while view:
            node = self.pages[address >> PAGE_SHIFT]
            offset = address & (PAGE_SIZE - 1)
            chunk = min(len(view), PAGE_SIZE - offset)
            self.ram.write(node.resource, offset, bytes(view[:chunk]))
            if node.rights & MEM_X:
                self._forget_code(address, chunk)
            address, view = address + chunk, view[chunk:]

    def read_word(self, address: int) -> int:
        return self.read_words(address, 1, 0)[0]

    def read_words(self, address: int, count: int, access: int = MEM_R) -> list[int]:
        """``count`` little-endian 32-bit words (message registers), as ``read``."""
        node = self._one_page(address, 4 * count, access)
        if node is not None:                    # within one page: unpacked in place
            return self.ram.read_words(node.resource, address & (PAGE_SIZE - 1), count)
        raw = self.read(address, 4 * count, access)
        return [int.from_bytes(raw[i:i + 4], "little") for i in range(0, len(raw), 4)]

    def poke_words(self, address: int, words: list[int]) -> None:
        """Each word's low 32 bits, little-endian, as ``poke`` (the kernel writing a UTCB)."""
        node = self._one_page(address, 4 * len(words), 0)
        if node is not None:                    # within one page: packed in place
            self.ram.write_words(node.resource, address & (PAGE_SIZE - 1), words)
            if node.rights & MEM_X:
                self._forget_code(address, 4 * len(words))
            return
        self.poke(address, b"".join((w & 0xFFFFFFFF).to_bytes(4, "little") for w in words))

    def read_cstring(self, address: int, limit: int = 4096) -> bytes:
        """A NUL-terminated string; ``MemoryFault`` if it runs into an unreadable page."""
        out = bytearray()
        while len(out) < limit:
            offset = address & (PAGE_SIZE - 1)
            chunk = self.read(address, PAGE_SIZE - offset)
            end = chunk.find(b"\0")
            if end >= 0:
                return bytes(out + chunk[:end])
            out += chunk
            address += len(chunk)
        return bytes(out[:limit])
