"""The kernel: the table of objects, and the operations every other module builds on.

The kernel is the only place that creates objects and changes capability tables and page
tables (through ``mapdb``). Boot code (the role of sigma0 and moe in L4Re) calls these
methods directly to build the initial system; running threads reach the same operations
only through IPC to capabilities (``ipc``, ``invoke``). Every method that changes state emits
a trace event.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from . import mapdb, trace as T
from .addrspace import AddressSpace, MemoryFault
from .caps import (CAP_SLOTS, MEM_R, MEM_W, OBJ_ALL, OBJ_R, Fpage, FPAGE_MEMORY,
                   FPAGE_OBJECT, selector)
from .cost import CostTable, DEFAULT_COSTS
from .ipc_abi import UTCB_SIZE
from .objects import (Factory, Icu, IpcGate, Irq, KernelObject, Task, Thread, ThreadState)
from .physmem import PAGE_SHIFT, PAGE_SIZE, OutOfFrames, PhysicalMemory

if TYPE_CHECKING:
    from .machine import Machine

# Initial capability slots of a task (l4-facts §1.3).
SLOT_TASK, SLOT_FACTORY, SLOT_THREAD, SLOT_PAGER, SLOT_LOG, SLOT_ICU, SLOT_SCHEDULER = 1, 2, 3, 4, 5, 6, 7

UTCB_AREA = 0xBFF00000   # where the kernel places UTCB pages in every task
UTCB_AREA_PAGES = 4


class Kernel:
    def __init__(self, machine: "Machine", ram: PhysicalMemory, costs: CostTable = DEFAULT_COSTS):
        self.machine = machine
        self.ram = ram
        self.costs = costs
        self.trace: T.Trace = machine.trace
        self.objects: list[KernelObject] = []
        self.tasks: list[Task] = []
        self.threads: list[Thread] = []
        self.icu = self._new(Icu, "icu")
        self.root_factory = self._new(Factory, "factory", 1 << 30)

    # --- objects ------------------------------------------------------------------------
    def _new(self, cls, name: str, *args):
        obj = cls(len(self.objects), name, *args)
        self.objects.append(obj)
        return obj

    def emit(self, kind: str, thread: Thread | None = None, task: Task | None = None, **data):
        return self.emit_data(kind, thread, data, task)

    def emit_data(self, kind: str, thread: Thread | None, data: dict, task: Task | None = None):
        """``emit`` with the details in one dict, which becomes the event's ``data`` (on the
        hot paths: a call with keywords costs more than the event itself)."""
        if thread is not None:
            core = self.machine.cores[thread.core]
            return self.trace.append(core.now, core.index, kind,
                                     (task or thread.task).name, thread.name, data)
        core = self.machine.current_core
        return self.trace.append(core.now, core.index, kind, task.name if task else "", "", data)

    def task_fits(self, spare: int = 0) -> bool:
        """Whether the RAM left holds a new task's UTCB area, ``spare`` frames left over."""
        return self.ram.free_frames >= UTCB_AREA_PAGES + spare

    def create_task(self, name: str) -> Task:
        """A task with its UTCB area and the standard initial capabilities; OutOfFrames,
        with nothing made, if the area does not fit (``task_fits``)."""
        if any(t.name == name for t in self.tasks):
            raise ValueError(f"a task named {name!r} exists")
        if not self.task_fits():
            raise OutOfFrames(f"no frame left for the UTCB area of task {name}")
        task = self._new(Task, name, AddressSpace(name, self.ram))
        self.tasks.append(task)
        task.utcb_area = UTCB_AREA
        for page in range(UTCB_AREA_PAGES):
            self.alloc_page(task, UTCB_AREA + page * PAGE_SIZE, MEM_R | MEM_W)
        self.install_cap(task, SLOT_TASK, task, OBJ_ALL)
        self.install_cap(task, SLOT_FACTORY, self.root_factory, OBJ_ALL)
        self.install_cap(task, SLOT_ICU, self.icu, OBJ_ALL)
        self.emit(T.TASK, task=task, op="create", oid=task.oid)
        return task

    def create_thread(self, task: Task, name: str, python_body=None) -> Thread:
        if task.utcb_next + UTCB_SIZE > UTCB_AREA_PAGES * PAGE_SIZE:
            raise ValueError(f"task {task.name} has no UTCB slot left")
        thread = self._new(Thread, name, task, task.utcb_area + task.utcb_next, python_body)
        task.utcb_next += UTCB_SIZE
        task.threads.append(thread)
        self.threads.append(thread)
        self.emit(T.THREAD, thread=thread, op="create", oid=thread.oid)
        return thread

    def create_gate(self, name: str, thread: Thread | None = None, label: int = 0) -> IpcGate:
        gate = self._new(IpcGate, name, label)
        gate.thread = thread
        return gate

    def bind_gate(self, gate: IpcGate, thread: Thread, label: int) -> None:
        """Bind a server thread; callers that waited on the unbound gate queue on it."""
        gate.thread, gate.label = thread, label & ~0x3
        while gate.waiting:
            sender = gate.waiting.popleft()
            sender.send_target = thread
            sender.outgoing.label = gate.label | (sender.outgoing.label & 0x3)
            thread.senders.append(sender)

    def create_irq(self, name: str) -> Irq:
        return self._new(Irq, name)

    def create_factory(self, name: str, quota: int) -> Factory:
        return self._new(Factory, name, quota)

    def find_task(self, key: str | int) -> Task | None:
        for task in self.tasks:
            if task.name == key or task.oid == key or str(task.oid) == str(key):
                return task
        return None

    def find_thread(self, key: str | int) -> Thread | None:
        for thread in self.threads:
            if thread.name == key or thread.oid == key or str(thread.oid) == str(key):
                return thread
        return None

    # --- capabilities -------------------------------------------------------------------
    def install_cap(self, task: Task, slot: int, obj: KernelObject, rights: int) -> mapdb.MapNode:
        """Give ``task`` a root capability to ``obj`` (boot code only)."""
        self.drop_slot(task, slot)
        node = mapdb.make_root(task.caps, slot, obj, rights)
        self.emit(T.CAP, task=task, op="install", slot=slot, object=repr(obj), rights=rights)
        return node

    def drop_slot(self, task: Task, slot: int) -> None:
        node = task.caps.lookup(slot)
        if node is not None:
            mapdb.remove(node)

    def map_cap(self, src: Task, src_slot: int, dst: Task, dst_slot: int, rights: int) -> bool:
        """Copy a capability as a child of the source's (rights ANDed). False if the source
        slot is empty or no right would remain."""
        node = src.caps.lookup(src_slot)
        if (node is None or not 0 <= dst_slot < CAP_SLOTS
                or _is_ancestor(dst.caps.lookup(dst_slot), node)):
            return False
        self.drop_slot(dst, dst_slot)
        child = mapdb.derive(node, dst.caps, dst_slot, rights)
        if child is not None:
            self.emit(T.CAP, task=dst, op="map", slot=dst_slot, object=repr(node.resource),
                      rights=child.rights, src=src.name)
        return child is not None

    def grant_cap(self, src: Task, src_slot: int, dst: Task, dst_slot: int, rights: int) -> bool:
        """Move a capability (rights ANDed): it leaves ``src`` and keeps its place in the
        derivation tree. False if the source slot is empty or no right would remain."""
        node = src.caps.lookup(src_slot)
        if (node is None or not 0 <= dst_slot < CAP_SLOTS or not node.rights & rights & OBJ_R
                or _is_ancestor(dst.caps.lookup(dst_slot), node)):
            return False
        self.drop_slot(dst, dst_slot)
        moved = mapdb.grant(node, dst.caps, dst_slot, rights)
        self.emit(T.CAP, task=dst, op="grant", slot=dst_slot, object=repr(moved.resource),
                  rights=moved.rights, src=src.name)
        return True

    def give_cap(self, src: Task, obj: KernelObject, dst: Task, rights: int, slot: int | None = None) -> int:
        """Map ``src``'s capability to ``obj`` into ``dst`` at ``slot`` (or the lowest free
        slot); returns the slot. The source must hold one."""
        src_slot = src.caps.find(obj)
        if src_slot is None:
            raise ValueError(f"{src.name} holds no capability to {obj!r}")
        slot = dst.caps.free_slot() if slot is None else slot
        if not self.map_cap(src, src_slot, dst, slot, rights):
            raise ValueError(f"no rights left mapping {obj!r} to {dst.name}")
        return slot

    def unmap_cap(self, task: Task, slot: int, rights: int, include_self: bool) -> int:
        node = task.caps.lookup(slot)
        if node is None:
            return 0
        changed = mapdb.revoke(node, rights, include_self)
        self.emit(T.CAP, task=task, op="unmap", slot=slot, rights=rights, changed=changed)
        return changed

    # --- memory -------------------------------------------------------------------------
    def alloc_page(self, task: Task, address: int, rights: int) -> mapdb.MapNode:
        """Back ``address`` in ``task`` with a fresh zeroed frame (a root mapping: the frame
        returns to the pool when this mapping goes)."""
        frame = self.ram.allocate()
        vpn = (address & 0xFFFFFFFF) >> PAGE_SHIFT
        self._clear_page(task, vpn)
        return mapdb.make_root(task.space, vpn, frame, rights, self.ram.release)

    def alloc_range(self, task: Task, start: int, size: int, rights: int) -> None:
        for address in range(start & ~(PAGE_SIZE - 1), start + size, PAGE_SIZE):
            if task.space.lookup(address) is None:
                self.alloc_page(task, address, rights)

    def _clear_page(self, task: Task, vpn: int) -> None:
        old = task.space.pages.get(vpn)
        if old is not None:
            mapdb.remove(old)

    def map_pages(self, src: Task, src_addr: int, dst: Task, dst_addr: int, pages: int,
                  rights: int, grant: bool = False) -> int:
        """Map (or grant) ``pages`` pages; a page the source lacks is skipped. Returns the
        number mapped. Each becomes a child of the source's mapping (grant: moves it)."""
        mapped = 0
        for i in range(pages):
            node = src.space.lookup(src_addr + i * PAGE_SIZE)
            if node is None or not node.rights & rights & MEM_R:
                continue  # nothing to map, or no right would remain: the target is left alone
            dvpn = ((dst_addr + i * PAGE_SIZE) & 0xFFFFFFFF) >> PAGE_SHIFT
            if _is_ancestor(dst.space.pages.get(dvpn), node):
                continue  # replacing the source's own ancestor would destroy the source
            self._clear_page(dst, dvpn)
            new = (mapdb.grant if grant else mapdb.derive)(node, dst.space, dvpn, rights)
            mapped += 1
            self.emit(T.GRANT if grant else T.MAP, task=dst, address=dvpn << PAGE_SHIFT,
                      frame=new.resource, rights=new.rights, src=src.name)
        return mapped

    def unmap_pages(self, task: Task, address: int, pages: int, rights: int, include_self: bool) -> int:
        changed = 0
        for i in range(pages):
            node = task.space.lookup(address + i * PAGE_SIZE)
            if node is not None:
                changed += mapdb.revoke(node, rights, include_self)
        if changed:
            self.emit(T.UNMAP, task=task, address=address, pages=pages, rights=rights,
                      changed=changed)
        return changed

    def map_fpage(self, src: Task, fpage: Fpage, dst: Task, dst_base: int, grant: bool,
                  obj_extra: int = 0) -> int:
        """Transfer a flexpage (memory or objects) to ``dst`` at ``dst_base`` (a byte address
        or a slot). ``obj_extra`` carries the object-specific rights of the map item's
        control word (0x20: gate server right)."""
        if fpage.kind == FPAGE_MEMORY:
            return self.map_pages(src, fpage.base, dst, dst_base, fpage.size, fpage.rights, grant)
        if fpage.kind == FPAGE_OBJECT:
            count = 0
            for i in range(fpage.size):
                node = src.caps.lookup(fpage.base + i)
                if node is None:
                    continue
                if grant:
                    count += self.grant_cap(src, fpage.base + i, dst, dst_base + i,
                                            fpage.rights | obj_extra)
                else:
                    count += self.map_cap(src, fpage.base + i, dst, dst_base + i,
                                          fpage.rights | obj_extra)
            return count
        return 0

    # --- kernel copies between tasks ----------------------------------------------------
    def copy_in(self, task: Task, address: int, length: int) -> bytes:
        """Read another task's memory (kernel-copied buffer); ``MemoryFault`` if it lacks
        the pages or R."""
        return task.space.read(address, length, MEM_R)

    def copy_out(self, task: Task, address: int, data: bytes) -> None:
        task.space.write(address, data)

    # --- lifecycle ----------------------------------------------------------------------
    def kill_thread(self, thread: Thread, reason: str) -> None:
        if not thread.alive:
            return
        from . import ipc
        ipc.cancel(self, thread)
        thread.state = ThreadState.DEAD
        ipc.abort_partners(self, thread)
        thread.exit_reason = reason
        self.machine.scheduler.remove(thread)
        if thread.task.engine is not None:
            thread.task.engine.forget(thread)
        self.emit(T.THREAD, thread=thread, op="dead", reason=reason)

    def destroy_task(self, task: Task) -> None:
        """Kill its threads and remove every mapping and capability it holds (children in
        other tasks go with them, as revocation demands)."""
        for thread in task.threads:
            self.kill_thread(thread, "task destroyed")
        for node in list(task.space.pages.values()):
            if node.owner is task.space and node.key in task.space.pages:
                mapdb.remove(node)
        for _, node in list(task.caps.items()):
            if task.caps.lookup(node.key) is node:
                mapdb.remove(node)
        task.alive = False
        task.engine = None     # the unicorn instance (megabytes of host memory) goes with it
        task.space.detach_unicorn()
        for thread in task.threads:
            thread.arm_context = None
        self.emit(T.TASK, task=task, op="destroy")

    def live_threads(self) -> Iterator[Thread]:
        return (t for t in self.threads if t.alive)


def _is_ancestor(candidate: mapdb.MapNode | None, node: mapdb.MapNode) -> bool:
    """True if ``candidate`` is ``node`` or one of its ancestors."""
    while node is not None:
        if node is candidate:
            return True
        node = node.parent
    return False


__all__ = ["Kernel", "MemoryFault", "SLOT_TASK", "SLOT_FACTORY", "SLOT_THREAD", "SLOT_PAGER",
           "SLOT_ICU", "UTCB_AREA", "selector"]
