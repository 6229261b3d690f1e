"""Invariants of the mapping database, checked on random map/grant/unmap sequences."""

from hypothesis import given, settings, strategies as st

from kernel_model.addrspace import uc_prot
from kernel_model.caps import MEM_R, MEM_RWX, MEM_W
from kernel_model.machine import Machine
from kernel_model.physmem import PAGE_SIZE

TASKS = 4
PAGES = 3
BASE = 0x100000

op = st.one_of(
    st.tuples(st.just("map"), st.integers(0, TASKS - 1), st.integers(0, PAGES - 1),
              st.integers(0, TASKS - 1), st.integers(0, PAGES - 1), st.integers(1, 7)),
    st.tuples(st.just("grant"), st.integers(0, TASKS - 1), st.integers(0, PAGES - 1),
              st.integers(0, TASKS - 1), st.integers(0, PAGES - 1), st.integers(1, 7)),
    st.tuples(st.just("unmap"), st.integers(0, TASKS - 1), st.integers(0, PAGES - 1),
              st.booleans(), st.integers(1, 7)),
)


def _check(tasks):
    for task in tasks:
        for vpn, node in task.space.pages.items():
            assert node.owner is task.space and node.key == vpn
            if node.parent is not None:
                assert node.rights & ~node.parent.rights == 0, "rights grew"
                assert node in node.parent.children
            for child in node.children:
                assert child.parent is node
    for task in tasks:
        # a task reaches only frames mapped to it through a tree whose root is still live
        for node in task.space.pages.values():
            root = node
            while root.parent is not None:
                root = root.parent
            assert root.owner.pages.get(root.key) is root
            assert root.resource == node.resource


def _system(engines: bool = False):
    """TASKS tasks; the first holds PAGES fresh frames at BASE (the roots)."""
    machine = Machine(cores=1, ram_size=1 << 20)
    kernel = machine.kernel
    tasks = [kernel.create_task(f"t{i}") for i in range(TASKS)]
    if engines:
        for task in tasks:
            machine.engine(task)
    roots = [kernel.alloc_page(tasks[0], BASE + p * PAGE_SIZE, MEM_RWX) for p in range(PAGES)]
    return machine, kernel, tasks, roots


def _apply(kernel, tasks, entry) -> None:
    if entry[0] in ("map", "grant"):
        _, src, sp, dst, dp, rights = entry
        kernel.map_pages(tasks[src], BASE + sp * PAGE_SIZE, tasks[dst], BASE + dp * PAGE_SIZE,
                         1, rights | MEM_R, grant=entry[0] == "grant")
    else:
        _, t, p, include_self, rights = entry
        kernel.unmap_pages(tasks[t], BASE + p * PAGE_SIZE, 1, rights, include_self)


@settings(max_examples=80, deadline=None)
@given(st.lists(op, max_size=25))
def test_random_map_grant_unmap(ops):
    """Rights never grow; every page-table entry is a live tree node; after unmap no
    descendant still maps the frame."""
    machine, kernel, tasks, roots = _system()
    for entry in ops:
        below = []
        if entry[0] == "unmap":
            node = tasks[entry[1]].space.lookup(BASE + entry[2] * PAGE_SIZE)
            below = list(node.descendants()) if node else []
        _apply(kernel, tasks, entry)
        for child in below:
            live = child.owner.pages.get(child.key) is child
            assert not live or child.rights & entry[4] == 0, "revoked right still held"
        _check(tasks)


@settings(max_examples=40, deadline=None)
@given(st.lists(op, max_size=20), st.integers(0, PAGES - 1))
def test_revoked_frame_is_mapped_nowhere(ops, page):
    """After any map/grant/unmap history, revoking R from the root mapping of a frame
    leaves no address space mapping it, neither its page table nor its unicorn mirror, and
    the frame is free again. Throughout, each mirror equals its page table."""
    machine, kernel, tasks, roots = _system(engines=True)
    frame = roots[page].resource
    for entry in ops:
        _apply(kernel, tasks, entry)
    for task, node in [(t, n) for t in tasks for n in list(t.space.pages.values())
                       if n.resource == frame and n.parent is None]:
        kernel.unmap_pages(task, node.key << 12, 1, MEM_R, include_self=True)
    assert all(frame not in task.space.frames() for task in tasks)
    assert not machine.ram.is_allocated(frame)
    for task in tasks:
        mirror = {(start >> 12, perms) for start, _, perms in task.engine.uc.mem_regions()}
        assert mirror == {(vpn, uc_prot(node.rights)) for vpn, node in task.space.pages.items()}


def test_unmap_revokes_from_arm_view(native):
    """Unmapping a frame removes it from a child task's unicorn mirror too."""
    machine = Machine(cores=1)
    kernel = machine.kernel
    a, b = kernel.create_task("a"), kernel.create_task("b")
    kernel.alloc_page(a, BASE, MEM_RWX)
    kernel.map_pages(a, BASE, b, 0x200000, 1, MEM_R | MEM_W)
    engine = machine.engine(b)
    assert any(start == 0x200000 for start, _, _ in engine.uc.mem_regions())
    kernel.unmap_pages(a, BASE, 1, MEM_R, include_self=False)
    assert b.space.lookup(0x200000) is None
    assert not any(start == 0x200000 for start, _, _ in engine.uc.mem_regions())
    assert a.space.lookup(BASE) is not None
