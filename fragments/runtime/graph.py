"""Fragment graphs: dependencies, measured traffic, the minimal set for a program, the planner.

- ``dependency_graph(classes)``: a node per fragment (with its interface), an edge A -> B
  when A declares it uses B (``USES``, kind "uses"), and edges both ways between a fragment
  and the one it is pinned to (``PINNED_TO``, kind "pinned": reached by reference).
- ``profile(events)``: what a run did, read from its trace (the live ``machine.trace`` or
  the dicts of a JSON Lines file): the syscalls made, the IPC messages within and across
  cores, the calls between fragments (the ``fragment`` events: caller, target, mode) and
  the page-fault and exception IPC that processes sent to fragments (``ipc-send`` with msg
  "pagefault"/"exception"), each call classed as it was paid — direct, IPC on one core,
  IPC across cores. Cores of threads are replayed from the ``thread``/``migrate`` events,
  so a trace file is enough.
- ``minimal_set``: the smallest set of fragments closed under the dependency graph that
  holds the entry fragments and the fragments serving the program's syscalls. Without a
  profile, every ``USES`` edge is followed (for the Linux core that is every fragment); with
  one, only the edges the program exercised (and pins), which is the paper's method: what
  the program never reached is left out, and a call to it answers -ENOSYS.
- ``plan``: merges and a placement on K cores minimizing modeled cycles (algorithm below).

Cost model (``CallCosts``, from ``kernel_model.cost.CostTable``), charged to the cores as
the machine charges them: a call between fragments in one task costs ``direct_call`` to the
caller. An IPC call on one core costs each side one ``ipc_inter_task`` message, one
``context_switch`` and one ``address_space_switch`` (the switch to it). Across cores the
callee's side also pays an ``ipi`` (its wake-up), while the caller's core, which waited
idle, pays its message and a thread switch back, no space switch and no IPI: the kernel
model wakes a caller with a reply without an IPI delay (``traps.reply_received``), so a
wait across cores costs its core nothing. ``predict`` (``core_loads``) rebuilds the run
under another placement: every worker (a fragment's server thread; the processes and the
kernel of a core) keeps its measured work less what the model charges it for the calls
as they were made, on the core its task gets; every call is charged again as the placement
makes it; the prediction is the busiest core's total. It gives back the measured cycles of
the profile's own placement exactly. Processes keep the cores their pids give them; a
fragment's work done inside a direct call stays with its caller, so a profile from
``fragmented`` (every call an IPC) gives the truest split.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from itertools import combinations, product
from typing import Iterable

import networkx as nx

from kernel_model.cost import DEFAULT_COSTS, CostTable

from .composition import Composition, TaskSpec

USER = "user"                # the processes (and kernel) of a core: user@0, user@1…
CLASSES = ("direct", "local", "remote")


# --- the declared dependencies ----------------------------------------------------------
def dependency_graph(classes: dict[str, type]) -> nx.DiGraph:
    graph = nx.DiGraph()
    for name, cls in classes.items():
        graph.add_node(name, interface=cls.interface(), replicable=cls.REPLICABLE,
                       pinned_to=getattr(cls, "PINNED_TO", None))
    for name, cls in classes.items():
        for peer in cls.USES:
            if peer != name:
                graph.add_edge(name, peer, kind="uses")
        pinned = getattr(cls, "PINNED_TO", None)
        if pinned:
            graph.add_edge(name, pinned, kind="pinned")
            graph.add_edge(pinned, name, kind="pinned")
    return graph


def serving_fragments(syscalls: Iterable[str]) -> set[str]:
    """The fragments that serve the named Linux syscalls (``syscall_table``'s ``fragment``)."""
    from fragments.linux.syscall_table import by_name    # the Linux personality's table
    return {by_name(name).fragment.value for name in syscalls if by_name(name) is not None}


def minimal_set(classes: dict[str, type], syscalls: Iterable[str] = (), entries: Iterable[str] = (),
                reached: set[tuple[str, str]] | None = None) -> list[str]:
    """The closure of the entry fragments and the syscalls' serving fragments over the
    dependency graph (only ``reached`` edges and pins when a profile gives ``reached``),
    in declaration order."""
    graph = dependency_graph(classes)
    todo = [f for f in list(entries) + sorted(serving_fragments(syscalls)) if f in graph]
    found = set(todo)
    while todo:
        name = todo.pop()
        for _, peer, kind in graph.out_edges(name, data="kind"):
            if peer not in found and (kind == "pinned" or reached is None or (name, peer) in reached):
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
    # cycles charged while each worker ran: a fragment's server threads, or user@CORE for
    # the processes and the kernel on a core (the time between a core's events goes to the
    # thread of the later event: its work, IPC charges, the switch to it and waits)
    work: Counter = field(default_factory=Counter)

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
        for (a, b, ca, cb, mode), n in self.calls.items():
            out[a, b, "direct" if mode == "direct" else "local" if ca == cb else "remote"] += n
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


def profile(events: Iterable[dict]) -> Profile:
    result = Profile()
    core_of: dict[str, int] = {}          # thread name -> core (the latest started holds it)
    for e in events:
        kind, core = e["kind"], e["core"]
        last = result.core_time.get(core, 0)
        result.work[_worker(e["thread"], core)] += e["time"] - last
        result.core_time[core] = max(last, e["time"])
        if kind == "thread" and e.get("op") == "start":
            core_of[e["thread"]] = e["on_core"]
        elif kind == "migrate":
            core_of[e["thread"]] = e["to_core"]
        elif kind == "syscall":
            result.syscalls[e["name"]] += 1
        elif kind == "fragment" and e["mode"] != "absent":
            there = core_of.get(f"{e['target']}.server", core)
            result.calls[_name(e["caller"]), _name(e["target"]), core, there, e["mode"]] += 1
        elif kind == "ipc-send":
            there = core_of.get(e["to"], core)
            result.messages["local" if there == core else "remote"] += 1
            if e.get("msg") in ("pagefault", "exception") and e["to"].endswith(".server"):
                target = _name(e["to"][:-len(".server")])
                result.calls[f"{USER}@{core}", target, core, there, "ipc"] += 1
    return result


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
    """Cycles of one call and who pays them (see the module docstring)."""
    direct: int          # direct_call, to the caller
    message: int         # ipc_inter_task, to the sender of each of the two messages
    switch: int          # context_switch, to the core switching to the woken side
    space: int           # address_space_switch, likewise when the core's last task differs
    ipi: int             # the callee's wake-up across cores

    @classmethod
    def from_table(cls, table: CostTable = DEFAULT_COSTS) -> "CallCosts":
        return cls(table.direct_call.cycles, table.ipc_inter_task.cycles, table.context_switch.cycles,
                   table.address_space_switch.cycles, table.ipi.cycles)

    def sides(self, direct: bool, remote: bool) -> tuple[int, int]:
        """(caller's share, callee's share) of one call."""
        if direct:
            return self.direct, 0
        callee = self.message + self.switch + self.space
        if not remote:
            return callee, callee
        return self.message + self.switch, callee + self.ipi

    def of(self, cls: str) -> int:
        """A whole call: "direct", "local" (IPC on one core) or "remote" (across cores)."""
        return sum(self.sides(cls == "direct", cls == "remote"))

    def charge(self, loads: Counter, caller, callee, direct: bool, remote: bool, n: float) -> None:
        """Add ``n`` calls to ``loads`` (keyed by worker or by core)."""
        mine, theirs = self.sides(direct, remote)
        loads[caller] += n * mine
        loads[callee] += n * theirs


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


def _origins(prof: Profile, fragment: str, home: int, placement: Placement) -> dict[int, float]:
    """The share of ``fragment``'s outgoing calls made on each core: a duplicated fragment
    calls from the replica of the core of the process that made it work (shares of the
    process IPC it received), any other from its home core."""
    if fragment not in placement.duplicate:
        return {home: 1.0}
    users = Counter()
    for (a, b, ca, _, _), n in prof.calls.items():
        if b == fragment and a.startswith(USER):
            users[ca] += n
    total = sum(users.values())
    return {c: n / total for c, n in sorted(users.items())} if total else {home: 1.0}


def core_loads(prof: Profile, placement: Placement, costs: CallCosts) -> Counter:
    """Per core: the modeled cycles of the profiled run under ``placement``. Each worker's
    measured work, less the call charges it paid in the profile run, goes to the core of
    its task (a duplicated fragment's, shared out like its calls); then every call is
    charged to the cores of both sides as the placement makes it."""
    observed = Counter()
    for (a, b, ca, cb, mode), n in prof.calls.items():
        if a != b:
            costs.charge(observed, a, b, mode == "direct", ca != cb, n)
    loads = Counter()
    for worker, cycles in prof.work.items():
        net = cycles - observed[worker]
        if worker.startswith(USER):
            loads[int(worker.split("@")[1])] += net
        elif worker in placement.task_of:
            home = placement.core_of[placement.task_of[worker]]
            for core, share in _origins(prof, worker, home, placement).items():
                loads[core] += net * share
    for (a, b, ca, _, _), n in prof.calls.items():
        if a == b or b not in placement.task_of:
            continue
        if a.startswith(USER):
            origins, home_task = {ca: 1.0}, None
        elif a in placement.task_of:
            home_task = placement.task_of[a]
            origins = _origins(prof, a, placement.core_of[home_task], placement)
        else:
            continue
        for core, share in origins.items():
            from_task = placement.where(a, core)[0] if home_task else None
            to_task, to_core = placement.where(b, core)
            costs.charge(loads, core, to_core, from_task == to_task, to_core != core, n * share)
    return loads


def predict(prof: Profile, placement: Placement, costs: CallCosts) -> int:
    """Modeled cycles (those of the busiest core) of the profiled program under ``placement``."""
    return round(max(core_loads(prof, placement, costs).values(), default=0))


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
    1. Groups start as single fragments, a fragment and the one it is pinned to together.
    2. Merge: take the pair of groups with the most calls between them; merge it unless a
       group holds a fragment in ``isolate`` (it keeps a task of its own), the result would
       exceed ``max_task`` fragments, or the merge would save less than ``min_gain`` of the
       total IPC cost (a cut that costs next to nothing is kept, for isolation). A refused
       pair is not tried again; repeat until no pair qualifies.
    3. Placement: the groups are tasks; every assignment of tasks to cores is tried when
       there are at most ``EXHAUSTIVE`` of them, else hill climbing from all on core 0
       (move one task to another core while that lowers the prediction). With more than
       one core, every subset of the replicable fragments is tried as the duplicated set.
       The objective is ``predict``: the busiest core's modeled cycles (then the total,
       then fewer replicas). Processes stay on the cores their pids give them.
    """
    costs = CallCosts.from_table(table)
    names = [n for n in (fragments if fragments is not None else classes) if n in classes]
    isolate = set(isolate)
    edges = prof.edges()
    groups = _pinned_groups(names, classes)
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
            loads = core_loads(prof, placement, costs)
            key = (round(max(loads.values())), round(sum(loads.values())), len(duplicate))
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


def _pinned_groups(names: list[str], classes: dict[str, type]) -> list[tuple[str, ...]]:
    graph = nx.Graph()
    graph.add_nodes_from(names)
    for n in names:
        pinned = getattr(classes[n], "PINNED_TO", None)
        if pinned in names:
            graph.add_edge(n, pinned)
    return [tuple(n for n in names if n in component) for component in
            sorted(nx.connected_components(graph), key=lambda c: min(names.index(n) for n in c))]


def _heaviest_pair(groups, edges: Counter, refused: set):
    best = None
    for a, b in combinations(groups, 2):
        if frozenset((a, b)) in refused:
            continue
        calls = sum(n for (x, y), n in edges.items() if (x in a and y in b) or (x in b and y in a))
        if best is None or calls > best[1]:
            best = ((a, b), calls)
    return best
