"""Cores: per ARM core, the running thread and its mode, the counters, the run queue.

From ``inspection.core_view`` (clock, current thread, run queue, slice timer) and the core's
own instruction counter. Mode: ``user`` while an ARM thread (a Linux program) runs,
``server`` while a Python fragment server runs, ``idle`` when nothing does. Selecting a row
focuses the task of the thread it runs; the core running the focused task is marked ▶.
"""

from __future__ import annotations

from kernel_model import inspection

from .focus import Selected
from .lineview import LineView
from .pane import Pane, columns, focused_task

WIDTHS = (4, 11, 9, 20, 6, 10)


class CoresPane(Pane):
    PANE_ID, TITLE, KEY = "cores", "Cores", "1"
    SHORT = "cores"

    def compose(self):
        yield LineView(columns(WIDTHS, "core", "cycles", "instr", "running", "mode", "slice left",
                               "run queue"), cursor=True)

    @staticmethod
    def gather(ctx):
        machine = ctx.session.machine
        focus = focused_task(ctx)
        rows = []
        for core in machine.cores:
            view = inspection.core_view(core)
            thread = core.current
            mode = "idle" if thread is None else "server" if thread.is_python else "user"
            mark = "▶" if thread is not None and thread.task is focus else " "
            left = "-" if view.timer_at is None else f"{max(view.timer_at - view.now, 0):,}"
            rows.append((thread.task.name if thread else "", columns(
                WIDTHS, f"{mark}{view.index}", f"{view.now:,}", f"{core.instructions:,}",
                f"{thread.task.name}/{thread.name}" if thread else "-", mode, left, " ".join(view.runq) or "-")))
        return tuple(rows)

    def show(self, view) -> None:
        self.query_one(LineView).set_rows(view)

    def on_line_view_chosen(self, event: LineView.Chosen) -> None:
        if event.key:
            self.post_message(Selected(task=event.key))
