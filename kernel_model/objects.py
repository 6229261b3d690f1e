"""Kernel objects: Task, Thread, IpcGate, Irq, Factory, Icu.

Each object type is a plain record here; what an invocation does lives in ``invoke``, IPC
in ``ipc``, faults in ``traps``. Object ids are handed out in creation order, so they are
the same in every run of one scenario.

Thread state machine (who may change it: only ``ipc``, ``traps``, ``scheduler``):

    INACTIVE --start--> READY <--schedule--> RUNNING
    RUNNING --send to a partner not ready--> SEND_BLOCKED  (in partner.senders)
    RUNNING --receive with nothing queued--> RECV_BLOCKED
    SEND_BLOCKED/RECV_BLOCKED --rendezvous, timeout, cancel--> READY
    any --kill--> DEAD
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generator

from .addrspace import AddressSpace
from .caps import CapTable, INVALID_CAP

if TYPE_CHECKING:
    from .ipc_abi import MsgTag


class KernelObject:
    kind = "object"

    def __init__(self, oid: int, name: str):
        self.oid = oid
        self.name = name
        self.cap_count = 0  # capabilities naming this object (kept by CapTable)

    def __repr__(self) -> str:
        return f"{self.kind}:{self.name}"


class Task(KernelObject):
    """A protection domain: an address space and a capability table."""

    kind = "task"

    def __init__(self, oid: int, name: str, space: AddressSpace):
        super().__init__(oid, name)
        self.space = space
        self.caps = CapTable(name)
        self.threads: list[Thread] = []
        self.engine: Any = None  # the unicorn instance once an ARM thread runs here
        self.utcb_area = 0       # virtual address of the UTCB pages
        self.utcb_next = 0       # next free UTCB slot offset
        self.alive = True


class ThreadState(enum.Enum):
    INACTIVE = "inactive"
    READY = "ready"
    RUNNING = "running"
    SEND_BLOCKED = "send-blocked"
    RECV_BLOCKED = "recv-blocked"
    DEAD = "dead"


@dataclass
class Message:
    """A message in flight, captured when the send phase starts.

    Simplification: Fiasco copies from the sender's UTCB at rendezvous; the sender is
    blocked until then, so capturing early gives the same words (unless another thread of
    the sender's task rewrites that UTCB meanwhile, which the model does not follow).
    """

    tag: "MsgTag"
    words: list[int]
    items: list[tuple[int, int]]
    label: int                   # the label the receiver gets (r4)
    sender: "Thread"
    call: bool                   # the sender waits for a reply (receiver gets a reply cap)
    kind: str = "ipc"            # ipc | pagefault | exception | irq
    source: Any = None           # the gate or Irq it came through, if any
    receiver: "Thread | None" = None  # set at rendezvous: who got it (and owes the reply)


@dataclass
class Receive:
    """What a thread in RECV_BLOCKED accepts: ``source`` None = open wait, else only a
    message from that Thread or Irq."""

    source: Any = None


@dataclass
class Counters:
    instructions: int = 0
    cycles: int = 0
    ipcs: int = 0
    page_faults: int = 0
    exceptions: int = 0
    syscalls: int = 0


class Thread(KernelObject):
    kind = "thread"

    def __init__(self, oid: int, name: str, task: Task, utcb: int, python_body=None):
        super().__init__(oid, name)
        self.task = task
        self.utcb = utcb
        self.state = ThreadState.INACTIVE
        self.prio = 1
        self.core = 0
        self.alien = False
        self.pager = INVALID_CAP       # selectors in the thread's own task
        self.exc_handler = INVALID_CAP
        # IPC state (changed by ipc only)
        self.outgoing: Message | None = None      # what we try to send while SEND_BLOCKED
        self.send_target: Thread | None = None    # in whose ``senders`` queue we wait
        self.after_send: Receive | None = None    # receive phase to enter after sending
        self.receiving: Receive | None = None     # set while RECV_BLOCKED
        self.deadline: object | None = None       # token of the armed timeout, if any
        self.pending_recv_timeout = 0             # receive timeout to use after a blocked send
        self.senders: deque[Thread] = deque()     # threads blocked sending to us
        self.pending_irqs: deque[Any] = deque()   # Irqs waiting to be received by us
        self.reply_to: Thread | None = None       # implicit reply capability
        self.awaiting: Message | None = None      # our call/fault/exception awaiting reply
        self.ipc_result: tuple[int, int, int] | None = None  # (tag word, label, error) to deliver
        # execution
        self.python_body: Generator | None = python_body
        self.arm_context: Any = None
        self.quantum_left = 0  # slice left when it last left its core (scheduler)
        self.ready_at = 0      # modeled time before which the thread cannot run (IPI)
        self.stats = Counters()
        self.exit_reason = ""

    @property
    def is_python(self) -> bool:
        return self.python_body is not None

    @property
    def alive(self) -> bool:
        return self.state is not ThreadState.DEAD


class IpcGate(KernelObject):
    """An IPC endpoint bound to a server thread with a label (low two bits clear: the kernel
    ORs the invoking capability's W and S rights into them)."""

    kind = "gate"

    def __init__(self, oid: int, name: str, label: int = 0):
        super().__init__(oid, name)
        self.label = label & ~0x3
        self.thread: Thread | None = None
        self.waiting: deque[Thread] = deque()  # callers blocked on an unbound gate


class Irq(KernelObject):
    """An interrupt source (Irq_sender). At most one delivery is outstanding: while it is
    queued or unacknowledged, further triggers only set ``pending`` (coalescing)."""

    kind = "irq"

    def __init__(self, oid: int, name: str):
        super().__init__(oid, name)
        self.thread: Thread | None = None
        self.label = 0
        self.line: int | None = None   # hardware line, if bound at the Icu
        self.queued = False            # a delivery is waiting in thread.pending_irqs
        self.masked = False            # delivered, not yet unmasked (EOI)
        self.pending = False           # triggered while queued/masked
        self.delivered = 0
        self.coalesced = 0


class Factory(KernelObject):
    """Creates kernel objects against a kernel-memory quota in bytes."""

    kind = "factory"

    OBJECT_BYTES = {"task": 4096, "thread": 1024, "gate": 128, "irq": 128, "factory": 256}

    def __init__(self, oid: int, name: str, quota: int):
        super().__init__(oid, name)
        self.quota = quota
        self.used = 0

    def fits(self, kind: str) -> bool:
        return self.used + self.OBJECT_BYTES[kind] <= self.quota

    def charge(self, kind: str) -> bool:
        """Take the kernel memory of one ``kind`` object from the quota; False (and nothing
        taken) if it does not fit."""
        if not self.fits(kind):
            return False
        self.used += self.OBJECT_BYTES[kind]
        return True


class Icu(KernelObject):
    """The interrupt-controller interface: binds hardware lines to Irq objects."""

    kind = "icu"
