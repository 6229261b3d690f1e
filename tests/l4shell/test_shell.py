"""The interactive shell through a real prompt_toolkit session fed by a pipe."""

import io

from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from l4shell.language import Options, new_debugger
from l4shell.shell import run_shell


class Capture(DummyOutput):
    def __init__(self):
        super().__init__()
        self.text = io.StringIO()

    def write(self, data: str) -> None:
        self.text.write(data)


def test_a_session_typed_at_the_prompt():
    dbg = new_debugger(Options("fragmented", 2, 0))
    out = Capture()
    with create_pipe_input() as pipe:
        pipe.send_text("start hello a b\nnext syscall\ninfo fragments\nbogus\ncontinue\nquit\n")
        status = run_shell(dbg, input=pipe, output=out)
    text = out.text.getvalue()
    assert status == 0
    assert "started hello as pid 2" in text
    assert "stopped: next syscall" in text
    assert "pager" in text and "error: unknown command 'bogus'" in text
    assert "hello, world" in text and "exit status 2" in text
    assert dbg.history[:2] == ["start hello a b", "next syscall"]


def test_the_prompt_completer_offers_model_names():
    from prompt_toolkit.document import Document
    from l4shell.shell import _Completer
    completer = _Completer(new_debugger())
    words = [c.text for c in completer.get_completions(Document("merge pager p"), None)]
    assert words == ["pager", "process"]
    starts = {c.start_position for c in completer.get_completions(Document("info ca"), None)}
    assert starts == {-2}


def test_commands_redirected_from_a_file_run_as_a_transcript(tmp_path):
    """``l4shell < FILE`` (a regular file, which prompt_toolkit cannot wait on) and
    ``l4shell`` fed by a pipe both run every line, echo it after the prompt, go on after a
    bad command, and go back through a checkpoint reading on from the same place."""
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[2]
    commands = tmp_path / "commands.txt"
    commands.write_text("start syscall_loop 2000\nbogus\ncontinue\nreverse-step 1\nstep 2\n")
    shell = [sys.executable, "-m", "l4shell.cli", "--checkpoint-interval", "0.01"]
    with commands.open() as stdin:
        redirected = subprocess.run(shell, stdin=stdin, cwd=root, capture_output=True, text=True, timeout=600)
    piped = subprocess.run(shell, input=commands.read_text(), cwd=root, capture_output=True, text=True,
                           timeout=600)
    assert redirected.returncode == 0 and redirected.stderr == ""
    lines = redirected.stdout.splitlines()
    assert [line for line in lines if line.startswith("(l4) ")] == [
        f"(l4) {c}" for c in commands.read_text().splitlines()]
    assert "error: unknown command 'bogus'" in redirected.stdout
    assert "syscall_loop: 2000 getppid calls, all equal: yes" in lines
    assert sum(line.startswith("step ") for line in lines) == 2
    assert piped.stdout == redirected.stdout
