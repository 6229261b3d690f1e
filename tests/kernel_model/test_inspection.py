"""The inspection API: wait queues, pending calls, pending IRQs and run queues, read from
real ARM programs, and the invariants those views rest on."""

import dataclasses
import json

from kernel_model import inspection, irqs, trace as T
from kernel_model.caps import OBJ_ALL, selector
from kernel_model.devices import UART_LINE
from kernel_model.ipc_abi import MsgTag
from kernel_model.machine import Machine
from kernel_model.boot import STACK_TOP, spawn_native

from .scenarios import gate_clients, mrs


def _run_checked(machine, **until):
    """Step like ``run`` and assert the invariants after every step."""
    while True:
        events = machine.step()
        assert inspection.check(machine) == []
        if events is None or any(e.kind == until.get("kind") for e in events):
            return


def test_senders_wait_in_arrival_order(native):
    """Three clients calling a gate whose server has not started queue on the server, in the
    order they called; the gate shows the same queue with the label the server will get."""
    machine, server, gate, clients = gate_clients(native, 3, 2, start_server=False)
    _run_checked(machine)
    queue = inspection.gate_senders(gate)
    assert [s.thread for s in queue] == ["client0.main", "client1.main", "client2.main"]
    assert all(s.kind == "ipc" and s.call and s.via == "gate:pp" and s.words == 1
               for s in queue)
    assert {s.label for s in queue} == {0x40 | 0x1}  # gate label | the client cap's W right
    assert inspection.thread_senders(server) == queue
    assert inspection.pending_calls(machine) == ()


def test_pending_call_names_caller_and_replier(native):
    """Once the server takes the first call, that client awaits the server's reply and the
    other two still queue; when all is done nothing waits."""
    machine, server, gate, clients = gate_clients(native, 3, 2, start_server=False)
    _run_checked(machine)
    machine.start_thread(server)
    _run_checked(machine, kind=T.IPC_SEND)
    assert inspection.pending_calls(machine) == (
        inspection.PendingCall("client0.main", "server.main", "ipc", True),)
    assert [s.thread for s in inspection.gate_senders(gate)] == ["client1.main", "client2.main"]
    _run_checked(machine)
    assert all(mrs(c, 2) == [2, 0] for c in clients)
    snap = inspection.snapshot(machine)
    assert snap.calls == () and all(t.senders == () for t in snap.threads)


def test_page_fault_is_a_pending_call_to_the_pager(native):
    """A fault delivered to the pager shows as a pending call of kind pagefault until the
    pager replies."""
    machine = Machine(cores=1)
    kernel = machine.kernel
    pager_task = kernel.create_task("pager")

    def pager(ctx):
        yield ctx.wait()
        yield ctx.reply_and_wait(MsgTag(-1))  # refuse: the fault becomes an exception

    pager_thread = kernel.create_thread(pager_task, "pager.main", pager)
    machine.start_thread(pager_thread, prio=2)
    thread = spawn_native(machine, "faulty", native("faults"), start=False)
    kernel.install_cap(thread.task, 11, pager_thread, OBJ_ALL)
    thread.pager = selector(11)
    machine.set_thread_start(thread, 0x10000, STACK_TOP - 16, {0: 1, 1: 0x300000})
    machine.start_thread(thread)
    _run_checked(machine, kind=T.IPC_SEND)
    assert inspection.pending_calls(machine) == (
        inspection.PendingCall("faulty.main", "pager.main", "pagefault", True),)
    _run_checked(machine)
    assert inspection.pending_calls(machine) == ()


def test_pending_irqs_per_irq_and_per_thread(native):
    """Edges raised before the driver runs: the UART Irq is queued once with the rest
    coalesced; a second Irq bound to the same thread queues behind it and, never waited
    for, stays queued after the driver is done."""
    machine = Machine(cores=1)
    kernel = machine.kernel
    thread = spawn_native(machine, "driver", native("irq_wait"), start=False)
    uart = kernel.create_irq("uart-irq")
    soft = kernel.create_irq("soft-irq")
    kernel.install_cap(thread.task, 13, uart, OBJ_ALL)
    machine.gic.lines[UART_LINE].irq, uart.line = uart, UART_LINE
    irqs.attach(kernel, uart, thread, 0x50)
    irqs.attach(kernel, soft, thread, 0x60)
    machine.set_thread_start(thread, 0x10000, STACK_TOP - 16, {0: selector(13), 1: 2})
    machine.start_thread(thread)
    for data in (b"a", b"b", b"c"):
        machine.uart.feed(data)
    irqs.trigger(kernel, soft)
    assert inspection.irq_view(uart) == inspection.IrqView(
        "irq:uart-irq", "driver.main", 0x50, UART_LINE, queued=True, masked=False,
        pending=True, delivered=0, coalesced=2)
    assert inspection.thread_view(thread).pending_irqs == ("irq:uart-irq", "irq:soft-irq")
    _run_checked(machine)
    assert mrs(thread, 3) == [2, 0x50, 0x50]
    assert inspection.thread_view(thread).pending_irqs == ("irq:soft-irq",)
    assert inspection.irq_view(uart).delivered == 2 and not inspection.irq_view(uart).pending


def test_core_shows_current_and_run_queue_in_pick_order(native):
    """The run queue lists ready threads by priority, then arrival; a thread that has run an
    instruction is the core's current thread, with its timer armed."""
    machine, server, gate, clients = gate_clients(native, 3, 1, prios=(1, 3, 1))
    view = inspection.core_view(machine.cores[0])
    assert view.current is None and view.timer_at is None
    assert view.runq == ("client1.main", "server.main", "client0.main", "client2.main")
    machine.single_step = True
    machine.step()
    view = inspection.core_view(machine.cores[0])
    assert view.current == "client1.main" and view.timer_at > view.now
    assert view.runq == ("server.main", "client0.main", "client2.main")


def test_snapshot_is_plain_and_deterministic(native):
    """A snapshot is plain data (it serializes to JSON) and equal runs give equal ones."""
    snapshots = []
    for _ in range(2):
        machine, _, _, _ = gate_clients(native, 2, 3)
        machine.run(max_steps=9)
        snapshots.append(inspection.snapshot(machine))
    assert snapshots[0] == snapshots[1]
    json.dumps(dataclasses.asdict(snapshots[0]))
