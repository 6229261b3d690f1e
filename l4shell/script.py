"""Scripts and replays: ``.l4s`` files of commands, narration, pauses and expectations.

A script is one command per line (``#`` starts a comment). Besides every debugger command
it may use ``say "…"`` (narration), ``pause`` (waits for a key when someone is watching,
skipped in batch) and ``expect "text"`` (fails the script if the previous command's
output lacks the text). ``record FILE.l4s`` in the shell writes the commands typed so far
and the trace digest they produced; ``l4shell script --check FILE.l4s`` replays a file and
fails if its trace digest differs from the recorded one (a ``# trace-digest: HEX`` line);
``--record`` (re)writes that line after a successful run (after a deliberate model change).
"""

from __future__ import annotations

import sys
from pathlib import Path

from .commands import CommandError, command, execute, split_line

DIGEST_MARK = "# trace-digest:"
QUIET = ("say", "pause", "expect")      # they do not replace the last command's output


@command("say", 'say "TEXT"', "narration (shown in scripts and in the TUI's panel)")
def _say(dbg, args):
    text = " ".join(args)
    dbg.narrate(text)
    return text


@command("pause", "pause", "wait for a key when someone is watching (skipped in batch)")
def _pause(dbg, args):
    dbg.pause()
    return ""


@command("expect", 'expect "TEXT"', "fail the script unless the previous command's output contains TEXT")
def _expect(dbg, args):
    text = " ".join(args)
    if text not in dbg.last_output:
        raise CommandError(f"expected {text!r} in the last output, which was: {dbg.last_output[-300:]!r}")
    return ""


@command("record", "record FILE.l4s", "save the commands of this session and the trace digest")
def _record(dbg, args):
    if len(args) != 1:
        raise CommandError("usage: record FILE.l4s")
    lines = [line for line in dbg.history if split_line(line)[:1] != ["record"]]
    text = "\n".join(lines) + f"\n{DIGEST_MARK} {dbg.session.machine.trace.digest()}\n"
    try:
        Path(args[0]).write_text(text)
    except OSError as error:
        raise CommandError(f"{args[0]}: {error.strerror}") from None
    return f"recorded {len(lines)} commands to {args[0]}"


def script_lines(path: str) -> tuple[list[str], str | None]:
    """The command lines of a script and its recorded digest (if any)."""
    lines, digest = [], None
    for raw in Path(path).read_text().splitlines():
        line = raw.strip()
        if line.startswith(DIGEST_MARK):
            digest = line[len(DIGEST_MARK):].strip()
        elif line and not line.startswith("#"):
            lines.append(line)
    return lines, digest


def write_digest(path: str, digest: str) -> None:
    """Put ``digest`` in the script's ``# trace-digest:`` line (added at the end if none)."""
    lines = [line for line in Path(path).read_text().splitlines() if not line.startswith(DIGEST_MARK)]
    Path(path).write_text("\n".join(lines + [f"{DIGEST_MARK} {digest}"]) + "\n")


def run_script(dbg, path: str, check: bool = False, out=sys.stdout, record: bool = False,
               start: int = 0, answered=None) -> int:
    """Play a script in batch, printing a transcript; 0 if every command succeeded (and,
    with ``check``, the trace digest matches the recorded one), else 1. ``record`` writes
    the digest of a successful run into the file. A process resumed from a checkpoint
    carries on at line index ``start``, whose command is ``answered`` already."""
    try:
        lines, digest = script_lines(path)
    except OSError as error:
        print(f"l4shell: {path}: {error.strerror}", file=sys.stderr)
        return 2
    for number, line in enumerate(lines[start:], start + 1):
        if answered is not None and number == start + 1:
            result = answered
        else:
            print(f"(l4) {line}", file=out)
            dbg.loop = lambda: ("script", path, check, record, number - 1)
            result = execute(dbg, line)
        if result.text:
            print(result.text, file=out)
        if not result.ok:
            print(f"l4shell: {path}: line {number} failed", file=sys.stderr)
            return 1
    if record:
        write_digest(path, dbg.session.machine.trace.digest())
        print(f"recorded the trace digest in {path}", file=out)
    if check:
        actual = dbg.session.machine.trace.digest()
        if digest is None:
            print(f"l4shell: {path}: no '{DIGEST_MARK}' line to check against", file=sys.stderr)
            return 1
        if actual != digest:
            print(f"l4shell: {path}: trace differs (recorded {digest[:16]}…, replayed {actual[:16]}…)",
                  file=sys.stderr)
            return 1
        print(f"trace digest matches ({actual[:16]}…)", file=out)
    return 0
