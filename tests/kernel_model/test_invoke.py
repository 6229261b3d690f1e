"""Kernel-object invocations decode, then perform: a refused one is an error code in the
reply and changes nothing."""

import errno

from kernel_model import trace as T
from kernel_model.caps import OBJ_ALL, OBJ_R, selector
from kernel_model.ipc_abi import PROTO_FACTORY, PROTO_IRQ_SENDER, PROTO_TASK, MsgTag
from kernel_model.machine import Machine
from kernel_model.objects import Irq

FACTORY = 20


def _create_irqs(quota: int, count: int, rights: int = OBJ_ALL, proto: int = PROTO_IRQ_SENDER,
                 before_run=lambda machine: None):
    """A Python thread asks a factory with ``quota`` bytes for ``count`` Irqs (or objects
    of ``proto``), into slots 40, 41, …; returns the machine, its task, the factory and the
    reply labels."""
    machine = Machine(cores=1)
    kernel = machine.kernel
    task = kernel.create_task("client")
    factory = kernel.create_factory("small", quota)
    kernel.install_cap(task, FACTORY, factory, rights)
    labels = []

    def body(ctx):
        for i in range(count):
            ctx.set_mrs([proto & 0xFFFFFFFF, selector(40 + i)])
            result = yield ctx.call(selector(FACTORY), MsgTag(PROTO_FACTORY, 2))
            assert result.ok  # a kernel refusal is a reply, not an IPC error
            labels.append(result.tag.label)
    machine.start_thread(kernel.create_thread(task, "client.main", body))
    before_run(machine)
    machine.run()
    assert not machine.crashes
    return machine, task, factory, labels


def test_quota_exhausted_is_an_error_code():
    """With room for two Irqs (128 bytes each), the third creation returns -ENOMEM; no
    object is created, no slot filled, no quota taken."""
    machine, task, factory, labels = _create_irqs(256, 3)
    assert labels == [0, 0, -errno.ENOMEM]
    assert isinstance(task.caps.lookup(40).resource, Irq) and task.caps.lookup(42) is None
    assert factory.used == 256
    assert sum(isinstance(o, Irq) for o in machine.kernel.objects) == 2
    refused = [e for e in machine.trace.filter([T.INVOKE]) if e.data["result"]]
    assert [e.data["result"] for e in refused] == [-errno.ENOMEM]


def test_a_task_without_ram_for_its_utcb_area_is_enomem():
    """With 3 frames left (a task's UTCB area takes 4), creating a task is refused with
    -ENOMEM: no task made, the frames left untouched, the machine runs on."""
    def take_all_but_3(machine):
        for _ in range(machine.ram.free_frames - 3):
            machine.ram.allocate()
    machine, task, factory, labels = _create_irqs(1 << 20, 1, proto=PROTO_TASK, before_run=take_all_but_3)
    assert labels == [-errno.ENOMEM] and task.caps.lookup(40) is None
    assert machine.ram.free_frames == 3 and [t.name for t in machine.kernel.tasks] == ["client"]


def test_factory_without_write_right_is_refused():
    """Creating through a read-only factory capability is -EPERM and charges nothing."""
    machine, task, factory, labels = _create_irqs(1024, 1, rights=OBJ_R)
    assert labels == [-errno.EPERM] and factory.used == 0 and task.caps.lookup(40) is None
