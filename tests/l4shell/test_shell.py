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
