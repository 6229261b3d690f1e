"""Same scenario, same seed: the same trace, bit for bit."""

from .scenarios import pingpong


def test_two_runs_same_trace(native):
    digests = []
    for _ in range(2):
        machine, _, _ = pingpong(native, 30, client_core=1, seed=7)
        machine.run()
        digests.append(machine.trace.digest())
    assert digests[0] == digests[1]
