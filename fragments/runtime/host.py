"""A host: one task holding fragments, served by one Python thread.

The thread's body is a generator (the kernel's protocol for Python threads) that drives a
greenlet running ``Host._serve``; inside it, fragment code may block in IPC anywhere (a
binding call to a peer in another task) without being written as a generator: the greenlet
switches back to the generator, which yields the request to the kernel and resumes the
greenlet with the result. All switching happens on the thread that steps the machine.

Invariants:
- Every message the thread receives carries the label of an endpoint (``label >> 4``); it
  is handled by the endpoint's fragment if that fragment lives here, else dropped.
- ``slots`` names the capability slot of every kernel object the host holds; the objects
  are rooted in the runtime's root task, so dropping a host capability revokes nothing else.
- In an ``rwx`` host (the monolithic composition) every page is mapped read-write-execute;
  otherwise code is R-X and data RW- (W^X).
"""

from __future__ import annotations

from greenlet import greenlet

from kernel_model.caps import MEM_RWX, OBJ_ALL
from kernel_model.pythread import IpcResult

STACK_PAGES = 4


class Host:
    def __init__(self, runtime, name: str, core: int, rwx: bool):
        self.runtime = runtime
        self.name = name
        self.rwx = rwx
        k = runtime.kernel
        self.task = k.create_task(name)
        self.thread = k.create_thread(self.task, f"{name}.server", self._body)
        self.fragments: list = []
        self.slots: dict[object, int] = {}
        self.busy = False             # inside a message (may be blocked in a nested call)
        self.stack_base = runtime.layout.stack()
        for i in range(STACK_PAGES):
            k.alloc_page(self.task, self.stack_base + i * 4096, self.effective(0x3))
        self._loop: greenlet | None = None
        self._outer: greenlet | None = None
        self.ctx = None
        runtime.machine.start_thread(self.thread, prio=2, core=core)

    def __repr__(self) -> str:
        return f"<host {self.name}>"

    @property
    def core(self) -> int:
        return self.thread.core

    def effective(self, rights: int) -> int:
        return MEM_RWX if self.rwx else rights

    # --- capabilities -----------------------------------------------------------------
    def install(self, obj, rights: int = OBJ_ALL) -> int:
        slot = self.slots.get(obj)
        if slot is not None and self.task.caps.lookup(slot) is not None:
            return slot
        self.slots[obj] = slot = self.runtime.give(obj, self.task, rights)
        return slot

    def uninstall(self, obj) -> None:
        slot = self.slots.pop(obj, None)
        if slot is not None:
            self.runtime.kernel.unmap_cap(self.task, slot, OBJ_ALL, True)

    def holds(self, obj) -> bool:
        slot = self.slots.get(obj)
        return slot is not None and self.task.caps.lookup(slot) is not None

    # --- the server thread ------------------------------------------------------------
    def _body(self, ctx):
        self.ctx = ctx
        self._loop = greenlet(self._serve)
        request = self._resume(None)
        while True:
            result = yield request
            request = self._resume(result)

    def _resume(self, value):
        """Run the served code until its next kernel request (``runtime.current`` names
        this host meanwhile)."""
        self._outer = greenlet.getcurrent()
        runtime, previous = self.runtime, self.runtime.current
        runtime.current = self
        try:
            return self._loop.switch(value)
        finally:
            runtime.current = previous

    def kernel(self, request) -> IpcResult:
        """Make one kernel request from inside the served code (blocks this host only)."""
        return self._outer.switch(request)

    def _serve(self, *_):
        ctx, endpoints = self.ctx, self.runtime.endpoints
        result = self.kernel(ctx.wait())
        while True:
            tag = None
            if not result.error:
                endpoint = endpoints.get(result.label >> 4)
                if endpoint is not None and endpoint.fragment.host is self:
                    self.busy = True
                    try:
                        tag = endpoint.handler(result)
                    finally:
                        self.busy = False
            request = ctx.wait() if tag is None else ctx.reply_and_wait(tag)
            result = self.kernel(request)
