"""Inspection commands: info …, x, regs, disas, pfpath, trace, stats, strace.

Each reads the model (through ``kernel_model.inspection`` and the trace) and renders text;
none changes it. TASK is a name or a number everywhere; without one, the task of the last
event is meant.
"""

from __future__ import annotations

import struct

from kernel_model import inspection
from kernel_model.addrspace import MemoryFault
from kernel_model.caps import mem_rights_str, obj_rights_str

from .commands import CommandError, command, number
from .stats import format_stats

INFO_TOPICS = "{cores|tasks|threads|fragments|irqs|queues|bindings|caps|mem|breakpoints|checkpoints}"
SNAPSHOT_TOPICS = ("cores", "threads", "irqs", "queues")   # those read kernel_model.inspection


def table(rows: list[tuple], header: tuple) -> str:
    rows = [tuple(str(c) for c in r) for r in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in rows)) if rows else len(str(h)) for i, h in enumerate(header)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*header)] + [fmt.format(*r) for r in rows])


def find_task(dbg, name: str | None):
    machine = dbg.session.machine
    if name is None:
        events = machine.trace.events
        name = events[-1].task if events else ""
    task = machine.kernel.find_task(name)
    if task is None:
        task = machine.kernel.find_task(int(name)) if name.isdigit() else None
    if task is None:
        raise CommandError(f"no task {name!r} (see 'info tasks')")
    return task


def _fragments_of(dbg) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for host in dbg.session.system.runtime.hosts:
        out[host.task.name] = [f.label for f in host.fragments]
    return out


@command("info", "info cores|tasks|threads|fragments|irqs|queues|bindings|caps TASK|mem TASK|breakpoints|checkpoints",
         "show model state", complete=(INFO_TOPICS, "task"), aliases=("i",))
def _info(dbg, args):
    if not args:
        raise CommandError(f"usage: info {INFO_TOPICS.strip('{}')}")
    topic, rest = args[0], args[1:]
    machine, system = dbg.session.machine, dbg.session.system
    snap = inspection.snapshot(machine) if topic in SNAPSHOT_TOPICS else None
    if topic == "cores":
        return table([(c.index, f"{c.now:,}", f"{machine.cores[c.index].instructions:,}", c.current or "-",
                       " ".join(c.runq) or "-") for c in snap.cores],
                     ("core", "cycles", "instructions", "running", "run queue"))
    if topic == "tasks":
        inside = _fragments_of(dbg)
        return table([(t.oid, t.name, "alive" if t.alive else "dead", len(t.space.pages), len(t.caps),
                       len([th for th in t.threads if th.alive]), ",".join(inside.get(t.name, [])) or "-")
                      for t in machine.kernel.tasks if t.alive or rest == ["all"]],
                     ("id", "task", "state", "pages", "caps", "threads", "fragments"))
    if topic == "threads":
        return table([(t.name, t.task, t.state, t.core, t.prio, len(t.senders), " ".join(t.pending_irqs) or "-")
                      for t in snap.threads if t.state != "dead" or rest == ["all"]],
                     ("thread", "task", "state", "core", "prio", "senders", "pending irqs"))
    if topic == "fragments":
        rows = []
        for f in sorted(system.runtime.all_fragments(), key=lambda f: f.label):
            rows.append((f.label, f.host.name, f.host.core, f"{f.area_base:#x}", len(f.pages),
                         ", ".join(sorted(f.interface()))[:60]))
        return table(rows, ("fragment", "task", "core", "area", "pages", "operations"))
    if topic == "irqs":
        return table([(i.irq, i.line if i.line is not None else "-", i.thread or "-", i.delivered, i.coalesced,
                       "queued" if i.queued else "masked" if i.masked else "pending" if i.pending else "idle")
                      for i in snap.irqs], ("irq", "line", "thread", "delivered", "coalesced", "state"))
    if topic == "queues":
        lines = ["gates with waiting senders:"]
        lines += [f"  {g.gate} -> {g.thread or '(unbound)'}: " + ", ".join(f"{s.thread} ({s.kind})" for s in g.senders)
                  for g in snap.gates if g.senders] or ["  none"]
        lines += ["calls awaiting a reply:"]
        lines += [f"  {c.caller} -> {c.replier} ({c.kind}{'' if c.reply_cap else ', deferred'})" for c in snap.calls] or ["  none"]
        lines += ["pending IRQs:"]
        lines += [f"  {t.name}: {' '.join(t.pending_irqs)}" for t in snap.threads if t.pending_irqs] or ["  none"]
        return "\n".join(lines)
    if topic == "bindings":
        rt = system.runtime
        rows = []
        for f in sorted(rt.all_fragments(), key=lambda f: f.label):
            for peer in f.USES:
                for target in rt.instances.get(peer, []):
                    traffic = rt.traffic.get((f.NAME, peer))
                    mode = "direct" if target.host is f.host else "ipc"
                    rows.append((f.label, target.label, mode, f.host.name, target.host.name,
                                 f"{traffic.direct}/{traffic.ipc_local}/{traffic.ipc_remote}" if traffic else "0/0/0"))
        return table(rows, ("caller", "callee", "binding", "caller task", "callee task", "calls direct/ipc/ipc-remote"))
    if topic == "caps":
        task = find_task(dbg, rest[0] if rest else None)
        return table([(slot, repr(node.resource), obj_rights_str(node.rights),
                       "root" if node.parent is None else f"from {node.parent.owner.name}")
                      for slot, node in task.caps.items()], ("slot", "object", "rights", "derived"))
    if topic == "mem":
        task = find_task(dbg, rest[0] if rest else None)
        owners = {}
        for host in system.runtime.hosts:
            if host.task is task:
                for f in host.fragments:
                    for vpn in f.pages:
                        owners[vpn] = f.label
        rows = []
        for start, end, rights, frames in task.space.regions():
            who = sorted({owners.get(v) for v in range(start >> 12, end >> 12)} - {None})
            shown = ",".join(map(str, frames[:4])) + ("…" if len(frames) > 4 else "")
            rows.append((f"{start:#010x}-{end:#010x}", mem_rights_str(rights), len(frames), shown, ",".join(who) or "-"))
        return table(rows, ("range", "rights", "pages", "frames", "fragment"))
    if topic == "breakpoints":
        return "\n".join(b.describe() for b in dbg.breakpoints) or "no breakpoints"
    if topic == "checkpoints":
        checkpoints = dbg.session.checkpoints
        if checkpoints is None:
            return "no checkpoints: going back re-executes from boot"
        return table([(p.steps, p.pid) for p in checkpoints.points], ("step", "frozen process")) \
            if checkpoints.points else f"no checkpoint yet (one is taken every {checkpoints.interval} s of running)"
    raise CommandError(f"unknown topic {topic!r} (info {INFO_TOPICS.strip('{}')})")


