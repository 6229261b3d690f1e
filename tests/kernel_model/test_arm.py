"""Exact instruction counts from the ARM engine, whatever the quantum: counted per block,
with the tail of the last block counted per instruction, in ARM and in Thumb-2 code with
IT blocks."""

import pytest

from kernel_model import trace as T
from kernel_model.arm import GPRS
from kernel_model.boot import spawn_native
from kernel_model.machine import Machine

from .scenarios import THUMB_IT_BRANCH, THUMB_IT_LOOP, loop_thread

SLICES = [1, 2, 3, 5, 7, 11, 10_000_000]


def _registers(thread, count):
    engine = thread.task.engine
    engine.activate(thread)
    return [engine.reg(GPRS[i]) for i in range(count)]


@pytest.mark.parametrize("slice_", SLICES)
def test_arm_loop_counts_exactly(slice_):
    """4N instructions, the udf not among them, in quanta of exactly the slice."""
    machine = Machine(cores=1, time_slice=slice_)
    thread = loop_thread(machine, "loop", 300)
    machine.run()
    assert thread.stats.instructions == 1200
    assert _registers(thread, 3) == [0, 300, 300]
    quanta = [e.data["instructions"] for e in machine.trace.filter([T.QUANTUM])]
    assert sum(quanta) == 1200 and max(quanta) == min(slice_, 1200)


@pytest.mark.parametrize("slice_", SLICES)
def test_thumb_it_blocks_count_exactly(slice_):
    """9N instructions, the IT instructions and those failing their condition included; a
    quantum ends at the slice, or up to four instructions later at the end of an IT block
    (unicorn does not stop inside one)."""
    machine = Machine(cores=1, time_slice=slice_)
    thread = loop_thread(machine, "loop", 200, THUMB_IT_LOOP)
    machine.run()
    assert thread.stats.instructions == 1800
    assert _registers(thread, 5) == [0, 199, 600, 1, 398]
    quanta = [e.data["instructions"] for e in machine.trace.filter([T.QUANTUM])]
    assert sum(quanta) == 1800 and max(quanta) <= slice_ + 4


@pytest.mark.parametrize("slice_", SLICES)
def test_branch_failing_in_it_block_counts_exactly(slice_):
    """A conditional branch at the end of a block, inside an IT block and failing its
    condition: a quantum ending before it cannot stop there and runs on out of the block,
    still counted exactly."""
    machine = Machine(cores=1, time_slice=slice_)
    thread = loop_thread(machine, "loop", 100, THUMB_IT_BRANCH)
    machine.run()
    assert thread.stats.instructions == 500
    assert _registers(thread, 2) == [0, 100]


def test_single_step_runs_one_instruction(native):
    """Single stepping the undef program: 13 quanta of one instruction, then the udf,
    which is not counted."""
    machine = Machine(cores=1)
    machine.single_step = True
    thread = spawn_native(machine, "undef", native("undef"))
    machine.run()
    quanta = [(e.data["pc_from"], e.data["instructions"])
              for e in machine.trace.filter([T.QUANTUM])]
    assert quanta == [(0x10000 + 4 * i, 1) for i in range(13)]
    assert thread.stats.instructions == 13 and "undefined instruction" in thread.exit_reason


@pytest.mark.parametrize("slice_", [1, 3, 10_000_000])
def test_faulting_instruction_is_not_counted(native, slice_):
    """A load from an unmapped page in the middle of a block: the instructions before it
    count, the load does not, however the quanta fall."""
    machine = Machine(cores=1, time_slice=slice_)
    thread = spawn_native(machine, "faulty", native("faults"), regs={0: 1, 1: 0x300000})
    machine.run()
    fault = next(machine.trace.filter([T.PAGE_FAULT]))
    assert "no pager" in thread.exit_reason
    assert thread.stats.instructions == _instructions_before(native, fault.data["pc"])


def _instructions_before(native, pc: int) -> int:
    """Instructions the faults program runs before ``pc``, by single stepping."""
    machine = Machine(cores=1)
    machine.single_step = True
    thread = spawn_native(machine, "ref", native("faults"), regs={0: 1, 1: 0x300000})
    machine.run(predicate=lambda e: e.kind == T.QUANTUM and e.data["pc"] == pc)
    return thread.stats.instructions
