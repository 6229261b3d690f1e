"""IRQs from a device line reach an ARM thread as IPC; unmask re-arms; edges coalesce."""

from kernel_model import trace as T
from kernel_model.boot import STACK_TOP, spawn_native
from kernel_model.caps import OBJ_ALL, selector
from kernel_model.devices import UART_LINE
from kernel_model.machine import Machine

from .scenarios import mrs

IRQ_SLOT = 13


def _irq_system(native, count):
    machine = Machine(cores=1)
    kernel = machine.kernel
    thread = spawn_native(machine, "driver", native("irq_wait"), start=False)
    irq = kernel.create_irq("uart-irq")
    kernel.install_cap(thread.task, IRQ_SLOT, irq, OBJ_ALL)
    machine.gic.lines[UART_LINE].irq, irq.line = irq, UART_LINE
    irq.thread, irq.label = thread, 0x50
    machine.set_thread_start(thread, 0x10000, STACK_TOP - 16, {0: selector(IRQ_SLOT), 1: count})
    machine.start_thread(thread)
    return machine, thread, irq


def test_uart_irq_delivered_with_label(native):
    """Each byte fed to the UART raises its line; the thread receives the bound label."""
    machine, thread, irq = _irq_system(native, 3)
    for i in range(3):
        machine.at(10_000 * (i + 1), lambda: machine.uart.feed(b"x"))
    machine.run()
    assert mrs(thread, 4) == [3, 0x50, 0x50, 0x50]
    assert machine.trace.counters.kinds[T.IRQ_DELIVER] == 3
    assert "undefined instruction" in thread.exit_reason


def test_edges_coalesce_until_unmask(native):
    """Three edges before the driver runs give one delivery now and one pending, not three."""
    machine, thread, irq = _irq_system(native, 2)
    machine.uart.feed(b"a")
    machine.uart.feed(b"b")
    machine.uart.feed(b"c")
    assert irq.queued and irq.pending and irq.coalesced == 2
    machine.run()
    assert irq.delivered == 2 and mrs(thread, 1) == [2]
