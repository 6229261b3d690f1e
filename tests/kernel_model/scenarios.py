"""Small systems built the way boot code builds them, shared by the kernel tests."""

from kernel_model.boot import STACK_TOP, spawn_native
from kernel_model.caps import OBJ_ALL, OBJ_R, OBJ_W, selector
from kernel_model.machine import Machine

GATE_SLOT = 10


def pingpong(native, rounds: int, client_core: int = 0, seed: int = 0, cores: int = 2,
             client: str = "pingpong_client"):
    """A server task and a client task talking through an IPC gate."""
    machine = Machine(cores=cores, seed=seed)
    kernel = machine.kernel
    server = spawn_native(machine, "server", native("pingpong_server"), core=0)
    gate = kernel.create_gate("pp", server, 0x40)
    kernel.install_cap(server.task, GATE_SLOT, gate, OBJ_ALL)
    client_thread = spawn_native(machine, "client", native(client), start=False)
    kernel.give_cap(server.task, gate, client_thread.task, OBJ_R | OBJ_W, slot=GATE_SLOT)
    entry = 0x10001 if "thumb" in client else 0x10000
    machine.set_thread_start(client_thread, entry, STACK_TOP - 16,
                             {0: selector(GATE_SLOT), 1: rounds})
    machine.start_thread(client_thread, core=client_core)
    return machine, server, client_thread


def mrs(thread, count: int) -> list[int]:
    raw = thread.task.space.read(thread.utcb, 4 * count, 0)
    return [int.from_bytes(raw[i:i + 4], "little") for i in range(0, len(raw), 4)]
