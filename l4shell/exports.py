"""Trace exports: JSON Lines, and the Chrome trace-event format (which Perfetto opens).

Chrome format: one process per core ("core N"), one track per thread; ARM quanta and Python
steps are complete events ("X") whose duration is their modeled cycles; every other event
is an instant ("i") with its data as arguments; each IPC send is the start of a flow arrow
("s") that ends ("f") at the receiver's next event, so a call chain reads as arrows between
threads. Timestamps are modeled cycles, shown by the viewer as microseconds.
"""

from __future__ import annotations

import json


def chrome_trace(machine) -> dict:
    events, threads, flows = [], {}, {}
    for e in machine.trace.events:
        tid = threads.setdefault((e.core, e.thread or e.task or "kernel"), len(threads) + 1)
        base = {"pid": e.core, "tid": tid, "ts": e.time, "name": e.kind, "args": dict(e.data, seq=e.seq)}
        if e.kind == "quantum":
            base.update(ph="X", dur=max(e.data.get("instructions", 1), 1), name=f"run {e.thread}")
        else:
            base.update(ph="i", s="t")
        events.append(base)
        if e.kind == "ipc-send":
            flow = len(flows) + 1
            flows[e.data.get("to")] = flow
            events.append({"pid": e.core, "tid": tid, "ts": e.time, "ph": "s", "id": flow,
                           "name": "ipc", "cat": "ipc"})
        elif e.thread in flows:
            events.append({"pid": e.core, "tid": tid, "ts": e.time, "ph": "f", "bp": "e",
                           "id": flows.pop(e.thread), "name": "ipc", "cat": "ipc"})
    meta = [{"ph": "M", "pid": core.index, "name": "process_name", "args": {"name": f"core {core.index}"}}
            for core in machine.cores]
    meta += [{"ph": "M", "pid": core, "tid": tid, "name": "thread_name", "args": {"name": name}}
             for (core, name), tid in threads.items()]
    return {"traceEvents": meta + events, "displayTimeUnit": "ns",
            "otherData": {"clock": "modeled cycles", "digest": machine.trace.digest()}}


def export(machine, path: str) -> str:
    """Write the trace to ``path`` (.jsonl: JSON Lines; .json: Chrome format)."""
    if path.endswith(".jsonl"):
        machine.trace.write_jsonl(path)
    elif path.endswith(".json"):
        with open(path, "w") as out:
            json.dump(chrome_trace(machine), out, separators=(",", ":"))
    else:
        raise ValueError(f"{path}: the name must end in .json (Chrome/Perfetto) or .jsonl")
    return f"wrote {len(machine.trace)} events to {path}"


def sequence(machine, seq: int | None = None) -> str:
    """A text sequence diagram of the IPC chain of one syscall (the last one, or the
    syscall event ``seq``): from the process's exception IPC to the reply that resumes it."""
    events = machine.trace.events
    syscalls = [e for e in events if e.kind == "syscall" and (seq is None or e.seq == seq)]
    if not syscalls:
        raise ValueError("no such syscall in the trace")
    call = syscalls[-1]
    suffix = f".{call.data['pid']}"
    start = next((e for e in reversed(events[:call.seq])
                  if e.kind == "ipc-send" and e.data.get("msg") == "exception" and e.thread.endswith(suffix)), None)
    if start is None:
        raise ValueError("the syscall's exception IPC is not in the trace")
    lines = [f"syscall {call.data['name']} of pid {call.data['pid']} (events #{start.seq}..)"]
    for e in events[start.seq:]:
        if e.kind == "ipc-send":
            lines.append(f"#{e.seq:<6} {e.thread:>22} ──{e.data.get('msg')}──▶ {e.data.get('to')}")
        elif e.kind == "ipc-reply":
            lines.append(f"#{e.seq:<6} {e.data.get('to'):>22} ◀──reply── {e.thread}")
            if e.data.get("to", "").endswith(suffix):
                break
        elif e.kind == "fragment":
            lines.append(f"#{e.seq:<6} {'':>22}    {e.data['caller']} → {e.data['target']}.{e.data['op']} ({e.data['mode']})")
    return "\n".join(lines)
