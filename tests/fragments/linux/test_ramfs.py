"""The root file system as a fragment: the ramfs tree keeps POSIX's rules, the vfs reaches
it only through the file-system interface (the root mount), and it can be split out, moved
and merged back, or live in a task of its own, while programs keep their output. File data
is in frames of the ramfs's own task: found there through its page table, moved by a split,
given back by truncate and unlink, refused with ENOSPC when the RAM is full."""

import errno
from pathlib import Path

import pytest

from fragments.linux.filesystem import FsError
from fragments.linux.ramfs import FILE_DATA, ROOT_INO, RamFs, reserve_frames
from fragments.linux.system import FRAGMENTS, boot_linux
from fragments.runtime import composition
from fragments.runtime.fragment import PAGE
from kernel_model.caps import MEM_R, MEM_W
from kernel_model.machine import Machine
from tests.demos import DEMOS, boot_demos

BUSYBOX = Path("/tmp/bb/bin/busybox")
FILES_SCRIPT = (
    "rm -rf /tmp/r; mkdir /tmp/r; cd /tmp/r; for i in 3 1 2; do echo line $i >> f; done;"
    " sort f | head -2; wc -l < f; ln -s f l; cat l; readlink l; mv l m; ls; exec 3<f; rm f m;"
    " cat <&3; exec 3<&-; mkdir -p a/b; echo x > a/b/c; mv a z; cat z/b/c; ls -R; cd /;"
    " rm -r /tmp/r; ls /tmp /dev; echo st=$?")


def tree() -> RamFs:
    """The tree of a freshly booted system's ramfs (its pages are real frames)."""
    return boot_demos(programs=())[1].fs.fs


