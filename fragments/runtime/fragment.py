"""Fragments: servers written once, reached through bindings.

A fragment declares its interface (the methods marked ``@operation``; their parameters are
the arguments) and the names of the fragments it uses (``USES``). It reaches a peer only
through ``self.use.<peer>.<operation>(…)``; the runtime's binding turns that into a direct
call when both share a task and into IPC through a capability when they do not, so the
arguments and results must be plain data (ints, bytes, str, None and tuples, lists and
dicts of those) — never a Python object passed by reference.

Memory: a fragment owns an *area* of virtual addresses, the same in whatever task holds it
(areas are unique across the system, at seeded random bases): its code pages (R-X), then
its data pages (RW-), allocated with ``map_new_page``. Split and merge move these pages
between tasks; nothing else of the fragment is task-bound. A data page may be marked secret
(``secret="name"``: the pager's pool is "process memory", the ramfs's file pages "file
data", the crypto and devmapper key pages "disk key"); the isolation report
(``fragments.runtime.isolation``) shows which fragments can reach each secret.
"""

from __future__ import annotations

import inspect

from kernel_model.caps import MEM_R, MEM_RWX, MEM_W, MEM_X, OBJ_ALL, selector

PAGE = 4096
EPOCH = 1_700_000_000          # modeled wall clock at boot, seconds
CODE = MEM_R | MEM_X
DATA = MEM_R | MEM_W


def operation(method):
    """Mark a method as part of the fragment's interface."""
    method.is_operation = True
    return method


class Fragment:
    NAME = ""
    USES: tuple[str, ...] = ()
    REPLICABLE = False          # stateless or per-core: ``duplicate`` may make a replica per core
    AREA = 16 << 20             # virtual space reserved for its pages

    def __init__(self, runtime):
        self.runtime = runtime
        self.use = Peers(self)
        self.host = None                    # the Host (task) it lives in
        self.server = None                  # its thread there (a host.Server)
        self.area_base = 0
        self.data_start = 0                 # first address after its code pages
        self.pages: dict[int, int] = {}     # vpn -> rights it asked for (CODE, DATA, MEM_RWX)
        self.secrets: dict[int, str] = {}   # vpn -> name of the secret the page holds
        self.caps: dict[object, object] = {}   # key -> kernel object it holds a capability to
        self.replica_core: int | None = None   # the core of a per-core replica
        self.client_gates: dict[int, object] = {}   # client -> endpoint of the gate it calls

    @property
    def label(self) -> str:
        return self.NAME if self.replica_core is None else f"{self.NAME}@{self.replica_core}"

    @classmethod
    def interface(cls) -> dict[str, tuple[str, ...]]:
        """Operation name -> argument names."""
        return {name: tuple(inspect.signature(member).parameters)[1:]
                for name, member in inspect.getmembers(cls, inspect.isfunction)
                if getattr(member, "is_operation", False)}

    def seconds(self) -> int:
        """The modeled wall clock in seconds (the kernel info page's clock)."""
        return EPOCH + self.runtime.clock_ns() // 1_000_000_000

    # --- memory of the fragment ---------------------------------------------------------
    def map_new_page(self, address: int, rights: int, secret: str | None = None) -> None:
        """A fresh zeroed frame at ``address`` (inside the area) in the holding task;
        ``secret`` names what it will hold if that must not leak (see isolation)."""
        self.runtime.kernel.alloc_page(self.host.task, address, self.host.effective(rights))
        self.pages[address >> 12] = rights        # (after: OutOfFrames leaves no trace)
        if secret is not None:
            self.secrets[address >> 12] = secret

    def free_page(self, address: int) -> None:
        self.secrets.pop(address >> 12, None)
        if self.pages.pop(address >> 12, None) is not None:
            self.runtime.kernel.unmap_pages(self.host.task, address, 1, MEM_RWX, True)

    def poke(self, address: int, data: bytes) -> None:
        self.host.task.space.poke(address, data)

    def peek(self, address: int, length: int) -> bytes:
        return self.host.task.space.read(address, length, 0)

    # --- capabilities ---------------------------------------------------------------------
    def cap(self, key) -> object | None:
        """The object behind the fragment's capability ``key`` (looked up in its task's
        capability table: a revoked capability is gone)."""
        obj = self.caps.get(key)
        if obj is None:
            return None
        slot = self.host.task.caps.find(obj)
        return None if slot is None else obj

    def hold(self, key, obj) -> None:
        """Keep a capability to ``obj`` (installed in the holding task's table)."""
        self.caps[key] = obj
        self.host.install(obj)

    def share(self, peer: str, key, obj, core: int | None = None) -> None:
        """Give the peer (its replica on ``core``) a capability to ``obj`` this fragment
        holds, as a map of the capability into the peer's task would (nothing if the
        composition leaves the peer out)."""
        if self.runtime.instances.get(peer):
            self.runtime.instance(peer, core).hold(key, obj)

    def client_gate(self, client: int, name: str, slot: int, handler) -> int:
        """A gate for one client task (whose capability this fragment holds as ("task",
        client)), served by ``handler(result)`` on this fragment's thread and mapped into
        the client's task at ``slot``; returns its selector there. Derived from the root,
        the client's capability survives this fragment's moves."""
        gate = self.runtime.kernel.create_gate(f"{name}.{client}")
        self.client_gates[client] = self.runtime.endpoint(self, gate, handler)
        self.hold(("gate", client), gate)
        self.runtime.give(gate, self.cap(("task", client)), OBJ_ALL, slot)
        return selector(slot)

    def forget_client(self, client: int) -> None:
        """Close the client's gate and drop the capabilities kept for it."""
        endpoint = self.client_gates.pop(client, None)
        if endpoint is not None:
            self.runtime.close_endpoint(endpoint)
        self.drop(("gate", client))
        self.drop(("task", client))

    def drop(self, key) -> None:
        obj = self.caps.pop(key, None)
        if obj is not None and self.host is not None:
            self.host.uninstall(obj)


class Peers:
    """``fragment.use.<name>``: a port to a peer the fragment declared in USES."""

    def __init__(self, fragment: Fragment):
        self._fragment = fragment

    def __getattr__(self, name: str) -> "Port":
        if name not in self._fragment.USES:
            raise AttributeError(f"fragment {self._fragment.NAME} does not declare that it uses {name}")
        port = Port(self._fragment, name)
        setattr(self, name, port)          # made once: the next lookup finds the attribute
        return port


class Port:
    def __init__(self, fragment: Fragment, target: str, core: int | None = None):
        self._fragment, self._target, self._core = fragment, target, core

    def on(self, core: int) -> "Port":
        """The port to the peer's replica on ``core`` (the peer itself if not duplicated)."""
        return Port(self._fragment, self._target, core)

    def __getattr__(self, op: str):
        fragment, target, core = self._fragment, self._target, self._core
        call = lambda *args: fragment.runtime.call(fragment, target, op, args, core)  # noqa: E731
        setattr(self, op, call)            # made once per operation
        return call
