"""The help screen: every key and every command, generated from their declarations (the
app's and the panes' ``BINDINGS``, the command table) — nothing is listed by hand."""

from __future__ import annotations

from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from . import bridge


def key_rows(groups: list[tuple[str, list]]) -> list[tuple[str, str, str]]:
    """(where, keys, what) for every binding with a tooltip (its long description)."""
    rows = []
    for where, bindings in groups:
        for b in bindings:
            b = b if isinstance(b, Binding) else Binding(*b)
            if b.tooltip:
                rows.append((where, b.key_display or b.key.replace("question_mark", "?"), b.tooltip))
    return rows


class HelpScreen(ModalScreen):
    BINDINGS = [Binding("escape,question_mark,f1,q", "dismiss", "close help")]

    def __init__(self, groups: list[tuple[str, list]]):
        super().__init__()
        self.groups = groups

    def compose(self):
        parts = [("Keys\n", "bold $text-accent")]
        for where, keys, what in key_rows(self.groups):
            parts.append(f"  {where:<14}{keys:<11}{what}\n")
        parts.append(("\nCommands (the command bar, ':'; the same as the shell's)\n", "bold $text-accent"))
        for usage, text in bridge.help_rows():
            parts += [(f"  {usage}\n", "bold"), f"      {text}\n"]
        with VerticalScroll(id="help-body"):
            yield Static(Content.assemble(*parts), markup=False)
        self.border_title = "help — Esc closes"

    def action_dismiss(self) -> None:
        self.dismiss()
