"""The Textual TUI: ``l4shell tui [--composition NAME|FILE] [--cores N] [--seed S]
[--disk IMAGE …] [--script FILE.l4s]``.

Reading order: ``engine`` (the model thread: why, and its protocol with the UI), ``bridge``
(the command language), ``pane`` and ``lineview`` (how a pane reads the model and draws),
then the panes — ``cores``, ``tasks``, ``queues``, ``pfpath``, ``caps``, ``fragmap``,
``eventlog`` — and the other widgets, one per file: ``console``, ``commandbar``,
``narration``, ``statusbar``, ``panebar``, ``help``, the ``recut`` dialog; ``keys`` (the key
table); last ``app`` (layout and routing). Textual is imported only when the subcommand
runs, so the other subcommands start without it.
"""

from __future__ import annotations

import sys


def add_tui_parser(subparsers) -> None:
    """The ``tui`` subcommand, with the shell's options (``add_system_options``, disk)."""
    from l4shell.cli import add_system_options
    from l4shell.disk import add_disk_options
    tui = subparsers.add_parser("tui", help="watch, step and re-cut the system in a terminal UI")
    add_system_options(tui)
    add_disk_options(tui)
    tui.add_argument("--script", metavar="FILE.l4s", help="play a walkthrough, with its narration")
    tui.set_defaults(handler=cmd_tui)


def cmd_tui(args) -> int:
    from fragments.linux.system import FRAGMENTS
    from fragments.runtime import composition as compositions
    from l4shell.session import Options
    try:        # the user's mistakes as one line, before the screen is taken over
        compositions.load(args.composition, FRAGMENTS, args.cores)
        if not 1 <= args.cores <= 16:
            raise ValueError(f"cores must be 1..16, not {args.cores}")
        for path in (args.script, args.disk, args.key_file):
            if path:
                open(path, "rb").close()
    except OSError as error:
        print(f"l4shell: {error.filename}: {error.strerror}", file=sys.stderr)
        return 2
    except ValueError as error:
        print(f"l4shell: {error}", file=sys.stderr)
        return 2
    from .app import L4App
    options = Options(args.composition, args.cores, args.seed, args.disk, args.key_file, args.mount)
    app = L4App(options, args.script)
    app.run()
    if app.engine.error:
        print(f"l4shell: {app.engine.error}", file=sys.stderr)
        return 2
    return 0
