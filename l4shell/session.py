"""A session: one booted system and everything a user did to it.

The shell, ``l4shell script`` and the TUI all drive a ``Session``; none keeps model state
of its own. Everything that changes the model from outside — starting a program, typed
input, re-cutting, switching single-step mode — is an *action*, applied between machine
steps and logged with the number of steps done before it. Going back (reverse stepping,
``goto``) re-executes: from the latest checkpoint before the target when the session has
``checkpoints`` (frozen copies of the process, see ``checkpoints``), else from a fresh boot
with the same options; the logged actions are replayed at their step counts. Determinism
makes the replay land on the same state, event for event. A replay may be stopped between
two steps (``interrupted``): the session is then simply at an earlier step.

Invariants:
- ``steps`` counts machine steps since boot; ``log`` is ordered by step count.
- ``marks`` holds, for every step count s up to ``steps``, the trace length and the
  instruction count after s steps: an event or an instruction maps to the step that made it.
- Program output (the console) is collected in ``output`` until the caller takes it.
- A disk image is used through a private copy taken at the start, fresh for every boot,
  so a replay sees the same bytes; the user's image file is never written.
"""

from __future__ import annotations

import glob
import os
import shutil
import tempfile
import weakref
from array import array
from bisect import bisect_right
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Callable

from fragments.linux.abi import Signal
from fragments.linux.system import boot_linux
from kernel_model.machine import Machine

DEMOS = Path(__file__).resolve().parent.parent / "demos" / "arm"
BUSYBOX = Path("/tmp/bb/bin/busybox")
DEFAULT_ENV = ["PATH=/bin:/usr/bin", "HOME=/", "TERM=dumb"]


class SessionError(ValueError):
    """A user's request that cannot apply (one line for the user)."""


@dataclass(frozen=True)
class Options:
    composition: str = "monolithic"
    cores: int = 2
    seed: int = 0
    disk: str | None = None          # an ext2 image (plain, or dm-crypt with key_file)
    key_file: str | None = None
    mount: str = "/mnt"


@dataclass
class Action:
    step: int
    kind: str          # start | input | split | merge | migrate | duplicate | single_step
    args: tuple


@dataclass
class Stop:
    """Why a run ended: ``reason`` and the event it stopped on (if any)."""
    reason: str
    event: object = None
    detail: str = ""


