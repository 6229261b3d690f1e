"""The event log: the newest trace events, filterable.

Filter words (typed after ``/``): event kinds (``page-fault``, ``ipc-send``…) or the
shell's short names (``ipc pf irq syscall sched recut fragment``), ``task=NAME``,
``core=N``; ``-KIND`` hides a kind (``-quantum -schedule`` quiets a busy log). The pane keeps the
last ``ROWS`` matches and, at each refresh, looks only at the events appended since the last
one (after a filter change or a rewind it scans back from the end once). Events of the
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
WIDTHS = (8, 11, 2, 11, 24)


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


def _detail(data: dict) -> str:
    return " ".join(f"{k}={hex(v) if isinstance(v, int) and not isinstance(v, bool) and v > 0xFFFF else v}"
                    for k, v in data.items())


class EventLog(Pane):
    PANE_ID, TITLE, KEY = "log", "Event log", "7"
    SHORT = "log"

    def compose(self):
        yield Input(placeholder="/ filter: kinds, -kind, task=NAME, core=N", id="log-filter")
        yield LineView(columns(WIDTHS, "       #", "time", "c", "kind", "who", "detail"), tail=True,
                       cursor=True)

    @staticmethod
    def gather(ctx):
        trace = ctx.session.machine.trace
        state = ctx.cache.get("log")
        if state is None or state["trace"] is not trace or state["filter"] != ctx.focus.log_filter \
                or state["seen"] > len(trace):
            test = parse_filter(ctx.focus.log_filter)
            found = deque(maxlen=ROWS)
            for event in reversed(trace.events):
                if len(found) == ROWS:
                    break
                if test(event):
                    found.appendleft(event)
            state = ctx.cache["log"] = {"trace": trace, "filter": ctx.focus.log_filter, "test": test,
                                        "seen": len(trace), "events": found}
        for event in trace.events[state["seen"]:]:
            if state["test"](event):
                state["events"].append(event)
        state["seen"] = len(trace)
        focus = focused_task(ctx)
        name = focus.name if focus else None
        rows = tuple((e.seq, columns(WIDTHS, f"{'▶' if e.task == name else ' '}{e.seq:>7}", e.time, e.core,
                                     e.kind, f"{e.task}/{e.thread}" if e.thread and e.thread != e.task else e.task,
                                     _detail(e.data)))
                     for e in state["events"])
        about = {str(e.seq): (e.task, e.kind) for e in state["events"]}
        return rows, about

    def show(self, view) -> None:
        rows, self.about = view
        self.query_one(LineView).set_rows(rows)
        self.border_subtitle = f"last {len(rows)} matching"

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
