"""What the user is looking at, shared by every pane: selecting a task, a fault, a
fragment or an event in one pane focuses the others on it.

The UI thread owns ``Focus`` (it is replaced whole, never mutated) and hands it to the
engine, whose panes read it while gathering. A pane that lets the user select something
posts ``Selected``; the app merges it into the focus and asks for fresh views.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message


@dataclass(frozen=True)
class Focus:
    task: str | None = None        # task name
    fault: int | None = None       # seq of a page-fault event
    fragment: str | None = None    # fragment label
    event: int | None = None       # seq of an event
    log_filter: str = ""           # the event log's filter line


class Selected(Message):
    """The user selected something; ``changes`` are Focus fields (task=…, fault=…)."""

    def __init__(self, **changes):
        super().__init__()
        self.changes = changes
