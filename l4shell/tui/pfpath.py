"""The page-fault path of the last (or selected) fault, built from the trace.

A fault travels: faulting thread (``page-fault`` event: address, access, pc) → kernel,
which turns it into an IPC to the thread's pager (``ipc-send`` msg=pagefault, through the
process's pager gate) → the pager fragment, which may call other fragments (``fragment``
events on its server thread, and on the servers it calls) → the reply with a map item
(``ipc-reply`` msg=pagefault) → ``map`` events into the faulting task → the region and the
frame now behind the address, with the frame's derivation (whose mapping it came from).
The walk stops when the faulting thread runs again. Top: the recent faults (select one);
bottom: the path.
"""

from __future__ import annotations

from textual.content import Content

from kernel_model.caps import mem_rights_str

from .focus import Selected
from .lineview import LineView
from .pane import Pane, columns

WALK_LIMIT = 20_000      # events after the fault searched for its answer
WIDTHS = (7, 16, 6, 10)
STEP = "bold $text-accent"


def fault_path(ctx, seq: int) -> Content:
    events = ctx.session.machine.trace.events
    fault = events[seq]
    d = fault.data
    cause = "page not present" if not d.get("present") else "rights violated"
    parts = [(f"{fault.task}/{fault.thread}", "bold"),
             f" {d.get('access')} fault at {d.get('address', 0):#010x} (pc {d.get('pc', 0):#010x}), "
             f"{cause}  #{fault.seq} c{fault.core} t={fault.time:,}\n"]
    workers, replied = set(), False
    for e in events[seq + 1:seq + WALK_LIMIT]:
        if e.thread == fault.thread and e.kind in ("page-fault", "exception", "quantum"):
            break
        if replied and not (e.kind == "map" and e.task == fault.task):
            break
        if e.kind == "ipc-send" and e.thread == fault.thread and e.data.get("msg") == "pagefault":
            workers.add(e.data.get("to"))
            parts += [("→ kernel  ", STEP), f"page-fault IPC via {e.data.get('via', '?')} to "
                      f"{e.data.get('to')} (task {e.data.get('to_task')})  #{e.seq}\n"]
        elif e.kind == "fragment" and e.thread in workers:
            if e.data.get("mode") == "ipc":
                workers.add(f"{e.data.get('target')}.server")
            parts += [(f"→ {e.data.get('caller')}  ", STEP), f"calls {e.data.get('target')}."
                      f"{e.data.get('op')} ({e.data.get('mode')})  #{e.seq}\n"]
        elif e.kind == "ipc-reply" and e.data.get("to") == fault.thread and e.data.get("msg") == "pagefault":
            replied = True
            items = e.data.get("items", 0)
            parts += [("← reply   ", STEP), f"from {e.thread}, {items} map item{'s' * (items != 1)}  #{e.seq}\n"]
        elif e.kind == "map" and e.task == fault.task and workers:
            parts += [("→ map     ", STEP), f"{e.data.get('address', 0):#010x} → frame {e.data.get('frame')} "
                      f"{mem_rights_str(e.data.get('rights', 0))}  #{e.seq}\n"]
        elif e.kind == "thread" and e.thread == fault.thread and e.data.get("op") == "kill":
            parts += [("✗ killed  ", "bold $text-error"), f"{e.data.get('reason', '')}  #{e.seq}\n"]
            break
    parts += _now(ctx, fault.task, d.get("address", 0))
    return Content.assemble(*parts).rstrip()


def _now(ctx, task_name: str, address: int) -> list:
    """The region and frame behind ``address`` now, with the frame's derivation."""
    task = ctx.session.machine.kernel.find_task(task_name)
    if task is None or not task.alive:
        return [("  now     ", STEP), f"task {task_name} is gone\n"]
    node = task.space.lookup(address)
    if node is None:
        return [("  now     ", STEP), f"{address:#010x} is not mapped in {task_name}\n"]
    region = next((r for r in task.space.regions() if r[0] <= address < r[1]), None)
    chain, parent = [], node
    while parent is not None:
        chain.append(f"{parent.owner.name} {mem_rights_str(parent.rights)}")
        parent = parent.parent
    out = []
    if region is not None:
        start, end, rights, frames = region
        out += [("  region  ", STEP), f"{start:#010x}-{end:#010x} {mem_rights_str(rights)}, "
                f"{len(frames)} page{'s' * (len(frames) != 1)} in {task_name}\n"]
    out += [("  frame   ", STEP), f"{node.resource}: " + " ← ".join(chain) + "\n"]
    return out


class FaultPane(Pane):
    PANE_ID, TITLE, KEY = "faults", "Page-fault path", "4"
    SHORT = "faults"

    def compose(self):
        yield LineView(columns(WIDTHS, "#", "task", "access", "address", "pc"), tail=True, cursor=True,
                       id="fault-list")
        yield LineView(wrap=True, id="fault-path")

    @staticmethod
    def gather(ctx):
        events = ctx.session.machine.trace.events
        seqs = ctx.index.last("page-fault", 30)
        rows = tuple((s, columns(WIDTHS, s, events[s].task, events[s].data.get("access", "?"),
                                 f"{events[s].data.get('address', 0):#010x}", f"{events[s].data.get('pc', 0):#010x}"))
                     for s in seqs)
        chosen = ctx.focus.fault
        if chosen is None or chosen >= len(events) or events[chosen].kind != "page-fault":
            chosen = seqs[-1] if seqs else None
        path = fault_path(ctx, chosen) if chosen is not None else Content("no page fault yet")
        tasks = {str(s): events[s].task for s in seqs}
        return rows, chosen, tuple(enumerate(path.split("\n"))), tasks

    def show(self, view) -> None:
        rows, chosen, path, self.tasks = view
        self.query_one("#fault-list", LineView).set_rows(rows)
        self.query_one("#fault-path", LineView).set_rows(path)
        self.subtitle(f"fault #{chosen}" if chosen is not None else "")

    def on_line_view_chosen(self, event: LineView.Chosen) -> None:
        self.post_message(Selected(fault=int(event.key), task=self.tasks.get(event.key)))
