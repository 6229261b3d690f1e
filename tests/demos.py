"""A booted Linux system with the committed demo programs, as most fragment tests start."""

from pathlib import Path

from fragments.linux.system import boot_linux
from kernel_model.machine import Machine

DEMOS = Path(__file__).resolve().parent.parent / "demos" / "arm"


def boot_demos(composition="monolithic", cores=2, seed=0, programs=("hello",), files=()):
    """(machine, system): the demo ``programs`` in /bin, the host ``files`` ((path, bytes))
    placed, console input already ended."""
    machine = Machine(cores=cores, seed=seed)
    system = boot_linux(machine, composition)
    for name in programs:
        system.fs.add_file(f"/bin/{name}".encode(), (DEMOS / name).read_bytes())
    for path, data in files:
        system.fs.add_file(path, data)
    machine.uart.feed(b"")
    return machine, system
