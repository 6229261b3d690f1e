"""``l4shell compare | minimize | plan | isolation`` on the demo programs: one table each,
compositions written that load and run with identical output, one-line errors."""

import subprocess
import sys
from pathlib import Path

import pytest

from fragments.linux.system import FRAGMENTS
from fragments.runtime import composition
from l4shell.analysis import Program, run
from l4shell.cli import main

ROOT = Path(__file__).resolve().parents[2]
DEMOS = ROOT / "demos" / "arm"
BUSYBOX = Path("/tmp/bb/bin/busybox")


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    """Commands that write a composition by default write it here."""
    monkeypatch.chdir(tmp_path)


def l4shell(capsys, *argv):
    status = main([*map(str, argv)])
    out, err = capsys.readouterr()
    return status, out, err


def rows(out: str) -> dict[str, list[str]]:
    """Table rows of rich's output by their first cell."""
    table = {}
    for line in out.splitlines():
        line = line.strip()
        cells = [c.strip() for c in line[1:-1].split("│")] if line.startswith("│") else []
        if len(cells) > 2:
            table[cells[0]] = cells[1:]
    return table


def test_compare_prints_one_row_per_composition(capsys):
    """Every composition gives hello's output; IPC and cycles grow when fragmented."""
    status, out, err = l4shell(capsys, "compare", "--compositions", "monolithic,fragmented,mixed",
                               "--cores", "2", DEMOS / "hello", "a")
    assert status == 0 and err == ""
    table = rows(out)
    assert [table[n][0] for n in ("monolithic", "fragmented", "mixed")] == ["yes"] * 3
    assert table["monolithic"][-1] == "1.00"
    cycles = {n: int(table[n][-2].replace(",", "")) for n in ("monolithic", "fragmented")}
    assert cycles["fragmented"] > cycles["monolithic"]
    assert int(table["mixed"][4].replace(",", "")) > 0          # IPC across cores


def test_minimize_writes_a_composition_that_runs_identically(capsys, tmp_path):
    """The minimal composition is a valid subset without the storage stack, and the
    program's output on it is the monolithic one."""
    status, out, err = l4shell(capsys, "minimize", "-o", tmp_path / "min.toml", DEMOS / "fileio")
    assert status == 0 and err == ""
    assert "identical output on the minimal composition: yes" in out
    loaded = composition.load(str(tmp_path / "min.toml"), FRAGMENTS, 1)
    assert loaded.subset and "blockdev" not in loaded.fragments()
    program = Program.from_args(str(DEMOS / "fileio"), [], [])
    assert run(program, str(tmp_path / "min.toml")).result() == run(program, "monolithic").result()


@pytest.mark.skipif(not BUSYBOX.exists(), reason="busybox-static:armhf not installed at /tmp/bb")
def test_minimize_busybox_true_leaves_out_the_console(capsys, tmp_path):
    """A program that never writes to the terminal gets a system without the console;
    ``run`` runs it there, and a program that prints gets -ENOSYS, not a crash."""
    status, out, _ = l4shell(capsys, "minimize", "-o", tmp_path / "t.toml", BUSYBOX, "true")
    assert status == 0 and "left out: console" in out
    status, out, err = l4shell(capsys, "run", "--composition", tmp_path / "t.toml", BUSYBOX, "true")
    assert (status, out, err) == (0, "", "")
    assert l4shell(capsys, "run", "--composition", tmp_path / "t.toml", DEMOS / "hello", "x")[:3] == (1, "", "")


def test_plan_writes_a_valid_composition_and_measures_it(capsys, tmp_path):
    """The plan loads on two cores, runs identically, and is measured next to monolithic
    and fragmented with its prediction: exact for fragmented (the profile's own run),
    within the model's tolerance for the others (see tests/fragments/test_graph.py)."""
    status, out, err = l4shell(capsys, "plan", "--cores", "2", DEMOS / "forkexec")
    assert status == 0 and err == ""
    path = tmp_path / "forkexec.plan.toml"
    composition.load(str(path), FRAGMENTS, 2)
    table = rows(out)
    names = ("monolithic", "fragmented", "forkexec.plan")
    assert [table[n][2] for n in names] == ["yes"] * 3
    predicted, measured = ({n: int(table[n][i].replace(",", "")) for n in names} for i in (0, 1))
    assert measured["forkexec.plan"] < measured["fragmented"]
    assert predicted["fragmented"] == measured["fragmented"]
    assert abs(predicted["monolithic"] - measured["monolithic"]) <= 0.03 * measured["monolithic"]


