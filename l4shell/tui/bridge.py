"""The one place the TUI meets the command language (``l4shell.language``).

The TUI adds no commands of its own: the command bar, the keys, the re-cut dialog and
``--script`` all become lines for ``execute``, exactly as the shell would run them. These
helpers run on the model thread, except ``command_name``, ``usages`` and ``help_rows``, which
read only the command table (data declared once at import).
"""

from __future__ import annotations

from dataclasses import dataclass

from l4shell import language
from l4shell.commands import COMMANDS, CommandError, lookup, split_line
from l4shell.script import script_lines as _script_lines


@dataclass(frozen=True)
class Outcome:
    text: str
    ok: bool
    stop: str = ""        # why the run ended, if the command ran the machine
    quit: bool = False    # the user typed quit


def new_debugger(options):
    return language.new_debugger(options)


def execute(dbg, line: str) -> Outcome:
    try:
        result = language.execute(dbg, line)
    except SystemExit:                      # ``quit``: the app leaves
        return Outcome("", True, quit=True)
    stop = result.stop
    reason = "" if stop is None else stop.reason + (f" — {stop.detail}" if stop.detail else "")
    return Outcome(result.text, result.ok, reason)


def complete(dbg, line: str) -> list[str]:
    return language.complete(dbg, line)


def command_name(line: str) -> str:
    """The command a line invokes (aliases resolved; "" if none)."""
    try:
        words = split_line(line)
    except CommandError:
        return ""
    if not words:
        return ""
    command = lookup(words[0].split("/")[0])
    return command.name if command else words[0]


def script_lines(path: str) -> list[str]:
    return _script_lines(path)[0]


def help_rows() -> list[tuple[str, str]]:
    """(usage, help) of every command, from the one declaration."""
    return [(c.usage, c.help) for c in sorted(COMMANDS.values(), key=lambda c: c.name)]
