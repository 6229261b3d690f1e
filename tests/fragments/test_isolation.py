"""The isolation report, checked against the live page and capability tables: monolithic
reaches everything from everywhere, read-write-execute; fragmented shows the cut."""

from fragments.runtime import isolation
from kernel_model.caps import MEM_RWX, MEM_W, MEM_X
from kernel_model.objects import Task
from tests.demos import boot_demos


def at_fork(composition_name):
    """The system as forkexec's parent makes its first fork (its memory all in place)."""
    machine, system = boot_demos(composition_name, 1, 4, ("hello", "forkexec"))
    system.spawn("/bin/forkexec", ["forkexec"], [])
    machine.run(predicate=lambda e: e.kind == "syscall" and e.data["name"] == "fork")
    return system


def reached_tasks(task, seen=None):
    """Tasks reachable from ``task`` by following Task and Thread capabilities (the rule,
    written out independently of the report's networkx graph)."""
    seen = seen if seen is not None else {task}
    for _, node in task.caps.items():
        obj = node.resource
        target = obj if isinstance(obj, Task) else getattr(obj, "task", None) if obj.kind == "thread" else None
        if target is not None and target.alive and target not in seen:
            seen.add(target)
            reached_tasks(target, seen)
    return seen


def test_report_is_read_from_the_page_and_capability_tables():
    """For every fragment of the fragmented system: the tasks it reaches follow its task's
    capabilities, its frames are those mapped in them, every region's rights are the
    page-table entries', its capabilities are those tables' entries."""
    system = at_fork("fragmented")
    kernel = system.kernel
    report = isolation.report(system.runtime)
    assert len(report.fragments) == len(system.runtime.all_fragments())
    for reach in report.fragments:
        tasks = [kernel.find_task(name) for name in reach.tasks]
        assert tasks[0] is system.runtime.instance(reach.fragment).host.task
        assert set(tasks) == reached_tasks(tasks[0])
        assert reach.frames == set().union(*(t.space.frames() for t in tasks))
        for region in reach.regions:
            space = kernel.find_task(region.task).space
            for i, address in enumerate(range(region.start, region.end, 4096)):
                node = space.lookup(address)
                assert node.rights == region.rights and node.resource == region.frames[i]
        assert len(reach.caps) == sum(len(t.caps) for t in tasks)


def test_fragmented_shows_the_cut():
    """Each fragment reaches only its own task and the processes it holds a capability
    to; process memory is reachable from syscalls, pager and process only; code is R-X
    and data RW- everywhere but in the pager's pool (the frames it lends)."""
    system = at_fork("fragmented")
    report = isolation.report(system.runtime)
    vfs = report.of("vfs")
    assert vfs.tasks == [system.vfs.host.task.name] and "process memory" not in vfs.secrets
    assert "pager" in vfs.interfaces
    assert sorted(report.secrets["process memory"]) == ["pager", "process", "syscalls"]
    pool = report.secret_frames["process memory"]
    for reach in report.fragments:
        own = [r for r in reach.regions if r.task == reach.task]
        wx = {f for r in own if r.rights & MEM_W and r.rights & MEM_X for f in r.frames}
        assert wx <= pool, reach.fragment
        assert reach.colocated == []


def test_monolithic_reaches_everything_from_everywhere_rwx():
    """One task: every fragment reaches the same frames and capabilities, the secret is
    reachable from all, and the fragments' own memory is read-write-execute."""
    system = at_fork("monolithic")
    report = isolation.report(system.runtime)
    first = report.fragments[0]
    for reach in report.fragments:
        assert reach.frames == first.frames and len(reach.caps) == len(first.caps)
    assert report.secrets["process memory"] == [r.fragment for r in report.fragments]
    task = system.runtime.hosts[0].task
    for fragment in system.runtime.all_fragments():
        for vpn in fragment.pages:
            assert task.space.pages[vpn].rights == MEM_RWX


def test_a_secret_moves_with_its_fragment():
    """After merging the pager into the process fragment's task, the pool is found there
    and the isolation report follows the new page tables."""
    system = at_fork("fragmented")
    system.merge(["process", "pager"])
    report = isolation.report(system.runtime)
    assert report.of("pager").task == report.of("process").task
    assert sorted(report.secrets["process memory"]) == ["pager", "process", "syscalls"]
    pool = report.secret_frames["process memory"]
    assert pool and pool <= system.process.host.task.space.frames()


def test_file_data_is_reached_from_the_ramfs_task_only():
    """The ramfs's data pages (secret "file data": the /bin programs here) are reached from
    the task holding the ramfs: by the ramfs alone (fragmented), by the vfs too once merged
    into its task, by the ramfs alone again once split out, by every fragment in
    monolithic."""
    system = at_fork("fragmented")
    report = isolation.report(system.runtime)
    files = report.secret_frames["file data"]
    assert len(files) == sum(len(i.pages) for i in system.fs.fs.inodes.values()) > 0
    assert files <= system.fs.host.task.space.frames()
    assert report.secrets["file data"] == ["ramfs"]
    assert not files & system.vfs.host.task.space.frames()
    system.merge(["vfs", "ramfs"])
    report = isolation.report(system.runtime)
    assert sorted(report.secrets["file data"]) == ["ramfs", "vfs"]
    system.split("ramfs")
    report = isolation.report(system.runtime)
    assert report.secrets["file data"] == ["ramfs"] and report.secret_frames["file data"] == files
    assert not files & system.vfs.host.task.space.frames()
    monolithic = isolation.report(at_fork("monolithic").runtime)
    assert monolithic.secrets["file data"] == [r.fragment for r in monolithic.fragments]