@command("x", "x/NFU ADDR [TASK]", "examine memory: N units, format x|d|u|c|s|i, unit b|h|w (default x/4xw)",
         complete=("", "task"))
def _x(dbg, args):
    spec, args = (args[0], args[1:]) if args and not args[0].startswith(("0", "#")) and not args[0][0].isdigit() else ("", args)
    if not args:
        raise CommandError("usage: x/NFU ADDR [TASK]")
    digits = "".join(ch for ch in spec if ch.isdigit())
    letters = [ch for ch in spec if ch.isalpha()]
    n = int(digits) if digits else 4
    fmt = next((c for c in letters if c in "xducsi"), "x")
    unit = next((c for c in letters if c in "bhw"), "w")
    address = number(args[0], "an address")
    task = find_task(dbg, args[1] if len(args) > 1 else None)
    if fmt == "i":
        from .debugger import Debugger
        return "\n".join(Debugger.disassemble(task, address, bool(address & 1), n))
    if fmt == "s":
        try:
            return f"{address:#010x}: {task.space.read_cstring(address)!r}"
        except MemoryFault as error:
            raise CommandError(str(error)) from None
    size = {"b": 1, "h": 2, "w": 4}[unit]
    try:
        raw = task.space.read(address, n * size, 0)
    except MemoryFault:
        raise CommandError(f"{address:#x}: not mapped in {task.name}") from None
    code = {1: "B", 2: "H", 4: "I"}[size]
    values = struct.unpack(f"<{n}{code.lower() if fmt == 'd' else code}", raw)
    render = {"x": lambda v: f"{v:#0{2 + 2 * size}x}", "d": str, "u": str,
              "c": lambda v: repr(chr(v & 0xFF))}[fmt]
    per_line = 16 // size
    return "\n".join(f"{address + i * size:#010x}: " + " ".join(render(v) for v in values[i:i + per_line])
                     for i in range(0, n, per_line))


def last_arm_thread(dbg):
    """The ARM thread of the latest event that names one (alive), or None."""
    kernel = dbg.session.machine.kernel
    for event in reversed(dbg.session.machine.trace.events):
        thread = kernel.find_thread(event.thread) if event.thread else None
        if thread is not None and not thread.is_python and thread.alive:
            return thread
    return None


