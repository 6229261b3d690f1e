"""Compositions and runtime re-cutting of the Linux fragments, on real ARM programs."""

from pathlib import Path

import pytest

from fragments.linux.system import FRAGMENTS
from fragments.runtime import composition
from fragments.runtime.recut import RecutError
from kernel_model.caps import MEM_W, MEM_X
from tests.demos import boot_demos


def run(program, args=(), composition_name="monolithic", between=None, cores=2):
    """Output and status of ``program``; ``between(system)`` runs after 300 steps."""
    machine, system = boot_demos(composition_name, cores, 5, ("hello", program))
    pid = system.spawn(f"/bin/{program}", [program, *args], [])
    if between is not None:
        machine.run(max_steps=300)
        between(system)
    machine.run()
    assert machine.crashes == []
    return bytes(machine.uart.written), system.exit_status(pid), system


@pytest.mark.parametrize("program", ["forkexec", "pipes", "mmapcow", "fileio", "sysall"])
def test_every_composition_gives_the_same_output(program):
    reference = run(program)[:2]
    assert reference[1] is not None
    for name in ("fragmented", "mixed"):
        assert run(program, composition_name=name)[:2] == reference


def test_fragmented_tasks_are_w_xor_x_and_monolithic_is_rwx():
    _, _, mono = run("hello")
    host = mono.runtime.hosts[0]
    assert all(n.rights == 7 for n in host.task.space.pages.values() if n.key << 12 < 0xB0000000)
    _, _, frag = run("hello", composition_name="fragmented")
    for host in frag.runtime.hosts:
        for fragment in host.fragments:
            for vpn in fragment.pages:
                rights = host.task.space.pages[vpn].rights
                pool = fragment.NAME == "pager" and vpn << 12 >= fragment.data_start
                assert pool or not (rights & MEM_W and rights & MEM_X)


def test_split_merge_migrate_while_programs_run_keep_the_output():
    reference = run("forkexec")[:2]

    def recut(system):
        system.split("pager")
        system.merge(["pager", "process"])
        system.migrate("vfs", 1)
        system.split("loader")
    out = run("forkexec", between=recut)
    assert out[:2] == reference
    system = out[2]
    names = {f.NAME: f.host.name for f in system.runtime.all_fragments()}
    assert names["pager"] == names["process"] != names["vfs"]
    assert system.vfs.host.core == 1
    kinds = [e.data["op"] for e in system.machine.trace.filter(["recut"])]
    assert kinds == ["split", "merge", "migrate", "split"]


def test_duplicate_makes_a_replica_per_core():
    reference = run("pipes")[:2]
    out = run("pipes", between=lambda s: s.duplicate("syscalls"))
    assert out[:2] == reference
    assert sorted(f.label for f in out[2].runtime.instances["syscalls"]) == ["syscalls@0", "syscalls@1"]


def test_recut_refusals_are_clear():
    _, _, system = run("hello", composition_name="fragmented")
    with pytest.raises(RecutError, match="already alone"):
        system.split("pager")
    with pytest.raises(RecutError, match="neither stateless nor per-core"):
        system.duplicate("vfs")
    with pytest.raises(RecutError, match="no core 7"):
        system.migrate("pager", 7)
    with pytest.raises(RecutError, match="no fragment"):
        system.split("nosuch")
    with pytest.raises(RecutError, match="names vfs more than once"):
        system.merge(["vfs", "pager", "vfs"])
    system.merge(["vfs", "ramfs"])
    with pytest.raises(RecutError, match="already share task vfs"):
        system.merge(["ramfs", "vfs"])


@pytest.mark.parametrize("text, reason", [
    ('[tasks.a]\nfragments = ["loader", "loader"]\n', "named twice"),
    ('[tasks.a]\nfragments = ["nosuch"]\n', "unknown fragment"),
    ('[tasks.a]\nfragments = ["loader"]\ncore = 5\n', "machine has 2 cores"),
    ('[tasks.a]\nfragments = ["loader"]\n', "missing"),
])
def test_bad_composition_files_are_refused_with_line_and_reason(tmp_path, text, reason):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(composition.CompositionError, match=reason) as error:
        composition.load(str(path), FRAGMENTS, 2)
    assert str(path) in str(error.value)
    if reason != "missing":
        assert f"{path}:" in str(error.value) and ":0:" not in str(error.value)


BUSYBOX = Path("/tmp/bb/bin/busybox")
BUSYBOX_SCRIPTS = [
    "echo hi; echo there | cat; x=0; while [ $x -lt 5 ]; do x=$((x+1)); done; echo x=$x",
    "rm -rf /tmp/r; mkdir /tmp/r; cd /tmp/r; for i in 3 1 2; do echo line $i >> f; done;"
    " sort f | head -2; wc -l < f; ls; rm f; cd /; rmdir /tmp/r; (exit 3); echo st=$?",
]


def run_busybox(script, composition_name="monolithic", between=None):
    machine, system = boot_demos(composition_name, 2, 2, (), [(b"/bin/busybox", BUSYBOX.read_bytes())])
    pid = system.spawn("/bin/busybox", ["busybox", "sh", "-c", script], ["PATH=/bin"])
    if between is not None:
        machine.run(max_steps=400)
        between(system)
    machine.run()
    assert machine.crashes == []
    return bytes(machine.uart.written), system.exit_status(pid)


@pytest.mark.skipif(not BUSYBOX.exists(), reason="busybox-static:armhf not fetched")
@pytest.mark.parametrize("script", BUSYBOX_SCRIPTS)
def test_busybox_same_output_in_every_composition_and_across_recuts(script):
    reference = run_busybox(script)
    assert reference[0]

    def recut(system):
        system.merge(["pager", "process"])
        system.migrate("vfs", 1)
        system.duplicate("syscalls")
    assert run_busybox(script, "fragmented") == reference
    assert run_busybox(script, "mixed") == reference
    assert run_busybox(script, "fragmented", between=recut) == reference
