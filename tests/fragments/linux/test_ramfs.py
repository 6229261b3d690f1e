"""The root file system as a fragment: the ramfs tree keeps POSIX's rules, the vfs reaches
it only through the file-system interface (the root mount), and it can be split out, moved
and merged back, or live in a task of its own, while programs keep their output."""

import errno
from pathlib import Path

import pytest

from fragments.linux.filesystem import FsError
from fragments.linux.ramfs import ROOT_INO, RamFs
from fragments.linux.system import FRAGMENTS
from fragments.runtime import composition
from tests.demos import boot_demos

BUSYBOX = Path("/tmp/bb/bin/busybox")
FILES_SCRIPT = (
    "rm -rf /tmp/r; mkdir /tmp/r; cd /tmp/r; for i in 3 1 2; do echo line $i >> f; done;"
    " sort f | head -2; wc -l < f; ln -s f l; cat l; readlink l; mv l m; ls; exec 3<f; rm f m;"
    " cat <&3; exec 3<&-; mkdir -p a/b; echo x > a/b/c; mv a z; cat z/b/c; ls -R; cd /;"
    " rm -r /tmp/r; ls /tmp /dev; echo st=$?")


def test_tree_keeps_link_counts_and_posix_rename():
    """Directories count their subdirectories; rename replaces a compatible entry, refuses
    a directory moved inside itself or over a non-empty one, and names stay unique."""
    fs = RamFs(lambda: 7)
    tmp = fs.find(ROOT_INO, "tmp")
    a = fs.mkdir(tmp, "a", 0o755)
    b = fs.mkdir(a, "b", 0o755)
    assert fs.stat(a).nlink == 3 and fs.stat(b).nlink == 2
    f = fs.create(tmp, "f", 0o644)
    assert fs.write(f, 2, b"xy") == 2 and fs.read(f, 0, 10) == b"\0\0xy"
    with pytest.raises(FsError) as inside:
        fs.rename(tmp, "a", b, "c")
    assert inside.value.errno == errno.EINVAL
    with pytest.raises(FsError) as over_dir:
        fs.rename(tmp, "f", a, "b")
    assert over_dir.value.errno == errno.EISDIR
    fs.rename(a, "b", tmp, "b")
    assert fs.stat(a).nlink == 2 and fs.find(b, "..") == tmp
    fs.rename(tmp, "f", tmp, "b2")
    assert [name for name, _, _ in fs.readdir(tmp)] == [".", "..", "a", "b", "b2"]
    with pytest.raises(FsError) as taken:
        fs.mkdir(tmp, "a", 0o755)
    assert taken.value.errno == errno.EEXIST


def test_an_unlinked_open_file_lives_until_released():
    """An inode that loses its last link while open stays readable until its release; a
    closed one goes at once."""
    fs = RamFs(lambda: 7)
    tmp = fs.find(ROOT_INO, "tmp")
    kept, gone = fs.create(tmp, "kept", 0o644), fs.create(tmp, "gone", 0o644)
    fs.write(kept, 0, b"data")
    fs.open(kept)
    fs.unlink(tmp, "kept")
    fs.unlink(tmp, "gone")
    assert fs.read(kept, 0, 9) == b"data" and fs.stat(kept).nlink == 0
    assert gone not in fs.inodes
    fs.release(kept)
    assert kept not in fs.inodes and not fs.opened


def run(program, args=(), composition_name="monolithic", recuts=()):
    """(output, status, system) of ``program``; ``recuts``: (predicate on a trace event,
    what to do to the system then), in order."""
    files = [(b"/bin/busybox", BUSYBOX.read_bytes())] if program == "busybox" else []
    machine, system = boot_demos(composition_name, 2, 5, ("hello", "fileio"), files)
    pid = system.spawn(f"/bin/{program}", [program, *args], ["PATH=/bin"])
    for predicate, recut in recuts:
        assert machine.run(predicate=predicate).why == "predicate"
        recut(system)
    machine.run()
    assert machine.crashes == []
    return bytes(machine.uart.written), system.exit_status(pid), system


