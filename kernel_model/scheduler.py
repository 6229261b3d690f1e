"""Per-core scheduling: fixed priorities, round robin within a priority, time slices.

Invariants (only this module changes ``Core.current``, ``Core.timer_at`` and the run queues):
- A thread is in at most one place: the ``current`` of its core, or one run queue, or
  neither (blocked, inactive, dead).
- ``ready_at`` delays a thread woken from another core by the IPI cost: its core does not
  run it before that modeled time.
- IPC donates: a thread woken by a partner on the same core goes to the head of its queue
  and inherits the partner's remaining time slice (Fiasco's direct switch, l4-facts §1.7).

Preemption: each core has a one-shot scheduling timer. When a thread becomes current the
timer is programmed for the end of its slice (``timer_at``); the stepper never runs a quantum
past it, and when the core's clock reaches it the timer fires: a ``tick`` event, then the
decision — round robin to the next ready thread of the same or higher priority, or the same
thread with a fresh slice. So preemption happens at a modeled time, never at a host time.
While a thread is current its remaining slice is ``timer_at - now``; when it leaves the core
the remainder is kept in ``quantum_left``. Simplifications [A]: the timer is one-shot (a
tickless kernel's), not Fiasco's periodic tick; a Python thread's ``Work`` is not
interruptible, so its tick comes when the work is done; a thread woken with a higher
priority than the current one waits for the current one to block or for the tick.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import trace as T
from .objects import Thread, ThreadState

if TYPE_CHECKING:
    from .machine import Machine

MAX_PRIO = 255


@dataclass
class Core:
    index: int
    now: int = 0                              # modeled cycles
    current: Thread | None = None
    timer_at: int | None = None               # when the scheduling timer fires (None: idle)
    runq: dict[int, deque] = field(default_factory=dict)
    last_task: object = None                  # for address-space switch costs
    instructions: int = 0
    switches: int = 0
    space_switches: int = 0

    def queued(self) -> list[Thread]:
        return [t for prio in sorted(self.runq, reverse=True) for t in self.runq[prio]]

    def has_work(self) -> bool:
        return self.current is not None or any(self.runq.values())

    def ready_time(self) -> int | None:
        """When this core can next run a thread: now if one is current, else the earliest
        ``ready_at`` of the queued threads (at least now); None if it has no work."""
        if self.current is not None:
            return self.now
        ready = None
        for queue in self.runq.values():
            for thread in queue:
                if ready is None or thread.ready_at < ready:
                    ready = thread.ready_at
        return ready if ready is None or ready > self.now else self.now


class Scheduler:
    def __init__(self, machine: "Machine", time_slice: int):
        self.machine = machine
        self.time_slice = time_slice

    def enqueue(self, thread: Thread, front: bool = False) -> None:
        runq = self.machine.cores[thread.core].runq
        queue = runq.get(thread.prio)
        if queue is None:
            queue = runq[thread.prio] = deque()
        if thread not in queue:
            queue.appendleft(thread) if front else queue.append(thread)

    def remove(self, thread: Thread) -> None:
        core = self.machine.cores[thread.core]
        if core.current is thread:
            self._leave(core)
        queue = core.runq.get(thread.prio)
        if queue and thread in queue:
            queue.remove(thread)

    def _leave(self, core: Core) -> None:
        """The current thread leaves the core, taking the rest of its slice with it."""
        core.current.quantum_left = max(core.timer_at - core.now, 0)
        core.current = core.timer_at = None

    def slice_left(self, thread: Thread) -> int:
        """The rest of ``thread``'s time slice, counting down while it runs."""
        core = self.machine.cores[thread.core]
        return core.timer_at - core.now if core.current is thread else thread.quantum_left

    def block(self, thread: Thread) -> None:
        """``thread`` stopped running (its state says why)."""
        self.remove(thread)

    def wake(self, thread: Thread, woken_by: Thread | None) -> None:
        core = self.machine.cores[thread.core]
        if core.current is thread:
            thread.state = ThreadState.RUNNING
            return
        thread.state = ThreadState.READY
        if woken_by is not None and woken_by.core != thread.core:
            waker_now = self.machine.cores[woken_by.core].now
            thread.ready_at = waker_now + self.machine.kernel.costs.ipi.cycles
            self.machine.ipis += 1
        donate = woken_by is not None and woken_by.core == thread.core
        if donate:
            thread.quantum_left = max(self.slice_left(woken_by), 1)
        self.enqueue(thread, front=donate)

    def start(self, thread: Thread) -> None:
        thread.quantum_left = self.time_slice
        thread.state = ThreadState.READY
        self.enqueue(thread)

    def pick(self, core: Core) -> Thread | None:
        """Make the highest-priority ready thread current (round robin within a priority)."""
        if core.current is not None:
            return core.current
        best = None
        for prio, queue in core.runq.items():
            if queue and (best is None or prio > best):
                best = prio
        if best is None:
            return None
        thread = core.runq[best].popleft()
        self._switch_to(core, thread)
        return thread

    def _switch_to(self, core: Core, thread: Thread) -> None:
        costs = self.machine.kernel.costs
        core.now = max(core.now, thread.ready_at)
        core.now += costs.context_switch.cycles
        core.switches += 1
        space_switch = core.last_task is not thread.task
        if space_switch:
            core.now += costs.address_space_switch.cycles
            core.space_switches += 1
        self.machine.kernel.emit_data(T.SCHEDULE, thread,
                                      {"to": thread.name, "space_switch": space_switch})
        core.last_task = thread.task
        core.current = thread
        thread.state = ThreadState.RUNNING
        core.timer_at = core.now + (thread.quantum_left if thread.quantum_left > 0
                                    else self.time_slice)

    def expire(self, core: Core) -> None:
        """The core's timer fired (a ``tick``): the current thread's slice is used up. Round
        robin if another thread of its priority or higher is ready, else it runs on with a
        fresh slice."""
        thread = core.current
        preempted = any(q for p, q in core.runq.items() if p >= thread.prio)
        self.machine.kernel.emit(T.TICK, thread=thread, preempted=preempted)
        if preempted:
            self._leave(core)
            thread.quantum_left = self.time_slice
            thread.state = ThreadState.READY
            self.enqueue(thread)
        else:
            core.timer_at = core.now + self.time_slice

    def migrate(self, thread: Thread, core_index: int) -> None:
        """Move a thread to another core; it keeps its state (a running or ready thread is
        ready on the new core after an IPI, a blocked one wakes up there)."""
        if thread.core == core_index:
            return
        old = thread.core
        queued = thread.state in (ThreadState.READY, ThreadState.RUNNING)
        self.machine.kernel.emit(T.MIGRATE, thread=thread, from_core=old, to_core=core_index)
        self.remove(thread)
        thread.core = core_index
        thread.ready_at = self.machine.cores[old].now + self.machine.kernel.costs.ipi.cycles
        if queued:
            thread.state = ThreadState.READY
            self.enqueue(thread)
