"""The narration panel: what a ``.l4s`` walkthrough says (``say "…"``).

Shown only while a script plays or has spoken. On ``pause`` it asks for a key (space);
meanwhile the model is stopped and the user may look around, even type commands. The app
highlights the panes and focuses the task the narration names (see ``named``).
"""

from __future__ import annotations

import re

from textual.content import Content
from textual.widgets import Static

# Words in a narration -> the pane they point at.
PANE_WORDS = {"cores": r"\bcores?\b", "tasks": r"\btasks?\b|address space|\bregions?\b|\bframes?\b",
              "queues": r"\bqueues?\b|\bblocked\b|\bwait", "faults": r"page.fault|\bpager\b",
              "caps": r"capabilit", "fragments": r"\bfragments?\b|\bsplit|\bmerge|\bmigrat|\bduplicat",
              "log": r"\bevents?\b|\btrace\b"}


def named(text: str, names: dict[str, str]) -> tuple[list[str], str | None]:
    """The panes a narration names, and the task of the first task or fragment it names
    (``names``: word -> task)."""
    lower = text.lower()
    panes = [pane for pane, pattern in PANE_WORDS.items() if re.search(pattern, lower)]
    hits = [(m.start(), task) for word, task in names.items()
            for m in [re.search(rf"(?<![\w.]){re.escape(word)}(?![\w])", text)] if m]
    return panes, min(hits)[1] if hits else None


class NarrationPanel(Static):
    def __init__(self):
        super().__init__("", id="narration")
        self.border_title = "Narration"

    def show(self, text: str, paused: bool, script: str) -> None:
        if (text, paused, script) == getattr(self, "shown", None):
            return
        self.shown = (text, paused, script)
        self.set_class(bool(text or script), "-active")
        parts = [(text or "…", "bold")]
        if paused:
            parts.append(("\n— space: continue the script · Esc: stop it —", "italic $text-accent"))
        self.update(Content.assemble(*parts))
        self.border_subtitle = script
