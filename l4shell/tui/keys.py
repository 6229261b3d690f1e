"""The app's keys, declared once as data: the footer, the bindings and the help screen
come from this table. Most keys are command lines of the shell's language (``run('…')``):
a key is a shortcut, never a second way to drive the model.
"""

from __future__ import annotations

from textual.binding import Binding

# key, action, footer label ("" = not in the footer), what it does (the help screen)
KEYS = (
    ("s", "run('step')", "step", "step: advance to the next kernel event"),
    ("i", "run('stepi')", "stepi", "stepi: run one ARM instruction"),
    ("c", "toggle_run", "cont/stop", "continue until a breakpoint or the end; again: stop"),
    ("escape", "stop", "", "stop the run, going back (or the script) between two steps"),
    ("b", "run('reverse-step')", "back", "reverse-step: back one step, by re-execution (Esc cancels it)"),
    ("n", "run('next syscall')", "syscall", "next syscall"),
    ("f", "run('next pf')", "fault", "next page fault"),
    ("p", "run('next ipc')", "IPC", "next IPC (send or reply)"),
    ("t", "run('next irq')", "IRQ", "next IRQ"),
    ("colon", "focus('#command')", "cmd", "the command bar: any shell command"),
    ("slash", "focus('#log-filter')", "", "filter the event log"),
    ("k", "focus('#program-input')", "", "type to the running program"),
    ("space", "resume", "", "continue a script waiting in pause"),
    ("T", "toggle_theme", "", "switch the light and the dark theme"),
    ("question_mark,f1", "help", "help", "this help"),
    ("ctrl+q", "quit", "", "quit"),
)
SHOWN_AS = {"colon": ":", "slash": "/", "question_mark,f1": "?"}


def bindings(panes) -> list[Binding]:
    """The app's bindings: the table above, then a digit per pane."""
    out = [Binding(key, action, label or action, show=bool(label), key_display=SHOWN_AS.get(key),
                   tooltip=what) for key, action, label, what in KEYS]
    return out + [Binding(p.KEY, f"show_pane('{p.PANE_ID}')", p.SHORT, show=False,
                          tooltip=f"show the {p.TITLE.lower()} pane (focus it in the wide layout)") for p in panes]
