"""The command line: ``l4shell run …`` (more subcommands join the same parser).

``run`` boots the Linux personality (in the composition asked for) on a fresh machine, places the host
program in the model's /bin, runs it with the user's stdin/stdout through the UART and
exits with its status (128 + signal when killed). Without options it prints nothing of
its own. Errors of the user's making (a missing file, a file that is not a static ARM
executable) are one line on stderr and exit status 126/127, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import traceback
from pathlib import Path

from fragments.linux.elf import ExecFormatError
from fragments.linux.system import boot_linux
from fragments.runtime import composition as compositions
from l4shell.analysis import add_analysis_parsers
from l4shell.disk import add_disk_options, add_disk_parser, attach_disk, detach_disk
from l4shell.stats import format_stats
from l4shell.tui import add_tui_parser
from kernel_model.machine import Machine

DEFAULT_ENV = ["PATH=/bin:/usr/bin", "HOME=/", "TERM=dumb"]
DEMOS = Path(__file__).resolve().parent.parent / "demos" / "arm"


def add_system_options(parser, cores: int = 2) -> None:
    """--composition, --cores, --seed: the options that boot a system."""
    parser.add_argument("--composition", default="monolithic", metavar="NAME|FILE",
                        help=f"a composition name ({', '.join(compositions.known())}) or a TOML file")
    parser.add_argument("--cores", type=int, default=cores)
    parser.add_argument("--seed", type=int, default=0)


def add_checkpoint_option(parser) -> None:
    from l4shell.checkpoints import INTERVAL, KEEP
    parser.add_argument("--no-checkpoints", action="store_true",
                        help="go back by re-executing from boot, without frozen copies of the process "
                             "(they cost memory; going back is slower without them)")
    parser.add_argument("--checkpoint-interval", type=_positive_seconds, default=INTERVAL, metavar="SECONDS",
                        help=f"host seconds of running between checkpoints (default {INTERVAL}; "
                             f"the {KEEP} kept are spread over the history)")


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"a positive number of seconds expected, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="l4shell", description=__doc__.splitlines()[0],
                                     epilog="Without a command: the interactive shell.")
    add_system_options(parser)
    add_disk_options(parser)
    add_checkpoint_option(parser)
    parser.set_defaults(handler=cmd_shell)
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="run a static ARM Linux program on the model")
    add_system_options(run, cores=1)
    run.add_argument("--trace", metavar="FILE.jsonl", help="write the event trace")
    run.add_argument("--stats", action="store_true", help="print statistics on stderr")
    run.add_argument("--strace", action="store_true", help="print syscalls on stderr")
    run.add_argument("--add", action="append", default=[], metavar="HOST:PATH",
                     help="place a host file in the model at PATH")
    add_disk_options(run)
    run.add_argument("program")
    run.add_argument("args", nargs=argparse.REMAINDER)
    run.set_defaults(handler=cmd_run)
    script = sub.add_parser("script", help="play a .l4s script in batch and print the transcript")
    add_system_options(script)
    add_disk_options(script)
    script.add_argument("--check", action="store_true",
                        help="fail if the trace differs from the digest recorded in the file")
    script.add_argument("--record", action="store_true",
                        help="write the trace digest of a successful run into the file")
    script.add_argument("file", metavar="FILE.l4s")
    add_checkpoint_option(script)
    script.set_defaults(handler=cmd_script)
    shell = sub.add_parser("shell", help="the interactive shell (also: no command at all)")
    add_system_options(shell)
    add_disk_options(shell)
    add_checkpoint_option(shell)
    shell.set_defaults(handler=cmd_shell)
    add_disk_parser(sub)
    add_analysis_parsers(sub)
    add_tui_parser(sub)
    return parser


def _debugger(args):
    from l4shell.language import Options, new_debugger
    from l4shell.session import SessionError
    try:
        return new_debugger(Options(args.composition, args.cores, args.seed, args.disk,
                                    args.key_file, args.mount))
    except (SessionError, ValueError) as error:
        raise SystemExit(_error(str(error), 2))


def cmd_script(args) -> int:
    from l4shell.script import run_script
    return _checkpointed(args, lambda dbg: run_script(dbg, args.file, args.check, record=args.record))


def cmd_shell(args) -> int:
    from l4shell.shell import run_shell
    return _checkpointed(args, run_shell)


def _checkpointed(args, run) -> int:
    """Boot and ``run(dbg)`` (the shell or a script) with checkpoints for going back
    (``checkpoints``): this process becomes the anchor and never returns here; the live
    process, and any resumed later, end the session in ``Checkpoints.finish``."""
    from l4shell.checkpoints import Checkpoints
    dbg = _debugger(args)
    checkpoints = None if args.no_checkpoints else Checkpoints.anchor(interval=args.checkpoint_interval)
    if checkpoints is None:
        return run(dbg)
    dbg.session.checkpoints = checkpoints
    checkpoints.resume = lambda message: _carry_on(dbg, message)
    status = 1
    try:
        status = run(dbg)
    except BrokenPipeError:
        status = _reader_left()
    except Exception:
        traceback.print_exc()
    finally:
        dbg.session.close()
        checkpoints.finish(status)


def _carry_on(dbg, message: dict) -> int:
    """In a process resumed from a checkpoint: answer the command that went back, then go
    on with the shell or the script where it was."""
    from l4shell.script import run_script
    from l4shell.shell import run_shell
    answered = _cancellable(dbg, lambda: dbg.resume(message))
    signal.signal(signal.SIGINT, signal.default_int_handler)    # ignored while frozen
    kind, *where = message["loop"]
    if kind == "script":
        path, check, record, index = where
        status = run_script(dbg, path, check, record=record, start=index, answered=answered)
    else:
        status = run_shell(dbg, answered=answered, typeahead=where[0])
    dbg.session.close()
    return status


def _cancellable(dbg, go_back):
    """``go_back()`` with Ctrl-C cancelling its re-execution between two steps (the shell
    or script loop it came from is not running yet to catch it)."""
    pressed = {"flag": False}
    dbg.interrupted = lambda: pressed["flag"]
    previous = signal.signal(signal.SIGINT, lambda *_: pressed.update(flag=True))
    try:
        return go_back()
    finally:
        signal.signal(signal.SIGINT, previous)
        dbg.interrupted = lambda: False


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except BrokenPipeError:
        return _reader_left()


def _reader_left() -> int:
    """`l4shell … | head`: the reader left; no traceback, the status of SIGPIPE."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 141


