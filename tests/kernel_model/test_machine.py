"""The stepper: how long an ARM quantum runs."""

from kernel_model import trace as T
from kernel_model.machine import Machine

from .scenarios import loop_thread


def _quanta(machine):
    return [(e.core, e.data["instructions"]) for e in machine.trace.filter([T.QUANTUM])]


def test_lone_core_runs_to_the_end_of_its_slice():
    """With every other core idle, max_quantum does not cut a quantum: there is nothing to
    interleave with."""
    machine = Machine(cores=2, max_quantum=1000)
    loop_thread(machine, "a", 2000)
    machine.run()
    assert _quanta(machine) == [(0, 8000)]


def test_busy_cores_take_turns_in_max_quanta():
    """Two busy cores alternate, the earliest clock first, in quanta of max_quantum."""
    machine = Machine(cores=2, max_quantum=1000)
    loop_thread(machine, "a", 2000, core=0)
    loop_thread(machine, "b", 2000, core=1)
    machine.run()
    assert _quanta(machine) == [(0, 1000), (1, 1000)] * 8


def test_quantum_stops_at_the_next_timed_event():
    """A device event at a modeled time ends the running quantum exactly there."""
    machine = Machine(cores=1)
    loop_thread(machine, "a", 2000)
    machine.at(5000, lambda: machine.uart.feed(b"x"))
    machine.run()
    first = next(machine.trace.filter([T.QUANTUM]))
    irq = next(machine.trace.filter([T.IRQ]))
    assert first.time == irq.time == 5000
    assert sum(n for _, n in _quanta(machine)) == 8000
