"""The `blockdev` fragment: the IRQ-driven driver of the virtual disk (kernel_model.disk).

Its interface follows Genode's Block session in spirit: ``info`` (size, writeable), then
``read``, ``write`` and ``sync`` requests on 512-byte sectors, served through a request
queue. Bulk data crosses the binding as bytes; inside, it moves only by DMA between the
disk and the driver's *pool*: QUEUE_DEPTH frames of the fragment's own memory.

A transfer is cut into pieces of one pool frame each (8 sectors at most); the driver
takes the frames it needs (sleeping until enough are free), makes one request of each run
of pieces whose frames are physically contiguous (up to the disk's MAX_SECTORS), programs
the registers and rings the doorbell for each, then waits for their completions. The completion interrupt
arrives as IPC on the driver's Irq endpoint (when its server is free) or, while its own
server is the one waiting, in a closed receive on the Irq; either way the whole
completion queue is drained, the Irq unmasked, and the waiters woken.

Invariants:
- every request in flight holds at least one pool frame (a SYNC too, unused), so at most
  QUEUE_DEPTH requests are ever in flight and the device never answers QUEUE_FULL;
- a frame belongs to one transfer from its doorbell to its completion, and the driver
  touches it only before the doorbell (writes) or after the completion (reads);
- ``done`` holds the status of every completed tag until its transfer collects it.

Without a disk (``attach`` never called) the fragment holds nothing and answers -ENODEV.
The disk object is the driver's I/O capability (the model has no MMIO mappings; see
kernel_model.disk); register accesses are charged REGISTER_ACCESS_CYCLES each.
"""

from __future__ import annotations

import errno

from kernel_model import disk as D
from kernel_model import irqs
from kernel_model.caps import selector
from kernel_model.ipc_abi import RECV, MsgTag
from kernel_model.pythread import Ipc

from fragments.runtime.blocking import WaitQueue
from fragments.runtime.fragment import DATA, PAGE, Fragment, operation

SECTORS_PER_FRAME = PAGE // D.SECTOR_SIZE
ERRNO = {D.OK: 0, D.E_READ_ONLY: -errno.EROFS, D.E_RANGE: -errno.EINVAL}   # others: -EIO


