"""The Linux system driven through its Python API (boot_linux / spawn), in each composition."""

import pytest

from tests.demos import boot_demos


def boot(cores=2, seed=3, programs=("hello",), composition="monolithic"):
    return boot_demos(composition, cores, seed, programs)


def _frames_in_live_tasks(machine) -> set[int]:
    return {node.resource for task in machine.kernel.tasks if task.alive
            for node in task.space.pages.values()}


@pytest.mark.parametrize("composition", ["monolithic", "fragmented", "mixed"])
def test_concurrent_processes_leak_no_frame(composition):
    """Three programs (fork, exec, COW, pipes) run at once on two cores; when all have
    ended the pager lends no frame any more and every allocated frame is mapped in a live
    task (none is lost)."""
    machine, system = boot(programs=("forkexec", "mmapcow", "pipes", "hello"), composition=composition)
    pids = [system.spawn(f"/bin/{n}", [n], []) for n in ("forkexec", "mmapcow", "pipes")]
    machine.run()
    assert machine.crashes == []
    assert [system.exit_status(p) for p in pids] == [0, 0, 0]
    assert system.pager.contexts == {}
    allocated = machine.ram.frame_count - 1 - machine.ram.free_frames
    assert len(_frames_in_live_tasks(machine)) == allocated


@pytest.mark.parametrize("composition", ["monolithic", "fragmented"])
def test_a_full_ram_kills_the_process_that_needs_a_frame_and_nothing_else(composition):
    """With the RAM all but used up (frames taken from outside, as other users would), a
    process whose page faults need frames dies of SIGSEGV and gets none of the reserve
    the kernel and the fragments keep (mmapcow itself, or its forked child when it copies
    pages: then the parent reports the failure; or its fork fails with ENOMEM, as a task
    would take frames of the reserve); no server crashes, no frame is lost, and once
    frames are back a program runs to its end."""
    from fragments.linux.pager import reserve_frames
    machine, system = boot(programs=("mmapcow", "hello"), composition=composition)
    reserve = reserve_frames(machine.ram.size)
    taken = []
    while machine.ram.free_frames > reserve + 40:
        taken.append(machine.ram.allocate())
    pid = system.spawn("/bin/mmapcow", ["mmapcow"], [])
    machine.run()
    assert machine.crashes == []
    out = bytes(machine.uart.written)
    assert system.exit_status(pid) == 11 or b"FAILED" in out or b"fork failed: errno 12" in out
    assert machine.ram.free_frames > reserve - 8        # a few frames of binding windows at most
    for frame in taken:
        machine.ram.release(frame)
    pid = system.spawn("/bin/hello", ["hello"], [])
    machine.run()
    assert machine.crashes == [] and system.exit_status(pid) == 0 and system.pager.contexts == {}
    allocated = machine.ram.frame_count - 1 - machine.ram.free_frames
    assert len(_frames_in_live_tasks(machine)) == allocated




@pytest.mark.parametrize("composition", ["monolithic", "fragmented"])
def test_without_ram_for_a_task_fork_is_enomem_and_spawn_says_so(composition):
    """With the RAM at its reserve but 3 frames (the rest taken from outside), a new
    task's UTCB area (4 frames) would eat into the reserve: forkexec's first fork returns
    ENOMEM (the program reports errno 12), spawning is refused with a one-line reason, no
    server crashes, and once the frames are back programs run again."""
    from unicorn.arm_const import UC_ARM_REG_R7

    from fragments.linux.elf import ExecFormatError
    from fragments.linux.pager import reserve_frames
    machine, system = boot(programs=("forkexec", "hello"), composition=composition)
    pid = system.spawn("/bin/forkexec", ["forkexec"], [])
    nr_fork = {2, 120}   # fork, clone: the exception that carries it comes before the fork
    engine = machine.engine(system.process.procs[pid].task)

    def at_fork(event):
        return (event.kind == "exception" and event.task == f"forkexec.{pid}"
                and engine.reg(UC_ARM_REG_R7) in nr_fork)
    assert machine.run(predicate=at_fork).why == "predicate"
    taken = []

    def take_all_but_reserve_and_3():
        while machine.ram.free_frames > reserve_frames(machine.ram.size) + 3:
            taken.append(machine.ram.allocate())
    take_all_but_reserve_and_3()
    machine.run()
    assert machine.crashes == []
    assert b"fork failed: errno 12" in bytes(machine.uart.written) and system.exit_status(pid) == 1 << 8
    take_all_but_reserve_and_3()     # forkexec's frames came back when it ended
    with pytest.raises(ExecFormatError, match="ENOMEM"):
        system.spawn("/bin/hello", ["hello"], [])
    for frame in taken:
        machine.ram.release(frame)
    pid = system.spawn("/bin/hello", ["hello"], [])
    machine.run()
    assert machine.crashes == [] and system.exit_status(pid) == 0


@pytest.mark.parametrize("composition", ["monolithic", "fragmented"])
def test_every_process_is_an_alien_thread_of_pager_and_syscalls(composition):
    """A Linux process: its own task, one alien thread whose pager is a gate bound to the
    thread of the task holding the pager fragment, and whose exception handler is a gate
    of the syscalls fragment's task."""
    machine, system = boot(composition=composition)
    pid = system.spawn("/bin/hello", ["hello"], [])
    proc = system.process.procs[pid]
    assert proc.thread.alien
    pager_gate = proc.task.caps.lookup_selector(proc.thread.pager).resource
    exc_gate = proc.task.caps.lookup_selector(proc.thread.exc_handler).resource
    assert pager_gate.thread is system.pager.server.thread
    assert exc_gate.thread is system.fragment("syscalls").server.thread
    assert (pager_gate.thread.task is exc_gate.thread.task) == (composition == "monolithic")
    machine.run()
    assert system.exit_status(pid) == 0
    assert machine.uart.written == b"hello, world\nargv[0]=hello\n"


def test_syscalls_are_trace_events():
    """Each syscall leaves a `syscall` event (name, nr, ret, pid) that the counters see."""
    machine, system = boot()
    pid = system.spawn("/bin/hello", ["hello", "x"], [])
    machine.run()
    events = list(machine.trace.filter(["syscall"]))
    assert [e.data["name"] for e in events][-1] == "exit_group"
    assert all(e.data["pid"] == pid for e in events)
    assert machine.trace.counters.syscalls["writev"] == 2
