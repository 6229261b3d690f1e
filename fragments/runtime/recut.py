"""Re-cutting a running system: split, merge, migrate, duplicate.

Each operation is atomic between two machine steps and leaves one ``recut`` trace event.
It first lets the hosts it touches settle (steps the machine until their threads wait in
an open receive with nothing half-handled), so no message is in flight to a moved
fragment: a gate's queue is empty while its thread is receiving, and a deferred call
stays in the fragment's own state, which moves with it. Pages move by grant (the pages a
pager lent stay lent), endpoints are re-bound to the new thread, and ``rewire`` re-derives
every task's capabilities.
"""

from __future__ import annotations

from .fragment import Fragment
from .host import Host
from .runtime import Runtime

SETTLE_STEPS = 200_000


class RecutError(ValueError):
    """The operation cannot apply; the message says why."""


def find(runtime: Runtime, label: str) -> Fragment:
    """A fragment by name, or a replica as NAME@CORE."""
    for fragment in runtime.all_fragments():
        if fragment.label == label or (fragment.NAME == label and len(runtime.instances[label]) == 1):
            return fragment
    if label in runtime.instances:
        cores = ", ".join(f.label for f in runtime.instances[label])
        raise RecutError(f"{label} is duplicated; name a replica ({cores})")
    raise RecutError(f"no fragment {label!r} (fragments: {', '.join(sorted(runtime.instances))})")


def find_host(runtime: Runtime, name: str) -> Host:
    for host in runtime.hosts:
        if host.name == name or str(host.task.oid) == name:
            return host
    return find(runtime, name).host


def settle(machine, hosts: list[Host]) -> int:
    """Step until every host in ``hosts`` is quiet; returns the steps taken."""
    steps = 0
    while not all(h.quiet() for h in hosts):
        if steps >= SETTLE_STEPS or machine.step() is None:
            busy = ", ".join(h.name for h in hosts if not h.quiet())
            raise RecutError(f"task {busy} did not come to rest (it is blocked in a call)")
        steps += 1
    return steps


def _unique(runtime: Runtime, name: str) -> str:
    taken = {t.name for t in runtime.kernel.tasks}
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}.{n}", n + 1
    return candidate


def split(runtime: Runtime, label: str) -> Host:
    fragment = find(runtime, label)
    old = fragment.host
    if len(old.fragments) == 1:
        raise RecutError(f"{label} is already alone in task {old.name}")
    settle(runtime.machine, [old])
    host = runtime.new_host(_unique(runtime, fragment.label), old.core)
    runtime.move(fragment, host)
    runtime.kernel.emit("recut", thread=fragment.server.thread, op="split", fragment=label,
                        into=host.name, from_task=old.name)
    return host


def merge(runtime: Runtime, labels: list[str]) -> Host:
    if len(labels) < 2:
        raise RecutError("merge needs at least two fragments")
    twice = sorted({label for label in labels if labels.count(label) > 1})
    if twice:
        raise RecutError(f"merge names {', '.join(twice)} more than once")
    fragments = [find(runtime, label) for label in labels]
    target = fragments[0].host
    if all(f.host is target for f in fragments):
        raise RecutError(f"{', '.join(labels)} already share task {target.name}")
    hosts = list(dict.fromkeys(f.host for f in fragments))
    settle(runtime.machine, hosts)
    for fragment in fragments[1:]:
        if fragment.host is not target:
            runtime.move(fragment, target)
    for host in hosts:
        if not host.fragments:
            runtime.remove_host(host)
    runtime.kernel.emit("recut", thread=fragments[0].server.thread, op="merge", fragments=",".join(labels),
                        into=target.name)
    return target


def migrate(runtime: Runtime, name: str, core: int) -> Host:
    host = find_host(runtime, name)
    cores = len(runtime.machine.cores)
    if not 0 <= core < cores:
        raise RecutError(f"no core {core} (the machine has {cores}: 0..{cores - 1})")
    if host.core == core:
        raise RecutError(f"task {host.name} is already on core {core}")
    if any(f.replica_core is not None for f in host.fragments):
        raise RecutError(f"task {host.name} holds a per-core replica; replicas stay on their core")
    settle(runtime.machine, [host])
    old, threads = host.core, [s.thread for s in host.servers]
    host.core = core
    for thread in threads:
        runtime.machine.scheduler.migrate(thread, core)
    for line in runtime.machine.gic.lines:      # IRQ routing follows the threads
        if line.irq is not None and line.irq.thread in threads:
            line.target_core = core
    runtime.kernel.emit("recut", thread=threads[0], op="migrate", host=host.name,
                        from_core=old, to_core=core)
    return host


def duplicate(runtime: Runtime, name: str, boot=None) -> list[Fragment]:
    """A replica of ``name`` on every core that lacks one; ``boot(replica)`` readies each."""
    cls = runtime.classes.get(name)
    if cls is None:
        raise RecutError(f"no fragment {name!r}")
    if not cls.REPLICABLE:
        raise RecutError(f"{name} cannot be duplicated: it is neither stateless nor per-core")
    replicas = runtime.instances[name]
    if len(replicas) > 1:
        raise RecutError(f"{name} is already duplicated ({', '.join(r.label for r in replicas)})")
    settle(runtime.machine, runtime.hosts)   # no protocol half-way: replica choice changes now
    original = replicas[0]
    original.replica_core = original.host.core
    made = []
    for core in range(len(runtime.machine.cores)):
        if core == original.replica_core:
            continue
        host = runtime.new_host(_unique(runtime, f"{name}@{core}"), core)
        replica = runtime.add(cls, host, replica_core=core)
        if boot is not None:
            boot(replica)
        made.append(replica)
    runtime.kernel.emit("recut", op="duplicate", fragment=name,
                        replicas=",".join(r.label for r in runtime.instances[name]))
    return made
