"""A host is one task holding fragments; each fragment in it is served by its own thread.

A ``Server`` is the Python thread of one fragment. Its body is a generator (the kernel's
protocol for Python threads) that drives a greenlet running ``Server._serve``; inside it,
fragment code may block in IPC anywhere (a binding call to a peer in another task) without
being written as a generator: the greenlet switches back to the generator, which yields
the request to the kernel and resumes the greenlet with the result. All switching happens
on the host thread that steps the machine.

One thread per fragment makes a task a multi-threaded server: a call chain may come back
into a task it left (process -> vfs -> pager with process and pager merged) without
deadlock, because the pager's thread is free while the process's thread waits. A direct
call runs the callee's code on the caller's thread, so a fragment's operations may
interleave at their IPC points (never elsewhere: only one server runs at a time).

Invariants:
- Every message a server receives carries the label of an endpoint (``label >> 4``); it is
  handled if the endpoint's fragment is this server's, else dropped.
- ``Host.slots`` names the capability slot of every kernel object the host holds; the
  objects are rooted in the runtime's root task, so dropping a host capability revokes
  nothing else.
- In an ``rwx`` host (the monolithic composition) every page is mapped read-write-execute;
  otherwise code is R-X and data RW- (W^X).
- All servers of a host run on the host's core.
"""

from __future__ import annotations

from greenlet import greenlet

from kernel_model.caps import MEM_RW, MEM_RWX, OBJ_ALL
from kernel_model.objects import ThreadState
from kernel_model.pythread import IpcResult

STACK_PAGES = 4


class Host:
    def __init__(self, runtime, name: str, core: int, rwx: bool):
        self.runtime = runtime
        self.name = name
        self.rwx = rwx
        self.core = core
        k = runtime.kernel
        self.task = k.create_task(name)
        self.fragments: list = []
        self.servers: list[Server] = []
        self.slots: dict[object, int] = {}
        self.stack_base = runtime.layout.stack()    # shared by its servers (Python code)
        for i in range(STACK_PAGES):
            k.alloc_page(self.task, self.stack_base + i * 4096, self.effective(MEM_RW))

    def __repr__(self) -> str:
        return f"<host {self.name}>"

    def effective(self, rights: int) -> int:
        return MEM_RWX if self.rwx else rights

    def quiet(self) -> bool:
        return all(server.quiet() for server in self.servers)

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


class Server:
    """The thread serving one fragment in its host."""

    def __init__(self, host: Host, fragment):
        self.host = host
        self.fragment = fragment
        self.runtime = runtime = host.runtime
        self.thread = runtime.kernel.create_thread(host.task, f"{fragment.label}.server", self._body)
        self.busy = False             # inside a message (may be blocked in a nested call)
        self._loop: greenlet | None = None
        self._outer: greenlet | None = None
        self.ctx = None
        self.wake_irq = None          # its Irq for sleeping on a WaitQueue (see blocking)
        host.servers.append(self)
        runtime.machine.start_thread(self.thread, prio=2, core=host.core)

    def quiet(self) -> bool:
        """Waiting in an open receive with nothing half-handled."""
        thread = self.thread
        return (not self.busy and thread.state is ThreadState.RECV_BLOCKED
                and thread.ipc_result is None and not thread.pending_irqs)

    def stop(self) -> None:
        self.host.servers.remove(self)
        self.runtime.kernel.kill_thread(self.thread, "fragment moved")
        self.end()

    def end(self) -> None:
        """End the served code's greenlet (its thread is dead or the system dropped): a
        suspended greenlet hides its frames from the garbage collector, so it would keep
        everything they reach, the whole machine included, alive for ever."""
        if self._loop is not None and not self._loop.dead:
            self._loop.throw()

    def _body(self, ctx):
        self.ctx = ctx
        self._loop = greenlet(self._serve)
        request = self._resume(None)
        while True:
            result = yield request
            request = self._resume(result)

    def _resume(self, value):
        """Run the served code until its next kernel request (``runtime.current`` names
        this server meanwhile)."""
        self._outer = greenlet.getcurrent()
        runtime, previous = self.runtime, self.runtime.current
        runtime.current = self
        try:
            return self._loop.switch(value)
        finally:
            runtime.current = previous

    def kernel(self, request) -> IpcResult:
        """Make one kernel request from inside the served code (blocks this thread only)."""
        return self._outer.switch(request)

    def _serve(self, *_):
        ctx, endpoints = self.ctx, self.runtime.endpoints
        result = self.kernel(ctx.wait())
        while True:
            tag = None
            if not result.error:
                endpoint = endpoints.get(result.label >> 4)
                if endpoint is not None and endpoint.fragment.server is self:
                    self.busy = True
                    try:
                        tag = endpoint.handler(result)
                    finally:
                        self.busy = False
            request = ctx.wait() if tag is None else ctx.reply_and_wait(tag)
            result = self.kernel(request)