def test_plan_from_a_trace_file(capsys, tmp_path):
    """A trace written by ``run --trace`` is enough to plan (predictions only)."""
    trace = tmp_path / "t.jsonl"
    subprocess.run([sys.executable, "-m", "l4shell.cli", "run", "--composition", "fragmented",
                    "--trace", trace, DEMOS / "pipes"], cwd=ROOT, check=True, capture_output=True)
    status, out, err = l4shell(capsys, "plan", "--cores", "1", "--trace", trace, "-o", tmp_path / "p.toml")
    assert status == 0 and err == ""
    composition.load(str(tmp_path / "p.toml"), FRAGMENTS, 1)
    table = rows(out)
    assert int(table["fragmented"][0].replace(",", "")) > int(table["p"][0].replace(",", ""))


def test_isolation_report_shows_the_cut(capsys):
    """Fragmented: process memory is reachable from three fragments; monolithic: from all."""
    status, out, _ = l4shell(capsys, "isolation", "fragmented", DEMOS / "forkexec")
    assert status == 0
    assert rows(out)["process memory"][1] == "syscalls, pager, process"
    status, out, _ = l4shell(capsys, "isolation", "--regions", "monolithic", DEMOS / "hello")
    assert status == 0 and "rwx" in out
    assert set(rows(out)["process memory"][1].split(", ")) == set(FRAGMENTS)


def test_isolation_of_a_composition_alone_puts_each_fragment_in_its_own_task(capsys):
    """Without a program: one task per fragment, none shared, and no secret memory yet
    (said in one line instead of an empty table)."""
    status, out, _ = l4shell(capsys, "isolation", "fragmented")
    table = rows(out)
    assert status == 0 and set(table) == set(FRAGMENTS)
    assert all(table[name][0] == name and table[name][1] == "-" for name in FRAGMENTS)
    assert "secrets: none yet" in out


@pytest.mark.parametrize("argv, status, message", [
    (["compare", "--compositions", "nosuch", DEMOS / "hello"], 2, "unknown composition 'nosuch'"),
    (["compare", "missing-program"], 127, "missing-program: No such file"),
    (["minimize", ROOT / "README.md"], 126, "cannot execute"),
    (["plan", "--cores", "2"], 2, "plan needs a PROGRAM or --trace"),
    (["plan", "--trace", "nope.jsonl"], 2, "nope.jsonl: not a trace"),
    (["plan", "--isolate", "nosuch", DEMOS / "hello"], 2, "--isolate: no fragment 'nosuch'"),
    (["isolation", "--cores", "1", "mixed"], 2, "task files is on core 1"),
])
def test_bad_input_is_one_line(capsys, argv, status, message):
    """A user's mistake: one line on stderr, a non-zero status, no traceback."""
    code, out, err = l4shell(capsys, *argv)
    assert code == status
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_compare_with_a_disk_reads_the_encrypted_image_identically_and_leaves_it_alone():
    import hashlib
    import subprocess
    import sys
    root = Path(__file__).resolve().parents[2]
    image = root / "demos" / "disk" / "notes.img"
    before = hashlib.sha256(image.read_bytes()).hexdigest()
    result = subprocess.run([sys.executable, "-m", "l4shell.cli", "compare", "--disk", str(image),
                             "--key-file", str(root / "demos" / "disk" / "demo.key"),
                             str(root / "demos" / "arm" / "notes"), "/mnt/README", "extra line"],
                            capture_output=True, text=True, cwd=root, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(" yes ") == 2
    assert hashlib.sha256(image.read_bytes()).hexdigest() == before
