"""The event log: the newest trace events, filterable.

Filter words (typed after ``/``): event kinds (``page-fault``, ``ipc-send``…) or the
shell's short names (``ipc pf irq syscall sched recut fragment``), ``task=NAME``,
``core=N``; ``-KIND`` hides a kind (``-quantum -schedule`` quiets a busy log). The pane keeps the
last ``ROWS`` matches and, at each refresh, looks only at the events appended since the last
one, from the newest back, until it has ``ROWS`` (after a filter change or a rewind: back from
the end of the trace); a row's text is made once, when its event enters the log. Events of the
focused task are marked ▶; selecting an event focuses its task (and its fault, for a page
fault).
"""

from __future__ import annotations

from collections import deque

from textual.widgets import Input

from l4shell.debugger import NEXT_KINDS

from .focus import Selected
from .lineview import LineView
from .pane import Pane, columns, focused_task

ROWS = 200
WIDTHS = (7, 11, 2, 11, 24)        # after the one-character focus mark


def parse_filter(text: str):
    """A predicate over events from the filter words (unknown words are kinds)."""
    kinds, hidden, task, core = set(), set(), None, None
    for word in text.split():
        if word.startswith("task="):
            task = word[5:]
        elif word.startswith("core=") and word[5:].isdigit():
            core = int(word[5:])
        elif word.startswith("-"):
            hidden.update(NEXT_KINDS.get(word[1:], (word[1:],)))
        else:
            kinds.update(NEXT_KINDS.get(word, (word,)))
    return lambda e: ((not kinds or e.kind in kinds) and e.kind not in hidden
                      and (task is None or e.task == task) and (core is None or e.core == core))


def _row(e) -> tuple:
    """(seq, task, kind, the row's text after its focus mark), made once per event shown."""
    return (e.seq, e.task, e.kind, columns(WIDTHS, f"{e.seq:>7}", e.time, e.core, e.kind,
                                           f"{e.task}/{e.thread}" if e.thread and e.thread != e.task else e.task,
                                           _detail(e.data)))


def _detail(data: dict) -> str:
    return " ".join(f"{k}={hex(v) if isinstance(v, int) and not isinstance(v, bool) and v > 0xFFFF else v}"
                    for k, v in data.items())


class EventLog(Pane):
    PANE_ID, TITLE, KEY = "log", "Event log", "7"
    SHORT = "log"

    def compose(self):
        yield Input(placeholder="/ filter: kinds, -kind, task=NAME, core=N", id="log-filter")
        yield LineView(" " + columns(WIDTHS, "      #", "time", "c", "kind", "who", "detail"), tail=True,
                       cursor=True)

    @staticmethod
    def gather(ctx):
        events = ctx.session.machine.trace.events
        state = ctx.cache.get("log")
        if state is None or state["events"] is not events or state["filter"] != ctx.focus.log_filter \
                or state["seen"] > len(events):
            state = ctx.cache["log"] = {"events": events, "filter": ctx.focus.log_filter, "seen": 0,
                                        "test": parse_filter(ctx.focus.log_filter), "rows": deque(maxlen=ROWS)}
        test, seen, found = state["test"], state["seen"], []
        for index in range(len(events) - 1, seen - 1, -1):    # newest first: at most ROWS matches
            event = events[index]
            if test(event):
                found.append(_row(event))
                if len(found) == ROWS:
                    break
        state["rows"].extend(reversed(found))
        state["seen"] = len(events)
        focus = focused_task(ctx)
        name = focus.name if focus else None
        rows = tuple((seq, ("▶" if task == name else " ") + text) for seq, task, _, text in state["rows"])
        about = {str(seq): (task, kind) for seq, task, kind, _ in state["rows"]}
        return rows, about

    def show(self, view) -> None:
        rows, self.about = view
        self.query_one(LineView).set_rows(rows)
        self.subtitle(f"last {len(rows)} matching")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(Selected(log_filter=event.value.strip()))
        self.query_one(LineView).focus()

    def on_line_view_chosen(self, event: LineView.Chosen) -> None:
        task, kind = self.about.get(event.key, (None, ""))
        changes = {"event": int(event.key), "task": task}
        if kind == "page-fault":
            changes["fault"] = int(event.key)
        self.post_message(Selected(**changes))
