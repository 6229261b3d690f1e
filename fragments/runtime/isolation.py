"""Isolation: what each fragment can reach, read from the live page and capability tables.

Nothing here comes from declarations: the subjects are the fragments, but what they reach
is found in ``task.space.pages`` (vpn -> MapNode of a frame, with rights) and
``task.caps`` (slot -> MapNode of a kernel object) of the tasks as they are now.

Reachability rules, over a directed capability graph (networkx):
- a fragment reaches everything of the task that holds it (fragments in one task share it
  all): every page mapped there, with its rights, and every capability in its table;
- a capability to a Task reaches that task, its memory and its capabilities (Fiasco's task
  map takes a source-task capability: the holder can map the task's pages and capabilities
  into its own); a capability to a Thread reaches the thread's task (``ex_regs`` lets the
  holder run code there); reachability is transitive;
- a capability to an IPC gate reaches the interface of the fragment served through it
  (the operations, or the page-fault or exception protocol it answers), not its memory;
- an Irq, the Factory and the ICU reach no other task's memory or capabilities.
Memory is counted by frame: a frame mapped in two tasks (a binding window, a page the pager
lent to a process) is reached from both. A secret (``Fragment.map_new_page(…, secret=)``)
is the set of frames at its pages; a fragment reaches it when it reaches any of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx

from kernel_model.caps import MEM_W, MEM_X, mem_rights_str, obj_rights_str
from kernel_model.objects import IpcGate, Task, Thread


@dataclass
class Region:
    """A run of consecutive pages of one task with equal rights and the same secret."""
    task: str
    start: int
    end: int
    rights: int
    frames: list[int]
    secret: str | None = None

    def __str__(self) -> str:
        mark = f" secret: {self.secret}" if self.secret else ""
        return (f"{self.task} {self.start:#010x}-{self.end:#010x} {mem_rights_str(self.rights)} "
                f"{len(self.frames)} page{'s' if len(self.frames) != 1 else ''}{mark}")


@dataclass
class Cap:
    task: str            # whose table
    slot: int
    kind: str            # task, thread, gate, irq, factory, icu…
    name: str
    rights: int

    def __str__(self) -> str:
        return f"{self.task}[{self.slot}] {self.kind}:{self.name} {obj_rights_str(self.rights)}"


@dataclass
class Reach:
    """What one fragment can reach."""
    fragment: str                  # its label
    task: str                      # the task holding it
    tasks: list[str]               # tasks whose memory and capabilities it reaches (its own first)
    regions: list[Region]
    caps: list[Cap]
    interfaces: list[str]          # endpoints it can call: fragment labels, pf/exc gates
    colocated: list[str]           # the other fragments in its task (it reaches all of them)
    secrets: list[str] = field(default_factory=list)

    @property
    def frames(self) -> set[int]:
        return {f for r in self.regions for f in r.frames}

    def pages(self, rights: int | None = None) -> int:
        return sum(len(r.frames) for r in self.regions if rights is None or r.rights == rights)

    def writable_and_executable(self) -> int:
        """Pages it reaches mapped both writable and executable."""
        return sum(len(r.frames) for r in self.regions
                   if r.rights & MEM_W and r.rights & MEM_X)


@dataclass
class Report:
    fragments: list[Reach]
    secrets: dict[str, list[str]]        # secret -> labels of the fragments that reach it
    secret_frames: dict[str, set[int]]   # secret -> its frames

    def of(self, label: str) -> Reach:
        return next(r for r in self.fragments if r.fragment == label)


def capability_graph(runtime) -> nx.DiGraph:
    """Tasks and objects as nodes; an edge from a task to each object in its table, from a
    Task object to nothing (it *is* the node), from a Thread to its task, from a gate to
    the interface served through it ("iface:LABEL")."""
    graph = nx.DiGraph()
    served = {id(e.obj): e for e in runtime.endpoints.values()}
    for task in runtime.kernel.tasks:
        if not task.alive:
            continue
        graph.add_node(task)
        for slot, node in task.caps.items():
            obj = node.resource
            if isinstance(obj, Task) and not obj.alive:
                continue                    # a destroyed task holds nothing any more
            graph.add_edge(task, obj, slot=slot, rights=node.rights)
            if isinstance(obj, Thread):
                graph.add_edge(obj, obj.task)
            elif isinstance(obj, IpcGate):
                graph.add_edge(obj, f"iface:{_served(served.get(id(obj)), obj)}")
    return graph


def _served(endpoint, gate) -> str:
    """The interface behind a gate: the fragment's label for a service gate, else the
    gate's name (pf.PID, exc.PID: the page-fault and exception protocol of a process)."""
    if endpoint is not None and gate is endpoint.fragment.service.obj:
        return endpoint.fragment.label
    return gate.name


def secret_frames(runtime) -> dict[str, set[int]]:
    """Secret name -> the frames at the pages marked with it, in the holders' tasks."""
    out: dict[str, set[int]] = {}
    for fragment in runtime.all_fragments():
        for vpn, name in fragment.secrets.items():
            node = fragment.host.task.space.pages.get(vpn)
            if node is not None:
                out.setdefault(name, set()).add(node.resource)
    return out


def regions(task: Task, secrets: dict[int, str]) -> list[Region]:
    """Runs of ``task``'s pages with equal rights and secret (``secrets``: frame -> name)."""
    out: list[Region] = []
    for vpn in sorted(task.space.pages):
        node = task.space.pages[vpn]
        secret = secrets.get(node.resource)
        last = out[-1] if out else None
        if (last is not None and last.end == vpn << 12 and last.rights == node.rights
                and last.secret == secret):
            last.end += 1 << 12
            last.frames.append(node.resource)
        else:
            out.append(Region(task.name, vpn << 12, (vpn + 1) << 12, node.rights, [node.resource], secret))
    return out


def report(runtime) -> Report:
    graph = capability_graph(runtime)
    secrets = secret_frames(runtime)
    by_frame = {frame: name for name, frames in secrets.items() for frame in frames}
    reaches, reached_by = [], {name: [] for name in sorted(secrets)}
    for fragment in runtime.all_fragments():
        own = fragment.host.task
        found = nx.descendants(graph, own) | {own}
        tasks = [own] + sorted((n for n in found if isinstance(n, Task) and n is not own),
                               key=lambda t: t.oid)
        reach = Reach(fragment.label, own.name, [t.name for t in tasks],
                      [r for t in tasks for r in regions(t, by_frame)],
                      [Cap(t.name, slot, node.resource.kind, node.resource.name, node.rights)
                       for t in tasks for slot, node in t.caps.items()],
                      sorted(n[len("iface:"):] for n in found if isinstance(n, str)),
                      [f.label for f in fragment.host.fragments if f is not fragment])
        frames = reach.frames
        reach.secrets = [name for name in sorted(secrets) if secrets[name] & frames]
        for name in reach.secrets:
            reached_by[name].append(fragment.label)
        reaches.append(reach)
    return Report(reaches, reached_by, secrets)