def syscall(name):
    return lambda event: event.kind == "syscall" and event.data["name"] == name


def test_the_vfs_reaches_the_root_only_as_a_mount():
    """The mount table's root entry is the ramfs fragment, and the vfs's every use of it is
    a call through the binding (a ``fragment`` event), direct while they share a task."""
    out, status, system = run("fileio")
    assert status == 0 and b"fileio: all ok" in out
    root = system.vfs.mounts[0]
    assert (root.point, root.fs, root.dev) == (b"/", "ramfs", 1)
    calls = [e for e in system.machine.trace.filter(["fragment"]) if e.data["target"] == "ramfs"]
    assert {e.data["caller"] for e in calls} == {"vfs"} and {e.data["mode"] for e in calls} == {"direct"}
    assert {"lookup", "create", "write", "read", "rename", "readdir", "unlink", "mkdir", "rmdir",
            "open", "release"} <= {e.data["op"] for e in calls}


def test_ramfs_split_moved_and_merged_while_fileio_runs_keeps_the_output():
    """Split out of the vfs's task at the first open, migrated to the other core at the
    rename, merged back at the first rmdir: fileio prints the same, and what crossed in
    between crossed as IPC."""
    reference = run("fileio")[:2]
    out, status, system = run("fileio", recuts=[
        (syscall("open"), lambda s: s.split("ramfs")),
        (syscall("rename"), lambda s: s.migrate("ramfs", 1)),
        (syscall("rmdir"), lambda s: s.merge(["vfs", "ramfs"])),
    ])
    assert (out, status) == reference
    assert [e.data["op"] for e in system.machine.trace.filter(["recut"])] == ["split", "migrate", "merge"]
    traffic = system.runtime.traffic["vfs", "ramfs"]
    assert traffic.direct and traffic.ipc_local and traffic.ipc_remote
    assert system.fs.host is system.vfs.host


@pytest.mark.skipif(not BUSYBOX.exists(), reason="busybox-static:armhf not fetched")
def test_ramfs_split_while_busybox_works_on_files_keeps_the_output():
    """busybox sh (redirections, sort, ln -s, mv, rm of an open file, mkdir -p, ls -R)
    prints the same with the ramfs split out of the vfs's task at its first mkdir."""
    reference = run("busybox", ["sh", "-c", FILES_SCRIPT])[:2]
    assert b"line 1\nline 2\n3\nline 3" in reference[0] and reference[0].endswith(b"st=0\n")
    split = run("busybox", ["sh", "-c", FILES_SCRIPT], recuts=[(syscall("mkdir"), lambda s: s.split("ramfs"))])
    assert split[:2] == reference
    assert split[2].fs.host is not split[2].vfs.host


def test_a_composition_with_ramfs_in_its_own_task_runs_identically(tmp_path):
    """``fragmented`` with the ramfs moved out of the vfs's task: every call from the vfs to
    the ramfs is IPC, the output is the monolithic one, and no inode is left open."""
    base = composition.load("fragmented", FRAGMENTS, 2)
    tasks = [composition.TaskSpec(t.name, [f for f in t.fragments if f != "ramfs"], t.core)
             for t in base.tasks] + [composition.TaskSpec("ramfs", ["ramfs"], 1)]
    path = tmp_path / "ramfs-apart.toml"
    path.write_text(composition.Composition("ramfs-apart", tasks).to_toml())
    programs = [("fileio", [])] + ([("busybox", ["sh", "-c", FILES_SCRIPT])] if BUSYBOX.exists() else [])
    for program, args in programs:
        reference = run(program, args)[:2]
        out, status, system = run(program, args, str(path))
        assert (out, status) == reference
        assert system.fs.host.fragments == [system.fs] and system.fs.host.core == 1
        traffic = system.runtime.traffic["vfs", "ramfs"]
        assert traffic.direct == 0 and traffic.ipc_remote > 0
        assert system.fs.fs.opened == {}
