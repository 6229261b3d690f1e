"""The re-cut dialog: split, merge, migrate or duplicate, as a command line.

Opened from the fragment map (``r``, ``m``, ``g``) with the selected fragment filled in.
It returns the command line (e.g. ``migrate vfs 1``) or None; the app submits it, and the
engine runs it between two steps even while a workload runs.
"""

from __future__ import annotations

from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select

OPS = {"split": "FRAGMENT — out of its task into a new one",
       "merge": "FRAGMENT FRAGMENT… — into the first one's task",
       "migrate": "TASK|FRAGMENT CORE — the task's threads to a core",
       "duplicate": "FRAGMENT — a replica per core"}


class RecutDialog(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "cancel")]

    def __init__(self, op: str, args: str):
        super().__init__()
        self.op, self.args = op or "split", args

    def compose(self):
        with Vertical(id="recut-box"):
            yield Label("Re-cut the running system", classes="title")
            yield Select([(f"{op}  {what}", op) for op, what in OPS.items()], value=self.op,
                         allow_blank=False, id="recut-op")
            yield Input(self.args, placeholder="arguments", id="recut-args")
            with Horizontal():
                yield Button("Apply", variant="primary", id="apply")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        field = self.query_one("#recut-args", Input)
        field.focus()
        field.cursor_position = len(field.value)

    def _line(self) -> str:
        return f"{self.query_one('#recut-op', Select).value} {self.query_one('#recut-args', Input).value}".strip()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(self._line())

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(self._line() if event.button.id == "apply" else None)

    def action_cancel(self) -> None:
        self.dismiss(None)
