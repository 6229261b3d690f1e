"""The one command language: declared once, used by the shell, scripts and the TUI.

A command is declared with ``@command(name, usage, help, complete=(kinds…))`` on a
function ``f(dbg, args) -> str`` (``args`` are the words after the name). ``execute(dbg,
line)`` parses a line (shell-like quoting), runs it and returns a ``Result``: the text to
show (the command's own output followed by any program output it caused) and whether it
succeeded. A user's mistake raises ``CommandError`` inside a command and becomes a one-line
message, never a traceback. ``complete(dbg, line)`` is a pure function giving the words that
may follow, from the command table and the live model (tasks, fragments, syscalls…).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Callable

from fragments.linux.syscall_table import SYSCALLS

from .session import SessionError


class CommandError(ValueError):
    """A mistake in a command (one line for the user)."""


@dataclass(frozen=True)
class Command:
    name: str
    usage: str
    help: str
    run: Callable
    complete: tuple[str, ...] = ()     # kinds of the successive arguments
    aliases: tuple[str, ...] = ()


@dataclass
class Result:
    text: str
    ok: bool = True
    stop: object = None


COMMANDS: dict[str, Command] = {}
KEEP_LAST_OUTPUT = ("say", "pause", "expect", "help")   # ``expect`` looks past them
_ALIASES: dict[str, str] = {}


def command(name: str, usage: str, help: str, complete: tuple[str, ...] = (),
            aliases: tuple[str, ...] = ()):
    def register(function):
        COMMANDS[name] = Command(name, usage, help, function, complete, aliases)
        for alias in aliases:
            _ALIASES[alias] = name
        return function
    return register


def lookup(name: str) -> Command | None:
    return COMMANDS.get(_ALIASES.get(name, name))


def split_line(line: str) -> list[str]:
    try:
        return shlex.split(line, comments=True)
    except ValueError as error:
        raise CommandError(f"cannot parse the line: {error}") from None


def execute(dbg, line: str) -> Result:
    """Run one command line against the debugger ``dbg``."""
    try:
        words = split_line(line)
    except CommandError as error:
        return Result(f"error: {error}", ok=False)
    if not words:
        return Result("")
    name, args = words[0], words[1:]
    if "/" in name and name.split("/")[0] == "x":          # x/NFU
        name, args = "x", [name[1:]] + args
    cmd = lookup(name)
    if cmd is None:
        near = [n for n in sorted(COMMANDS) if n.startswith(name[:2])]
        hint = f" (did you mean {', '.join(near)}?)" if near else " (try 'help')"
        return Result(f"error: unknown command {name!r}{hint}", ok=False)
    dbg.last_stop = None
    dbg.history.append(line)
    dbg.raw = line.strip().split(None, 1)[1] if len(line.split(None, 1)) > 1 else ""  # unparsed (EXPR)
    return answer(dbg, lambda: cmd.run(dbg, args), keep_last=cmd.name in KEEP_LAST_OUTPUT)


def answer(dbg, run: Callable[[], str | None], keep_last: bool = False) -> Result:
    """Run a command's body: the program output it caused, then its own text; a user's
    mistake is one line. ``keep_last``: the output does not become ``dbg.last_output``."""
    try:
        text = run() or ""
        ok = True
    except (CommandError, SessionError) as error:
        text, ok = f"error: {error}", False
    output = dbg.session.take_output().decode(errors="replace")
    joined = text if not output else (output if not text else f"{output.rstrip(chr(10))}\n{text}")
    if not keep_last:
        dbg.last_output = joined
    return Result(joined, ok, dbg.last_stop)


# --- argument helpers ----------------------------------------------------------------------
def number(word: str, what: str = "number") -> int:
    try:
        return int(word, 0)
    except ValueError:
        raise CommandError(f"{what} expected, got {word!r}") from None


def count(args: list[str], default: int = 1) -> int:
    value = number(args[0], "a count") if args else default
    if value < 1:
        raise CommandError("the count must be at least 1")
    return value


# --- completion --------------------------------------------------------------------------------
def names_of(dbg, kind: str) -> list[str]:
    """The words of one argument kind, read from the model."""
    session = dbg.session
    if kind == "task":
        return [t.name for t in session.machine.kernel.tasks if t.alive]
    if kind == "thread":
        return [t.name for t in session.machine.kernel.threads if t.alive]
    if kind == "fragment":
        return sorted(f.label for f in session.system.runtime.all_fragments())
    if kind == "fragment-or-task":
        return names_of(dbg, "fragment") + [h.name for h in session.system.runtime.hosts]
    if kind == "syscall":
        return sorted(s.name for s in SYSCALLS)
    if kind == "command":
        return sorted(COMMANDS)
    if kind.startswith("{"):
        return kind.strip("{}").split("|")
    return []


def complete(dbg, line: str) -> list[str]:
    """Candidates for the last (possibly empty) word of ``line``."""
    words = line.split()
    if line.endswith(" ") or not words:
        words.append("")
    prefix = words[-1]
    if len(words) == 1:
        return [n for n in sorted(COMMANDS) if n.startswith(prefix)]
    cmd = lookup(words[0])
    if cmd is None:
        return []
    position = len(words) - 2
    kinds = cmd.complete
    if not kinds:
        return []
    kind = kinds[min(position, len(kinds) - 1)] if kinds[-1].endswith("…") or position < len(kinds) else None
    if kind is None:
        return []
    return [w for w in names_of(dbg, kind.rstrip("…")) if w.startswith(prefix)]


# --- help ------------------------------------------------------------------------------------
@command("help", "help [COMMAND]", "list the commands, or explain one", complete=("command",))
def _help(dbg, args):
    if args:
        cmd = lookup(args[0])
        if cmd is None:
            raise CommandError(f"no command {args[0]!r}")
        alias = f"  (also: {', '.join(cmd.aliases)})" if cmd.aliases else ""
        return f"{cmd.usage}{alias}\n  {cmd.help}"
    width = max(len(c.usage) for c in COMMANDS.values())
    return "\n".join(f"{c.usage:<{width}}  {c.help}" for c in sorted(COMMANDS.values(), key=lambda c: c.name))
