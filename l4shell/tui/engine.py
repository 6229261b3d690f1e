"""The model thread: the one OS thread that owns the session for its whole life.

Why one thread: the fragment runtime drives its servers with greenlets, and a greenlet
cannot switch across OS threads; a model stepped from two threads would break. So the
engine boots the session *on* its thread, and every call into the model — command lines,
stepping, re-cuts, console input, scripts, and the panes' ``gather`` functions that read
the model into plain data — runs there. The UI thread never touches the model, so no lock
is needed, and the UI never blocks while the model runs. (A plain daemon thread rather than a
Textual thread worker: a worker runs in asyncio's default executor, which the event loop
joins at exit, so quitting during a long re-execution would hang.)

Protocol, UI thread -> engine: ``submit`` queues a request (a command line, console
input, a refresh, a script, a completion, a function to call on the model thread);
``stop()`` interrupts the current run between two steps (a run asked for but not started
yet stops at its first step); ``resume()`` ends a script's ``pause``. Engine -> UI thread:
``latest`` (the newest ``Update``, replaced whole, never mutated) and ``transcript`` (a
deque of lines the UI drains), announced by a ``ModelUpdated`` doorbell message.

Runs and coalescing: while a command runs the machine, the debugger calls
``interrupted()`` before every step. There, between two steps (the model is consistent), the
engine answers the requests that came meanwhile — re-cuts, console input, inspection
commands, refreshes; another run is refused — so a user can re-cut a running workload, and
it publishes fresh views now and then. A doorbell is posted only after the previous one was
answered, so the UI queue never floods, and a run gathers views only when the UI took the
previous ones. How often: the UI thread shares the interpreter (the GIL) with the model, so
the CPU time spent gathering views and drawing them (``_cost``; the UI reports its part
with ``drawn``) is time the model did not run. A run publishes at most ``UPDATE_HZ`` times
a second, and no more often than keeps that cost to ``WATCH_SHARE`` of the host time (a big
terminal is refreshed less often), but at least ``MIN_HZ`` times a second. Host time
decides only how often the UI is refreshed; it never reaches the model. A command with no
steps of its own to pause at (a re-cut waiting for its tasks to rest) holds the requests
until it ends; the UI stays live and shows it busy.

Going back re-executes from boot (no checkpoints here: forking a process with threads
copies only one), which can take as long as the run did. Between two steps of it the
debugger asks ``going_back``: ``stop()`` cancels it there (the session is simply at an
earlier step; the command says which), and the status line shows how far it got. Other
requests wait for its end: a re-cut or console input in the middle of a replay would make
another history.

Program output is shown as it comes but only peeked at: ``execute`` takes it at the end of
the command for the result (and ``expect``); the part already shown is cut from the result.
"""

from __future__ import annotations

import asyncio
import codecs
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

from textual.message import Message

from . import bridge
from .focus import Focus
from .traceindex import TraceIndex

UPDATE_HZ = 10
MIN_HZ = 2
WATCH_SHARE = 0.06       # of the host time, for gathering and drawing views while a run goes on
# Commands that run (or replace) the machine: refused while a run is in progress.
RUN_COMMANDS = {"step", "stepi", "next", "continue", "until", "finish", "reverse-step",
                "reverse-stepi", "reverse-next", "reverse-continue", "goto", "boot"}


class ModelUpdated(Message):
    """Doorbell: the engine published a new ``Update`` and/or transcript lines."""


@dataclass(frozen=True)
class Update:
    generation: int
    done: int                      # every request with an id <= done has been answered
    busy: bool                     # a request is being handled (a run may be in progress)
    views: dict                    # pane id -> what its gather returned (visible panes only)
    narration: str = ""
    paused: bool = False           # a script waits in ``pause`` for resume()
    script: str = ""               # "playing NAME" / "ended" / ""
    completion: tuple = ()         # (line, candidates) answering the last complete request
    quit: bool = False             # the user typed quit
    progress: str = ""             # how far going back got ("" unless it is under way)


