"""The runtime: fragment instances, the hosts (tasks) that hold them, endpoints and bindings.

A call ``fragment.use.peer.op(args)`` is resolved here at call time, so re-cutting takes
effect at the next call:
- the peer instance is the replica on the caller's core if the peer is duplicated, else
  the single instance;
- same host (or a call made from outside the model, at boot or by a user command): a direct
  Python call, charged ``direct_call`` cycles to the calling host's thread;
- different hosts: an IPC call through the caller host's capability to the peer's service
  gate. Arguments and result are marshalled (``marshal``: plain data only) into a
  *window*: frames of the callee fragment, mapped read-write into the caller's task at the
  same address. The caller writes through its own page table, the callee reads through
  its own. Message registers carry only (length, window id).

Every call leaves a ``fragment`` trace event and is counted in ``traffic`` (the planner's
input). A call to a fragment the composition leaves out (``subset = true``) leaves a
``fragment`` event with ``mode="absent"`` and raises ``AbsentFragment`` in the caller, across
IPC too (the callee answers "absent" instead of crashing its server). Objects the
fragments hold capabilities to are rooted in the runtime's root task.
"""

from __future__ import annotations

import marshal
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from kernel_model import irqs
from kernel_model.caps import OBJ_ALL, selector
from kernel_model.ipc_abi import MsgTag
from kernel_model.objects import IpcGate, Irq

from .fragment import CODE, DATA, PAGE, Fragment
from .host import Host, Server

AREA_RANGE = (0x2000_0000, 0xA000_0000)    # fragment areas
STACK_RANGE = (0xA000_0000, 0xB000_0000)   # host stacks
WINDOW_RANGE = (0xC000_0000, 0xF000_0000)  # binding windows
WINDOW_SIZE = 16 << 20                     # virtual reserve of one window


class BindingError(Exception):
    """A call to a peer that failed in the kernel (its task is gone, a capability revoked)."""


class AbsentFragment(BindingError):
    """A call to a fragment the composition leaves out."""

    def __init__(self, name: str):
        super().__init__(f"fragment {name} is not in this composition")
        self.name = name


@dataclass(eq=False)
class Endpoint:
    eid: int
    fragment: Fragment
    obj: IpcGate | Irq
    handler: Callable


@dataclass(eq=False)
class Window:
    wid: int
    address: int
    caller: Server
    callee: Fragment
    pages: int = 0


@dataclass
class Traffic:
    direct: int = 0
    ipc_local: int = 0      # caller and callee hosts on the same core
    ipc_remote: int = 0
    bytes: int = 0


