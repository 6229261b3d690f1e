"""Fragment graphs: dependencies, measured traffic, the minimal set for a program, the planner.

- ``dependency_graph(classes)``: a node per fragment (with its interface), an edge A -> B
  when A declares it uses B (``USES``, kind "uses").
- ``profile(events)``: what a run did, read from its trace (the live ``machine.trace`` or
  the dicts of a JSON Lines file): the syscalls made, the IPC messages within and across
  cores, the calls between fragments (the ``fragment`` events: caller, target, mode) and
  the page-fault and exception IPC that processes sent to fragments (``ipc-send`` with msg
  "pagefault"/"exception"), each call classed as it was paid — direct, IPC on one core,
  IPC across cores — with what its pieces cost and which lie on the run's critical path;
  each core's busy time by worker and its idle time. Cores of threads are replayed from the
  ``thread``/``migrate`` events, so a trace file is enough.
- ``minimal_set``: the smallest set of fragments closed under the dependency graph that
  holds the entry fragments and the fragments serving the program's syscalls. Without a
  profile, every ``USES`` edge is followed (for the Linux core that is every fragment); with
  one, only the edges the program exercised, which is the paper's method: what
  the program never reached is left out, and a call to it answers -ENOSYS.
- ``plan``: merges and a placement on K cores minimizing modeled cycles (algorithm below).

Cost model (``CallCosts``, from ``kernel_model.cost.CostTable``). A call between fragments
in one task is ``direct_call``, paid by the caller. An IPC call is six pieces, in the order
they pass: the caller's message (``ipc_inter_task``), an IPI, the callee's core switching to
the callee; the callee's reply, an IPI, the caller's core switching back. On one core there
is no IPI and each switch changes the address space (``context_switch`` and
``address_space_switch``). Across cores each message wakes its receiver as an IPI, and the
receiver cannot run before it lands (``scheduler.wake``; replies too,
``traps.reply_received``): the receiver's core idles for ``ipi`` cycles, then switches
without changing the address space [A: a core that idled in a wait still holds the task it
last ran — the caller's task, or for the callee the fragment that served the core's last
call across cores; the demos measure 100 to 200 cycles for these switches]. Messages and
switches keep a core busy; IPIs are waits.

A caller waits for its reply, so a run does not last as long as its busiest core's work.
It lasts as long as its critical path: the chain of work, switches and IPIs that ends last
(``critical_path``). ``profile`` records which pieces of each call lie on that path and
what they cost (switches as the trace reports them). ``predict`` rebuilds the run under
another placement and takes the longer of two lengths:
- the critical path: the measured length, with each piece on the path repriced as the
  placement makes that call;
- the busiest core: every worker keeps its measured work on the core its task gets (a
  worker is a fragment's server thread, or ``user@CORE``: the processes and the kernel of a
  core), less what its calls kept it busy; the calls are charged again to the cores of both
  sides as the placement makes them.
A call the placement makes as the profile run made it (same class, same cores) keeps its
measured cost, so ``predict`` gives back the measured cycles of the profile's own placement
exactly: the path is the run's length, and no core is busy for longer than that.
Assumptions [A]: the path keeps its shape. A call that ran alongside the path in the
profile run (another process's call, or a wake-up the kernel does not delay) stays off it,
though another placement may put it on the path by making it share a core with the path's
work. Switches outside calls (a server's first, at boot) keep their measured cost.
Processes keep the cores their pids give them. A fragment's work done inside a direct call
stays with its caller, so a profile from ``fragmented`` (every call an IPC) gives the
truest split.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from itertools import combinations, product
from typing import Iterable

import networkx as nx

from kernel_model.cost import DEFAULT_COSTS, CostTable

from . import critical_path
from .composition import Composition, TaskSpec

USER = "user"                # the processes (and kernel) of a core: user@0, user@1…
CLASSES = ("direct", "local", "remote")
# the pieces of a call, in the order they pass (``CallCosts.pieces``)
PIECES = tuple((half, piece) for half in ("call", "reply") for piece in ("message", "ipi", "switch"))


# --- the declared dependencies ----------------------------------------------------------
def dependency_graph(classes: dict[str, type]) -> nx.DiGraph:
    graph = nx.DiGraph()
    for name, cls in classes.items():
        graph.add_node(name, interface=cls.interface(), replicable=cls.REPLICABLE)
    for name, cls in classes.items():
        for peer in cls.USES:
            if peer != name:
                graph.add_edge(name, peer, kind="uses")
    return graph


def serving_fragments(syscalls: Iterable[str]) -> set[str]:
    """The fragments that serve the named Linux syscalls (``syscall_table``'s ``fragment``)."""
    from fragments.linux.syscall_table import by_name    # the Linux personality's table
    return {by_name(name).fragment.value for name in syscalls if by_name(name) is not None}


def minimal_set(classes: dict[str, type], syscalls: Iterable[str] = (), entries: Iterable[str] = (),
                reached: set[tuple[str, str]] | None = None) -> list[str]:
    """The closure of the entry fragments and the syscalls' serving fragments over the
    dependency graph (only ``reached`` edges when a profile gives ``reached``),
    in declaration order."""
    graph = dependency_graph(classes)
    todo = [f for f in list(entries) + sorted(serving_fragments(syscalls)) if f in graph]
    found = set(todo)
    while todo:
        name = todo.pop()
        for peer in graph.successors(name):
            if peer not in found and (reached is None or (name, peer) in reached):
                found.add(peer)
                todo.append(peer)
    return [name for name in classes if name in found]


# --- what a run did -----------------------------------------------------------------------
@dataclass
class Profile:
    """Syscalls, calls between fragments and process IPC of one run, from its trace."""
    core_time: dict[int, int] = field(default_factory=dict)    # core -> its last event's time
    syscalls: Counter = field(default_factory=Counter)         # name -> count
    # (caller, callee, caller's core, callee's core, "direct" or "ipc") -> calls
    calls: Counter = field(default_factory=Counter)
    messages: Counter = field(default_factory=Counter)         # IPC sends: "local", "remote"
    # (worker, core) -> cycles the worker kept the core busy: a fragment's server threads, or
    # user@CORE for the processes and the kernel on a core (the time between a core's events
    # goes to the thread of the later event: its work, IPC charges and the switch to it)
    work: Counter = field(default_factory=Counter)
    idle: Counter = field(default_factory=Counter)             # core -> cycles it waited
    # a call's key (as in ``calls``) + (half, piece) (``PIECES``) -> the cycles all its calls
    # paid for that piece (switches as the trace reports them); how many of its calls have
    # the piece on the critical path; what the piece cost them there
    paid: Counter = field(default_factory=Counter)
    path: Counter = field(default_factory=Counter)
    path_paid: Counter = field(default_factory=Counter)
    replicated: set[str] = field(default_factory=set)          # fragments that ran as replicas

    @property
    def cycles(self) -> int:
        return max(self.core_time.values(), default=0)

    def edges(self) -> Counter:
        """(caller, callee) -> calls, however they were made."""
        out = Counter()
        for (a, b, *_), n in self.calls.items():
            out[a, b] += n
        return out

    def classes(self) -> Counter:
        """(caller, callee, "direct" | "local" | "remote") -> calls."""
        out = Counter()
        for key, n in self.calls.items():
            out[key[0], key[1], _class(key)] += n
        return out

    def reached(self) -> set[tuple[str, str]]:
        return {edge for edge in self.edges() if not edge[0].startswith(USER)}


def event_dicts(trace) -> Iterable[dict]:
    """The events of a live ``Trace`` in the form of the JSON Lines export."""
    for e in trace.events:
        yield {"seq": e.seq, "time": e.time, "core": e.core, "kind": e.kind, "task": e.task,
               "thread": e.thread, **e.data}


def read_jsonl(path) -> list[dict]:
    with open(path, encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def _name(label: str) -> str:
    """A fragment's name from a label (replicas are NAME@CORE)."""
    return label.split("@", 1)[0]


def _class(key: tuple) -> str:
    """How a profiled call was made: "direct", "local" (IPC on one core) or "remote"."""
    _, _, ca, cb, mode = key
    return "direct" if mode == "direct" else "local" if ca == cb else "remote"


def profile(events: Iterable[dict], table: CostTable = DEFAULT_COSTS) -> Profile:
    """The profile of the run ``events`` record; ``table`` is the cost table it ran with."""
    events = list(events)
    critical = critical_path.walk(events, table)
    result = Profile()
    core_of: dict[str, int] = {}          # thread name -> core (the latest started holds it)
    calling: dict[str, tuple] = {}        # thread -> the call its next ipc-send makes
    awaiting: dict[str, tuple] = {}       # thread -> the call whose reply it waits for
    for e in events:
        kind, core, thread = e["kind"], e["core"], e["thread"]
        last = result.core_time.get(core, 0)
        wait = critical.waits.get(e["seq"], 0)
        result.idle[core] += wait
        result.work[_worker(thread, core), core] += e["time"] - last - wait
        result.core_time[core] = max(last, e["time"])
        if kind == "thread" and e.get("op") == "start":
            core_of[thread] = e["on_core"]
        elif kind == "migrate":
            core_of[thread] = e["to_core"]
        elif kind == "syscall":
            result.syscalls[e["name"]] += 1
        elif kind == "fragment" and e["mode"] != "absent":
            there = core_of.get(f"{e['target']}.server", core)
            key = (_name(e["caller"]), _name(e["target"]), core, there, e["mode"])
            result.calls[key] += 1
            if "@" in e["caller"]:
                result.replicated.add(key[0])
            if e["mode"] == "ipc":
                calling[thread] = key
            else:   # as if it were IPC: every piece on the path where the direct call is
                on = e["seq"] in critical.on_path
                for piece in PIECES:
                    paid = table.direct_call.cycles if piece == ("call", "message") else 0
                    _pay(result, key + piece, paid, on)
        elif kind == "ipc-send":
            there = core_of.get(e["to"], core)
            result.messages["local" if there == core else "remote"] += 1
            key = calling.pop(thread, None)
            if e.get("msg") in ("pagefault", "exception") and e["to"].endswith(".server"):
                key = (f"{USER}@{core}", _name(e["to"][:-len(".server")]), core, there, "ipc")
                result.calls[key] += 1
            if key is not None:
                awaiting[thread] = key
                _message(result, critical, table, key + ("call",), e)
        elif kind == "ipc-reply" and e["to"] in awaiting:
            _message(result, critical, table, awaiting.pop(e["to"]) + ("reply",), e)
    return result


def _message(result: Profile, critical: critical_path.CriticalPath, table: CostTable,
             half: tuple, e: dict) -> None:
    """Record the pieces of one half of a call (``half``: its key + "call" or "reply"),
    whose message is the event ``e``: the message (``ipc_inter_task``, or ``ipc_intra_task``
    within a task), on the path if the sender's time up to it is; the switch of the
    receiver's core to the receiver, as the trace reports it; across cores the IPI, on the
    path if the path hops from that switch to this message (on one core it would sit where
    the switch does)."""
    woke = critical.woke.get(e["seq"])        # the schedule that ran the receiver
    message = table.ipc_intra_task if e["task"] == e["to_task"] else table.ipc_inter_task
    if _class(half[:-1]) == "remote":
        ipi, ipi_on_path = table.ipi.cycles, critical.hops.get(woke) == e["seq"]
    else:
        ipi, ipi_on_path = 0, woke in critical.on_path
    _pay(result, half + ("message",), message.cycles, e["seq"] in critical.on_path)
    _pay(result, half + ("ipi",), ipi, ipi_on_path)
    _pay(result, half + ("switch",), critical.switches.get(woke, 0), woke in critical.on_path)


def _pay(result: Profile, piece: tuple, cycles: int, on_path: bool) -> None:
    result.paid[piece] += cycles
    if on_path:
        result.path[piece] += 1
        result.path_paid[piece] += cycles


def _worker(thread: str, core: int) -> str:
    """Who a thread works for: a fragment (its server thread), else what runs on the core
    whatever the composition (processes, the kernel)."""
    return _name(thread[:-len(".server")]) if thread.endswith(".server") else f"{USER}@{core}"


def traffic_graph(prof: Profile) -> nx.DiGraph:
    """The weighted traffic graph: an edge per (caller, callee) with ``calls`` and the
    count per cost class; processes appear as ``user@CORE`` nodes."""
    graph = nx.DiGraph()
    for (a, b, cls), n in sorted(prof.classes().items()):
        if not graph.has_edge(a, b):
            graph.add_edge(a, b, calls=0, **{c: 0 for c in CLASSES})
        graph[a][b]["calls"] += n
        graph[a][b][cls] += n
    for node in graph:
        graph.nodes[node]["kind"] = "user" if node.startswith(USER) else "fragment"
    return graph


def traffic_from_runtime(traffic: dict) -> nx.DiGraph:
    """The same graph from ``runtime.traffic`` (fragment calls only, with bytes)."""
    graph = nx.DiGraph()
    for (a, b), t in sorted(traffic.items()):
        graph.add_edge(a, b, calls=t.direct + t.ipc_local + t.ipc_remote, direct=t.direct,
                       local=t.ipc_local, remote=t.ipc_remote, bytes=t.bytes)
    return graph


# --- the cost of a placement --------------------------------------------------------------
@dataclass(frozen=True)
class CallCosts:
    """Cycles of one call, piece by piece, and which core is busy for them (see the module
    docstring)."""
    direct: int          # direct_call, to the caller
    message: int         # ipc_inter_task, to the sender of each of the two messages
    switch: int          # context_switch, to the core switching to the woken side
    space: int           # address_space_switch, likewise when the core's last task differs
    ipi: int             # the wait for a wake-up across cores (the receiver's core idles)

    @classmethod
    def from_table(cls, table: CostTable = DEFAULT_COSTS) -> "CallCosts":
        return cls(table.direct_call.cycles, table.ipc_inter_task.cycles, table.context_switch.cycles,
                   table.address_space_switch.cycles, table.ipi.cycles)

    def pieces(self, cls: str) -> dict[tuple[str, str], int]:
        """(half, piece) -> cycles of one call made as ``cls`` ("direct", "local" or
        "remote"), in the order they pass: the caller's message, the IPI, the callee's core
        switching to the callee; the callee's reply, the IPI, the caller's core switching
        back (a caller's core that idled through a remote call still holds its task)."""
        if cls == "direct":
            return {piece: self.direct if piece == ("call", "message") else 0 for piece in PIECES}
        remote = cls == "remote"
        ipi = self.ipi if remote else 0
        switch = self.switch + (0 if remote else self.space)
        return dict(zip(PIECES, (self.message, ipi, switch, self.message, ipi, switch)))

    def sides(self, cls: str) -> tuple[int, int]:
        """(caller's core, callee's core): the cycles one call keeps each busy (the IPIs
        are waits, not work)."""
        p = self.pieces(cls)
        return p["call", "message"] + p["reply", "switch"], p["call", "switch"] + p["reply", "message"]

    def of(self, cls: str) -> int:
        """A whole call, from the caller's message to the caller running again."""
        return sum(self.pieces(cls).values())


@dataclass
class Placement:
    """Which task holds each fragment, each task's core, which fragments have a replica
    per core (the original stays in its task; the others get a task each)."""
    task_of: dict[str, str]
    core_of: dict[str, int]                       # task -> core
    duplicate: set[str] = field(default_factory=set)

    def where(self, fragment: str, core: int) -> tuple[str, int]:
        """(task, core) of the instance of ``fragment`` a caller on ``core`` reaches."""
        task = self.task_of[fragment]
        if fragment in self.duplicate and self.core_of[task] != core:
            return f"{fragment}@{core}", core
        return task, self.core_of[task]

    def composition(self, name: str, description: str, subset: bool = False) -> Composition:
        tasks: dict[str, list[str]] = {}
        for fragment, task in self.task_of.items():
            tasks.setdefault(task, []).append(fragment)
        return Composition(name, [TaskSpec(t, f, self.core_of[t]) for t, f in tasks.items()],
                           False, sorted(self.duplicate), description, subset)


def placement_of(composition: Composition) -> Placement:
    return Placement({f: t.name for t in composition.tasks for f in t.fragments},
                     {t.name: t.core for t in composition.tasks}, set(composition.duplicate))


def _origins(prof: Profile, fragment: str, seen: int, placement: Placement) -> dict[int, float]:
    """The share of ``fragment``'s work and calls profiled on core ``seen`` that each core
    does under ``placement``: its home core's; a duplicated fragment's replica on ``seen``
    if it ran as replicas in the profile too, else the replicas of the cores of the
    processes that made it work (shares of the process IPC it received)."""
    home = placement.core_of[placement.task_of[fragment]]
    if fragment not in placement.duplicate:
        return {home: 1.0}
    if fragment in prof.replicated:
        return {seen: 1.0}
    users = Counter()
    for (a, b, ca, _, _), n in prof.calls.items():
        if b == fragment and a.startswith(USER):
            users[ca] += n
    total = sum(users.values())
    return {c: n / total for c, n in sorted(users.items())} if total else {home: 1.0}


def _placed(prof: Profile, placement: Placement) -> dict[tuple, list[tuple[float, int, int, str]]]:
    """Every profiled call between two fragments (or a process and a fragment) as
    ``placement`` makes it: key -> [(share, caller's core, callee's core, class)], empty if
    the placement holds only one side. A call made as it was made in the profile run is
    left out: it costs what it cost."""
    out = {}
    for key in prof.calls:
        a, b, ca, cb, _ = key
        if a == b:
            continue
        user = a.startswith(USER)
        made = []
        if b in placement.task_of and (user or a in placement.task_of):
            for core, share in ({ca: 1.0} if user else _origins(prof, a, ca, placement)).items():
                from_task = None if user else placement.where(a, core)[0]
                to_task, to_core = placement.where(b, core)
                cls = "direct" if from_task == to_task else "local" if to_core == core else "remote"
                made.append((share, core, to_core, cls))
        if made != [(1.0, ca, cb, _class(key))]:
            out[key] = made
    return out


def core_loads(prof: Profile, placement: Placement, costs: CallCosts, placed=None) -> Counter:
    """Per core: the cycles it is busy in the profiled run under ``placement``. Each
    worker's measured work goes to the core of its task (a duplicated fragment's, shared
    out like its calls), less what the calls the placement makes otherwise kept it busy;
    those are charged again to the cores of both sides as the placement makes them."""
    placed = _placed(prof, placement) if placed is None else placed
    paid = Counter()
    for key in placed:
        a, b, ca, cb, _ = key
        paid[a, ca] += prof.paid[key + ("call", "message")] + prof.paid[key + ("reply", "switch")]
        paid[b, cb] += prof.paid[key + ("call", "switch")] + prof.paid[key + ("reply", "message")]
    sides = {cls: costs.sides(cls) for cls in CLASSES}
    loads = Counter()
    for (worker, core), cycles in prof.work.items():
        net = cycles - paid[worker, core]
        if worker.startswith(USER):
            loads[core] += net
        elif worker in placement.task_of:
            for there, share in _origins(prof, worker, core, placement).items():
                loads[there] += net * share
    for key, made in placed.items():
        for share, core, to_core, cls in made:
            mine, theirs = sides[cls]
            loads[core] += prof.calls[key] * share * mine
            loads[to_core] += prof.calls[key] * share * theirs
    return loads


def path_length(prof: Profile, placement: Placement, costs: CallCosts, placed=None) -> float:
    """The profiled run's critical path under ``placement``: its measured length, with the
    pieces on it of every call the placement makes otherwise priced as it makes them."""
    placed = _placed(prof, placement) if placed is None else placed
    prices = {cls: costs.pieces(cls) for cls in CLASSES}
    length = prof.cycles
    for (*key, half, piece), n in prof.path.items():
        made = placed.get(tuple(key))
        if made is not None:
            now = sum(share * prices[cls][half, piece] for share, _, _, cls in made)
            length += n * now - prof.path_paid[(*key, half, piece)]
    return length


def predict(prof: Profile, placement: Placement, costs: CallCosts) -> int:
    """Modeled cycles of the profiled program under ``placement``: its critical path, or
    the busiest core's load if that is longer."""
    return _score(prof, placement, costs)[0]


def _score(prof: Profile, placement: Placement, costs: CallCosts) -> tuple[int, int]:
    """(predicted cycles, total busy cycles of all cores) under ``placement``."""
    placed = _placed(prof, placement)
    loads = core_loads(prof, placement, costs, placed)
    path = path_length(prof, placement, costs, placed)
    return round(max(path, *loads.values())), round(sum(loads.values()))


# --- the planner ------------------------------------------------------------------------
@dataclass
class Plan:
    placement: Placement
    predicted: int
    merges: list[tuple[str, str, int]]        # (group, group, calls between them), in order

    def composition(self, name: str = "planned", subset: bool = False) -> Composition:
        merges = "; ".join(f"{a} + {b} ({n} calls)" for a, b, n in self.merges) or "none"
        return self.placement.composition(
            name, f"planned: predicted {self.predicted} cycles; merges: {merges}", subset)


EXHAUSTIVE = 4096      # placements tried one by one up to this many, else hill climbing


def plan(prof: Profile, classes: dict[str, type], cores: int, table: CostTable = DEFAULT_COSTS,
         fragments: Iterable[str] | None = None, isolate: Iterable[str] = (),
         max_task: int | None = None, min_gain: float = 0.02) -> Plan:
    """Propose merges, replicas and a placement on ``cores`` cores.

    Algorithm (greedy agglomerative merging, then a placement search):
    1. Groups start as single fragments.
    2. Merge: take the pair of groups with the most calls between them; merge it unless a
       group holds a fragment in ``isolate`` (it keeps a task of its own), the result would
       exceed ``max_task`` fragments, or the merge would save less than ``min_gain`` of the
       total IPC cost (a cut that costs next to nothing is kept, for isolation). A refused
       pair is not tried again; repeat until no pair qualifies.
    3. Placement: the groups are tasks; every assignment of tasks to cores is tried when
       there are at most ``EXHAUSTIVE`` of them, else hill climbing from all on core 0
       (move one task to another core while that lowers the prediction). With more than
       one core, every subset of the replicable fragments is tried as the duplicated set.
       The objective is ``predict`` (the longer of the critical path and the busiest
       core), then the cores' total busy cycles, then fewer replicas. Processes stay on
       the cores their pids give them.
    """
    costs = CallCosts.from_table(table)
    names = [n for n in (fragments if fragments is not None else classes) if n in classes]
    isolate = set(isolate)
    edges = prof.edges()
    groups = [(name,) for name in names]
    saving = costs.of("local") - costs.direct
    total = sum(n for (a, b), n in edges.items() if a != b and a in names and b in names) * saving
    merges, refused = [], set()
    while (pair := _heaviest_pair(groups, edges, refused)) is not None:
        (a, b), calls = pair
        if (isolate & (set(a) | set(b)) or (max_task is not None and len(a) + len(b) > max_task)
                or calls == 0 or calls * saving < min_gain * total):
            refused.add(frozenset((a, b)))
            continue
        merges.append(("+".join(a), "+".join(b), calls))
        groups = [g for g in groups if g not in (a, b)] + [tuple(n for n in names if n in a + b)]
    task_of = {f: "-".join(g) for g in groups for f in g}
    tasks = sorted(set(task_of.values()), key=lambda t: names.index(t.split("-")[0]))
    replicable = [n for n in names if classes[n].REPLICABLE] if cores > 1 else []
    best = None
    for choice in product((False, True), repeat=len(replicable)):
        duplicate = {n for n, on in zip(replicable, choice) if on}
        for placement in _placements(prof, tasks, task_of, duplicate, cores, costs):
            key = (*_score(prof, placement, costs), len(duplicate))
            if best is None or key < best[0]:
                best = (key, placement)
    return Plan(best[1], best[0][0], merges)


def _placements(prof, tasks, task_of, duplicate, cores, costs):
    """Candidate placements: all of them, or the end of a hill climb (step 3 of ``plan``)."""
    def make(assignment) -> Placement:
        return Placement(dict(task_of), dict(zip(tasks, assignment)), set(duplicate))
    if cores ** len(tasks) <= EXHAUSTIVE:
        yield from (make(a) for a in product(range(cores), repeat=len(tasks)))
        return
    current = [0] * len(tasks)
    score = predict(prof, make(current), costs)
    improved = True
    while improved:
        improved = False
        for i, core in product(range(len(tasks)), range(cores)):
            trial = current[:i] + [core] + current[i + 1:]
            trial_score = predict(prof, make(trial), costs)
            if trial_score < score:
                current, score, improved = trial, trial_score, True
    yield make(current)


def _heaviest_pair(groups, edges: Counter, refused: set):
    best = None
    for a, b in combinations(groups, 2):
        if frozenset((a, b)) in refused:
            continue
        calls = sum(n for (x, y), n in edges.items() if (x in a and y in b) or (x in b and y in a))
        if best is None or calls > best[1]:
            best = ((a, b), calls)
    return best
