"""Blocking inside fragment code: a WaitQueue sleeper stays blocked in the kernel until an
interrupt handled by another fragment wakes it (whether the two share a task or not), and
``run_inside`` runs an operation on the fragment's own thread from outside the model."""

import pytest

from fragments.runtime.blocking import WaitQueue, run_inside
from fragments.runtime.fragment import Fragment, operation
from fragments.runtime.runtime import Runtime
from kernel_model import irqs
from kernel_model.machine import Machine

WAKE_AT = 50_000


class Sleeper(Fragment):
    NAME = "sleeper"

    def __init__(self, runtime):
        super().__init__(runtime)
        self.queue = WaitQueue(runtime, "test")
        self.ready = False

    @operation
    def wait_ready(self):
        while not self.ready:
            self.queue.sleep()
        return self.runtime.machine.now()

    @operation
    def set_ready(self):
        self.ready = True
        self.queue.wake_all()
        return 0


class Waker(Fragment):
    """Turns an interrupt into ``sleeper.set_ready``."""
    NAME = "waker"
    USES = ("sleeper",)

    def boot(self):
        irq = self.runtime.kernel.create_irq("tick")
        self.irq = self.runtime.endpoint(self, irq, self._tick)
        return irq

    def _tick(self, result) -> None:
        self.use.sleeper.set_ready()


class Caller(Fragment):
    NAME = "caller"
    USES = ("sleeper",)

    @operation
    def run(self):
        return self.use.sleeper.wait_ready()


@pytest.mark.parametrize("entry, waker_task", [("sleeper", "a"), ("caller", "b")])
def test_a_sleeper_wakes_only_when_woken(entry, waker_task):
    """The thread running the sleeper's code — its own (woken by a task-mate's interrupt
    handler, by a direct call), or a caller's in a direct call (woken by IPC from another
    task, which the sleeper's own free thread serves) — blocks in the kernel until the
    interrupt at WAKE_AT; afterwards nothing is left pending and every server is back in
    its open wait."""
    machine = Machine(cores=1)
    runtime = Runtime(machine, {"sleeper": Sleeper, "waker": Waker, "caller": Caller})
    hosts = {"a": runtime.new_host("a", 0), "b": runtime.new_host("b", 0)}
    sleeper, caller = runtime.add(Sleeper, hosts["a"]), runtime.add(Caller, hosts["a"])
    tick = runtime.add(Waker, hosts[waker_task]).boot()
    runtime.rewire()
    machine.at(WAKE_AT, lambda: irqs.trigger(machine.kernel, tick))
    woke_at = run_inside(machine, sleeper if entry == "sleeper" else caller,
                         "wait_ready" if entry == "sleeper" else "run")
    assert woke_at >= WAKE_AT
    assert sleeper.queue.sleepers == []
    machine.run()
    assert all(host.quiet() for host in hosts.values())


def test_sleeping_outside_the_model_is_refused():
    """Code called directly from outside the model has no thread to block: a clear error."""
    machine = Machine(cores=1)
    runtime = Runtime(machine, {"sleeper": Sleeper})
    sleeper = runtime.add(Sleeper, runtime.new_host("a", 0))
    with pytest.raises(RuntimeError, match="outside the model"):
        sleeper.wait_ready()
