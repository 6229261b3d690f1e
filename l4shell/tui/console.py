"""The console: the session's transcript and the keyboard of the running program.

The log shows, in order, the command lines run (from the command bar, the keys, a
script), their results, and the program output the model wrote to its UART and console —
as a shell would. Program output arrives in pieces; a partial line is held until its end (or
until something else is written). The input line below sends what is typed to the program
(``session.input``, a line at a time with its newline); Ctrl-D sends end of input.
"""

from __future__ import annotations

from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Input

from .lineview import LineView

STYLES = {"command": "bold $text-accent", "result": "", "error": "$text-error", "output": "$text-success",
          "note": "italic $text-muted"}


class ProgramInput(Input):
    BINDINGS = [Binding("enter", "submit", "send", show=False, tooltip="send the line (and a newline) to the program"),
                Binding("ctrl+d", "eof", "EOF", tooltip="end of input"),
                Binding("escape", "app.focus_pane", "leave", show=False, tooltip="back to the panes")]

    def action_eof(self) -> None:
        self.post_message(ConsolePane.Typed(b""))


class ConsolePane(Vertical):
    class Typed(Message):
        """Bytes for the program's console (b"" = end of input)."""

        def __init__(self, data: bytes):
            super().__init__()
            self.data = data

    def __init__(self):
        super().__init__(id="console")
        self.border_title = "Console"
        self._partial = ""
        self._lines = 0

    def compose(self):
        yield LineView(tail=True, wrap=True, id="transcript")
        yield ProgramInput(placeholder="k: type to the program (Enter sends a line, Ctrl-D ends input)",
                           id="program-input")

    def write(self, entries: list[tuple[str, str]]) -> None:
        """Append transcript entries ((kind, text), kinds as in ``STYLES``)."""
        rows = []
        for kind, text in entries:
            if kind == "output":
                text, newline, self._partial = (self._partial + text).rpartition("\n")
                if not newline:
                    continue
            else:
                if self._partial:
                    rows.append(Content.styled(self._partial, STYLES["output"]))
                    self._partial = ""
                if kind == "command":
                    text = f"(l4) {text}"
            rows += [Content.styled(line, STYLES.get(kind, "")) for line in text.split("\n")]
        if rows:
            self.query_one(LineView).append(enumerate(rows, self._lines))
            self._lines += len(rows)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.Typed(event.value.encode() + b"\n"))
        event.input.value = ""
