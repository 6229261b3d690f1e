"""The command bar: any shell command, with history and completion.

Enter posts ``CommandBar.Command`` with the line; the app hands it to the engine, which
runs it through ``l4shell.commands.execute`` — the same language as the shell and scripts.
Up/Down walk the history. Tab asks the engine (model thread) for completions of the line
(``l4shell.commands.complete``); ``complete_with`` applies the answer: one candidate fills
the word, several fill their common prefix and are listed in the console.
"""

from __future__ import annotations

import os

from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input


class CommandBar(Input):
    BINDINGS = [Binding("up", "history(-1)", "previous", show=False, tooltip="the previous line (history)"),
                Binding("down", "history(1)", "next", show=False, tooltip="the next line (history)"),
                Binding("tab", "complete", "complete", show=False, tooltip="complete the word"),
                Binding("enter", "submit", "run", show=False, tooltip="run the line"),
                Binding("escape", "app.focus_pane", "leave", show=False, tooltip="back to the panes")]

    class Command(Message):
        def __init__(self, line: str):
            super().__init__()
            self.line = line

    class CompleteRequested(Message):
        def __init__(self, line: str):
            super().__init__()
            self.line = line

    def __init__(self):
        super().__init__(placeholder=": command (help lists them; Tab completes)", id="command")
        self.history: list[str] = []
        self._at = 0

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        line = event.value.strip()
        if line:
            self.history.append(line)
            self.post_message(self.Command(line))
        self._at = len(self.history)
        self.value = ""

    def action_history(self, delta: int) -> None:
        if self.history:
            self._at = min(max(self._at + delta, 0), len(self.history))
            self.value = self.history[self._at] if self._at < len(self.history) else ""
            self.cursor_position = len(self.value)

    def action_complete(self) -> None:
        self.post_message(self.CompleteRequested(self.value))

    def complete_with(self, line: str, candidates: tuple[str, ...]) -> list[str]:
        """Apply completions of ``line`` (if the bar still shows it); returns the candidates
        to list when there are several."""
        if self.value != line or not candidates:
            return []
        word = "" if line.endswith(" ") or not line else line.split()[-1]
        stem = line[:len(line) - len(word)]
        common = os.path.commonprefix(list(candidates))
        if len(candidates) == 1:
            self.value = stem + candidates[0] + " "
        elif len(common) > len(word):
            self.value = stem + common
        self.cursor_position = len(self.value)
        return list(candidates) if len(candidates) > 1 else []