@command("regs", "regs [THREAD]", "the registers of an ARM thread (default: the latest one in the trace)",
         complete=("thread",))
def _regs(dbg, args):
    machine = dbg.session.machine
    thread = machine.kernel.find_thread(args[0]) if args else last_arm_thread(dbg)
    name = args[0] if args else "?"
    if thread is None or thread.is_python or thread.task.engine is None:
        raise CommandError(f"{name or '?'} is not an ARM thread with registers")
    engine = thread.task.engine
    engine.activate(thread)
    values = engine.read_registers()
    names = [f"r{i}" for i in range(13)] + ["sp", "lr", "pc", "cpsr"]
    return "\n".join("  ".join(f"{n:>4}={v:#010x}" for n, v in zip(names[i:i + 4], values[i:i + 4]))
                     for i in range(0, len(names), 4))


@command("disas", "disas [ADDR] [N] [TASK|THREAD]", "disassemble (default: at the PC of the latest ARM thread)",
         complete=("", "", "task"))
def _disas(dbg, args):
    from .debugger import Debugger
    machine = dbg.session.machine
    who = args[2] if len(args) > 2 else ""
    thread = machine.kernel.find_thread(who) if who else last_arm_thread(dbg)
    if args:
        address = number(args[0], "an address")
        task = thread.task if thread is not None else find_task(dbg, who)
        thumb = bool(address & 1)
    else:
        if thread is None or thread.is_python:
            raise CommandError("no ARM thread to disassemble at; give an address and a task")
        task = thread.task
        address, thumb = Debugger.pc_of(thread)
    n = number(args[1], "a count") if len(args) > 1 else 8
    return "\n".join(Debugger.disassemble(task, address & ~1, thumb, n))


@command("pfpath", "pfpath [ADDR|last]", "the path of a page fault: thread -> kernel -> pager -> region -> frame")
def _pfpath(dbg, args):
    events = dbg.session.machine.trace.events
    faults = [e for e in events if e.kind == "page-fault"]
    if args and args[0] != "last":
        address = number(args[0], "an address")
        faults = [e for e in faults if e.data["address"] >> 12 == address >> 12]
    if not faults:
        raise CommandError("no such page fault in the trace")
    fault = faults[-1]
    lines = [f"fault     {fault}"]
    for e in events[fault.seq + 1:]:
        if e.thread == fault.thread and e.kind in ("page-fault", "exception", "quantum"):
            break
        if e.kind in ("ipc-send", "ipc-reply", "fragment", "map", "grant", "exception") and \
                (e.kind != "ipc-send" or e.data.get("msg") in ("pagefault", "ipc")):
            lines.append(f"{e.kind:<9} {e}")
    return "\n".join(lines)


@command("trace", "trace [KIND…] [task T] [last N] | trace export FILE.json|FILE.jsonl",
         "show events (default: the last 20) or export the trace", complete=("{export|ipc-send|syscall|page-fault|irq|schedule|fragment|recut}",))
def _trace(dbg, args):
    machine = dbg.session.machine
    if args[:1] == ["export"]:
        if len(args) != 2:
            raise CommandError("usage: trace export FILE.json|FILE.jsonl")
        from .exports import export
        return export(machine, args[1])
    last, task, kinds = 20, None, []
    words = list(args)
    while words:
        word = words.pop(0)
        if word == "last" and words:
            last = number(words.pop(0), "a count")
        elif word == "task" and words:
            task = words.pop(0)
        else:
            kinds.append(word)
    events = list(machine.trace.filter(kinds or None, task))
    return "\n".join(str(e) for e in events[-last:]) or "no events"


@command("stats", "stats", "instructions, syscalls, IPCs, faults, switches, cycles")
def _stats(dbg, args):
    return format_stats(dbg.session.machine)


@command("strace", "strace on|off", "print each syscall as strace does", complete=("{on|off}",))
def _strace(dbg, args):
    if args not in (["on"], ["off"]):
        raise CommandError("usage: strace on|off")
    dbg.session.set_strace(args[0] == "on")
    return f"strace {args[0]}"


@command("seq", "seq last-syscall|EVENT", "a sequence diagram of the IPC chain of a syscall")
def _seq(dbg, args):
    from .exports import sequence
    which = None if not args or args[0] == "last-syscall" else number(args[0].lstrip("#"), "an event number")
    try:
        return sequence(dbg.session.machine, which)
    except ValueError as error:
        raise CommandError(str(error)) from None
