"""Capabilities: selectors, rights, flexpages, and the per-task capability table.

Facts from the reference (l4-facts §1.3–1.5), followed here:
- A selector is ``index << 12``; the low bits of the selector word given to the IPC syscall
  carry the operation flags (see ``ipc_abi``). Bit 11 marks the invalid capability.
- Object rights: W 0x1, S 0x2, R 0x4, D 0x8; the gate "server" right is 0x20 (given in the
  map item's control bits in Fiasco; kept beside the other rights here).
- Memory rights: X 0x1, W 0x2, R 0x4.
- A flexpage word: bits 0–3 rights, 4–5 type (1 memory, 3 objects), 6–11 log2 size,
  12+ base (a page address, or a selector for objects).

A ``CapTable`` maps a slot index to a ``MapNode`` whose resource is a kernel object; it is
changed only through ``mapdb`` (see there), so a capability's rights are never more than
those of the capability it was derived from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator

from . import mapdb

if TYPE_CHECKING:
    from .objects import KernelObject

CAP_SHIFT = 12
INVALID_CAP_BIT = 1 << 11
INVALID_CAP = 0xFFFFF800
CAP_SLOTS = 1 << 12  # slots per table: selectors must fit below the invalid-cap bit range

# Object capability rights.
OBJ_W = 0x1
OBJ_S = 0x2
OBJ_R = 0x4
OBJ_D = 0x8
OBJ_SERVER = 0x20   # Ipc_gate: may bind a thread and set the label
OBJ_ALL = OBJ_R | OBJ_W | OBJ_S | OBJ_D | OBJ_SERVER

# Memory rights.
MEM_X = 0x1
MEM_W = 0x2
MEM_R = 0x4
MEM_RW = MEM_R | MEM_W
MEM_RX = MEM_R | MEM_X
MEM_RWX = MEM_R | MEM_W | MEM_X

FPAGE_MEMORY = 1
FPAGE_OBJECT = 3
WHOLE_SPACE_ORDER = 63


def selector(index: int) -> int:
    return index << CAP_SHIFT


def slot_of(sel: int) -> int | None:
    """Slot index named by a selector word (flag bits ignored); None for the invalid cap."""
    if sel & INVALID_CAP_BIT:
        return None
    return (sel >> CAP_SHIFT) & (CAP_SLOTS - 1) if (sel >> CAP_SHIFT) < CAP_SLOTS else None


def mem_rights_str(rights: int) -> str:
    return "".join(c if rights & bit else "-" for c, bit in (("r", MEM_R), ("w", MEM_W), ("x", MEM_X)))


def obj_rights_str(rights: int) -> str:
    return "".join(c if rights & bit else "-"
                   for c, bit in (("r", OBJ_R), ("w", OBJ_W), ("s", OBJ_S), ("d", OBJ_D), ("c", OBJ_SERVER)))


@dataclass(frozen=True)
class Fpage:
    """A decoded flexpage. ``base`` is a byte address (memory) or a slot index (objects)."""

    kind: int
    base: int
    order: int
    rights: int

    @property
    def size(self) -> int:
        """Pages for memory, slots for objects."""
        unit = 12 if self.kind == FPAGE_MEMORY else 0
        return 1 << max(self.order - unit, 0)

    def encode(self) -> int:
        base = self.base if self.kind == FPAGE_MEMORY else self.base << CAP_SHIFT
        return (base & ~0xFFF) | (min(self.order, 63) << 6) | (self.kind << 4) | (self.rights & 0xF)

    @staticmethod
    def decode(word: int) -> "Fpage":
        kind = (word >> 4) & 0x3
        order = (word >> 6) & 0x3F
        base = word & ~0xFFF & 0xFFFFFFFF
        if kind == FPAGE_OBJECT:
            base >>= CAP_SHIFT
        return Fpage(kind, base, order, word & 0xF)

    @staticmethod
    def memory(address: int, order: int, rights: int) -> "Fpage":
        return Fpage(FPAGE_MEMORY, address & ~((1 << order) - 1) & 0xFFFFFFFF, order, rights)

    @staticmethod
    def objects(index: int, order: int, rights: int) -> "Fpage":
        return Fpage(FPAGE_OBJECT, index & ~((1 << order) - 1), order, rights)


class CapTable:
    """A task's object space: slot index → capability (a ``MapNode``)."""

    def __init__(self, name: str):
        self.name = name
        self._slots: dict[int, mapdb.MapNode] = {}

    def __repr__(self) -> str:
        return f"<caps of {self.name}>"

    # --- mapdb owner protocol ---------------------------------------------------------
    def _slot_installed(self, key: int, node: mapdb.MapNode) -> None:
        self._slots[key] = node
        node.resource.cap_count += 1

    def _slot_changed(self, key: int, node: mapdb.MapNode) -> None:
        pass

    def _slot_removed(self, key: int, node: mapdb.MapNode) -> None:
        del self._slots[key]
        node.resource.cap_count -= 1

    # --- queries ----------------------------------------------------------------------
    def lookup(self, index: int) -> mapdb.MapNode | None:
        return self._slots.get(index)

    def lookup_selector(self, sel: int) -> mapdb.MapNode | None:
        index = slot_of(sel)
        return None if index is None else self._slots.get(index)

    def items(self) -> Iterator[tuple[int, mapdb.MapNode]]:
        return iter(sorted(self._slots.items()))

    def free_slot(self, start: int = 16) -> int:
        """The lowest empty slot at or above ``start`` (low slots hold the initial caps)."""
        index = start
        while index in self._slots:
            index += 1
        if index >= CAP_SLOTS:
            raise OverflowError(f"capability table of {self.name} is full")
        return index

    def find(self, obj: "KernelObject") -> int | None:
        for index, node in self.items():
            if node.resource is obj:
                return index
        return None

    def __len__(self) -> int:
        return len(self._slots)
