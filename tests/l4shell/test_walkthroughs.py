"""Every shipped walkthrough replays and reproduces its recorded trace (``--check``)."""

from pathlib import Path

import pytest

from l4shell.language import new_debugger
from l4shell.script import run_script, script_lines

ROOT = Path(__file__).resolve().parents[2]
WALKTHROUGHS = sorted((ROOT / "demos" / "walkthroughs").glob("*.l4s"))


@pytest.mark.parametrize("path", WALKTHROUGHS, ids=lambda p: p.stem)
def test_walkthrough_replays_with_the_recorded_trace(path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)                   # walkthroughs name demo files from the root
    assert script_lines(str(path))[1] is not None, "no recorded digest"
    assert run_script(new_debugger(), str(path), check=True) == 0, capsys.readouterr().err
