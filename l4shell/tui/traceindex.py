"""An incremental index of the trace by event kind, kept by the engine on the model thread.

Panes want "the last page fault", "every re-cut" without scanning millions of events at
every refresh: ``update`` looks only at the events appended since the last call. Going back
(reverse-step, goto) boots a fresh machine with a fresh trace; the index notices (another
``Trace`` object, or a shorter one) and starts over.
"""

from __future__ import annotations

INDEXED = ("page-fault", "recut", "syscall", "irq", "exception")


class TraceIndex:
    def __init__(self):
        self.trace = None
        self.seen = 0
        self.seqs: dict[str, list[int]] = {kind: [] for kind in INDEXED}

    def update(self, trace) -> "TraceIndex":
        if trace is not self.trace or len(trace) < self.seen:
            self.trace, self.seen = trace, 0
            self.seqs = {kind: [] for kind in INDEXED}
        seqs = self.seqs
        for event in trace.events[self.seen:]:
            bucket = seqs.get(event.kind)
            if bucket is not None:
                bucket.append(event.seq)
        self.seen = len(trace)
        return self

    def last(self, kind: str, count: int = 1) -> list[int]:
        return self.seqs[kind][-count:]
