"""The critical path of a run: what its modeled length is made of, read back from its trace.

A run lasts until the core that finishes last stops (the latest event's time). On one core
the time between two events is the work of the later event's thread, except before a
``schedule`` event: the switch (``context_switch``, and ``address_space_switch`` when the
event says ``space_switch``) comes last, and any time before it the core spent idle,
waiting for a thread to become ready (``scheduler._switch_to``). A thread woken from another
core cannot run before an ``ipi`` after the waker's clock (``scheduler.wake``): a message
sent to it (``ipc-send``), a reply to its call, fault or exception (``ipc-reply``), or its
migration. So walking back from the end, the path takes every piece of a core's time until
a wait; there it jumps to the event that ended the wait on the waker's core (a *hop*: the
``ipi`` and the switch) and walks back from there. A wait that no such event explains stays
on the path as a wait of its own: a timer, a device, or a wake-up the kernel does not delay
by an IPI (an IRQ delivered to a thread on another core; a thread started on another core).

The pieces add up to the run's length exactly: the path is a cover of ``[0, end]`` by gaps
between consecutive events of one core and by hops. Its events are the ones whose gap (the
time since the previous event of their core) lies on it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from kernel_model.cost import DEFAULT_COSTS, CostTable

WAKERS = ("ipc-send", "ipc-reply")     # events that name, in ``to``, the thread they wake
SELF_WAKERS = ("migrate", "irq-deliver", "timeout")   # events that wake their own thread


@dataclass
class CriticalPath:
    on_path: set[int] = field(default_factory=set)        # seq of the events on the path
    hops: dict[int, int] = field(default_factory=dict)    # schedule seq -> seq of its waker
    waits: dict[int, int] = field(default_factory=dict)   # schedule seq -> cycles its core idled
    switches: dict[int, int] = field(default_factory=dict)  # schedule seq -> cycles of its switch
    woke: dict[int, int] = field(default_factory=dict)    # waker seq -> seq of the schedule it made


def switch_cycles(event: dict, table: CostTable) -> int:
    """What the scheduler charged for the switch a ``schedule`` event reports."""
    return table.context_switch.cycles + (table.address_space_switch.cycles if event["space_switch"] else 0)


def walk(events: list[dict], table: CostTable = DEFAULT_COSTS) -> CriticalPath:
    """The critical path of the run ``events`` record (dicts, as ``graph.event_dicts``)."""
    path = CriticalPath()
    by_core: dict[int, list[dict]] = defaultdict(list)
    where: dict[int, tuple[int, int]] = {}              # seq -> (core, index in by_core)
    pending: dict[str, dict] = {}                       # thread -> the last event that woke it
    for e in events:
        core = by_core[e["core"]]
        where[e["seq"]] = (e["core"], len(core))
        if e["kind"] == "schedule":
            path.switches[e["seq"]] = switch = switch_cycles(e, table)
            idle = e["time"] - (core[-1]["time"] if core else 0) - switch
            if idle > 0:
                path.waits[e["seq"]] = idle
            waker = pending.pop(e["to"], None)
            if waker is not None:
                path.woke[waker["seq"]] = e["seq"]
        elif e["kind"] in WAKERS:
            pending[e["to"]] = e
        elif e["kind"] in SELF_WAKERS:
            pending[e["thread"]] = e
        core.append(e)
    if not by_core:
        return path
    waker_of = {s: w for w, s in path.woke.items()}
    core = max(by_core, key=lambda c: (by_core[c][-1]["time"], -c))
    index = len(by_core[core]) - 1
    while index >= 0:
        e = by_core[core][index]
        path.on_path.add(e["seq"])
        waker = waker_of.get(e["seq"]) if e["seq"] in path.waits else None
        if waker is not None:
            w_core, w_index = where[waker]
            w = by_core[w_core][w_index]
            if w_core != core and w["time"] + table.ipi.cycles + path.switches[e["seq"]] == e["time"]:
                path.hops[e["seq"]] = waker
                core, index = w_core, w_index
                continue
        index -= 1
    return path
