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


def test_a_transcript_piped_into_head_ends_quietly():
    import subprocess
    import sys
    result = subprocess.run(f"{sys.executable} -m l4shell.cli script demos/walkthroughs/first_program.l4s | head -1",
                            shell=True, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.stdout.startswith("(l4) boot") and "Traceback" not in result.stderr
