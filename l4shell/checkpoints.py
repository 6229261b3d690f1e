"""Checkpoints for going back: frozen copies of the whole shell process, made with fork.

Going back re-executes the session (see ``session``). From boot, that costs as much as
the run did; from a checkpoint, only the stretch since it. A Python model cannot be
copied in place (its server threads are suspended generators and greenlets, its cores
unicorn engines), but a process can: ``take`` forks, and the child — a frozen copy of the
session at that step — waits on a pipe. To go back, the live process sends the frozen
copy everything the user did since (the action log), the step to reach, and what lives
outside the model (breakpoints, the command being answered, where the script or shell
loop was), then exits. The copy forks again — it stays frozen, for later use — and that
child replays the stretch and carries on as the live process, answering the command.

Roles and invariants:
- The *anchor* (``Checkpoints.anchor``: the process the user started) only waits and
  exits with the session's status once the last live process has written it, so the
  user's terminal gets its prompt back only at the end. It and frozen copies ignore
  Ctrl-C, which is meant for the live process; a resumed process starts ignoring it too,
  until ``resume`` has replayed and restores the handler.
- ``points`` lists the live process's checkpoints, oldest first, each a frozen process
  with the write end of its pipe. Younger copies hold that pipe too (a process resumed from
  one may go back further), so discarding a checkpoint sends it a quit message; it also
  exits at end of file, when every holder is gone (a crash). A resume message names the
  checkpoints still alive: the resumed process forgets those discarded since its copy froze.
- A resumed process never returns into the frozen copy's stack (it ends in ``finish``),
  so nothing there runs twice.
- Checkpoints hold copies of the model only: state outside it (a disk image file) is
  saved with them by the session through ``save``/``load`` hooks.
- Where checkpoints are taken depends on host time (every ``interval`` seconds of
  stepping); what the model does never does: replaying from any checkpoint or from boot
  reaches the same state.
"""

from __future__ import annotations

import os
import pickle
import signal
import struct
import sys
import threading
import time
from dataclasses import dataclass
from typing import Callable, NoReturn

INTERVAL = 0.25        # host seconds of stepping between checkpoints
KEEP = 16              # checkpoints kept; older ones are thinned out to keep them spread


@dataclass
class Point:
    steps: int         # the session's step count when the copy froze
    pid: int
    pipe: int          # write end: a message resumes the copy, closing it discards it


class Checkpoints:
    def __init__(self, interval: float = INTERVAL, keep: int = KEEP):
        self.interval = interval
        self.keep = keep
        self.points: list[Point] = []
        self.resume: Callable[[dict], int] | None = None    # the live loop, carried on
        self._anchor: int | None = None                     # write end: the final status
        self._children: set[int] = set()                    # to collect once they end
        self._last = time.monotonic()

    # --- the anchor -------------------------------------------------------------------
    @classmethod
    def anchor(cls, **settings) -> "Checkpoints | None":
        """Split off the live process; this process waits for the session's status and
        exits with it. None where processes cannot be forked (the caller goes on without)."""
        if not hasattr(os, "fork") or threading.active_count() > 1:
            return None
        read, write = os.pipe()
        _flush()
        if os.fork():
            os.close(write)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            status = os.read(read, 1)
            os._exit(status[0] if status else 1)
        os.close(read)
        checkpoints = cls(**settings)
        checkpoints._anchor = write
        return checkpoints

    def finish(self, status: int) -> NoReturn:
        """End the session: discard the checkpoints, hand the status to the anchor."""
        self.discard(0)
        _flush()
        os.write(self._anchor, bytes([status & 0xFF]))
        os._exit(status)

    # --- taking -------------------------------------------------------------------------
    def due(self) -> bool:
        """Time for a checkpoint (and safe: forking copies only the calling thread)."""
        return time.monotonic() - self._last >= self.interval and threading.active_count() == 1

    def take(self, steps: int, save: Callable[[int], None] = lambda pid: None,
             load: Callable[[int], None] = lambda pid: None) -> dict | None:
        """Freeze a copy of this process at ``steps``. Returns None here; in a process
        resumed from the copy (much later), the message it was sent. ``save(pid)`` keeps
        state outside the model for the copy ``pid``; ``load(pid)`` puts it back."""
        self._last = time.monotonic()
        read, write = os.pipe()
        _flush()
        pid = os.fork()
        if pid == 0:
            os.close(write)
            return self._frozen(steps, read, load)
        os.close(read)
        save(pid)
        self._children.add(pid)
        self.points.append(Point(steps, pid, write))
        self._thin()
        self._reap()
        return None

    def _frozen(self, steps: int, read: int, load: Callable[[int], None]) -> dict:
        """The frozen copy: wait for messages; each forks a resumed process (which returns
        the message); end of file ends the copy."""
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        me, self._children = os.getpid(), set()
        while True:
            received = _receive(read)
            os.close(read)
            if received is None:
                os._exit(0)
            alive, message = received
            read, write = os.pipe()
            child = os.fork()
            if child == 0:
                os.close(read)                   # Ctrl-C stays ignored: ``resume`` decides
                for point in [p for p in self.points if p.pid not in alive]:
                    os.close(point.pipe)         # discarded since this copy froze
                self.points = [p for p in self.points if p.pid in alive]
                self.points.append(Point(steps, me, write))
                self._thin()
                self._last = time.monotonic()
                load(me)
                return message
            os.close(write)
            self._children.add(child)
            self._reap()

    def _thin(self) -> None:
        """Keep ``keep`` checkpoints: drop the one (never the newest) whose neighbours
        are closest, so they stay spread over the history."""
        while len(self.points) > self.keep:
            steps = [p.steps for p in self.points]
            gaps = [steps[i + 1] - (steps[i - 1] if i else 0) for i in range(len(steps) - 1)]
            self._close(self.points.pop(gaps.index(min(gaps))))

    # --- going back -----------------------------------------------------------------------
    def before(self, steps: int) -> Point | None:
        """The latest checkpoint at or before ``steps``."""
        return next((p for p in reversed(self.points) if p.steps <= steps), None)

    def restore(self, point: Point, message: dict) -> None:
        """Resume ``point`` with ``message`` (checkpoints after it are discarded) and end
        this process. Returns only if the copy is gone (killed from outside)."""
        index = self.points.index(point)
        self.discard(index + 1)
        _flush()
        try:
            _send(point.pipe, ([p.pid for p in self.points], message))
        except BrokenPipeError:
            self.discard(index)
            return
        os._exit(0)

    def discard(self, start: int) -> None:
        """Discard the checkpoints from index ``start`` on (youngest first)."""
        while len(self.points) > start:
            self._close(self.points.pop())

    @staticmethod
    def _close(point: Point) -> None:
        try:
            _send(point.pipe, None)
        except BrokenPipeError:
            pass
        os.close(point.pipe)

    def _reap(self) -> None:
        """Collect the children (frozen or resumed processes) that have ended."""
        for pid in list(self._children):
            try:
                done = os.waitpid(pid, os.WNOHANG)[0]
            except ChildProcessError:
                done = pid
            if done:
                self._children.discard(pid)


def _send(fd: int, message) -> None:
    data = pickle.dumps(message)
    with os.fdopen(os.dup(fd), "wb") as pipe:
        pipe.write(struct.pack("<Q", len(data)) + data)


def _receive(fd: int):
    with os.fdopen(os.dup(fd), "rb") as pipe:
        head = pipe.read(8)
        if len(head) < 8:
            return None
        return pickle.loads(pipe.read(struct.unpack("<Q", head)[0]))


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
