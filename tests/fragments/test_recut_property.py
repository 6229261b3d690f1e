"""Random sequences of split, merge, migrate and duplicate while a workload runs: nothing
is lost or duplicated — every program gives its reference output and status, every frame
is accounted for, and no capability or message is left dangling."""

from hypothesis import HealthCheck, example, given, settings, strategies as st

from fragments.runtime.recut import RecutError
from kernel_model import inspection
from tests.demos import boot_demos

PROGRAMS = ("pipes", "forkexec")
NAMES = ("loader", "syscalls", "pager", "process", "vfs", "console")


def boot(seed=4):
    return boot_demos("fragmented", 2, seed, ("hello", *PROGRAMS))


def run(program, operations):
    machine, system = boot()
    pids = [system.spawn(f"/bin/{program}", [program], [])]
    for gap, op in operations:
        machine.run(max_steps=gap)
        try:
            if op[0] == "merge":
                system.merge(list(op[1:]))
            elif op[0] == "migrate":
                system.migrate(op[1], op[2])
            else:
                getattr(system, op[0])(op[1])
        except RecutError:
            pass                       # refused with a reason: nothing changed
        assert inspection.check(machine) == []
    machine.run()
    return machine, system, pids


REFERENCE = {}


def reference(program):
    if program not in REFERENCE:
        machine, system, pids = run(program, [])
        REFERENCE[program] = bytes(machine.uart.written), [system.exit_status(p) for p in pids]
    return REFERENCE[program]


operation = st.one_of(
    st.tuples(st.just("split"), st.sampled_from(NAMES)),
    st.tuples(st.just("merge"), st.sampled_from(NAMES), st.sampled_from(NAMES)),
    st.tuples(st.just("migrate"), st.sampled_from(NAMES), st.integers(0, 1)),
    st.tuples(st.just("duplicate"), st.sampled_from(("syscalls", "loader", "vfs"))),
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PROGRAMS), st.lists(st.tuples(st.integers(1, 400), operation), min_size=1, max_size=5))
@example("pipes", [(26, ("merge", "syscalls", "process")), (1, ("split", "process"))])  # a stale window
def test_random_recuts_lose_and_duplicate_nothing(program, operations):
    machine, system, pids = run(program, operations)
    out, status = reference(program)
    assert machine.crashes == []
    assert bytes(machine.uart.written) == out
    assert [system.exit_status(p) for p in pids] == status
    live = {node.resource for task in machine.kernel.tasks if task.alive for node in task.space.pages.values()}
    assert len(live) == machine.ram.frame_count - 1 - machine.ram.free_frames
    rt = system.runtime
    for fragment in rt.all_fragments():                        # every fragment in exactly one live task
        assert fragment.host in rt.hosts and fragment.host.task.alive
        assert sum(fragment in h.fragments for h in rt.hosts) == 1
    assert all(h.fragments for h in rt.hosts)                  # no empty task left behind
    assert system.pager.contexts == {}
