"""Blocking inside fragment code, beyond a call to a peer.

A fragment's code runs on some server thread: its own, or, in a direct call, the caller's
(``runtime.current``). Two things may need that thread to block without a peer to call:

- ``WaitQueue``: sleep until another thread wakes the queue (a driver waiting for its
  device's interrupt, a caller waiting for a lock). Each server sleeps on a *wake Irq* of
  its own (``Server.wake_irq``, made on its first sleep, bound to its thread with label 0,
  which names no endpoint) in a closed receive: nothing else that arrives meanwhile (a call
  to its gates, another interrupt) is taken; it waits in its queue until the server is back
  in its open wait — so the waker must not need the sleeping thread: it is another thread
  running in the task (an interrupt handler, a direct call), or, when the sleeper is a
  caller's thread in a direct call, the fragment's own server serving an IPC. A wake
  reaches only threads that sleep on the queue, and every sleeper unmasks its Irq when it
  wakes, so no wake is ever left pending on a thread.
- ``run_inside``: run an operation of a fragment on the fragment's own server thread from
  outside the model (a user's command, at boot or exit), stepping the machine until it is
  done and the server is back in its open wait. Operations that may block (disk I/O) need this: a direct call from outside has no
  thread to block.
"""

from __future__ import annotations

from kernel_model import irqs
from kernel_model.caps import selector
from kernel_model.ipc_abi import RECV, MsgTag
from kernel_model.pythread import Ipc


class WaitQueue:
    def __init__(self, runtime, name: str):
        self.runtime = runtime
        self.name = name
        self.sleepers: list = []        # servers asleep here, in the order they came

    def sleep(self) -> None:
        """Block the thread running this code until ``wake_all``."""
        server = self.runtime.current
        if server is None:
            raise RuntimeError(f"{self.name}: cannot block outside the model (use run_inside)")
        kernel = self.runtime.kernel
        if server.wake_irq is None:
            server.wake_irq = kernel.create_irq(f"{server.fragment.label}.wake")
            irqs.attach(kernel, server.wake_irq, server.thread, 0)
        slot = server.host.install(server.wake_irq)
        self.sleepers.append(server)
        server.kernel(Ipc(selector(slot) | RECV, MsgTag()))
        irqs.unmask(kernel, server.wake_irq)

    def wake_all(self) -> None:
        sleepers, self.sleepers = self.sleepers, []
        for server in sleepers:
            irqs.trigger(self.runtime.kernel, server.wake_irq)


def run_inside(machine, fragment, op: str, *args):
    """``fragment.op(*args)`` run by the fragment's server thread; the machine steps until
    it has answered and is at rest. Returns its result."""
    runtime, answer = fragment.runtime, []
    kick = runtime.kernel.create_irq(f"{fragment.label}.{op}")
    endpoint = runtime.endpoint(fragment, kick, lambda result: answer.append(getattr(fragment, op)(*args)))
    irqs.trigger(runtime.kernel, kick)
    machine.run(predicate=lambda event: bool(answer) and fragment.server.quiet())
    runtime.close_endpoint(endpoint)
    irqs.detach(kick)
    if not answer:
        raise RuntimeError(f"{fragment.label}.{op} did not finish: "
                           + ("; ".join(machine.crashes) or "the machine went idle"))
    return answer[0]
