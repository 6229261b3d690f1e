"""The monolithic Linux system driven through its Python API (boot_linux / spawn)."""

from pathlib import Path

from fragments.linux.system import boot_linux
from kernel_model.machine import Machine

DEMOS = Path(__file__).resolve().parents[3] / "demos" / "arm"


def boot(cores=2, seed=3, programs=("hello",)):
    machine = Machine(cores=cores, seed=seed)
    system = boot_linux(machine)
    for name in programs:
        system.fs.add_file(f"/bin/{name}".encode(), (DEMOS / name).read_bytes())
    machine.uart.feed(b"")
    return machine, system


def test_concurrent_processes_share_the_server_and_leak_no_frame():
    """Three programs (fork, exec, COW, pipes) run at once on two cores; when all have
    ended every frame the server lent is back in the pool and the server holds only its
    UTCB pages."""
    machine, system = boot(programs=("forkexec", "mmapcow", "pipes", "hello"))
    free = machine.ram.free_frames
    pids = [system.spawn(f"/bin/{n}", [n], []) for n in ("forkexec", "mmapcow", "pipes")]
    machine.run()
    assert machine.crashes == []
    assert [system.exit_status(p) for p in pids] == [0, 0, 0]
    assert machine.ram.free_frames == free
    assert len(system.server_task.space.pages) == 4


def test_every_process_is_an_alien_thread_paged_by_the_server():
    """A Linux process: its own task, one alien thread, pager and exception handler a
    gate bound to the l4linux server thread labelled pid << 4."""
    machine, system = boot()
    pid = system.spawn("/bin/hello", ["hello"], [])
    proc = system.process.procs[pid]
    assert proc.thread.alien
    assert proc.thread.pager == proc.thread.exc_handler
    gate = proc.task.caps.lookup_selector(proc.thread.pager).resource
    assert gate.thread is system.server_thread and gate.label >> 4 == pid
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
