"""Scheduling: the per-core timer preempts at modeled times; migration moves a thread to
another core while it keeps running."""

from kernel_model import inspection, trace as T
from kernel_model.machine import Machine
from kernel_model.objects import ThreadState

from .scenarios import loop_thread, mrs, pingpong

SLICE = 5000


def _run_checked(machine, until=None):
    """Step until idle (or ``until()``), asserting the kernel invariants after each step."""
    while not (until and until()):
        if machine.step() is None:
            return
        assert inspection.check(machine) == []


def test_timer_tick_preempts_at_the_end_of_the_slice():
    """Two looping threads on one core alternate: each runs exactly one slice from its
    schedule to the tick, the tick preempts it, and the other one is scheduled next."""
    machine = Machine(cores=1, time_slice=SLICE)
    a, b = loop_thread(machine, "a", 3000), loop_thread(machine, "b", 3000)
    _run_checked(machine)
    assert a.stats.instructions == b.stats.instructions == 12000
    events = list(machine.trace.filter([T.SCHEDULE, T.TICK, T.QUANTUM]))
    ticks = [i for i, e in enumerate(events) if e.kind == T.TICK]
    assert len(ticks) == 4 and all(events[i].data["preempted"] for i in ticks)
    for i in ticks:
        start = max(j for j in range(i) if events[j].kind == T.SCHEDULE)
        assert events[start].thread == events[i].thread
        assert events[i].time == events[start].time + SLICE
        assert sum(e.data["instructions"] for e in events[start:i] if e.kind == T.QUANTUM) == SLICE
        after = next(e for e in events[i:] if e.kind == T.SCHEDULE)
        assert after.thread != events[i].thread
    assert [e.thread for e in events if e.kind == T.SCHEDULE] == [
        "a.main", "b.main", "a.main", "b.main", "a.main", "b.main"]


def test_lone_thread_ticks_without_a_switch():
    """With nothing else ready the tick gives the same thread a fresh slice."""
    machine = Machine(cores=1, time_slice=SLICE)
    loop_thread(machine, "a", 4000)
    machine.run()
    ticks = list(machine.trace.filter([T.TICK]))
    assert [e.time for e in ticks] == [ticks[0].time + SLICE * i for i in range(3)]
    assert not any(e.data["preempted"] for e in ticks)
    assert machine.trace.counters.kinds[T.SCHEDULE] == 1


def test_ticks_are_deterministic():
    """Preemption depends on modeled time only: two runs give the same trace."""
    digests = set()
    for _ in range(2):
        machine = Machine(cores=2, time_slice=3000, max_quantum=700)
        for name, core in (("a", 0), ("b", 0), ("c", 1)):
            loop_thread(machine, name, 2000, core=core)
        machine.run()
        digests.add(machine.trace.digest())
    assert len(digests) == 1


def test_migrated_client_keeps_running(native):
    """A client moved to core 1 in the middle of its calls finishes them all; the trace
    shows the migration on the old core and the client's quanta on the new one, and its
    calls now wake the server across cores (IPIs)."""
    machine, server, client = pingpong(native, 40)
    _run_checked(machine, until=lambda: machine.trace.counters.kinds[T.IPC_REPLY] >= 10)
    assert machine.ipis == 0
    machine.scheduler.migrate(client, 1)
    cut = len(machine.trace)
    _run_checked(machine)
    assert mrs(client, 2) == [40, 0]
    move = next(machine.trace.filter([T.MIGRATE]))
    assert (move.thread, move.core, move.data["from_core"], move.data["to_core"]) == (
        "client.main", 0, 0, 1)
    quanta = [(e.seq >= cut, e.core)
              for e in machine.trace.filter([T.QUANTUM], thread="client.main")]
    assert {core for after, core in quanta if not after} == {0}
    assert {core for after, core in quanta if after} == {1}
    assert machine.ipis >= 30


def test_migrated_blocked_server_wakes_on_its_new_core(native):
    """A server waiting for a message moves to core 1 while blocked; the next call wakes
    it there."""
    machine, server, client = pingpong(native, 20)
    _run_checked(machine, until=lambda: machine.trace.counters.kinds[T.IPC_REPLY] >= 5
                 and server.state is ThreadState.RECV_BLOCKED)
    machine.scheduler.migrate(server, 1)
    assert server.state is ThreadState.RECV_BLOCKED
    cut = len(machine.trace)
    _run_checked(machine)
    assert mrs(client, 2) == [20, 0]
    after = machine.trace.filter([T.QUANTUM], thread="server.main", since=cut)
    assert {e.core for e in after} == {1}