@dataclass
class Session:
    options: Options = field(default_factory=Options)
    log: list[Action] = field(default_factory=list)

    def __post_init__(self):
        self.output = bytearray()
        self._muted = False
        self.steps = 0
        self.pids: list[int] = []
        self.names: dict[int, str] = {}
        self.strace_on = False
        self.checkpoints = None                      # a Checkpoints, set by the shell or script
        self._cleanup = None
        self._pristine = self._keep_image()
        self._boot()

    def _keep_image(self) -> str | None:
        """A private copy of the disk image as it was at the start: every boot (and so
        every replay) begins from the same bytes; the user's file is never written."""
        if self.options.disk is None:
            return None
        keep = tempfile.NamedTemporaryFile(prefix="l4shell-disk-", suffix=".img", delete=False)
        try:
            with open(self.options.disk, "rb") as image:
                shutil.copyfileobj(image, keep)
        except OSError as error:
            raise SessionError(f"{self.options.disk}: {error.strerror}") from None
        finally:
            keep.close()
        self._cleanup = weakref.finalize(self, _remove_copies, keep.name)
        return keep.name

    def close(self) -> None:
        """Drop the system (so it can be freed) and remove the private copies of the disk
        image now (else at exit). The session is not used after this."""
        self.system.runtime.shutdown()
        if self._cleanup is not None:
            self._cleanup()

    def _boot(self) -> None:
        o = self.options
        try:
            self.machine = Machine(cores=o.cores, seed=o.seed)
        except ValueError as error:
            raise SessionError(str(error)) from None
        self.system = boot_linux(self.machine, o.composition)
        self.marks = (array("Q"), array("Q"))        # trace length, instructions: after s steps
        if self._pristine is not None:
            from .disk import attach_disk
            working = self._pristine + ".run"
            shutil.copyfile(self._pristine, working)
            error = attach_disk(self.system, SimpleNamespace(disk=working, key_file=o.key_file, mount=o.mount))
            if error:
                raise SessionError(error.replace(working, o.disk))
        self.machine.uart.sink = self._console
        self.system.console.err_sink = self._console
        self.set_strace(self.strace_on)
        for path in sorted(DEMOS.iterdir()):
            if path.is_file() and not path.suffix and path.stat().st_mode & 0o111:
                self.system.fs.add_file(f"/bin/{path.name}".encode(), path.read_bytes())
        self._mark()

    def _mark(self) -> None:
        self.marks[0].append(len(self.machine.trace))
        self.marks[1].append(self.machine.instructions())

    def _console(self, data: bytes) -> None:
        if not self._muted:
            self.output += data

    def set_strace(self, on: bool) -> None:
        """strace lines into the console output (an observer: not part of the model)."""
        self.strace_on = on
        self.system.strace = (lambda pid, line: self._console(f"[{pid}] {line}\n".encode())) if on else None

    def take_output(self) -> bytes:
        data, self.output = bytes(self.output), bytearray()
        return data

    # --- actions (logged, replayed) -----------------------------------------------------
    def _act(self, kind: str, *args):
        self.log.append(Action(self.steps, kind, args))
        return self._apply(kind, args)

    def _apply(self, kind: str, args: tuple):
        system = self.system
        if kind == "start":
            path, data, argv = args
            if data is not None:
                system.fs.add_file(path.encode(), data)
            pid = system.spawn(path, list(argv), DEFAULT_ENV)
            self.pids.append(pid)
            self.names[pid] = argv[0]
            return pid
        if kind == "input":
            return system.input(args[0])
        if kind == "single_step":
            self.machine.single_step = args[0]
            return None
        return getattr(system, kind)(*args)

    def start(self, program: str, args: list[str]) -> int:
        """Run ``program``: a host file, or a name in the model's /bin (demo programs are
        there; busybox too when installed). Returns the pid."""
        from fragments.linux.elf import ExecFormatError
        host = Path(program)
        if host.is_file():
            path, data = f"/bin/{host.name}", host.read_bytes()
        elif program == "busybox" and BUSYBOX.is_file():
            path, data = "/bin/busybox", BUSYBOX.read_bytes()
        else:
            path, data = (program if program.startswith("/") else f"/bin/{program}"), None
        try:
            return self._act("start", path, data, (program, *args))
        except ExecFormatError as error:
            self.log.pop()
            raise SessionError(f"{program}: cannot execute: {error}") from None

    def input(self, data: bytes) -> None:
        self._act("input", data)

    def recut(self, op: str, *args):
        from fragments.runtime.recut import RecutError
        try:
            return self._act(op, *args)
        except RecutError as error:
            self.log.pop()
            raise SessionError(str(error)) from None

    # --- running ------------------------------------------------------------------------
    def step(self):
        events = self.machine.step()
        if events is not None:
            self.steps += 1
            self._mark()
            checkpoints = self.checkpoints
            if checkpoints is not None and checkpoints.due():
                message = checkpoints.take(self.steps, *self._disk_keeper())
                if message is not None:          # a later, resumed process: carry on
                    checkpoints.finish(checkpoints.resume(message))
        return events

    def run(self, stop: Callable[[object], str | None] | None = None, max_steps: int | None = None,
            interrupted: Callable[[], bool] = lambda: False) -> Stop:
        """Step until ``stop(event)`` names a reason, the machine has nothing left to do
        ("exited" if every started program ended, else "idle": blocked, e.g. on input),
        ``max_steps`` steps, or ``interrupted()``."""
        done = 0
        while True:
            if max_steps is not None and done >= max_steps:
                return Stop("steps")
            if interrupted():
                return Stop("interrupted")
            events = self.step()
            done += 1
            if events is None:
                return Stop("idle" if self.running() else "exited")
            if stop is not None:
                for event in events:
                    reason = stop(event)
                    if reason:
                        return Stop(reason, event)

    def running(self) -> list[int]:
        return [pid for pid in self.pids if self.system.exit_status(pid) is None]

    def ended(self, pid: int) -> str | None:
        """How program ``pid`` ended ("exit status N" or "killed by SIGNAME"); None while
        it runs."""
        status = self.system.exit_status(pid)
        if status is None:
            return None
        number = status & 0x7F
        if not number:
            return f"exit status {status >> 8 & 0xFF}"
        try:
            return f"killed by {Signal(number).name}"
        except ValueError:                      # a real-time signal: no name
            return f"killed by signal {number}"

    def stepi(self, count: int, core: int | None = None) -> Stop:
        """Exactly ``count`` ARM instructions (on ``core`` if given), in single-step mode."""
        target = self._instructions(core) + count
        self._act("single_step", True)
        try:
            while self._instructions(core) < target:
                if self.step() is None:
                    return Stop("idle")
        finally:
            self._act("single_step", False)
        return Stop("stepi")

    def _instructions(self, core: int | None) -> int:
        cores = self.machine.cores if core is None else [self.machine.cores[core]]
        return sum(c.instructions for c in cores)

    # --- going back -----------------------------------------------------------------------
    def step_of_event(self, seq: int) -> int:
        """The step count just after the step that made event ``seq``."""
        if not 0 <= seq < len(self.machine.trace):
            raise SessionError(f"no event #{seq} (the trace has {len(self.machine.trace)} events)")
        return bisect_right(self.marks[0], seq)

    def earlier_events(self) -> list:
        """The events of the steps before the last one: going back to one of them moves
        (the last step's events are all where the session stands)."""
        return self.machine.trace.events[:self.marks[0][self.steps - 1] if self.steps else 0]

    def step_of_instructions(self, count: int) -> int:
        """The last step count at which at most ``count`` instructions had run."""
        return bisect_right(self.marks[1], count) - 1

    def goto_step(self, target: int, handover: Callable[[], dict] | None = None,
                  interrupted: Callable[[], bool] = lambda: False) -> bool:
        """Re-execute to ``target`` steps (actions replayed at their counts). With
        checkpoints and a ``handover`` (what the resumed process needs to carry on, see
        ``checkpoints``), from the latest checkpoint before it: this process ends there.
        ``interrupted`` may stop the re-execution half-way (see ``replay``); returns whether
        it got to ``target``."""
        if target < 0:
            raise SessionError("cannot go back before boot")
        point = self.checkpoints.before(target) if self.checkpoints and handover else None
        if point is not None:     # returns only if the copy is gone: then from boot
            self.checkpoints.restore(point, {"log": self.log, "steps": target, **handover()})
        pending = list(self.log)
        self.log, self.steps, self.pids, self.names = [], 0, [], {}
        self.system.runtime.shutdown()               # the system replaced can be freed
        self._boot()
        return self.replay(pending, target, interrupted)

    def replay(self, log: list[Action], target: int, interrupted: Callable[[], bool] = lambda: False) -> bool:
        """Step from here to ``target`` steps, applying the actions of ``log``: the log of
        a history that this session's ``log`` begins (a checkpoint of it, or a boot).
        ``interrupted()`` is asked between two steps; True ends the replay there, and the
        session is simply at an earlier step: its log holds the actions applied so far (the
        later ones are dropped, as going back drops those after its target), and a stretch
        of single-stepping cut in the middle is ended, by a logged action. Returns False if
        interrupted, else True."""
        pending = log[len(self.log):]
        self._muted = True
        try:
            while True:
                while pending and pending[0].step == self.steps:
                    action = pending.pop(0)
                    self.log.append(action)
                    self._apply(action.kind, action.args)
                if self.steps >= target:
                    return True
                if interrupted():
                    if self.machine.single_step:
                        self._act("single_step", False)
                    return False
                if self.step() is None:
                    return True
        finally:
            self._muted = False

    def _disk_keeper(self) -> tuple:
        """``save``/``load`` for a checkpoint: the working disk image, outside the model."""
        if self._pristine is None:
            return ()
        working = self._pristine + ".run"
        return (lambda pid: shutil.copyfile(working, f"{working}.{pid}"),
                lambda pid: _copy_into(f"{working}.{pid}", working))


def _copy_into(source: str, target: str) -> None:
    """Overwrite ``target`` in place (the disk device keeps it open)."""
    with open(source, "rb") as data, open(target, "r+b") as out:
        shutil.copyfileobj(data, out)
        out.truncate()


def _remove_copies(pristine: str) -> None:
    """The pristine copy, the working copy and the checkpoints' copies of the image."""
    for path in [pristine, *glob.glob(glob.escape(pristine) + ".run*")]:
        try:
            os.unlink(path)
        except OSError:
            pass
