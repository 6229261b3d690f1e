"""The pane bar (narrow layouts): which pane is shown; digits or a click switch."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static


class PaneBar(Static):
    def __init__(self, panes: list[tuple[str, str, str]]):
        super().__init__("", id="panebar")
        self.panes = panes            # (id, key, title)

    def show(self, current: str, highlighted: set[str] = frozenset()) -> None:
        parts = []
        for pane, key, title in self.panes:
            style = "reverse bold" if pane == current else "bold $text-warning" if pane in highlighted else ""
            parts += [(f" {key} {title} ", f"{style} @click=app.show_pane('{pane}')".strip()), " "]
        parts.append((" ? help", "bold $text-accent @click=app.help"))
        self.update(Content.assemble(*parts))