class BlockDriver(Fragment):
    NAME = "blockdev"

    def __init__(self, runtime):
        super().__init__(runtime)
        self.disk: D.Disk | None = None
        self.irq = None                  # endpoint of the completion Irq
        self.free: list[int] = []        # pool frames (virtual addresses) not in flight
        self.done: dict[int, int] = {}   # tag -> status of completed requests
        self.waiters = WaitQueue(runtime, "blockdev")
        self._next_tag = 1

    def attach(self, disk: D.Disk) -> None:
        """Take the disk (from outside the model, at boot): bind its line to an Irq
        delivered here, and map the DMA pool."""
        kernel = self.runtime.kernel
        irq = kernel.create_irq(f"{disk.name}.cpl")
        line = self.runtime.machine.gic.lines[disk.line]
        line.irq, line.target_core, irq.line = irq, self.host.core, disk.line
        self.irq = self.runtime.endpoint(self, irq, self._interrupt)
        self.hold(("irq", disk.name), irq)
        for i in range(D.QUEUE_DEPTH):
            self.map_new_page(self.data_start + i * PAGE, DATA)
            self.free.append(self.data_start + i * PAGE)
        self.disk = disk

    def detach(self) -> D.Disk:
        """Give the disk back (nothing in flight): unbind the line, drop the Irq and the
        pool. Returns the disk."""
        disk, self.disk = self.disk, None
        self.runtime.machine.gic.lines[disk.line].irq = None
        self.runtime.close_endpoint(self.irq)
        irqs.detach(self.irq.obj)
        self.drop(("irq", disk.name))
        for i in range(D.QUEUE_DEPTH):
            self.free_page(self.data_start + i * PAGE)
        self.irq, self.free, self.done = None, [], {}
        return disk

    # --- the Block session -------------------------------------------------------------
    @operation
    def info(self):
        """(sectors, writeable), or None without a disk."""
        if self.disk is None:
            return None
        return self.disk.sectors, not self.disk.read_only

    @operation
    def read(self, sector, count):
        """``count`` sectors from ``sector`` as bytes, or -errno."""
        out = []
        status = self._transfer(D.READ, sector, count, None, out)
        return status if status else b"".join(out)

    @operation
    def write(self, sector, data):
        """Write whole sectors at ``sector``; 0 or -errno."""
        if len(data) % D.SECTOR_SIZE:
            return -errno.EINVAL
        return self._transfer(D.WRITE, sector, len(data) // D.SECTOR_SIZE, data, None)

    @operation
    def sync(self):
        """Flush the disk's write cache to the host image; 0 or -errno."""
        if self.disk is None:
            return -errno.ENODEV
        frames = self._reserve(1)
        return self._collect([self._submit(D.SYNC, 0, 0, 0)], frames)

    # --- requests ---------------------------------------------------------------------
    def _transfer(self, command: int, sector: int, count: int, data, out) -> int:
        """Move ``count`` sectors in batches of at most the whole pool; 0 or -errno."""
        if self.disk is None:
            return -errno.ENODEV
        if sector < 0 or count < 0 or sector + count > self.disk.sectors:
            return -errno.EINVAL
        batch = D.QUEUE_DEPTH * SECTORS_PER_FRAME
        for start in range(sector, sector + count, batch):
            n = min(batch, sector + count - start)
            pieces = [(s, min(SECTORS_PER_FRAME, start + n - s))
                      for s in range(start, start + n, SECTORS_PER_FRAME)]
            frames = self._reserve(len(pieces))
            requests: list[list[int]] = []        # [first sector, sectors, DMA address]
            for (first, sectors), frame in zip(pieces, frames):
                if data is not None:
                    at = (first - sector) * D.SECTOR_SIZE
                    self.poke(frame, data[at:at + sectors * D.SECTOR_SIZE])
                dma, last = self.host.task.space.lookup(frame).resource << 12, requests[-1:]
                if last and last[0][2] + last[0][1] * D.SECTOR_SIZE == dma \
                        and last[0][1] + sectors <= D.MAX_SECTORS:
                    last[0][1] += sectors
                else:
                    requests.append([first, sectors, dma])
            tags = [self._submit(command, *request) for request in requests]
            if out is not None:
                self._await(tags)
                out += [self.peek(frame, sectors * D.SECTOR_SIZE)
                        for (_, sectors), frame in zip(pieces, frames)]
            status = self._collect(tags, frames)
            if status:
                return status
        return 0

    def _reserve(self, n: int) -> list[int]:
        while len(self.free) < n:
            self.waiters.sleep()
        taken, self.free = self.free[:n], self.free[n:]
        return taken

    def _submit(self, command: int, sector: int, count: int, dma: int) -> int:
        """Program the registers and ring the doorbell; returns the request's tag."""
        tag, self._next_tag = self._next_tag, self._next_tag + 1
        registers = ((D.SECTOR_LO, sector & 0xFFFFFFFF), (D.SECTOR_HI, sector >> 32),
                     (D.COUNT, count), (D.DMA, dma), (D.COMMAND, command), (D.TAG, tag),
                     (D.DOORBELL, 1))
        for register, value in registers:
            self.disk.write_reg(register, value)
        self._charge(len(registers))
        return tag

    def _await(self, tags: list[int]) -> None:
        while not all(tag in self.done for tag in tags):
            if self.runtime.current is self.server:      # our own thread: take the Irq here
                self.server.kernel(Ipc(selector(self.host.install(self.irq.obj)) | RECV, MsgTag()))
                self._interrupt(None)
            else:
                self.waiters.sleep()

    def _collect(self, tags: list[int], frames: list[int]) -> int:
        """Wait for ``tags``, give their frames back; 0 or the first error as -errno."""
        self._await(tags)
        statuses = [self.done.pop(tag) for tag in tags]
        self.free += frames
        self.waiters.wake_all()
        bad = [s for s in statuses if s != D.OK]
        return ERRNO.get(bad[0], -errno.EIO) if bad else 0

    def _interrupt(self, result) -> None:
        """The completion Irq: drain the completion queue, unmask, wake the waiters."""
        disk, reads = self.disk, 1
        while disk.read_reg(D.COMPLETIONS):
            self.done[disk.read_reg(D.CPL_TAG)] = disk.read_reg(D.CPL_STATUS)
            disk.write_reg(D.CPL_ACK, 1)
            reads += 4
        self._charge(reads)
        irqs.unmask(self.runtime.kernel, self.irq.obj)
        self.waiters.wake_all()

    def _charge(self, accesses: int) -> None:
        server = self.runtime.current
        if server is not None:
            self.runtime.machine.charge(server.thread, accesses * D.REGISTER_ACCESS_CYCLES)
