"""Message queues: who waits for whom, from ``kernel_model.inspection.snapshot``.

Per gate and per thread, the senders blocked on it (in the order an open wait takes them);
the calls delivered and awaiting their reply (page faults and exceptions included); the
IRQs queued at their threads and the state of every Irq object. Threads of the focused task
are marked ▶.
"""

from __future__ import annotations

from textual.content import Content

from kernel_model import inspection

from .lineview import LineView
from .pane import Pane, focused_task

HEAD = "bold $text-accent"


def _senders(senders) -> str:
    return ", ".join(f"{s.thread} ({s.kind}{', call' if s.call else ''})" for s in senders)


class QueuesPane(Pane):
    PANE_ID, TITLE, KEY = "queues", "Queues", "3"
    SHORT = "queues"

    def compose(self):
        yield LineView()

    @staticmethod
    def gather(ctx):
        snap = ctx.shared("snapshot", lambda: inspection.snapshot(ctx.session.machine))
        task = focused_task(ctx)
        mine = {t.name for t in task.threads} if task is not None else set()

        def line(text: str, *names: str) -> tuple:
            marked = any(n in mine for n in names)
            return (("▶ " if marked else "  ") + text, "bold" if marked else "")

        parts: list[tuple] = [("blocked senders, per gate\n", HEAD)]
        rows = [line(f"{g.gate} → {g.thread or '(unbound)'}: {_senders(g.senders)}", g.thread,
                     *(s.thread for s in g.senders)) for g in snap.gates if g.senders]
        rows += [line(f"{t.name}: {_senders(s for s in t.senders if not s.via)}", t.name,
                      *(s.thread for s in t.senders))
                 for t in snap.threads if any(not s.via for s in t.senders)]
        parts += _lines(rows)
        parts.append(("calls awaiting a reply\n", HEAD))
        parts += _lines([line(f"{c.caller} → {c.replier} ({c.kind}{'' if c.reply_cap else ', deferred'})",
                              c.caller, c.replier) for c in snap.calls])
        parts.append(("pending IRQs\n", HEAD))
        parts += _lines([line(f"{t.name}: {' '.join(t.pending_irqs)}", t.name)
                         for t in snap.threads if t.pending_irqs])
        parts.append(("IRQ objects\n", HEAD))
        parts += _lines([line(f"{i.irq} line {'-' if i.line is None else i.line} → {i.thread or '(unbound)'}: "
                              f"{'queued' if i.queued else 'masked' if i.masked else 'idle'}, "
                              f"{i.delivered} delivered, {i.coalesced} coalesced", i.thread)
                         for i in snap.irqs])
        return tuple(enumerate(Content.assemble(*parts).rstrip().split("\n")))

    def show(self, view) -> None:
        self.query_one(LineView).set_rows(view)


def _lines(rows: list[tuple]) -> list[tuple]:
    return [(text + "\n", style) for text, style in rows] or [("  none\n", "dim")]
