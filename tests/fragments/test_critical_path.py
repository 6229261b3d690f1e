"""The critical path of real ARM runs: it covers the run's length exactly, its hops are the
IPIs of wake-ups across cores, and on one core it is the whole run."""

from collections import defaultdict

import pytest

from fragments.runtime import critical_path, graph
from kernel_model.cost import DEFAULT_COSTS
from tests.demos import boot_demos


def events_of(program, composition, cores):
    machine, system = boot_demos(composition, cores, 3, (program,))
    system.spawn(f"/bin/{program}", [program], [])
    machine.run()
    assert machine.crashes == []
    return list(graph.event_dicts(machine.trace)), machine.modeled_time()


def length(events, path):
    """The path's length, piece by piece: each event's gap since the previous event of its
    core, or for a hop, the time since its waker."""
    seq = {e["seq"]: e for e in events}
    previous, total = defaultdict(int), 0
    for e in events:
        if e["seq"] in path.on_path:
            waker = path.hops.get(e["seq"])
            total += e["time"] - (seq[waker]["time"] if waker is not None else previous[e["core"]])
        previous[e["core"]] = e["time"]
    return total


@pytest.mark.parametrize("composition", ["monolithic", "fragmented", "mixed"])
def test_path_covers_the_run_exactly(composition):
    """On two cores the path's gaps and hops add up to the run's modeled cycles, and every
    hop is a wake-up from another core that lands an IPI and a switch after its waker."""
    events, cycles = events_of("forkexec", composition, 2)
    path = critical_path.walk(events)
    assert length(events, path) == cycles
    assert path.hops
    seq = {e["seq"]: e for e in events}
    for woken, waker in path.hops.items():
        switch, w = seq[woken], seq[waker]
        assert w["core"] != switch["core"] and w["kind"] in ("ipc-send", "ipc-reply", "migrate")
        assert w["time"] + DEFAULT_COSTS.ipi.cycles + path.switches[woken] == switch["time"]
        assert woken in path.waits


def test_one_core_path_is_the_whole_run():
    """With one core nothing runs alongside: every event is on the path, with no hops."""
    events, cycles = events_of("pipes", "fragmented", 1)
    path = critical_path.walk(events)
    assert path.on_path == {e["seq"] for e in events}
    assert not path.hops and length(events, path) == cycles

