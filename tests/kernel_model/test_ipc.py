"""IPC between real ARM threads through the kernel model."""

from kernel_model import trace as T
from kernel_model.ipc_abi import E_NOT_EXISTENT, E_SEND_TIMEOUT, E_SEND_MSG_CUT, MsgTag, TIMEOUT_ZERO, timeout_pair
from kernel_model.caps import INVALID_CAP, OBJ_ALL, selector
from kernel_model.machine import Machine
from kernel_model.pythread import Ipc
from kernel_model.ipc_abi import CALL, SEND

from .scenarios import mrs, pingpong


def test_pingpong_same_core(native):
    """Every call reaches the server and its reply (MR0+1) returns to the client."""
    machine, server, client = pingpong(native, 50)
    machine.run()
    assert client.exit_reason.startswith("undefined instruction at pc 0x100a4")
    assert mrs(client, 3) == [50, 0, 0]
    sends = list(machine.trace.filter([T.IPC_SEND], thread="client.main"))
    assert len(sends) == 50 and all(e.data["via"] == "gate:pp" for e in sends)
    assert machine.trace.counters.kinds[T.IPC_REPLY] == 50
    assert machine.ipis == 0


def test_pingpong_across_cores(native):
    """A client on core 1 talks to a server on core 0: same results, IPIs charged."""
    machine, server, client = pingpong(native, 20, client_core=1)
    machine.run()
    assert mrs(client, 2) == [20, 0]
    assert machine.ipis >= 20
    cores = {e.core for e in machine.trace.filter([T.QUANTUM])}
    assert cores == {0, 1}


def test_thumb_client(native):
    """A Thumb-2 client does the same IPC as the ARM one."""
    machine, server, client = pingpong(native, 10, client="thumb_pingpong_client")
    machine.run()
    assert mrs(client, 2) == [10, 0]


def test_server_keeps_registers_across_svc(native):
    """The compiled server keeps live values in r1-r12 across svc; 200 rounds stay correct."""
    machine, server, client = pingpong(native, 200)
    machine.run()
    assert mrs(client, 2) == [200, 0]


def _python_caller(machine, requests):
    """A Python thread in its own task that makes ``requests`` and records results."""
    kernel = machine.kernel
    task = kernel.create_task("caller")
    results = []

    def body(ctx):
        for make in requests:
            request = make(ctx)
            results.append((yield request))
    thread = kernel.create_thread(task, "caller.main", body)
    machine.start_thread(thread)
    return task, thread, results


def test_bad_capability_is_an_error_code():
    """Calling an empty slot or the invalid cap gives E_NOT_EXISTENT, not an exception."""
    machine = Machine(cores=1)
    _, thread, results = _python_caller(machine, [
        lambda ctx: Ipc(selector(200) | CALL, MsgTag(0, 1)),
        lambda ctx: Ipc(INVALID_CAP | SEND, MsgTag(0, 1)),
    ])
    machine.run()
    assert [r.error for r in results] == [E_NOT_EXISTENT, E_NOT_EXISTENT]
    assert all(r.tag.has_error for r in results)
    assert thread.exit_reason == "returned"


def test_zero_timeout_and_cut_message():
    """A send with zero timeout to a thread not receiving fails at once; more than 63
    words are refused as a cut message."""
    machine = Machine(cores=1)
    kernel = machine.kernel
    idle_task = kernel.create_task("idle")
    sleeper = kernel.create_thread(idle_task, "sleeper")  # never started: never receives
    task, thread, results = _python_caller(machine, [
        lambda ctx: Ipc(selector(20) | SEND, MsgTag(0, 1), timeout_pair(send=TIMEOUT_ZERO)),
        lambda ctx: Ipc(selector(20) | SEND, MsgTag(0, 60, 3)),
    ])
    kernel.install_cap(task, 20, sleeper, OBJ_ALL)
    machine.run()
    assert [r.error for r in results] == [E_SEND_TIMEOUT, E_SEND_MSG_CUT]
