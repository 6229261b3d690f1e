"""Tasks and the address space of the focused one.

Top: every live task with its threads, pages, capabilities and what it holds (fragments,
or the Linux process it is). Bottom: the focused task's regions — runs of pages with equal
rights, from ``AddressSpace.regions`` — with rwx, the frames behind them and who the pages
belong to: a fragment living in the task (its area), a binding window (frames of a callee
fragment mapped into this caller), a server stack, or the program. Selecting a task
focuses every pane on it.
"""

from __future__ import annotations

from kernel_model.caps import mem_rights_str

from .focus import Selected
from .lineview import LineView
from .pane import Pane, columns, focused_task

PAGE = 4096
TASKS = (5, 16, 5, 4, 6, 5)
REGIONS = (18, 4, 6, 14)


def _frames(frames: list[int]) -> str:
    if len(frames) == 1:
        return str(frames[0])
    if frames == list(range(frames[0], frames[0] + len(frames))):
        return f"{frames[0]}-{frames[-1]}"
    return ",".join(map(str, frames[:2])) + "…"


def page_owners(runtime, task) -> dict[int, str]:
    """vpn -> who the page belongs to, for the pages the runtime placed in ``task``."""
    owners: dict[int, str] = {}
    for host in runtime.hosts:
        if host.task is task:
            for vpn in range(host.stack_base >> 12, (host.stack_base >> 12) + 4):
                owners[vpn] = "stack"
            for fragment in host.fragments:
                owners.update(dict.fromkeys(fragment.pages, fragment.label))
    for window in runtime.windows.values():
        if window.caller.host.task is task:
            first = window.address >> 12
            owners.update(dict.fromkeys(range(first, first + window.pages), f"window→{window.callee.label}"))
    return owners


class TasksPane(Pane):
    PANE_ID, TITLE, KEY = "tasks", "Tasks & memory", "2"
    SHORT = "tasks"

    def compose(self):
        yield LineView(columns(TASKS, "  id", "task", "core", "thr", "pages", "caps", "holds"),
                       cursor=True, id="task-list")
        yield LineView(columns(REGIONS, "region", "rwx", "pages", "frames", "belongs to"), id="regions")

    @staticmethod
    def gather(ctx):
        system = ctx.session.system
        focus = focused_task(ctx)
        holds = {h.task: " ".join(f.label for f in h.fragments) for h in system.runtime.hosts}
        programs = {p.task: f"pid {p.pid} {p.name}" for p in system.process.procs.values()}
        tasks = []
        for task in ctx.session.machine.kernel.tasks:
            if not task.alive:
                continue
            threads = [t for t in task.threads if t.alive]
            cores = ",".join(sorted({str(t.core) for t in threads})) or "-"
            mark = "▶" if task is focus else " "
            tasks.append((task.name, columns(TASKS, f"{mark}{task.oid:>3}", task.name, cores, len(threads),
                                             len(task.space.pages), len(task.caps),
                                             holds.get(task) or programs.get(task, "-"))))
        regions = []
        if focus is not None:
            owners = page_owners(system.runtime, focus)
            default = "program" if focus in programs else "-"
            for start, end, rights, frames in focus.space.regions():
                who = sorted({owners.get(v, default) for v in range(start >> 12, end >> 12)})
                regions.append((start, columns(REGIONS, f"{start:08x}-{end:08x}", mem_rights_str(rights),
                                               (end - start) // PAGE, _frames(frames), ",".join(who))))
        return tuple(tasks), focus.name if focus else "", tuple(regions)

    def show(self, view) -> None:
        tasks, focus, regions = view
        self.query_one("#task-list", LineView).set_rows(tasks)
        self.query_one("#regions", LineView).set_rows(regions)
        self.subtitle(f"regions of {focus}" if focus else "select a task")

    def on_line_view_chosen(self, event: LineView.Chosen) -> None:
        if event.view.id == "task-list":
            self.post_message(Selected(task=event.key))