@dataclass(frozen=True)
class Request:
    rid: int
    kind: str                      # line | input | refresh | script | complete | call | resume | quit
    payload: object = None


@dataclass
class Context:
    """What a pane's ``gather`` gets, on the model thread. One is made per update, so what
    several panes read (the focused task, the kernel snapshot, the trace index) is computed
    once (``shared``) — and only if a visible pane asks for it."""
    session: object
    dbg: object
    focus: Focus
    trace_index: TraceIndex
    cache: dict = field(default_factory=dict)   # per-pane scratch (incremental scans), kept
    stop: str = ""                              # why the last run ended
    _shared: dict = field(default_factory=dict)  # this update's shared views

    def shared(self, name: str, make: Callable[[], object]):
        """``make()``, computed once for this update whoever asks first."""
        if name not in self._shared:
            self._shared[name] = make()
        return self._shared[name]

    @property
    def index(self) -> TraceIndex:
        """The trace index, brought up to date the first time a pane reads it."""
        return self.shared("index", lambda: self.trace_index.update(self.session.machine.trace))


class Engine:
    def __init__(self, options, gatherers: dict[str, Callable], post: Callable[[Message], object]):
        self.options = options
        self.gatherers = gatherers          # pane id -> gather(ctx)
        self.post = post                    # thread-safe: App.post_message
        self.visible: frozenset[str] = frozenset(gatherers)   # set by the UI
        self.focus = Focus()                # replaced whole by the UI
        self.transcript: deque[tuple[str, str]] = deque()     # (kind, text), drained by the UI
        self.latest: Update | None = None
        self.error: str = ""                # the boot failed (shown by the app)
        self._requests: deque[Request] = deque()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._stopped_upto = 0              # runs asked for up to this request id are stopped
        self._next_id = 1
        self._bell = False
        self._generation = 0
        self._done = 0
        self._depth = 0                     # command lines being executed (nested ones included)
        self._running = False               # one of them runs the machine
        self._quit_requested = False
        self._script_rid = 0
        self._output_of, self._shown, self._shown_text = None, 0, ""   # output shown live
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._quit = False
        self._last_publish = 0.0            # host time of the last publish
        self._gathering = 0.0               # CPU seconds the last publish took
        self._cost = 0.0                    # CPU seconds to gather and draw the last views
        self._narration, self._paused, self._script = "", False, ""
        self._completion: tuple = ()
        self._stop_reason = ""
        self._progress = ""
        self._thread = threading.Thread(target=self._main, name="l4shell-model", daemon=True)

    # --- UI thread ------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def submit(self, kind: str, payload=None) -> int:
        """Queue a request; returns its id (answered when ``latest.done >= id``)."""
        rid = self._next_id
        self._next_id += 1
        self._requests.append(Request(rid, kind, payload))
        self._wake.set()
        return rid

    async def call(self, function):
        """Run ``function(debugger)`` on the model thread; await its result (for tools and
        tests that must read the model while it may run)."""
        answer: list = []
        rid = self.submit("call", (function, answer))
        while not answer and (self.latest is None or self.latest.done < rid):
            await asyncio.sleep(0.005)
        if not answer:
            raise RuntimeError("the call failed on the model thread (see the console)")
        return answer[0]

    def stop(self) -> None:
        """Interrupt the run in progress (and a playing script, even in a pause) between two
        steps; a run asked for already but not started yet stops at its first step."""
        self._stopped_upto = self._next_id - 1
        self._stop.set()
        self._wake.set()

    @property
    def working(self) -> bool:
        """A request is being handled (a run, a script) or waits to be: what a stop acts on."""
        latest = self.latest
        return latest is not None and (latest.busy or latest.done < self._next_id - 1)

    def resume(self) -> None:
        self.submit("resume")

    def shutdown(self) -> None:
        self._quit = True
        self._stop.set()
        self.submit("quit")

    def answered(self) -> None:
        """The UI took the doorbell (it reads ``latest`` next); the next publish may ring again."""
        self._bell = False

    def drawn(self, cpu: float) -> None:
        """The UI drew the views it took, in ``cpu`` seconds of its thread's CPU time."""
        self._cost = self._gathering + cpu

    @property
    def pending(self) -> bool:
        """Requests not yet answered (the model is busy or about to be); a script waiting
        in ``pause`` is not busy."""
        latest = self.latest
        return latest is None or latest.done < self._next_id - 1 or (latest.busy and not latest.paused)

    # --- model thread ---------------------------------------------------------------------
    def _main(self) -> None:
        try:
            self.dbg = bridge.new_debugger(self.options)
        except Exception as error:          # a bad composition file, too many cores…
            self.error = str(error)
            self._note("error", f"cannot boot: {error}")
            self._publish()
            return
        self.dbg.interrupted = self._interrupted
        self.dbg.going_back = self._going_back
        self.dbg.narrate = self._narrate
        self.dbg.pause = self._pause
        self.index = TraceIndex()
        self.cache: dict = {}
        self._publish()
        while not self._quit:
            self._wake.wait()
            self._wake.clear()
            while self._requests and not self._quit:
                self._handle(self._requests.popleft())
                self._publish()

    def _handle(self, request: Request) -> None:
        """Answer one request (possibly between two steps of a run in progress)."""
        kind, payload = request.kind, request.payload
        try:
            if kind == "line":
                self._line(payload, stopped=request.rid <= self._stopped_upto)
            elif kind == "input":
                self.dbg.session.input(payload)
                shown = "end of input" if payload == b"" else f"{len(payload)} bytes"
                self._note("note", f"console input: {shown}")
            elif kind == "script":
                if self._depth:
                    self._note("error", "busy; stop the run before playing a script")
                else:
                    self._script_rid = request.rid
                    self._play(payload)
            elif kind == "complete":
                self._completion = (payload, tuple(bridge.complete(self.dbg, payload)))
            elif kind == "call":                 # run a function on the model thread
                function, answer = payload
                answer.append(function(self.dbg))
            elif kind == "quit":
                self._quit = True
        except Exception as error:          # a model bug: shown, never swallowed silently
            self._note("error", f"internal error: {type(error).__name__}: {error}")
            self._note("error", traceback.format_exc(limit=-3).rstrip())
        self._done = max(self._done, request.rid)

    def _line(self, line: str, stopped: bool = False):
        """Execute one command line; returns its ``bridge.Outcome`` (None if refused). A
        run ``stopped`` before it started ends at its first step."""
        self._note("command", line)
        runs = bridge.command_name(line) in RUN_COMMANDS
        if runs and self._running:
            self._note("error", "a run is in progress; stop it first (Esc)")
            return None
        if runs:
            if not stopped:
                self._stop.clear()
            self._running = True
            self._last_publish = time.monotonic()   # the first views are due after a period
        self._depth += 1
        try:
            outcome = bridge.execute(self.dbg, line)
        finally:
            self._depth -= 1
            self._progress = ""
            if runs:
                self._running = False
        self._quit_requested |= outcome.quit
        if outcome.stop:
            self._stop_reason = outcome.stop
        text = self._unshown(outcome.text)
        self._shown, self._shown_text = 0, ""          # execute took the output
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        if text:
            self._note("result" if outcome.ok else "error", text)
        return outcome

    def _show_output(self, session) -> None:
        """Program output written during a command, shown as it comes. It is only peeked at
        (``execute`` takes it at the end, for the command's result and ``expect``), and
        the part already shown is cut from the front of that result."""
        if session is not self._output_of:
            self._output_of, self._shown = session, 0
        new = bytes(session.output[self._shown:])
        if new:
            self._shown += len(new)
            text = self._decoder.decode(new)
            self._shown_text += text
            self._note("output", text)

    def _unshown(self, text: str) -> str:
        """A command's result without the program output already shown live (``execute``
        puts the output first, its last newline replaced by the one before its own text)."""
        shown = self._shown_text
        if shown and text.startswith(shown):
            return text[len(shown):]
        if shown and text.startswith(shown.rstrip("\n")):
            return text[len(shown.rstrip("\n")):].lstrip("\n")
        return text

    def _interrupted(self) -> bool:
        """Called by the debugger before every step of a run: urgent requests, publishing."""
        if self._stop.is_set():
            return True
        while self._requests and not self._stop.is_set():
            self._handle(self._requests.popleft())
            self._publish()
        if not self._bell and time.monotonic() - self._last_publish >= self._period():
            self._publish()
        return self._stop.is_set()

    def _going_back(self, step: int, target: int) -> bool:
        """Called by the debugger between two steps of a re-execution: Stop cancels it; the
        status line (only: the other panes keep what they showed) follows its progress."""
        if self._stop.is_set():
            return True
        if not self._bell and time.monotonic() - self._last_publish >= 1 / UPDATE_HZ:
            self._progress = f"going back: step {step:,} of {target:,}"
            self._publish(("status",))
        return False

    def _period(self) -> float:
        """Host seconds between two publishes during a run (see the module docstring)."""
        return min(max(1 / UPDATE_HZ, self._cost / WATCH_SHARE), 1 / MIN_HZ)

    # --- scripts ----------------------------------------------------------------------------
    def _play(self, path: str) -> None:
        """Play a .l4s script line by line (``say`` and ``pause`` call back into the engine)."""
        name = path.rsplit("/", 1)[-1]
        try:
            lines = bridge.script_lines(path)
        except OSError as error:
            self._note("error", f"{path}: {error.strerror}")
            return
        self._stop.clear()
        self._script = f"playing {name}"
        for number, line in enumerate(lines, 1):
            if self._stop.is_set() or self._quit:
                self._narration = f"(script stopped before line {number})"
                break
            outcome = self._line(line)
            self._publish()
            if outcome is not None and not outcome.ok:
                self._narration = f"The script failed at line {number}: {line}"
                break
        self._script = f"{name} ended"

    def _narrate(self, text: str) -> None:
        self._narration = text
        self._publish()

    def _pause(self) -> None:
        """A script's ``pause``: answer requests (the user may look around, even step) until
        resume(), stop() or quit."""
        self._paused = True
        self._done = max(self._done, self._script_rid)    # the script waits for the user: idle
        self._publish()
        try:
            while not (self._quit or self._stop.is_set()):
                self._wake.wait()
                self._wake.clear()
                while self._requests:
                    request = self._requests.popleft()
                    if request.kind == "resume":
                        self._done = max(self._done, request.rid)
                        return
                    self._handle(request)
                    self._publish()
        finally:
            self._paused = False

    # --- publishing ---------------------------------------------------------------------------
    def _note(self, kind: str, text: str) -> None:
        self.transcript.append((kind, text))

    def _publish(self, panes=None) -> None:
        """Gather the visible panes' views (of ``panes`` only, if given) into a new
        ``Update`` and ring the doorbell."""
        dbg = getattr(self, "dbg", None)
        if dbg is None:
            self.latest = Update(self._generation, self._done, False, {})
        else:
            self._last_publish, cpu = time.monotonic(), time.thread_time()
            self._show_output(dbg.session)
            ctx = Context(dbg.session, dbg, self.focus, self.index, self.cache, self._stop_reason)
            views = {}
            for pane, gather in self.gatherers.items():
                if pane in self.visible and (panes is None or pane in panes):
                    try:
                        views[pane] = gather(ctx)
                    except Exception as error:   # a pane bug: shown in the pane
                        views[pane] = PaneError(f"{type(error).__name__}: {error}")
            self._gathering = time.thread_time() - cpu
            self._generation += 1
            self.latest = Update(self._generation, self._done, self._depth > 0, views, self._narration,
                                 self._paused, self._script, self._completion, self._quit_requested,
                                 self._progress)
        if not self._bell:
            self._bell = True
            self.post(ModelUpdated())


@dataclass(frozen=True)
class PaneError:
    """What a pane shows when its gather failed (a bug, visible rather than hidden)."""
    text: str


__all__ = ["Engine", "ModelUpdated", "Update", "Context", "PaneError"]
