"""The virtual disk: 512-byte sectors in a host image file, a request queue, DMA, an IRQ.

The host image file is touched by this device only, and only when a request completes.

Protocol (what a driver does, in the style of a simple DMA block controller):

1. Program the request registers: ``SECTOR_LO``/``SECTOR_HI`` (first sector, 64 bits),
   ``COUNT`` (sectors), ``DMA`` (physical byte address of the buffer in RAM; the buffer is
   ``COUNT * 512`` physically contiguous bytes, e.g. one 4 KiB frame = 8 sectors),
   ``COMMAND`` (READ, WRITE or SYNC) and ``TAG`` (the driver's request id, echoed back).
2. Write ``DOORBELL``: the registers are latched into a request and queued; the
   registers keep their values, so a driver may change one field and ring again.
3. The device serves the queue in order, one request at a time. A request completes at
   ``max(doorbell time, previous completion) + REQUEST_NS + SECTOR_NS × count`` (converted
   to cycles with the machine's ``cycles_per_us``); only then does the DMA happen (READ:
   file → frames; WRITE: frames → file; SYNC: the file is flushed to the host disk),
   a completion (tag, status) is appended to the completion queue, and the interrupt line
   is raised.
4. On the interrupt, the driver reads ``COMPLETIONS`` (how many are waiting) and, for each,
   ``CPL_TAG`` and ``CPL_STATUS`` of the oldest one, then writes ``CPL_ACK`` to pop it. The
   kernel coalesces edges while the Irq is masked, so a driver must drain the whole
   completion queue on every interrupt before it unmasks.

Invariants:
- Every doorbell produces exactly one completion carrying its tag. Completions appear in
  doorbell order, except requests refused because the queue was full (``QUEUE_FULL``),
  which complete after ``REQUEST_NS`` without waiting for the queue.
- Requests are decoded (range, DMA window, command, size) at the doorbell, before
  anything changes; a bad request still goes through the queue and completes with an
  error status, never an exception, and never touches the file or RAM.
- A driver must not touch a buffer between the doorbell and the completion: the DMA reads
  or writes it at completion time.
- Timing comes only from modeled time (the event heap); host time never enters.

Register access is a method call (``read_reg``/``write_reg``): the model has no MMIO
mappings yet, so the device object itself plays the driver's I/O capability. Register
access costs the device nothing; a driver charges ``REGISTER_ACCESS_CYCLES`` per access
for itself.

Simplification, stated: as on real ARM hardware, DMA is not coherent with instruction
caches — a frame that is already mapped executable and then overwritten by a READ keeps
its old translated code until it is mapped again (mapping drops translations).

Trace: kind ``disk`` with ``op`` = ``submit`` (at the doorbell) or ``complete`` (with the
status), plus the request fields.
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .devices import DISK_LINE
from .physmem import PAGE_SHIFT, PAGE_SIZE

if TYPE_CHECKING:
    from .machine import Machine

DISK = "disk"  # trace kind

SECTOR_SIZE = 512

# Timing [A]: a fast virtual disk (virtio-blk on an SSD): 10 µs per request for the command
# round trip, and ~1 GB/s of transfer, i.e. 500 ns per 512-byte sector. A SYNC costs the
# request overhead plus SYNC_NS for the flush. At the default 1000 cycles/µs: 10,000 cycles
# per request + 500 cycles per sector.
REQUEST_NS = 10_000
SECTOR_NS = 500
SYNC_NS = 50_000
# [A] what a driver should charge itself for one register read or write (an uncached
# device access on an A-class core).
REGISTER_ACCESS_CYCLES = 20

QUEUE_DEPTH = 32          # requests in flight (doorbell rung, not yet completed)
MAX_SECTORS = 256         # largest transfer: 128 KiB, Linux's classic max_sectors_kb

# Register offsets (32-bit registers).
SECTOR_LO = 0x00     # rw  first sector, low 32 bits
SECTOR_HI = 0x04     # rw  first sector, high 32 bits
COUNT = 0x08         # rw  sectors to transfer (1..MAX_SECTORS; ignored by SYNC)
DMA = 0x0C           # rw  physical byte address of the buffer
COMMAND = 0x10       # rw  READ, WRITE or SYNC
TAG = 0x14           # rw  driver's request id, echoed in the completion
DOORBELL = 0x18      # w   any value: submit the programmed request
COMPLETIONS = 0x1C   # r   completions waiting to be acknowledged
CPL_TAG = 0x20       # r   tag of the oldest waiting completion (0 if none)
CPL_STATUS = 0x24    # r   its status (NO_COMPLETION if none)
CPL_ACK = 0x28       # w   any value: pop the oldest waiting completion
CAPACITY_LO = 0x2C   # r   device size in sectors, low 32 bits
CAPACITY_HI = 0x30   # r   high 32 bits
IN_FLIGHT = 0x34     # r   requests queued or being served
FLAGS = 0x38         # r   FLAG_READ_ONLY

REQUEST_REGISTERS = (SECTOR_LO, SECTOR_HI, COUNT, DMA, COMMAND, TAG)
READABLE = REQUEST_REGISTERS + (COMPLETIONS, CPL_TAG, CPL_STATUS, CAPACITY_LO, CAPACITY_HI,
                                IN_FLIGHT, FLAGS)
WRITABLE = REQUEST_REGISTERS + (DOORBELL, CPL_ACK)
FLAG_READ_ONLY = 0x1

READ, WRITE, SYNC = 1, 2, 3
COMMAND_NAMES = {READ: "read", WRITE: "write", SYNC: "sync"}

# Completion status codes.
OK = 0
E_RANGE = 1          # sectors beyond the end of the disk
E_DMA = 2            # buffer not wholly inside RAM, or in frame 0 (a null pointer)
E_COMMAND = 3        # unknown command
E_COUNT = 4          # count 0 or above MAX_SECTORS
E_READ_ONLY = 5      # WRITE to a read-only disk
E_QUEUE_FULL = 6     # QUEUE_DEPTH requests already in flight
E_IO = 7             # the host file failed (short read, OS error)
NO_COMPLETION = 0xFFFFFFFF
STATUS_NAMES = {OK: "ok", E_RANGE: "range", E_DMA: "dma", E_COMMAND: "command",
                E_COUNT: "count", E_READ_ONLY: "read-only", E_QUEUE_FULL: "queue-full",
                E_IO: "io"}


@dataclass(frozen=True)
class Request:
    """One latched request; ``status`` is the decode verdict (OK = will be performed)."""

    tag: int
    command: int
    sector: int
    count: int
    dma: int
    status: int
    submitted: int   # modeled time of the doorbell
    done: int        # modeled time of the completion


@dataclass(frozen=True)
class Completion:
    tag: int
    status: int


class Disk:
    """A disk over the image file at ``path`` (size a whole number of sectors), raising
    ``line`` on completions. ``close()`` releases the file."""

    def __init__(self, machine: "Machine", path: str | os.PathLike, line: int = DISK_LINE,
                 read_only: bool = False, name: str = "disk0"):
        size = os.path.getsize(path)
        if size % SECTOR_SIZE or size == 0:
            raise ValueError(f"{path}: {size} bytes is not a positive whole number of "
                             f"{SECTOR_SIZE}-byte sectors")
        self.machine = machine
        self.line = line
        self.name = name
        self.path = os.fspath(path)
        self.read_only = read_only
        self.sectors = size // SECTOR_SIZE
        self._fd = os.open(path, os.O_RDONLY if read_only else os.O_RDWR)
        # Request registers: written by the driver only.
        self.registers = dict.fromkeys(REQUEST_REGISTERS, 0)
        # In flight, oldest first: appended at the doorbell, popped at completion.
        self.queue: deque[Request] = deque()
        # Waiting for the driver's CPL_ACK, oldest first.
        self.completions: deque[Completion] = deque()
        self._busy_until = 0     # modeled time the last queued request completes
        self.stats = dict.fromkeys(("requests", "errors", "sectors_read", "sectors_written",
                                    "syncs"), 0)

    # --- registers ----------------------------------------------------------------------
    def read_reg(self, offset: int) -> int:
        if offset not in READABLE:
            raise ValueError(f"{self.name}: register {offset:#x} is not readable")
        if offset in self.registers:
            return self.registers[offset]
        head = self.completions[0] if self.completions else None
        return {COMPLETIONS: len(self.completions),
                CPL_TAG: head.tag if head else 0,
                CPL_STATUS: head.status if head else NO_COMPLETION,
                CAPACITY_LO: self.sectors & 0xFFFFFFFF,
                CAPACITY_HI: self.sectors >> 32,
                IN_FLIGHT: len(self.queue),
                FLAGS: FLAG_READ_ONLY if self.read_only else 0}[offset]

    def write_reg(self, offset: int, value: int) -> None:
        if offset not in WRITABLE:
            raise ValueError(f"{self.name}: register {offset:#x} is not writable")
        value &= 0xFFFFFFFF
        if offset == DOORBELL:
            self._doorbell()
        elif offset == CPL_ACK:
            if self.completions:
                self.completions.popleft()
        else:
            self.registers[offset] = value

    # --- requests -----------------------------------------------------------------------
    def _doorbell(self) -> None:
        r = self.registers
        now = self.machine.now()
        sector = r[SECTOR_LO] | r[SECTOR_HI] << 32
        if len(self.queue) >= QUEUE_DEPTH:
            request = Request(r[TAG], r[COMMAND], sector, r[COUNT], r[DMA], E_QUEUE_FULL,
                              now, now + self._cycles(REQUEST_NS))
        else:
            status = self._decode(r[COMMAND], sector, r[COUNT], r[DMA])
            start = max(now, self._busy_until)
            request = Request(r[TAG], r[COMMAND], sector, r[COUNT], r[DMA], status, start,
                              start + self._service_cycles(r[COMMAND], r[COUNT], status))
            self._busy_until = request.done
            self.queue.append(request)
        self.stats["requests"] += 1
        self._emit("submit", request, done=request.done)
        self.machine.at(request.done, lambda: self._complete(request),
                        core=self.machine.gic.lines[self.line].target_core)

    def _decode(self, command: int, sector: int, count: int, dma: int) -> int:
        """Check a request without changing anything; OK or the error status."""
        if command not in COMMAND_NAMES:
            return E_COMMAND
        if command == SYNC:
            return OK
        if not 1 <= count <= MAX_SECTORS:
            return E_COUNT
        if sector + count > self.sectors:
            return E_RANGE
        end = dma + count * SECTOR_SIZE
        if dma >> PAGE_SHIFT == 0 or end > self.machine.ram.size:
            return E_DMA
        if command == WRITE and self.read_only:
            return E_READ_ONLY
        return OK

    def _service_cycles(self, command: int, count: int, status: int) -> int:
        if status != OK:
            return self._cycles(REQUEST_NS)
        if command == SYNC:
            return self._cycles(REQUEST_NS + SYNC_NS)
        return self._cycles(REQUEST_NS + SECTOR_NS * count)

    def _cycles(self, ns: int) -> int:
        return max(1, ns * self.machine.cycles_per_us // 1000)

    def _complete(self, request: Request) -> None:
        if request.status != E_QUEUE_FULL:
            assert self.queue[0] is request, "disk requests complete in submission order"
            self.queue.popleft()
        status = self._perform(request) if request.status == OK else request.status
        if status != OK:
            self.stats["errors"] += 1
        self.completions.append(Completion(request.tag, status))
        self._emit("complete", request, status=STATUS_NAMES[status])
        self.machine.raise_irq(self.line)

    def _perform(self, request: Request) -> int:
        """DMA and file access of a decoded request; OK or E_IO (host file trouble)."""
        ram = self.machine.ram
        offset = request.sector * SECTOR_SIZE
        length = request.count * SECTOR_SIZE
        frame, in_frame = request.dma >> PAGE_SHIFT, request.dma & (PAGE_SIZE - 1)
        if self.closed:
            return E_IO
        try:
            if request.command == READ:
                data = os.pread(self._fd, length, offset)
                if len(data) != length:
                    return E_IO
                ram.write(frame, in_frame, data)
                self.stats["sectors_read"] += request.count
            elif request.command == WRITE:
                if os.pwrite(self._fd, ram.read(frame, in_frame, length), offset) != length:
                    return E_IO
                self.stats["sectors_written"] += request.count
            else:
                if not self.read_only:
                    os.fsync(self._fd)
                self.stats["syncs"] += 1
        except OSError:
            return E_IO
        return OK

    def _emit(self, op: str, request: Request, **extra) -> None:
        self.machine.kernel.emit(DISK, device=self.name, op=op, tag=request.tag,
                                 command=COMMAND_NAMES.get(request.command, str(request.command)),
                                 sector=request.sector, count=request.count, dma=request.dma,
                                 **extra)

    def close(self) -> None:
        """Release the image file; requests still in flight will complete with E_IO."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    @property
    def closed(self) -> bool:
        return self._fd < 0
