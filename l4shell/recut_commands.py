"""The re-cut commands: split, merge, migrate, duplicate, each with a before/after summary
of tasks, capabilities and bindings."""

from __future__ import annotations

from .commands import CommandError, command, number


def summary(system) -> dict[str, str]:
    """Per task holding fragments: its fragments, core, capability count and bindings."""
    rt = system.runtime
    out = {}
    for host in rt.hosts:
        ipc = sorted({p.label for f in host.fragments for name in f.USES
                      for p in rt.instances.get(name, []) if p.host is not host})
        out[host.name] = (f"core {host.core}, {len(host.task.caps)} caps, "
                          f"fragments {','.join(f.label for f in host.fragments)}; "
                          f"IPC to {','.join(ipc) or '-'}")
    return out


def _recut(dbg, op: str, *args) -> str:
    system = dbg.session.system
    before = summary(system)
    steps = dbg.session.steps
    dbg.session.recut(op, *args)
    after = summary(dbg.session.system)
    lines = [f"{op} done" + (f" (waited {dbg.session.steps - steps} steps for the tasks to rest)"
                             if dbg.session.steps != steps else "")]
    for name in sorted(before.keys() | after.keys()):
        if before.get(name) != after.get(name):
            lines.append(f"  - {name}: {before[name]}" if name in before else "")
            lines.append(f"  + {name}: {after[name]}" if name in after else "")
    return "\n".join(line for line in lines if line)


@command("split", "split FRAGMENT", "move a fragment out of its task into a new one", complete=("fragment",))
def _split(dbg, args):
    if len(args) != 1:
        raise CommandError("usage: split FRAGMENT")
    return _recut(dbg, "split", args[0])


@command("merge", "merge FRAGMENT FRAGMENT…", "put fragments into one task (the first one's)",
         complete=("fragment…",))
def _merge(dbg, args):
    if len(args) < 2:
        raise CommandError("usage: merge FRAGMENT FRAGMENT…")
    return _recut(dbg, "merge", list(args))


@command("migrate", "migrate TASK|FRAGMENT CORE", "move a task's threads (and its IRQ routing) to a core",
         complete=("fragment-or-task", ""))
def _migrate(dbg, args):
    if len(args) != 2:
        raise CommandError("usage: migrate TASK|FRAGMENT CORE")
    return _recut(dbg, "migrate", args[0], number(args[1], "a core"))


@command("duplicate", "duplicate FRAGMENT", "a replica per core of a stateless or per-core fragment",
         complete=("fragment",))
def _duplicate(dbg, args):
    if len(args) != 1:
        raise CommandError("usage: duplicate FRAGMENT")
    return _recut(dbg, "duplicate", args[0])
