"""The Textual app: lays the widgets out, maps keys to command lines, routes messages.

Everything the user does becomes a command line or a request for the engine (the model
thread, see ``engine.py``); everything the engine publishes arrives as a ``ModelUpdated``
doorbell, on which the app drains the transcript into the console and hands each visible
pane its freshly gathered view. Layout: below 120 columns or 34 rows one pane at a time
(digits switch); above, every pane in a grid.
"""

from __future__ import annotations

import time
from dataclasses import replace

from textual.app import App
from textual.containers import Grid
from textual.events import Resize
from textual.geometry import Size
from textual.widgets import Footer

from . import keys
from .caps import CapsPane
from .commandbar import CommandBar
from .console import ConsolePane, ProgramInput
from .cores import CoresPane
from .engine import Engine, ModelUpdated
from .eventlog import EventLog
from .focus import Focus, Selected
from .fragmap import FragmentMap, RecutRequested
from .help import HelpScreen
from .lineview import LineView
from .narration import NarrationPanel, named
from .pane import Pane
from .panebar import PaneBar
from .pfpath import FaultPane
from .queues import QueuesPane
from .recut import RecutDialog
from .statusbar import StatusBar
from .tasks import TasksPane

PANES = (CoresPane, TasksPane, QueuesPane, FaultPane, CapsPane, FragmentMap, EventLog)
# Their order in the grid (left to right, top to bottom; spans in app.tcss).
GRID = (CoresPane, QueuesPane, FragmentMap, TasksPane, FaultPane, CapsPane, EventLog)
WIDE = (120, 34)


def _wide(size: Size) -> bool:
    """Every pane in a grid at this size (else one at a time)."""
    return size.width >= WIDE[0] and size.height >= WIDE[1]


