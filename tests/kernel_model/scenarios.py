"""Small systems built the way boot code builds them, shared by the kernel tests."""

from kernel_model.boot import STACK_TOP, spawn_native
from kernel_model.caps import MEM_RX, OBJ_ALL, OBJ_R, OBJ_W, selector
from kernel_model.machine import Machine

GATE_SLOT = 10
CODE = 0x10000

# Loops as (code at CODE, entry; odd = Thumb), each run with r0 = N, ending on a udf.
# ARM: N times subs r0,#1; add r1,#1; add r2,#1; bne. 4N instructions.
ARM_LOOP = (bytes.fromhex("010050e2" "011081e2" "012082e2" "fbffff1a" "f000f0e7"), CODE)
# Thumb-2, N times subs r0,#1; it ne; addne r1,#1; add.w r2,r2,#3; ite eq; addeq r3,#1;
# addne r4,#2; cmp r0,#0; bne. 9N instructions; r1 = N-1, r2 = 3N, r3 = 1, r4 = 2(N-1).
THUMB_IT_LOOP = (bytes.fromhex("0138" "18bf" "0131" "02f10302" "0cbf" "0133" "0234" "0028"
                               "f5d1" "00de"), CODE | 1)
# Thumb-2, a branch inside an IT block that fails its condition until the last round:
# bl loop; udf; nop; loop: adds r1,#1; subs r0,#1; it eq; bxeq lr; b loop. 5N instructions.
THUMB_IT_BRANCH = (bytes.fromhex("00f002f8" "00de" "00bf" "0131" "0138" "08bf" "7047" "fae7"),
                   CODE | 1)


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


def gate_clients(native, clients: int, rounds: int, start_server: bool = True,
                 prios: tuple[int, ...] = ()):
    """One server behind gate "pp" and ``clients`` ping-pong clients (``client0``…), all
    on core 0, started in order, client i with priority ``prios[i]`` (default 1)."""
    machine = Machine(cores=1)
    kernel = machine.kernel
    server = spawn_native(machine, "server", native("pingpong_server"), start=start_server)
    gate = kernel.create_gate("pp", server, 0x40)
    kernel.install_cap(server.task, GATE_SLOT, gate, OBJ_ALL)
    threads = []
    for i in range(clients):
        thread = spawn_native(machine, f"client{i}", native("pingpong_client"), start=False)
        kernel.give_cap(server.task, gate, thread.task, OBJ_R | OBJ_W, slot=GATE_SLOT)
        machine.set_thread_start(thread, 0x10000, STACK_TOP - 16,
                                 {0: selector(GATE_SLOT), 1: rounds})
        machine.start_thread(thread, prio=prios[i] if i < len(prios) else 1)
        threads.append(thread)
    return machine, server, gate, threads


def loop_thread(machine, name: str, iterations: int, loop=ARM_LOOP, core: int = 0,
                prio: int = 1):
    """A task running one of the loops above."""
    kernel = machine.kernel
    task = kernel.create_task(name)
    kernel.alloc_page(task, CODE, MEM_RX)
    task.space.poke(CODE, loop[0])
    thread = kernel.create_thread(task, f"{name}.main")
    machine.set_thread_start(thread, loop[1], STACK_TOP - 16, {0: iterations})
    machine.start_thread(thread, prio=prio, core=core)
    return thread


def mrs(thread, count: int) -> list[int]:
    raw = thread.task.space.read(thread.utcb, 4 * count, 0)
    return [int.from_bytes(raw[i:i + 4], "little") for i in range(0, len(raw), 4)]
