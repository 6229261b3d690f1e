"""Kernel-object invocations decode, then perform: a refused one is an error code in the
reply and changes nothing."""

import errno

from kernel_model import trace as T
from kernel_model.caps import OBJ_ALL, OBJ_R, selector
from kernel_model.ipc_abi import PROTO_FACTORY, PROTO_IRQ_SENDER, MsgTag
from kernel_model.machine import Machine
from kernel_model.objects import Irq

FACTORY = 20


def _create_irqs(quota: int, count: int, rights: int = OBJ_ALL):
    """A Python thread asks a factory with ``quota`` bytes for ``count`` Irqs, into slots
    40, 41, …; returns the machine, its task, the factory and the reply labels."""
    machine = Machine(cores=1)
    kernel = machine.kernel
    task = kernel.create_task("client")
    factory = kernel.create_factory("small", quota)
    kernel.install_cap(task, FACTORY, factory, rights)
    labels = []

    def body(ctx):
        for i in range(count):
            ctx.set_mrs([PROTO_IRQ_SENDER, selector(40 + i)])
            result = yield ctx.call(selector(FACTORY), MsgTag(PROTO_FACTORY, 2))
            assert result.ok  # a kernel refusal is a reply, not an IPC error
            labels.append(result.tag.label)
    machine.start_thread(kernel.create_thread(task, "client.main", body))
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


def test_factory_without_write_right_is_refused():
    """Creating through a read-only factory capability is -EPERM and charges nothing."""
    machine, task, factory, labels = _create_irqs(1024, 1, rights=OBJ_R)
    assert labels == [-errno.EPERM] and factory.used == 0 and task.caps.lookup(40) is None