def test_tree_keeps_link_counts_and_posix_rename():
    """Directories count their subdirectories; rename replaces a compatible entry, refuses
    a directory moved inside itself or over a non-empty one, and names stay unique."""
    fs = tree()
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
    fs = tree()
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
    """Split out of the monolithic task at the first open, migrated to the other core at the
    rename, merged back into the vfs's task at the first rmdir: fileio prints the same, and
    what crossed in between crossed as IPC."""
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
    prints the same with the ramfs split out of the monolithic task at its first mkdir."""
    reference = run("busybox", ["sh", "-c", FILES_SCRIPT])[:2]
    assert b"line 1\nline 2\n3\nline 3" in reference[0] and reference[0].endswith(b"st=0\n")
    split = run("busybox", ["sh", "-c", FILES_SCRIPT], recuts=[(syscall("mkdir"), lambda s: s.split("ramfs"))])
    assert split[:2] == reference
    assert split[2].fs.host is not split[2].vfs.host


def test_the_ramfs_on_the_other_core_runs_identically(tmp_path):
    """``fragmented`` with the ramfs's task on the other core: every call from the vfs to
    the ramfs is IPC across cores, the output is the monolithic one, and no inode is left
    open."""
    base = composition.load("fragmented", FRAGMENTS, 2)
    tasks = [composition.TaskSpec(t.name, t.fragments, 1 if t.fragments == ["ramfs"] else t.core)
             for t in base.tasks]
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


# --- file data in frames of the ramfs's own address space -----------------------------

README = (Path(__file__).resolve().parents[3] / "demos" / "arm" / "README.md").read_text()
NOTE = b"a line only the program wrote, 7f3a"


def data_frames(system) -> dict[int, int]:
    """vpn -> frame of every file-data page, read from the page table of the task holding
    the ramfs (the fragment's bookkeeping says which pages; the table says which frames)."""
    ramfs = system.fs
    table = ramfs.host.task.space.pages
    return {vpn: table[vpn].resource for vpn, name in ramfs.secrets.items() if name == FILE_DATA}


def frame_bytes(system) -> bytes:
    ram = system.machine.ram
    return b"".join(ram.read(frame, 0, PAGE) for frame in data_frames(system).values())


def noted(composition_name="fragmented"):
    """(machine, system) after ``notes`` appended NOTE to /tmp/n.txt (placed by the host)."""
    machine, system = boot_demos(composition_name, 2, 5, ("notes",), [(b"/tmp/n.txt", b"from the host\n")])
    pid = system.spawn("/bin/notes", ["notes", "/tmp/n.txt", NOTE.decode()], [])
    machine.run()
    assert system.exit_status(pid) == 0 and machine.crashes == []
    return machine, system


def test_file_data_lives_in_frames_of_the_ramfs_task():
    """What the host placed and what a program wrote are bytes of frames mapped in the
    ramfs's task at its data pages, one page per 4 KiB of each file; the tree keeps none."""
    machine, system = noted()
    inode = system.fs.fs.stat(system.fs.fs.find(system.fs.fs.find(ROOT_INO, "tmp"), "n.txt"))
    assert inode.size == len(b"from the host\n" + NOTE + b"\n") and inode.blocks == 8
    [page] = inode.pages.values()
    frame = system.fs.host.task.space.lookup(page).resource
    assert machine.ram.read(frame, 0, inode.size) == b"from the host\n" + NOTE + b"\n"
    assert NOTE in frame_bytes(system) and b"\x7fELF" in frame_bytes(system)   # /bin/notes too
    assert not any(isinstance(v, (bytes, bytearray)) for v in vars(inode).values())
    frames = set(data_frames(system).values())
    assert frames <= system.fs.host.task.space.frames()
    assert not frames & system.pager.host.task.space.frames()


def test_split_grants_the_data_pages_to_the_new_task():
    """``split ramfs`` out of the files task (mixed) moves every data page, frame and all, to
    the new task (the vfs's task keeps none of them); a program then reads the file
    through it."""
    machine, system = noted("mixed")
    before, vfs_task = data_frames(system), system.vfs.host.task
    system.split("ramfs")
    ramfs_task = system.fs.host.task
    assert ramfs_task is not vfs_task and data_frames(system) == before
    assert all(vpn not in vfs_task.space.pages for vpn in before)
    assert {ramfs_task.space.pages[vpn].rights for vpn in before} == {MEM_R | MEM_W}
    machine.uart.written.clear()
    pid = system.spawn("/bin/notes", ["notes", "/tmp/n.txt"], [])
    machine.run()
    assert system.exit_status(pid) == 0 and machine.crashes == []
    assert bytes(machine.uart.written) == b"from the host\n" + NOTE + b"\n"


def test_truncate_unlink_and_holes_give_frames_back():
    """Pages come with writes only (a hole takes none), a shrinking truncate frees the
    pages past the end and zeroes the rest of the last, unlink frees them all; an
    unlinked open file keeps its pages until its release."""
    machine, system = boot_demos(programs=())
    fs, ram = system.fs, machine.ram
    start = ram.free_frames
    tmp = fs.lookup(ROOT_INO, b"tmp")[0]
    ino = fs.create(tmp, b"f", 0o644)[0]
    assert fs.write(ino, 0, b"x" * (3 * PAGE)) == 3 * PAGE and ram.free_frames == start - 3
    assert fs.truncate(ino, PAGE + 1) == 0 and ram.free_frames == start - 2
    assert fs.truncate(ino, 100 * PAGE) == 0 and ram.free_frames == start - 2
    assert fs.read(ino, PAGE, 3) == b"x\0\0" and fs.getattr(ino)[4] == 16   # blocks
    assert fs.write(ino, 50 * PAGE, b"y") == 1 and ram.free_frames == start - 3
    assert fs.read(ino, 50 * PAGE - 2, 4) == b"\0\0y\0"
    assert fs.open(ino) == 0 and fs.unlink(tmp, b"f") == 0 and ram.free_frames == start - 3
    assert fs.release(ino) == 0 and ram.free_frames == start
    link = fs.symlink(tmp, b"l", b"/tmp/target")[0]
    assert fs.readlink(link) == b"/tmp/target" and ram.free_frames == start - 1
    assert fs.unlink(tmp, b"l") == 0 and ram.free_frames == start
    assert fs.fs.pages.available() == start - reserve_frames(ram.size)


def test_programs_give_back_every_frame_they_made_the_ramfs_take():
    """After fillfs (which filled the RAM) and fileio, the monolithic machine has exactly
    the free frames it had before them."""
    machine, system = boot_demos("monolithic", 2, 5, ("fillfs", "fileio"))
    start = machine.ram.free_frames
    for program in ("fillfs", "fileio"):
        pid = system.spawn(f"/bin/{program}", [program], [])
        machine.run()
        assert system.exit_status(pid) == 0 and machine.ram.free_frames == start


@pytest.mark.parametrize("composition_name", ["monolithic", "fragmented"])
def test_a_full_ram_gives_enospc_and_the_model_runs_on(composition_name):
    """fillfs on a 16 MiB machine writes until the RAM is full: ENOSPC, as Linux's tmpfs
    gives when full (the README's qemu output), no crash; the ramfs stopped at the reserve
    while it was full, and programs run after it."""
    machine = Machine(cores=2, seed=5, ram_size=16 << 20)
    system = boot_linux(machine, composition_name)
    for name in ("fillfs", "hello"):
        system.fs.add_file(f"/bin/{name}".encode(), (DEMOS / name).read_bytes())
    machine.uart.feed(b"")
    pid = system.spawn("/bin/fillfs", ["fillfs"], [])
    machine.run(predicate=lambda e: e.kind == "syscall" and e.data["name"] == "statx")   # full
    full = machine.ram.free_frames
    machine.run()
    assert machine.crashes == [] and system.exit_status(pid) == 0
    assert bytes(machine.uart.written).decode() == README.split("### `fillfs", 1)[1].split("```", 2)[1].lstrip("\n")
    assert reserve_frames(16 << 20) <= full < reserve_frames(16 << 20) + 16      # 64 KiB writes
    pid = system.spawn("/bin/hello", ["hello"], [])
    machine.run()
    assert system.exit_status(pid) == 0 and machine.crashes == []


def test_a_write_that_does_not_fit_changes_nothing():
    """A write that needs more pages than the store can give answers -ENOSPC before
    anything changes: same size, same frames; a host file that does not fit is refused
    with FsError(ENOSPC) and leaves no name behind."""
    machine, system = boot_demos(programs=())
    fs = system.fs
    tmp = fs.lookup(ROOT_INO, b"tmp")[0]
    ino = fs.create(tmp, b"big", 0o644)[0]
    room = fs.fs.pages.available()
    assert fs.write(ino, 0, b"z" * ((room - 1) * PAGE)) == (room - 1) * PAGE
    free, attr = machine.ram.free_frames, fs.getattr(ino)
    assert fs.write(ino, attr[3], b"z" * (PAGE + 1)) == -errno.ENOSPC
    assert (machine.ram.free_frames, fs.getattr(ino)) == (free, attr)
    assert fs.write(ino, attr[3], b"z" * PAGE) == PAGE and fs.fs.pages.available() == 0
    with pytest.raises(FsError) as refused:
        fs.add_file(b"/bin/toolarge", b"\x7fELF" * 2)
    assert refused.value.errno == errno.ENOSPC and fs.lookup(ROOT_INO, b"bin")
    assert fs.lookup(fs.lookup(ROOT_INO, b"bin")[0], b"toolarge") == -errno.ENOENT
    assert fs.symlink(tmp, b"l", b"t") == -errno.ENOSPC and fs.lookup(tmp, b"l") == -errno.ENOENT
    assert fs.truncate(ino, 0) == 0 and fs.fs.pages.available() == room