class L4App(App):
    CSS_PATH = "app.tcss"
    TITLE = "l4shell"
    AUTO_FOCUS = None                  # on_mount focuses the shown pane (keys act at once)
    ENABLE_COMMAND_PALETTE = False     # the command bar is the palette
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (WIDE[0], "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (WIDE[1], "-tall")]
    BINDINGS = keys.bindings(PANES)

    def __init__(self, options, script: str | None = None):
        super().__init__()
        gatherers = {p.PANE_ID: p.gather for p in PANES} | {"status": StatusBar.gather}
        self.engine = Engine(options, gatherers, self.post_message)
        self.script = script
        self.focus_state = Focus()
        self.shown = "fragments" if script is None else "tasks"
        self.rendered = -1             # generation of the views on screen
        self.updates = 0               # doorbells answered (the benchmark counts them)
        self._narration = ""
        self._unresolved = False       # the narration names no task we know (yet)
        self._completion: tuple = ()

    def compose(self):
        yield StatusBar()
        yield PaneBar([(p.PANE_ID, p.KEY, p.SHORT) for p in PANES])
        with Grid(id="panes"):
            for pane in GRID:
                yield pane()
        yield NarrationPanel()
        yield ConsolePane()
        yield CommandBar()
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.engine.start()
        self.set_interval(0.25, self._busy_tick)
        self.action_show_pane(self.shown)
        if self.script:
            self.engine.submit("script", self.script)

    def on_unmount(self) -> None:
        self.engine.shutdown()

    def on_resize(self, event: Resize) -> None:
        self._layout(event.size)        # by the event: App's handler sets ``size`` after this one

    # --- layout ------------------------------------------------------------------------------
    @property
    def wide(self) -> bool:
        return _wide(self.size)

    def _layout(self, size: Size | None = None) -> None:
        """Show the panes for ``size`` (default: the app's); only the visible ones are
        gathered, and the keys stay with a visible pane."""
        wide = _wide(size or self.size)
        for pane in PANES:
            self.query_one(f"#{pane.PANE_ID}").set_class(pane.PANE_ID == self.shown, "-shown")
        self.query_one(PaneBar).show(self.shown)
        visible = {p.PANE_ID for p in PANES} if wide else {self.shown}
        if visible != self.engine.visible - {"status"}:
            self.engine.visible = frozenset(visible | {"status"})
            self.engine.submit("refresh")
        focused = self.focused
        holder = next((w for w in focused.ancestors_with_self if isinstance(w, Pane)), None) if focused else None
        if holder is not None and holder.id not in visible:
            self.action_focus_pane()

    def action_show_pane(self, pane: str) -> None:
        self.shown = pane
        self._layout()
        self.action_focus_pane()

    def action_focus_pane(self) -> None:
        """Focus the shown pane's list (keys act on the model again)."""
        views = list(self.query_one(f"#{self.shown}").query(LineView))
        next((v for v in views if v.cursor), views[0]).focus()

    # --- keys -> the engine ---------------------------------------------------------------------
    def submit(self, line: str) -> int:
        return self.engine.submit("line", line)

    def action_run(self, line: str) -> None:
        self.submit(line)

    def action_toggle_run(self) -> None:
        if self.engine.working:
            self.engine.stop()
        else:
            self.submit("continue")

    def action_stop(self) -> None:
        self.engine.stop()

    def action_resume(self) -> None:
        self.engine.resume()

    def action_focus(self, selector: str) -> None:
        widget = self.query_one(selector)
        if selector == "#log-filter" and not self.wide:
            self.action_show_pane("log")
        widget.focus()

    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.theme == "textual-dark" else "textual-dark"

    def action_help(self) -> None:
        self.push_screen(HelpScreen([("anywhere", self.BINDINGS), ("fragment map", FragmentMap.BINDINGS),
                                     ("lists", LineView.BINDINGS), ("command bar", CommandBar.BINDINGS),
                                     ("program input", ProgramInput.BINDINGS)]))

    # --- messages from the widgets ----------------------------------------------------------------
    def on_command_bar_command(self, message: CommandBar.Command) -> None:
        self.submit(message.line)

    def on_command_bar_complete_requested(self, message: CommandBar.CompleteRequested) -> None:
        self.engine.submit("complete", message.line)

    def on_console_pane_typed(self, message: ConsolePane.Typed) -> None:
        self.engine.submit("input", message.data)

    def on_selected(self, message: Selected) -> None:
        self.focus_state = replace(self.focus_state, **message.changes)
        self.engine.focus = self.focus_state
        self.engine.submit("refresh")

    def on_recut_requested(self, message: RecutRequested) -> None:
        if message.op in ("split", "duplicate"):
            self.submit(f"{message.op} {message.fragment}")
            return
        args = {"migrate": f"{message.task} {(message.core + 1) % message.cores}",
                "merge": f"{message.fragment} "}.get(message.op, message.fragment)
        self.push_screen(RecutDialog(message.op, args), lambda line: line and self.submit(line))

    # --- the engine's doorbell -----------------------------------------------------------------------
    def on_model_updated(self, _: ModelUpdated) -> None:
        started = time.thread_time()
        self.engine.answered()
        self.call_after_refresh(lambda: self.engine.drawn(time.thread_time() - started))
        self.updates += 1
        update = self.engine.latest
        console = self.query_one(ConsolePane)
        entries = []
        while self.engine.transcript:
            entries.append(self.engine.transcript.popleft())
        console.write(entries)
        if update is None:
            return
        for pane_id, view in update.views.items():
            if pane_id != "status":
                self.query_one(f"#{pane_id}").update_view(view)
        if "status" in update.views:
            self.query_one(StatusBar).show(update.views["status"], update.busy, update.paused, update.progress)
        self.query_one(NarrationPanel).show(update.narration, update.paused, update.script)
        self.screen.set_class(bool(update.narration or update.script), "-narrating")
        if update.narration != self._narration or self._unresolved:
            self._highlight(update.narration, update.views.get("status"), update.narration != self._narration)
            self._narration = update.narration
        if update.completion and update.completion is not self._completion:
            self._completion = update.completion            # apply each answer once
            listed = self.query_one(CommandBar).complete_with(*update.completion)
            if listed:
                console.write([("note", "  ".join(listed))])
        if update.quit:
            self.exit()
        self.rendered = update.generation

    def _busy_tick(self) -> None:
        """A long command (a re-cut waiting for rest) publishes nothing until it ends: show
        that the model is busy meanwhile."""
        latest = self.engine.latest
        if latest is not None and self.engine.pending and not latest.busy:
            self.query_one(StatusBar).show(busy=True)

    def _highlight(self, text: str, status, new: bool) -> None:
        """Mark the panes a new narration names; focus the task it names — as soon as that
        task exists (a narration may name a program before the line that starts it)."""
        panes, task = named(text, dict(status[4]) if status else {})
        if new:
            for pane in PANES:
                self.query_one(f"#{pane.PANE_ID}").set_class(pane.PANE_ID in panes, "-named")
            if panes and not self.wide:
                self.shown = panes[0]
                self._layout()
            self.query_one(PaneBar).show(self.shown, set(panes))
        self._unresolved = task is None and bool(text)
        if task is not None:
            self.post_message(Selected(task=task))

    @property
    def idle(self) -> bool:
        """Every request answered and its views on screen (tests wait for this)."""
        latest = self.engine.latest
        return (not self.engine.pending and latest is not None and self.rendered == latest.generation
                and not self.engine.transcript)
