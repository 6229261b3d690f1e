"""The status line: the session (composition, cores, seed), the programs, where the
model is (steps, events, instructions, modeled cycles) and whether it runs (or goes back,
and how far it got). Its view also carries the names of tasks and fragments (word -> task),
which narration highlighting uses.

``gather`` reads the session on the model thread; ``busy`` comes from the engine's update.
Only modeled quantities are shown: host time never appears, so snapshots are stable.
"""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static


class StatusBar(Static):
    PANE_ID = "status"

    def __init__(self):
        super().__init__("", id="status")

    @staticmethod
    def gather(ctx):
        session = ctx.session
        o, machine = session.options, session.machine
        programs = []
        for pid in session.pids:
            programs.append(f"{session.names[pid]}[{pid}] {session.ended(pid) or 'running'}")
        names = {t.name: t.name for t in machine.kernel.tasks if t.alive}
        names.update({f.label: f.host.name for f in session.system.runtime.all_fragments()})
        return (f"{o.composition} · {o.cores} cores · seed {o.seed}",
                f"step {session.steps:,} · {len(machine.trace):,} events · {machine.instructions():,} instr · "
                f"{machine.modeled_time():,} cycles", " ".join(programs) or "no program", ctx.stop,
                tuple(names.items()))

    def show(self, view=None, busy: bool = False, paused: bool = False, progress: str = "") -> None:
        """Show ``view`` (None: the last one) and the engine's state (``progress``: how far
        going back got)."""
        self.view = view = view or getattr(self, "view", None)
        if view is None:
            return
        session, where, programs, stop, _names = view
        state = (("‖ paused: space goes on", "bold $text-accent") if paused else
                 (f"◀ {progress} (Esc cancels)", "bold $text-warning") if progress else
                 ("▶ running", "bold $text-warning") if busy else (f"■ {stop or 'stopped'}", "bold $text-success"))
        line = Content.assemble(state, "  ", (programs, "bold"), f"  │ {where} │ {session}")
        if line != getattr(self, "shown", None):
            self.update(line, layout=False)
            self.shown = line
