"""The machine: cores, RAM, interrupt controller, devices, kernel — and the stepper.

The stepper is SimPy-shaped. ``step()`` is the one primitive: it does the next thing in
modeled time — either the earliest pending device/timeout event, or one unit of work on the
core whose clock is earliest (ties by core number): an ARM quantum up to its trap, or one
resumption of a Python thread up to its next kernel request. ``run(until=…)`` loops over it.

Determinism: nothing here reads host time or host randomness; ``rng`` is seeded, and the
event heap is ordered by (time, sequence number).
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass
from typing import Callable

from . import trace as T, traps
from .arm import ArmEngine
from .cost import CostTable, DEFAULT_COSTS
from .devices import Timer, Uart
from .irqs import InterruptController, raise_line
from .kernel import Kernel
from .objects import Thread
from .physmem import PhysicalMemory
from .pythread import Ipc, IpcResult, ThreadContext, Work
from .ipc_abi import MsgTag
from .scheduler import Core, Scheduler
from . import ipc

MAX_CORES = 16


@dataclass
class StopReason:
    why: str               # idle | kind | time | instructions | predicate | steps | breakpoint
    event: T.Event | None = None

    def __str__(self) -> str:
        return self.why if self.event is None else f"{self.why}: {self.event}"


class Machine:
    def __init__(self, cores: int = 2, ram_size: int = 64 << 20, seed: int = 0,
                 costs: CostTable = DEFAULT_COSTS, time_slice: int = 10_000_000,
                 max_quantum: int = 20_000, cycles_per_us: int = 1000):
        if not 1 <= cores <= MAX_CORES:
            raise ValueError(f"cores must be 1..{MAX_CORES}, not {cores}")
        self.seed = seed
        self.rng = random.Random(seed)
        self.trace = T.Trace()
        self.ram = PhysicalMemory(ram_size)
        self.cores = [Core(i) for i in range(cores)]
        self.current_core = self.cores[0]
        self.cycles_per_us = cycles_per_us
        self.max_quantum = max_quantum
        self.ipis = 0
        self.crashes: list[str] = []     # Python threads that raised: a model bug, shown
        self._events: list = []
        self._event_seq = 0
        self.gic = InterruptController()
        self.scheduler = Scheduler(self, time_slice)
        self.kernel = Kernel(self, self.ram, costs)
        self.timer = Timer(self)
        self.uart = Uart(self)
        self.single_step = False

    # --- time and events ----------------------------------------------------------------
    def now(self) -> int:
        return self.current_core.now

    def at(self, time: int, callback: Callable[[], None], core: int | None = None) -> None:
        """Run ``callback`` at modeled ``time`` (on ``core``'s clock)."""
        core = self.current_core.index if core is None else core
        heapq.heappush(self._events, (time, self._event_seq, core, callback))
        self._event_seq += 1

    def charge(self, thread: Thread, cycles: int) -> None:
        self.cores[thread.core].now += cycles
        thread.stats.cycles += cycles

    def raise_irq(self, line: int) -> None:
        raise_line(self.kernel, line)

    # --- threads ------------------------------------------------------------------------
    def engine(self, task) -> ArmEngine:
        if task.engine is None:
            task.engine = ArmEngine(task.space)
        return task.engine

    def set_thread_start(self, thread: Thread, pc: int, sp: int, regs: dict[int, int] | None = None) -> None:
        """Give an ARM thread its first registers (``pc`` odd = Thumb)."""
        thread.arm_context = self.engine(thread.task).new_context(pc, sp, thread.utcb, regs)

    def start_thread(self, thread: Thread, prio: int = 1, core: int = 0) -> None:
        if not 0 <= core < len(self.cores):
            raise ValueError(f"no core {core} (the machine has {len(self.cores)})")
        if thread.is_python and not hasattr(thread.python_body, "send"):
            thread.python_body = thread.python_body(ThreadContext(thread))
        thread.prio, thread.core = prio, core
        self.kernel.emit(T.THREAD, thread=thread, op="start", on_core=core, prio=prio)
        self.scheduler.start(thread)

    # --- stepping -----------------------------------------------------------------------
    def _earliest_core(self) -> tuple[int, Core] | None:
        best = None
        for core in self.cores:
            ready = core.ready_time()
            if ready is not None and (best is None or ready < best[0]):
                best = (ready, core)
        return best

    def step(self) -> list[T.Event] | None:
        """Advance by one unit of work; returns the events it made (None: nothing to do)."""
        start = len(self.trace)
        if not self._advance():
            return None
        return self.trace.events[start:]

    def _advance(self) -> bool:
        """``step`` without collecting its events; False if there was nothing to do."""
        best = self._earliest_core()
        if self._events and (best is None or self._events[0][0] <= best[0]):
            time, _, core_index, callback = heapq.heappop(self._events)
            core = self.cores[core_index]
            if not core.has_work():
                core.now = max(core.now, time)
            self.current_core = core
            callback()
        elif best is not None:
            self.current_core = best[1]
            self._run_core(best[1])
        else:
            return False
        return True

    def _run_core(self, core: Core) -> None:
        thread = self.scheduler.pick(core)
        if thread is None:
            return
        if thread.is_python:
            self._run_python(thread)
        else:
            self._run_arm(core, thread)
        if core.current is thread and core.now >= core.timer_at:
            self.scheduler.expire(core)

    def _quantum(self, core: Core, thread: Thread) -> int:
        """Instructions the next ARM quantum may run: to the core's timer (the end of the
        slice) and to the next timed event; and, only while another core has work,
        ``max_quantum`` at most, which bounds how far the cores' clocks drift apart (with
        every other core idle there is nothing to interleave with)."""
        if self.single_step:
            return 1
        limit = core.timer_at - core.now
        for other in self.cores:
            if other is not core and other.has_work():
                limit = min(limit, self.max_quantum)
                break
        if self._events:
            limit = min(limit, self._events[0][0] - core.now)
        return max(limit, 1)

    def _run_arm(self, core: Core, thread: Thread) -> None:
        engine = self.engine(thread.task)
        engine.activate(thread)
        if thread.ipc_result is not None:
            tag, label, _ = thread.ipc_result
            thread.ipc_result = None
            engine.set_result_registers(tag, label)   # r0, r4
        executed, trap = engine.run(self._quantum(core, thread))
        pc_from = engine.run_from
        core.now += executed
        core.instructions += executed
        thread.stats.instructions += executed
        thread.stats.cycles += executed
        if executed:
            self.kernel.emit_data(T.QUANTUM, thread, {"instructions": executed,
                                                      "pc_from": pc_from, "pc": engine.run_to})
        if trap is not None:
            traps.on_trap(self.kernel, thread, trap)

    def _run_python(self, thread: Thread) -> None:
        result = None
        if thread.ipc_result is not None:
            tag, label, error = thread.ipc_result
            thread.ipc_result = None
            result = IpcResult(MsgTag.decode(tag), label, error)
        try:
            request = thread.python_body.send(result)
        except StopIteration:
            return self.kernel.kill_thread(thread, "returned")
        except Exception as error:  # a bug in a Python server: the thread dies, visibly
            reason = f"crashed: {type(error).__name__}: {error}"
            self.crashes.append(f"{thread.name} {reason}")
            return self.kernel.kill_thread(thread, reason)
        if isinstance(request, Work):
            self.charge(thread, request.cycles)
        elif isinstance(request, Ipc):
            ipc.syscall(self.kernel, thread, request.dest, request.tag.encode(), request.timeout,
                        request.label)
        else:
            self.kernel.kill_thread(thread, f"yielded {request!r}, not a kernel request")

    # --- running ------------------------------------------------------------------------
    def run(self, until: str | None = None, *, time: int | None = None,
            instructions: int | None = None, predicate: Callable[[T.Event], bool] | None = None,
            max_steps: int | None = None) -> StopReason:
        """Step until an event of kind ``until``, modeled ``time``, a total of
        ``instructions``, an event matching ``predicate``, ``max_steps`` steps, or idle."""
        steps = 0
        watch = until is not None or predicate is not None
        while True:
            if time is not None and min(c.now for c in self.cores) >= time:
                return StopReason("time")
            if instructions is not None and self.instructions() >= instructions:
                return StopReason("instructions")
            if max_steps is not None and steps >= max_steps:
                return StopReason("steps")
            if not watch:   # nothing to look for in the events: do not collect them
                steps += 1
                if not self._advance():
                    return StopReason("idle")
                continue
            events = self.step()
            steps += 1
            if events is None:
                return StopReason("idle")
            for event in events:
                if until is not None and event.kind == until:
                    return StopReason("kind", event)
                if predicate is not None and predicate(event):
                    return StopReason("predicate", event)

    def instructions(self) -> int:
        return sum(c.instructions for c in self.cores)

    def modeled_time(self) -> int:
        return max(c.now for c in self.cores)
