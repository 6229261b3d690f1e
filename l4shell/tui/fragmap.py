"""The fragment map: fragments → task → core, the IPC traffic between them, and re-cutting.

Top: per core, the tasks on it and the fragments each holds (Linux processes too). Middle:
one row per fragment (its task, core, pages, and how many of its peers it reaches by IPC
rather than by a direct call). Bottom: the traffic graph from ``runtime.traffic`` — per
caller → callee, the calls made direct / by IPC on one core / by IPC across cores, the bytes
marshalled, and what the binding is *now* — and the last re-cut from the trace.

Keys on the selected fragment: ``x`` split, ``m`` merge, ``g`` migrate, ``d`` duplicate,
``r`` the re-cut dialog. They post ``RecutRequested``; the app turns it into a command line
(or a dialog first), which the engine runs even while a workload runs.
"""

from __future__ import annotations

from textual.binding import Binding
from textual.content import Content
from textual.message import Message
from textual.widgets import Static

from .focus import Selected
from .lineview import LineView
from .pane import Pane, columns, focused_task

WIDTHS = (12, 14, 4, 5)


class RecutRequested(Message):
    """Re-cut ``fragment`` (in ``task`` on ``core`` of ``cores``) by ``op`` ("": ask)."""

    def __init__(self, op: str, fragment: str, task: str, core: int, cores: int):
        super().__init__()
        self.op, self.fragment, self.task, self.core, self.cores = op, fragment, task, core, cores


class FragmentMap(Pane):
    PANE_ID, TITLE, KEY = "fragments", "Fragment map", "6"
    SHORT = "frags"
    BINDINGS = [
        Binding("x", "recut('split')", "split", tooltip="split the selected fragment into a task of its own"),
        Binding("m", "recut('merge')", "merge", tooltip="merge the selected fragment with others (dialog)"),
        Binding("g", "recut('migrate')", "migrate", tooltip="migrate the selected fragment's task to a core (dialog)"),
        Binding("d", "recut('duplicate')", "dup", tooltip="duplicate the selected fragment, a replica per core"),
        Binding("r", "recut('')", "re-cut", tooltip="the re-cut dialog"),
    ]

    def compose(self):
        yield Static("", id="placement", markup=False)
        yield LineView(columns(WIDTHS, " fragment", "task", "core", "pages", "peers by IPC"), cursor=True,
                       id="fragment-list")
        yield LineView(id="traffic")

    @staticmethod
    def gather(ctx):
        system, machine = ctx.session.system, ctx.session.machine
        rt = system.runtime
        focus = focused_task(ctx)
        placement = []
        for core in range(len(machine.cores)):
            parts = [(f"core {core} │ ", "bold")]
            for host in rt.hosts:
                if host.core == core:
                    style = "bold reverse" if host.task is focus else "$text-accent"
                    inside = "+".join(f.label for f in host.fragments)
                    parts += [(f"[{host.name}", style), (f": {inside}" if inside != host.name else "", style),
                              ("]", style), " "]
            for proc in system.process.procs.values():
                if proc.alive and proc.thread.core == core:
                    parts += [(f"({proc.task.name})", "bold reverse" if proc.task is focus else "$text-success"), " "]
            placement.append(Content.assemble(*parts))
        fragments = []
        for f in sorted(rt.all_fragments(), key=lambda f: f.label):
            peers = [p for name in f.USES for p in rt.instances.get(name, [])]
            ipc = sum(p.host is not f.host for p in peers)
            mark = "▶" if f.label == ctx.focus.fragment else " "
            fragments.append((f.label, columns(WIDTHS, f"{mark}{f.label}", f.host.name, f.host.core,
                                               len(f.pages), f"{ipc}/{len(peers)}")))
        edges = [("caller → callee     direct   ipc  ipc⇄core     bytes  binding now\n", "bold $text-accent")]
        for (caller, callee), t in sorted(rt.traffic.items()):
            a, b = rt.instance(caller), rt.instance(callee)
            now = "direct" if a.host is b.host else "ipc" if a.host.core == b.host.core else "ipc⇄core"
            edges.append(f"{caller + ' → ' + callee:<19} {t.direct:>6} {t.ipc_local:>5} {t.ipc_remote:>9}"
                         f" {t.bytes:>9,}  {now}\n")
        recuts = ctx.index.last("recut")
        if recuts:
            e = machine.trace.events[recuts[-1]]
            detail = " ".join(f"{k}={v}" for k, v in e.data.items() if k != "op")
            edges.append((f"last re-cut #{e.seq}: {e.data.get('op')} {detail}", "bold"))
        where = {f.label: (f.host.name, f.host.core) for f in rt.all_fragments()}
        return (tuple(placement), tuple(fragments),
                tuple(enumerate(Content.assemble(*edges).rstrip().split("\n"))), where)

    def show(self, view) -> None:
        placement, fragments, traffic, self.where = view
        self.cores = len(placement)
        box = self.query_one("#placement", Static)
        if placement != getattr(box, "shown", None):    # a layout, but only on a re-cut
            box.shown = placement
            box.update(Content("\n").join(placement))
        self.query_one("#fragment-list", LineView).set_rows(fragments)
        self.query_one("#traffic", LineView).set_rows(traffic)

    def action_recut(self, op: str) -> None:
        """Re-cut the fragment under the cursor (the focused one if the cursor is on none)."""
        label = self.query_one("#fragment-list", LineView).key or self.app.focus_state.fragment
        if label in self.where:
            task, core = self.where[label]
            self.post_message(RecutRequested(op, label, task, core, self.cores))
        else:
            self.notify("select a fragment first (Up/Down in the fragment list)", severity="warning")

    def on_line_view_chosen(self, event: LineView.Chosen) -> None:
        if event.view.id == "fragment-list":
            self.post_message(Selected(fragment=event.key, task=self.where.get(event.key, (None,))[0]))
