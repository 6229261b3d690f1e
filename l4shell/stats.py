"""The statistics of a run, as ``run --stats`` and the shell's ``stats`` print them: read
from the trace's counters and the cores, never computed anew."""

from __future__ import annotations


def stats_rows(machine) -> list[tuple[str, int]]:
    c = machine.trace.counters
    rows = [("instructions", machine.instructions()), ("modeled cycles", machine.modeled_time()),
            ("IPC messages", c.kinds["ipc-send"]), ("IPC replies", c.kinds["ipc-reply"]),
            ("IRQs", c.kinds["irq"]), ("context switches", c.kinds["schedule"]),
            ("address-space switches", sum(core.space_switches for core in machine.cores)),
            ("syscalls", sum(c.syscalls.values())), ("page faults", sum(c.faults.values()))]
    rows += [(f"  page faults ({kind})", n) for kind, n in sorted(c.faults.items())]
    rows += [(f"  syscall {name}", n) for name, n in sorted(c.syscalls.items(), key=lambda x: (-x[1], x[0]))]
    for i, core in enumerate(machine.cores):
        rows.append((f"core {i} instructions", core.instructions))
    return rows


def format_stats(machine) -> str:
    rows = stats_rows(machine)
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"{label:<{width}}  {value:>14,}" for label, value in rows)
