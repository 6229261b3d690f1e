"""The interactive shell: a prompt_toolkit prompt over the command language.

Completion comes from ``commands.complete`` (commands, tasks, fragments, syscalls…);
history persists in ``~/.l4shell_history``; Ctrl-C during a run stops it and returns to the
prompt (the model stops between two steps, intact); Ctrl-D or ``quit`` leaves. Program
output is printed as the commands produce it; ``input TEXT`` types into the console.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import Completer, Completion
from prompt_toolkit.history import FileHistory, InMemoryHistory
from prompt_toolkit.input.typeahead import clear_typeahead, get_typeahead, store_typeahead

from .commands import CommandError, command, complete, execute

HISTORY = Path.home() / ".l4shell_history"
BANNER = ("l4shell — an L4 microkernel model running L4Linux in fragments. "
          "'help' lists the commands; 'start hello a b' then 'next syscall' is a first step.")


class _Completer(Completer):
    def __init__(self, dbg):
        self.dbg = dbg

    def get_completions(self, document, complete_event):
        text = document.text_before_cursor
        word = "" if text.endswith(" ") or not text else text.split()[-1]
        for candidate in complete(self.dbg, text):
            yield Completion(candidate, start_position=-len(word))


@command("input", "input TEXT", "type TEXT and a newline at the console (input '' ends input)")
def _input(dbg, args):
    text = " ".join(args)
    dbg.session.input(text.encode() + (b"\n" if text else b""))
    return ""


@command("quit", "quit", "leave the shell", aliases=("exit", "q"))
def _quit(dbg, args):
    raise SystemExit(0)


def run_shell(dbg, input=None, output=None, answered=None, typeahead=()) -> int:
    """The read-eval-print loop (``input``/``output``: prompt_toolkit pipes, for tests). A
    process resumed from a checkpoint carries on with the ``answered`` command's result and
    the keys typed ahead in the process that went back (its own are stale). Commands piped
    or redirected into stdin are read without prompt_toolkit (``_read_piped``)."""
    write = (lambda text: output.write(text + "\n")) if output is not None else print
    if input is None and not sys.stdin.isatty():
        read_line = _read_piped
        dbg.pause = lambda: None
        dbg.loop = lambda: ("shell", [])
    else:
        history = InMemoryHistory() if input is not None else _file_history()
        prompt = PromptSession(history=history, completer=_Completer(dbg), input=input,
                               output=output, complete_while_typing=False)
        read_line = lambda: prompt.prompt("(l4) ")  # noqa: E731
        dbg.pause = lambda: prompt.prompt("(press Enter) ")
        dbg.loop = lambda: ("shell", get_typeahead(prompt.input))
        if answered is not None:
            clear_typeahead(prompt.input)
            store_typeahead(prompt.input, list(typeahead))
    stop = {"flag": False}
    dbg.interrupted = lambda: stop["flag"]
    if answered is None:
        write(BANNER)
    elif answered.text:
        write(answered.text)
    while True:
        try:
            line = read_line()
        except KeyboardInterrupt:
            continue
        except EOFError:
            return 0
        stop["flag"] = False
        previous = signal.signal(signal.SIGINT, lambda *_: stop.update(flag=True)) if input is None else None
        try:
            result = execute(dbg, line)
        except SystemExit:
            return 0
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        if result.text:
            write(result.text)
        if stop["flag"]:
            write("interrupted")


def _read_piped() -> str:
    """The next line of a non-terminal stdin, echoed after the prompt as in a transcript
    (prompt_toolkit cannot wait on a regular file, and would redraw for a pipe). Read a
    byte at a time, so nothing is buffered in this process: one resumed from a checkpoint
    reads on where this one stopped. EOFError at the end."""
    line = bytearray()
    while not line.endswith(b"\n"):
        byte = os.read(0, 1)
        if not byte:
            if not line:
                raise EOFError
            break
        line += byte
    text = line.decode(errors="replace").rstrip("\r\n")
    print(f"(l4) {text}", flush=True)
    return text


def _file_history():
    try:
        HISTORY.touch(exist_ok=True)
        return FileHistory(str(HISTORY))
    except OSError:
        return InMemoryHistory()


__all__ = ["run_shell", "CommandError"]
