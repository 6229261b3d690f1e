"""The event trace: every kernel-visible event, typed, in the order it happened.

Invariants:
- ``seq`` numbers events from 0 without gaps; ``time`` is the modeled cycle count of the
  core the event happened on, never host time.
- An event's ``data`` holds only ints, strings, bools and lists of them, so that the JSON
  Lines export is a pure function of the events and equal runs give equal bytes.
- Counters are derived from the events (``Counters`` catches up with the trace whenever a
  total is read), so views and statistics never disagree with the trace.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections import Counter
from typing import Callable, Iterable, Iterator, NamedTuple

# The kinds the kernel emits. Upper layers add their own (``syscall``, ``recut``…).
QUANTUM = "quantum"        # a run of ARM instructions (data: instructions, pc_from, pc_to)
STEP = "step"              # one Python thread resumption (data: op)
IPC_SEND = "ipc-send"      # a message handed to a receiver (data: to, label, words, items)
IPC_BLOCK = "ipc-block"    # a sender or receiver blocks (data: on, phase)
IPC_REPLY = "ipc-reply"
IPC_ERROR = "ipc-error"    # an IPC failed (data: error, code)
PAGE_FAULT = "page-fault"  # data: address, access, pc, present
EXCEPTION = "exception"    # data: ec, pc
MAP = "map"                # data: to, address, frame, rights (memory) / slot (objects)
UNMAP = "unmap"
GRANT = "grant"
CAP = "cap"                # capability operation (data: op, slot, object, rights)
INVOKE = "invoke"          # kernel-object invocation (data: object, op, result)
IRQ = "irq"                # a device raised a line (data: line)
IRQ_DELIVER = "irq-deliver"
SCHEDULE = "schedule"      # a core switched threads (data: to, space_switch)
TICK = "tick"              # a core's scheduling timer fired (data: preempted)
MIGRATE = "migrate"        # a thread moved cores (data: from_core, to_core)
THREAD = "thread"          # created, started, killed (data: op, reason)
TASK = "task"
TIMEOUT = "timeout"
IDLE = "idle"              # a core advanced its clock with nothing to run

KERNEL_KINDS = (QUANTUM, STEP, IPC_SEND, IPC_BLOCK, IPC_REPLY, IPC_ERROR, PAGE_FAULT, EXCEPTION,
                MAP, UNMAP, GRANT, CAP, INVOKE, IRQ, IRQ_DELIVER, SCHEDULE, TICK, MIGRATE, THREAD,
                TASK, TIMEOUT, IDLE)


class Event(NamedTuple):
    """One event. A named tuple, so immutable, and cheap to make: the trace makes about ten
    per system call, and a frozen dataclass costs several times more to build."""

    seq: int
    time: int
    core: int
    kind: str
    task: str
    thread: str
    data: dict

    def to_json(self) -> str:
        return json.dumps({"seq": self.seq, "time": self.time, "core": self.core,
                           "kind": self.kind, "task": self.task, "thread": self.thread,
                           **self.data}, sort_keys=True, separators=(",", ":"))

    def __str__(self) -> str:
        detail = " ".join(f"{k}={_fmt(v)}" for k, v in self.data.items())
        who = f"{self.task}/{self.thread}" if self.thread else self.task
        return f"#{self.seq:<6} t={self.time:<10} c{self.core} {self.kind:<11} {who:<22} {detail}"


_make_event = tuple.__new__   # Event(...) without the keyword handling of its __new__


def _fmt(value) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0xFFFF:
        return hex(value)
    return str(value)


class Counters:
    """Totals by event kind, and instructions/cycles per core, task and thread.

    Derived from the trace's events, and brought up to date with them whenever one of the
    totals is read (counting at each emit would cost every event a call)."""

    def __init__(self, trace: "Trace"):
        self._trace = trace
        self._seen = 0          # events[:_seen] are counted
        self._kinds: Counter[str] = Counter()
        self._syscalls: Counter[str] = Counter()
        self._faults: Counter[str] = Counter()
        self._instructions: Counter[str] = Counter()  # keyed "core:N", "task:NAME", "thread:NAME"

    @property
    def kinds(self) -> Counter[str]:
        self._catch_up()
        return self._kinds

    @property
    def syscalls(self) -> Counter[str]:
        self._catch_up()
        return self._syscalls

    @property
    def faults(self) -> Counter[str]:
        self._catch_up()
        return self._faults

    @property
    def instructions(self) -> Counter[str]:
        self._catch_up()
        return self._instructions

    def _catch_up(self) -> None:
        events, seen = self._trace.events, self._seen
        if seen == len(events):
            return
        self._seen = len(events)
        for event in itertools.islice(events, seen, None):
            self._count(event)

    def _count(self, event: Event) -> None:
        self._kinds[event.kind] += 1
        if event.kind == QUANTUM:
            n = event.data["instructions"]
            self._instructions[f"core:{event.core}"] += n
            self._instructions[f"task:{event.task}"] += n
            self._instructions[f"thread:{event.thread}"] += n
            self._instructions["total"] += n
        elif event.kind == PAGE_FAULT:
            self._faults[event.data.get("access", "?")] += 1
        elif event.kind == "syscall":
            self._syscalls[event.data.get("name", "?")] += 1


class Trace:
    """Append-only list of events with listeners (breakpoints, views, exports)."""

    def __init__(self):
        self.events: list[Event] = []
        self.counters = Counters(self)
        self.listeners: list[Callable[[Event], None]] = []

    def emit(self, time: int, core: int, kind: str, task: str = "", thread: str = "",
             **data) -> Event:
        return self.append(time, core, kind, task, thread, data)

    def append(self, time: int, core: int, kind: str, task: str, thread: str,
               data: dict) -> Event:
        """``emit`` with the details as a dict (the dict becomes the event's ``data``)."""
        events = self.events
        event = _make_event(Event, (len(events), time, core, kind, task, thread, data))
        events.append(event)
        for listener in self.listeners:
            listener(event)
        return event

    def __len__(self) -> int:
        return len(self.events)

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events)

    def filter(self, kinds: Iterable[str] | None = None, task: str | None = None,
               thread: str | None = None, core: int | None = None,
               since: int = 0) -> Iterator[Event]:
        kinds = set(kinds) if kinds else None
        for event in self.events[since:]:
            if ((kinds is None or event.kind in kinds) and (task is None or event.task == task)
                    and (thread is None or event.thread == thread)
                    and (core is None or event.core == core)):
                yield event

    def write_jsonl(self, path) -> None:
        with open(path, "w", encoding="utf-8") as out:
            for event in self.events:
                out.write(event.to_json() + "\n")

    def digest(self) -> str:
        """SHA-256 over the JSON Lines form: equal traces, equal digests."""
        h = hashlib.sha256()
        for event in self.events:
            h.update(event.to_json().encode() + b"\n")
        return h.hexdigest()
