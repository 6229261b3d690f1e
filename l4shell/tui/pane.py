"""The base of every pane: a titled box showing one view of the model.

A pane has two halves that run on different threads:
- ``gather(ctx)`` (a static method, model thread): reads the model and the trace through
  ``ctx`` and returns plain immutable data — strings, numbers, tuples, ``Content``. It is
  the only place a pane touches the model; it computes no model state of its own (views
  come from ``kernel_model.inspection``, the trace, the runtime).
- ``show(view)`` (UI thread): puts that data on screen.

Panes draw through ``LineView`` (fixed-size boxes of rows; see there why), with rows
formatted by ``columns`` on the model thread.
"""

from __future__ import annotations

from typing import ClassVar

from textual.containers import Vertical

from .engine import PaneError


class Pane(Vertical):
    PANE_ID: ClassVar[str] = ""
    TITLE: ClassVar[str] = ""
    KEY: ClassVar[str] = ""            # the digit that shows / focuses the pane
    SHORT: ClassVar[str] = ""          # its name in the pane bar

    DEFAULT_CLASSES = "pane"

    def __init__(self):
        super().__init__(id=self.PANE_ID)
        self.border_title = f"{self.KEY} {self.TITLE}"

    @staticmethod
    def gather(ctx):
        raise NotImplementedError

    def show(self, view) -> None:
        raise NotImplementedError

    def update_view(self, view) -> None:
        if isinstance(view, PaneError):
            self.subtitle(f"error: {view.text}"[:60])
            return
        self.show(view)

    def subtitle(self, text: str) -> None:
        """Set the border's subtitle. Textual repaints the whole pane at every assignment,
        even of the same text: unchanged, it is left alone."""
        if text != self.border_subtitle:
            self.border_subtitle = text


def columns(widths: tuple[int, ...], *cells) -> str:
    """One row of fixed-width columns (the last one takes the rest of the line)."""
    parts = [str(cell)[:width].ljust(width) for width, cell in zip(widths, cells)]
    return " ".join(parts + [str(c) for c in cells[len(widths):]]).rstrip()


def focused_task(ctx):
    """The task the panes are focused on: the user's choice while it exists, else the
    newest Linux process still alive, else None (model thread; found once per update)."""
    return ctx.shared("focused task", lambda: _focused_task(ctx))


def _focused_task(ctx):
    kernel = ctx.session.machine.kernel
    if ctx.focus.task:
        task = kernel.find_task(ctx.focus.task)
        if task is not None:
            return task
    procs = ctx.session.system.process.procs
    for pid in sorted(procs, reverse=True):
        if procs[pid].alive:
            return procs[pid].task
    return None
