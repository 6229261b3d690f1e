"""Object capabilities carried by IPC map items between tasks: map, grant, recursive unmap,
and the invariants of the capability derivation trees."""

from hypothesis import given, settings, strategies as st

from kernel_model import trace as T
from kernel_model.caps import OBJ_ALL, OBJ_D, OBJ_R, OBJ_S, OBJ_SERVER, OBJ_W, Fpage, selector
from kernel_model.ipc_abi import ITEM_GRANT, ITEM_MAP, PROTO_TASK, MsgTag
from kernel_model.kernel import SLOT_TASK
from kernel_model.machine import Machine

GATE, PEER, WINDOW = 20, 21, 30


def _system():
    """A server task holding the root capability to gate "g", and tasks a, b, c; a holds
    the gate with R|W only (mapped from the server)."""
    machine = Machine(cores=1)
    kernel = machine.kernel
    server = kernel.create_task("server")
    gate = kernel.create_gate("g")
    kernel.install_cap(server, GATE, gate, OBJ_ALL)
    tasks = {name: kernel.create_task(name) for name in "abc"}
    kernel.map_cap(server, GATE, tasks["a"], GATE, OBJ_R | OBJ_W)
    return machine, server, gate, tasks


def _receiver(machine, task):
    """A thread that opens an object receive window at slot WINDOW and waits once."""
    def body(ctx):
        ctx.set_receive_window(Fpage.objects(WINDOW, 0, 0xF).encode())
        yield ctx.wait()
    thread = machine.kernel.create_thread(task, f"{task.name}.rx", body)
    machine.start_thread(thread, prio=2)  # runs first: it is waiting when the item comes
    return thread


def _send_item(machine, src, dst, control: int, rights: int = 0xF):
    """``src`` sends its slot GATE to ``dst``'s receiver as one typed item."""
    kernel = machine.kernel
    kernel.install_cap(src, PEER, _receiver(machine, dst), OBJ_ALL)
    results = []

    def body(ctx):
        ctx.set_mrs([control, Fpage.objects(GATE, 0, rights).encode()])
        results.append((yield ctx.send(selector(PEER), MsgTag(0, 0, 1))))
    machine.start_thread(kernel.create_thread(src, f"{src.name}.tx", body))
    machine.run()
    return results[0]


def _transfers(machine, task: str) -> list[tuple]:
    return [(e.data["op"], e.data["src"], e.data["slot"])
            for e in machine.trace.filter([T.CAP], task=task) if e.data["op"] in ("map", "grant")]


def test_map_item_copies_a_capability_without_growing_rights():
    """a holds R|W and sends all rights plus the gate server right: b gets R|W, as a child
    of a's capability, and both hold it."""
    machine, server, gate, tasks = _system()
    result = _send_item(machine, tasks["a"], tasks["b"], ITEM_MAP | OBJ_SERVER)
    assert result.ok
    node = tasks["b"].caps.lookup(WINDOW)
    assert node.resource is gate and node.rights == OBJ_R | OBJ_W
    assert not node.rights & (OBJ_S | OBJ_D | OBJ_SERVER)
    assert node.parent is tasks["a"].caps.lookup(GATE)
    assert gate.cap_count == 3
    assert _transfers(machine, "b") == [("map", "a", WINDOW)]


def test_grant_item_moves_the_capability():
    """A grant leaves a's slot empty; b's capability takes its place in the tree, so what
    was derived from a's capability now hangs under b's."""
    machine, server, gate, tasks = _system()
    machine.kernel.map_cap(tasks["a"], GATE, tasks["c"], GATE, OBJ_R)
    result = _send_item(machine, tasks["a"], tasks["b"], ITEM_MAP | ITEM_GRANT, OBJ_R | OBJ_W)
    assert result.ok
    assert tasks["a"].caps.lookup(GATE) is None
    moved = tasks["b"].caps.lookup(WINDOW)
    assert moved.rights == OBJ_R | OBJ_W and moved.parent is server.caps.lookup(GATE)
    assert tasks["c"].caps.lookup(GATE).parent is moved
    assert gate.cap_count == 3  # server, b, c
    assert _transfers(machine, "b") == [("grant", "a", WINDOW)]


def test_unmap_through_task_invocation_revokes_descendants():
    """a maps the gate to b, b's copy goes on to c; a unmaps it from other spaces by
    invoking its own Task capability: b and c lose it, a keeps it."""
    machine, server, gate, tasks = _system()
    _send_item(machine, tasks["a"], tasks["b"], ITEM_MAP)
    machine.kernel.map_cap(tasks["b"], WINDOW, tasks["c"], GATE, OBJ_ALL)
    replies = []

    def body(ctx):
        ctx.set_mrs([1, Fpage.objects(GATE, 0, OBJ_R).encode(), 0])  # unmap, other spaces
        result = yield ctx.call(selector(SLOT_TASK), MsgTag(PROTO_TASK, 3))
        replies.append((result.tag.label, ctx.mr(0)))
    machine.start_thread(machine.kernel.create_thread(tasks["a"], "a.unmap", body))
    machine.run()
    assert replies == [(0, 2)]  # two capabilities went away
    assert tasks["b"].caps.lookup(WINDOW) is None and tasks["c"].caps.lookup(GATE) is None
    assert tasks["a"].caps.lookup(GATE) is not None and gate.cap_count == 2


TASKS, SLOTS = 4, 3
cap_op = st.tuples(st.sampled_from(["map", "grant", "unmap"]), st.integers(0, TASKS - 1),
                   st.integers(0, SLOTS - 1), st.integers(0, TASKS - 1),
                   st.integers(0, SLOTS - 1), st.integers(1, 0x2F))


@settings(max_examples=80, deadline=None)
@given(st.lists(cap_op, max_size=25))
def test_random_capability_operations(ops):
    """Rights never grow along a derivation; a capability count equals the slots naming the
    object; after an unmap no descendant keeps a revoked right; unmapping the root with R
    leaves the object in no table."""
    machine = Machine(cores=1, ram_size=1 << 20)
    kernel = machine.kernel
    tasks = [kernel.create_task(f"t{i}") for i in range(TASKS)]
    gate = kernel.create_gate("g")
    kernel.install_cap(tasks[0], 100, gate, OBJ_ALL)
    slot = lambda i: 100 + i  # noqa: E731
    for kind, src, s, dst, d, rights in ops:
        if kind == "map":
            kernel.map_cap(tasks[src], slot(s), tasks[dst], slot(d), rights)
        elif kind == "grant":
            kernel.grant_cap(tasks[src], slot(s), tasks[dst], slot(d), rights)
        else:
            node = tasks[src].caps.lookup(slot(s))
            below = list(node.descendants()) if node else []
            kernel.unmap_cap(tasks[src], slot(s), rights, include_self=False)
            for child in below:
                live = child.owner.lookup(child.key) is child
                assert not live or not child.rights & rights, "revoked right still held"
        holders = [n for t in tasks for _, n in t.caps.items() if n.resource is gate]
        assert gate.cap_count == len(holders)
        for node in holders:
            assert node.parent is None or not node.rights & ~node.parent.rights
    roots = [(t, n) for t in tasks for _, n in t.caps.items()
             if n.resource is gate and n.parent is None]
    assert len(roots) <= 1  # grant moves the root, nothing makes a second one
    for task, node in roots:
        kernel.unmap_cap(task, node.key, OBJ_R, include_self=True)
    assert gate.cap_count == 0