class Layout:
    """Seeded, non-overlapping virtual addresses for areas, stacks and windows (the same
    in every task, so a fragment's pages keep their addresses when it moves)."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.areas: list[tuple[int, int]] = []
        self.stacks: set[int] = set()
        self.windows = 0

    def area(self, size: int) -> int:
        slot = 16 << 20
        count = -(-size // slot)
        slots = (AREA_RANGE[1] - AREA_RANGE[0]) // slot
        for _ in range(10_000):
            first = self.rng.randrange(0, slots - count + 1)
            start, end = AREA_RANGE[0] + first * slot, AREA_RANGE[0] + (first + count) * slot
            if all(end <= s or start >= e for s, e in self.areas):
                self.areas.append((start, end))
                return start
        raise MemoryError("no virtual space left for another fragment area")

    def stack(self) -> int:
        while True:
            base = STACK_RANGE[0] + self.rng.randrange(0, (STACK_RANGE[1] - STACK_RANGE[0]) // 0x10000) * 0x10000
            if base not in self.stacks:
                self.stacks.add(base)
                return base

    def window(self) -> int:
        address = WINDOW_RANGE[0] + self.windows * WINDOW_SIZE
        if address + WINDOW_SIZE > WINDOW_RANGE[1]:
            raise MemoryError("no virtual space left for another binding window")
        self.windows += 1
        return address


@dataclass
class Runtime:
    machine: object
    classes: dict[str, type]                      # fragment name -> class
    instances: dict[str, list[Fragment]] = field(default_factory=dict)
    hosts: list[Host] = field(default_factory=list)
    endpoints: dict[int, Endpoint] = field(default_factory=dict)
    windows: dict[tuple[int, int], Window] = field(default_factory=dict)   # (host id, fragment id)
    traffic: dict[tuple[str, str], Traffic] = field(default_factory=dict)
    current: Server | None = None
    rwx: bool = False

    def __post_init__(self):
        self.kernel = self.machine.kernel
        self.layout = Layout(random.Random(self.machine.rng.getrandbits(64)))
        self.root = self.kernel.create_task("root")
        self._window_by_id: dict[int, Window] = {}
        self._ops = {name: cls.interface() for name, cls in self.classes.items()}
        self._next_eid = 1
        self.clock_skew = 0
        self._next_wid = 0
        self.counts = Counter()

    # --- the clock --------------------------------------------------------------------
    def clock_ns(self) -> int:
        """Modeled nanoseconds since boot, as every task reads them from the kernel info
        page (no IPC: a fragment asking another for the time could close a call cycle)."""
        m = self.machine
        return m.modeled_time() * 1000 // m.cycles_per_us + self.clock_skew

    def skip_clock(self, ns: int) -> None:
        """nanosleep's model: the clock jumps ahead instead of the caller waiting."""
        self.clock_skew += ns

    # --- capabilities ---------------------------------------------------------------
    def give(self, obj, task, rights: int = OBJ_ALL, slot: int | None = None) -> int:
        """Map the root task's capability to ``obj`` into ``task`` (at ``slot``, else the
        lowest free one); returns the slot. Derived from the root, it survives the moves of
        the fragment that made ``obj``."""
        if self.root.caps.find(obj) is None:
            self.kernel.install_cap(self.root, self.root.caps.free_slot(), obj, OBJ_ALL)
        return self.kernel.give_cap(self.root, obj, task, rights, slot)

    # --- instances ------------------------------------------------------------------
    def instance(self, name: str, core: int | None = None) -> Fragment:
        replicas = self.instances.get(name)
        if not replicas:
            raise AbsentFragment(name)
        if len(replicas) > 1 and core is not None:
            for replica in replicas:
                if replica.replica_core == core:
                    return replica
        return replicas[0]

    def all_fragments(self) -> list[Fragment]:
        return [f for replicas in self.instances.values() for f in replicas]

    def host_of(self, name: str) -> Host:
        return self.instance(name).host

    def endpoint(self, fragment: Fragment, obj, handler: Callable) -> Endpoint:
        """Deliver messages from ``obj`` (a gate or an Irq) to ``handler(result)`` in
        whatever host holds ``fragment``."""
        endpoint = Endpoint(self._next_eid, fragment, obj, handler)
        self._next_eid += 1
        self.endpoints[endpoint.eid] = endpoint
        self._bind(endpoint)
        return endpoint

    def _bind(self, endpoint: Endpoint) -> None:
        thread, label = endpoint.fragment.server.thread, endpoint.eid << 4
        if isinstance(endpoint.obj, IpcGate):
            self.kernel.bind_gate(endpoint.obj, thread, label)
        else:
            irqs.attach(self.kernel, endpoint.obj, thread, label)

    def close_endpoint(self, endpoint: Endpoint) -> None:
        self.endpoints.pop(endpoint.eid, None)

    def endpoints_of(self, fragment: Fragment) -> list[Endpoint]:
        return [e for e in self.endpoints.values() if e.fragment is fragment]

    # --- calls ------------------------------------------------------------------------
    def call(self, caller: Fragment, target_name: str, op: str, args: tuple, core: int | None = None):
        if op not in self._ops[target_name]:
            raise AttributeError(f"fragment {target_name} has no operation {op}")
        server = self.current
        if core is None and server is not None:
            core = server.host.core
        if not self.instances.get(target_name):
            if server is not None:
                self.kernel.emit("fragment", thread=server.thread, caller=caller.label,
                                 target=target_name, op=op, mode="absent")
            raise AbsentFragment(target_name)
        target = self.instance(target_name, core)
        if server is None:
            return getattr(target, op)(*args)
        edge = self.traffic.get((caller.NAME, target_name))
        if edge is None:   # (setdefault would build a Traffic on every call)
            edge = self.traffic[caller.NAME, target_name] = Traffic()
        if target.host is server.host:
            edge.direct += 1
            self.kernel.emit_data("fragment", server.thread, {   # emit, without keywords
                "caller": caller.label, "target": target.label, "op": op, "mode": "direct"})
            self.machine.charge(server.thread, self.kernel.costs.direct_call.cycles)
            return getattr(target, op)(*args)
        if target.host.core == server.host.core:
            edge.ipc_local += 1
        else:
            edge.ipc_remote += 1
        self.kernel.emit("fragment", thread=server.thread, caller=caller.label,
                         target=target.label, op=op, mode="ipc")
        return self._ipc_call(server, target, op, args, edge)

    def _ipc_call(self, server: Server, target: Fragment, op: str, args: tuple, edge: Traffic):
        host = server.host
        window = self._window(server, target)
        payload = _marshal((op, args), f"arguments of {target.NAME}.{op}")
        edge.bytes += len(payload)
        self._ensure(window, len(payload))
        host.task.space.write(window.address, payload)
        gate = target.service.obj
        slot = host.install(gate)
        server.ctx.set_mrs([len(payload), window.wid])
        result = server.kernel(server.ctx.call(selector(slot), MsgTag(0, 2)))
        if result.error or result.tag.label != 0:
            raise BindingError(f"{op} on {target.label}: IPC error {result.error or result.tag.label}")
        length = server.ctx.mr(0)
        edge.bytes += length
        ok, value = marshal.loads(host.task.space.read(window.address, length))
        if ok is None:
            raise AbsentFragment(value)
        if not ok:
            raise BindingError(f"{op} on {target.label} failed: {value}")
        return value

    def serve_call(self, fragment: Fragment, result) -> MsgTag:
        """The service-gate handler: run the operation a peer asked for."""
        host, ctx = fragment.host, fragment.server.ctx
        length, wid = ctx.mrs(2)
        window = self._window_by_id.get(wid)
        if window is None or window.callee is not fragment or length > window.pages * PAGE:
            return MsgTag(-22 & 0xFFFF)
        op, args = marshal.loads(host.task.space.read(window.address, length))
        if op not in self._ops[fragment.NAME]:
            answer = (False, f"no operation {op}")
        else:
            try:
                answer = (True, getattr(fragment, op)(*args))
            except AbsentFragment as absent:     # passed on to the caller, see call()
                answer = (None, absent.name)
        out = _marshal(answer, f"result of {fragment.NAME}.{op}")
        self._ensure(window, len(out))
        host.task.space.write(window.address, out)
        ctx.set_mrs([len(out)])
        return MsgTag(0, 1)

    def _window(self, server: Server, target: Fragment) -> Window:
        key = (id(server), id(target))
        window = self.windows.get(key)
        if window is None:
            self._next_wid += 1                 # ids are never reused (windows get dropped)
            window = Window(self._next_wid, self.layout.window(), server, target)
            self.windows[key] = window
            self._window_by_id[window.wid] = window
        return window

    def _ensure(self, window: Window, length: int) -> None:
        """Grow ``window`` (callee frames, mapped into the caller) to hold ``length`` bytes."""
        need = -(-length // PAGE)
        if need * PAGE > WINDOW_SIZE:
            raise BindingError(f"{length} bytes exceed a binding window")
        callee = window.callee
        while window.pages < need:
            address = window.address + window.pages * PAGE
            callee.map_new_page(address, DATA)
            self.kernel.map_pages(callee.host.task, address, window.caller.host.task, address, 1, DATA)
            window.pages += 1

    def drop_windows(self, predicate: Callable[[Window], bool]) -> None:
        for key, window in list(self.windows.items()):
            if predicate(window):
                for i in range(window.pages):
                    window.callee.free_page(window.address + i * PAGE)
                del self.windows[key]
                del self._window_by_id[window.wid]

    # --- placing fragments in hosts ------------------------------------------------------
    def new_host(self, name: str, core: int) -> Host:
        host = Host(self, name, core, self.rwx)
        self.hosts.append(host)
        return host

    def add(self, cls: type, host: Host, replica_core: int | None = None) -> Fragment:
        """A new instance of ``cls`` in ``host``: its area, its code pages (the marshalled
        code of its class, R-X) and its service gate."""
        fragment = cls(self)
        fragment.replica_core = replica_core
        self.instances.setdefault(cls.NAME, []).append(fragment)
        fragment.host = host
        host.fragments.append(fragment)
        fragment.server = Server(host, fragment)
        fragment.area_base = self.layout.area(cls.AREA)
        code = marshal.dumps(tuple(f.__code__ for klass in cls.__mro__ for f in vars(klass).values()
                                   if hasattr(f, "__code__")))
        pages = -(-len(code) // PAGE)
        for i in range(pages):
            fragment.map_new_page(fragment.area_base + i * PAGE, CODE)
            fragment.poke(fragment.area_base + i * PAGE, code[i * PAGE:(i + 1) * PAGE])
        fragment.data_start = fragment.area_base + pages * PAGE
        gate = self.kernel.create_gate(f"{fragment.label}.svc")
        fragment.service = self.endpoint(fragment, gate, lambda result: self.serve_call(fragment, result))
        return fragment

    def move(self, fragment: Fragment, host: Host) -> None:
        """Move ``fragment`` into ``host``: a new server thread there (the old one, quiet,
        is killed; windows it called through go, and so do windows between it and
        fragments of ``host``, now direct calls), its pages granted at the same addresses
        (rights narrowed to W^X in a W^X host; children, such as the pages a pager lent,
        stay attached), its endpoints re-bound to the new thread. Capabilities follow in
        ``rewire``."""
        old = fragment.host
        self.drop_windows(lambda w: w.caller is fragment.server
                          or (w.callee is fragment and w.caller.host is host))
        old.fragments.remove(fragment)
        fragment.host = host
        host.fragments.append(fragment)
        old_server, fragment.server = fragment.server, Server(host, fragment)
        # the implicit reply capability moves too (a deferred call's caller still waits on it)
        fragment.server.thread.reply_to, old_server.thread.reply_to = old_server.thread.reply_to, None
        old_server.stop()
        for vpn, rights in sorted(fragment.pages.items()):
            node = old.task.space.lookup(vpn << 12)
            if node is not None:
                self.kernel.map_pages(old.task, vpn << 12, host.task, vpn << 12, 1,
                                      node.rights & host.effective(rights), grant=True)
        for endpoint in self.endpoints_of(fragment):
            self._bind(endpoint)

    def rewire(self) -> None:
        """Make every host's capability table hold exactly what its fragments need: the
        service gates of the peers they use in other hosts, and their own capabilities."""
        for host in self.hosts:
            need = []
            for fragment in host.fragments:
                for peer in fragment.USES:
                    need += [p.service.obj for p in self.instances.get(peer, []) if p.host is not host]
                need += list(fragment.caps.values())
            wanted = set(map(id, need))
            for obj in list(host.slots):
                if id(obj) not in wanted:
                    host.uninstall(obj)
            for obj in need:
                host.install(obj)

    def shutdown(self) -> None:
        """The system is being dropped: end every server's greenlet (see ``Server.end``)."""
        for host in self.hosts:
            for server in host.servers:
                server.end()

    def remove_host(self, host: Host) -> None:
        """An empty host goes: its task is destroyed, windows it used are freed."""
        assert not host.fragments
        self.kernel.destroy_task(host.task)
        self.hosts.remove(host)


def _marshal(value, what: str) -> bytes:
    """Plain data to bytes; a Python object (passed by reference) is a fragment bug."""
    try:
        return marshal.dumps(value)
    except ValueError:
        raise TypeError(f"{what} is not plain data: {value!r:.200}") from None