def _error(message: str, status: int) -> int:
    print(f"l4shell: {message}", file=sys.stderr)
    return status


def _interactive() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def _stdin_bytes() -> bytes:
    try:
        return b"" if sys.stdin is None else sys.stdin.buffer.read()
    except (AttributeError, OSError, ValueError):
        return b""


def cmd_run(args) -> int:
    try:
        program = Path(args.program).read_bytes()
    except OSError as error:
        return _error(f"{args.program}: {error.strerror}", 127)
    adds = []
    for spec in args.add:
        host, sep, path = spec.rpartition(":")
        if not sep or not path.startswith("/"):
            return _error(f"--add {spec}: expected HOST:/PATH", 2)
        try:
            adds.append((path, Path(host).read_bytes()))
        except OSError as error:
            return _error(f"--add {host}: {error.strerror}", 127)
    try:
        machine = Machine(cores=args.cores, seed=args.seed)
    except ValueError as error:
        return _error(str(error), 2)
    out = sys.stdout.buffer

    def sink(data: bytes) -> None:
        out.write(data)
        out.flush()
    machine.uart.sink = sink
    try:
        system = boot_linux(machine, args.composition, is_tty=out.isatty())
    except ValueError as error:
        return _error(str(error), 2)
    err = sys.stderr.buffer

    def err_sink(data: bytes) -> None:
        sys.stdout.flush()
        err.write(data)
        err.flush()
    if system.console is not None:      # a subset composition may leave the console out
        system.console.err_sink = err_sink
    name = os.path.basename(args.program)
    hello = DEMOS / "hello"
    if hello.exists():
        system.fs.add_file(b"/bin/hello", hello.read_bytes())
    system.fs.add_file(f"/bin/{name}".encode(), program)
    for path, data in adds:
        system.fs.add_file(path.encode(), data)
    if args.strace:
        system.strace = lambda pid, line: print(f"[{pid}] {line}", file=sys.stderr, flush=True)
    disk_error = attach_disk(system, args)
    if disk_error:
        return _error(disk_error, 1)
    interactive = _interactive()
    if not interactive:  # a pipe or file: all of it, then end of input
        machine.uart.feed(_stdin_bytes())
        machine.uart.feed(b"")
    try:
        pid = system.spawn(f"/bin/{name}", [args.program] + args.args, DEFAULT_ENV)
    except ExecFormatError as error:
        return _error(f"{args.program}: cannot execute: {error}", 126)
    machine.run()
    while interactive and system.waiting_for_input():  # a terminal: a line at a time
        try:
            data = os.read(0, 4096)
        except OSError:
            data = b""
        system.input(data)
        machine.run()
    disk_error = detach_disk(system)     # flush: a clean exit leaves the image consistent
    if disk_error:
        _error(disk_error, 1)
    for crash in machine.crashes:
        print(f"l4shell: model error: {crash}", file=sys.stderr)
    for note in system.notes:
        if args.strace:
            print(f"l4shell: {note}", file=sys.stderr)
    if args.trace:
        machine.trace.write_jsonl(args.trace)
    if args.stats:
        print(format_stats(machine), file=sys.stderr)
    status = system.exit_status(pid)
    if status is None:
        return _error(f"{name} did not finish (blocked with nothing left to run)", 124)
    return 128 + (status & 0x7F) if status & 0x7F else (status >> 8) & 0xFF


if __name__ == "__main__":
    sys.exit(main())
