"""poll(2) in the vfs: it answers what is ready, waits for a pipe or the console when
nothing is and it may, and lets a finite timeout pass; checked against qemu's output."""

import subprocess
from pathlib import Path

import pytest

from fragments.linux.system import boot_linux
from kernel_model.machine import Machine
from tests.demos import DEMOS, boot_demos

README = (DEMOS / "README.md").read_text()
QEMU = Path("/usr/bin/qemu-arm-static")


def readme_output(heading: str) -> bytes:
    """The first fenced block after ``heading`` in demos/arm/README.md."""
    return README.split(heading, 1)[1].split("```", 2)[1].lstrip("\n").encode()


@pytest.mark.parametrize("composition_name", ["monolithic", "fragmented"])
def test_pollpipe_prints_qemus_lines_and_its_poll_waited_for_the_writer(composition_name):
    """On one core, the parent's poll(-1) is answered only after the child's write (it
    waited: the child could run only because the parent blocked), and every line is the
    one qemu printed."""
    machine, system = boot_demos(composition_name, 1, 5, ("pollpipe",))
    pid = system.spawn("/bin/pollpipe", ["pollpipe"], [])
    machine.run()
    assert machine.crashes == [] and system.exit_status(pid) == 0
    assert bytes(machine.uart.written) == readme_output("### `pollpipe`")
    calls = [(e.data["pid"], e.data["name"]) for e in machine.trace.filter(["syscall"])]
    polls = [i for i, call in enumerate(calls) if call == (pid, "poll")]
    assert polls[2] > calls.index((pid + 1, "write"))


@pytest.mark.parametrize("composition_name", ["monolithic", "fragmented"])
def test_poll_on_the_console_waits_for_input(composition_name):
    """``pollpipe stdin`` with no input yet: the model goes idle with the poll waiting
    (not answered yet: no read is waiting instead); input then wakes it, and it prints
    what qemu prints for input that came late."""
    machine = Machine(cores=2, seed=5)
    system = boot_linux(machine, composition_name)
    system.fs.add_file(b"/bin/pollpipe", (DEMOS / "pollpipe").read_bytes())
    pid = system.spawn("/bin/pollpipe", ["pollpipe", "stdin"], [])
    assert machine.run().why == "idle" and system.exit_status(pid) is None
    assert machine.uart.written == b""
    assert "poll" not in {e.data["name"] for e in machine.trace.filter(["syscall"]) if e.data["pid"] == pid}
    machine.uart.feed(b"late\n")
    machine.uart.feed(b"")
    machine.run()
    assert machine.crashes == [] and system.exit_status(pid) == 0
    assert bytes(machine.uart.written) == readme_output("pollpipe stdin` (input that comes")


def test_a_process_killed_while_its_poll_waits_leaves_no_waiter():
    """The poll of a process that ends while waiting is dropped, and the system goes on."""
    machine = Machine(cores=1, seed=5)
    system = boot_linux(machine, "fragmented")
    system.fs.add_file(b"/bin/pollpipe", (DEMOS / "pollpipe").read_bytes())
    pid = system.spawn("/bin/pollpipe", ["pollpipe", "stdin"], [])
    assert machine.run().why == "idle" and len(system.vfs.pollers) == 1
    system.process.kill(pid, 9)
    machine.run()
    assert system.exit_status(pid) == 9 and machine.crashes == []
    machine.uart.feed(b"x\n")
    machine.run()
    assert system.vfs.pollers == [] and machine.crashes == []


@pytest.mark.skipif(not QEMU.exists(), reason="qemu-arm-static not installed")
def test_the_readme_holds_qemus_output():
    """The expected lines above are qemu's (Linux's poll), not the model's."""
    ran = subprocess.run([QEMU, DEMOS / "pollpipe"], capture_output=True, timeout=60)
    assert ran.returncode == 0 and ran.stdout == readme_output("### `pollpipe`")
