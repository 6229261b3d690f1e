"""The virtual disk: DMA between frames and the image file, completions by IRQ, errors as
statuses, the image file untouched by reads, timing from the documented constants."""

import os
from dataclasses import dataclass

import pytest

from kernel_model import disk as D
from kernel_model import trace as T
from kernel_model.caps import MEM_RW, OBJ_ALL, selector
from kernel_model.devices import DISK_LINE
from kernel_model.ipc_abi import RECV, MsgTag
from kernel_model.kernel import SLOT_ICU
from kernel_model.machine import Machine
from kernel_model.pythread import Ipc, Work

IRQ_SLOT, SELF_SLOT = 13, 14
IRQ_LABEL = 0x40
BUFFERS = 0x200000          # driver's DMA buffers (virtual), one frame each
SECTORS = 64


@dataclass
class Req:
    command: int
    sector: int = 0
    count: int = 8
    buffer: int | None = 0      # index of the driver's buffer frame, or None: use ``dma``
    dma: int = 0
    tag: int = 0


def numbered(sectors: int = SECTORS) -> bytes:
    """An image whose sector n is filled with byte n."""
    return b"".join(bytes([i]) * D.SECTOR_SIZE for i in range(sectors))


def make_image(tmp_path, content: bytes | None = None):
    path = tmp_path / "disk.img"
    path.write_bytes(numbered() if content is None else content)
    return path


class Driver:
    """A Python driver thread in its own task: binds the disk line to an Irq through the
    Icu, attaches itself, then submits each batch of requests, sleeps on the Irq, drains the
    completion queue and unmasks — the way a real IRQ-driven block driver does."""

    def __init__(self, machine: Machine, disk: D.Disk, batches: list[list[Req]], buffers: int = 4):
        self.machine, self.disk, self.batches = machine, disk, batches
        kernel = machine.kernel
        self.task = kernel.create_task("blk")
        self.frames = [kernel.alloc_page(self.task, BUFFERS + i * 0x1000, MEM_RW).resource
                       for i in range(buffers)]
        self.irq = kernel.create_irq("disk-irq")
        kernel.install_cap(self.task, IRQ_SLOT, self.irq, OBJ_ALL)
        self.completions: list[tuple[int, int]] = []
        self.labels: list[int] = []
        self.thread = kernel.create_thread(self.task, "blk.main", self.body)
        kernel.install_cap(self.task, SELF_SLOT, self.thread, OBJ_ALL)
        machine.start_thread(self.thread)

    def buffer(self, index: int) -> int:
        return BUFFERS + index * 0x1000

    def body(self, ctx):
        ctx.set_mrs([0, DISK_LINE, selector(IRQ_SLOT)])           # Icu bind
        assert (yield ctx.call(selector(SLOT_ICU), MsgTag(0, 3))).tag.label == 0
        ctx.set_mrs([0, selector(SELF_SLOT), IRQ_LABEL])         # Irq attach
        assert (yield ctx.call(selector(IRQ_SLOT), MsgTag(0, 3))).tag.label == 0
        for batch in self.batches:
            for req in batch:
                dma = req.dma if req.buffer is None else self.frames[req.buffer] << 12
                for reg, value in ((D.SECTOR_LO, req.sector & 0xFFFFFFFF),
                                   (D.SECTOR_HI, req.sector >> 32), (D.COUNT, req.count),
                                   (D.DMA, dma), (D.COMMAND, req.command), (D.TAG, req.tag),
                                   (D.DOORBELL, 1)):
                    self.disk.write_reg(reg, value)
                yield Work(7 * D.REGISTER_ACCESS_CYCLES)
            waiting = len(batch)
            while waiting:
                result = yield Ipc(selector(IRQ_SLOT) | RECV, MsgTag())
                self.labels.append(result.label)
                while self.disk.read_reg(D.COMPLETIONS):
                    self.completions.append((self.disk.read_reg(D.CPL_TAG),
                                             self.disk.read_reg(D.CPL_STATUS)))
                    self.disk.write_reg(D.CPL_ACK, 1)
                    waiting -= 1
                ctx.set_mrs([4])                                  # Irq unmask
                yield ctx.call(selector(IRQ_SLOT), MsgTag(0, 1))


def run_driver(tmp_path, batches, fill=None, read_only=False, content=None):
    machine = Machine(cores=1)
    image = make_image(tmp_path, content=content)
    disk = D.Disk(machine, image, read_only=read_only)
    driver = Driver(machine, disk, batches)
    for index, data in (fill or {}).items():
        driver.task.space.poke(driver.buffer(index), data)
    machine.run()
    assert not machine.crashes
    return machine, disk, driver, image


def disk_events(machine, op):
    return [e for e in machine.trace.filter([D.DISK]) if e.data["op"] == op]


def test_write_then_read_back_through_dma(tmp_path):
    """A WRITE DMAs two frames (16 sectors) into the file at sector 8; a later READ DMAs the
    same sectors into two other frames, byte for byte; the sectors around are unchanged."""
    pattern = bytes(range(256)) * 32   # 8 KiB
    batches = [[Req(D.WRITE, sector=8, count=8, buffer=0, tag=1),
                Req(D.WRITE, sector=16, count=8, buffer=1, tag=2)],
               [Req(D.READ, sector=8, count=8, buffer=2, tag=3),
                Req(D.READ, sector=16, count=8, buffer=3, tag=4)]]
    machine, disk, driver, image = run_driver(tmp_path, batches,
                                              fill={0: pattern[:4096], 1: pattern[4096:]})
    assert driver.completions == [(1, D.OK), (2, D.OK), (3, D.OK), (4, D.OK)]
    assert driver.task.space.read(driver.buffer(2), 8192) == pattern
    data = image.read_bytes()
    assert data[8 * 512:24 * 512] == pattern
    assert data[7 * 512:8 * 512] == bytes([7]) * 512 and data[24 * 512:25 * 512] == bytes([24]) * 512
    assert disk.stats["sectors_written"] == 16 and disk.stats["sectors_read"] == 16


def test_dma_at_an_offset_inside_ram(tmp_path):
    """The DMA address is a physical byte address: a sector can land mid-frame."""
    machine = Machine(cores=1)
    disk = D.Disk(machine, make_image(tmp_path))
    frame = machine.ram.allocate()
    disk.write_reg(D.SECTOR_LO, 5)
    disk.write_reg(D.COUNT, 1)
    disk.write_reg(D.DMA, (frame << 12) + 1024)
    disk.write_reg(D.COMMAND, D.READ)
    disk.write_reg(D.DOORBELL, 1)
    machine.run()
    assert machine.ram.read(frame, 1024, 512) == bytes([5]) * 512
    assert machine.ram.read(frame, 0, 1024) == bytes(1024)


def test_completion_irq_reaches_attached_thread(tmp_path):
    """Each completion raises DISK_LINE; the thread attached to the bound Irq receives the
    Irq's label; the trace shows submit, complete, irq and irq-deliver in that order."""
    machine, disk, driver, _ = run_driver(tmp_path, [[Req(D.READ, tag=7)], [Req(D.READ, tag=8)]])
    assert driver.labels == [IRQ_LABEL, IRQ_LABEL]
    assert machine.gic.lines[DISK_LINE].raised == 2 and driver.irq.delivered == 2
    kinds = [e.kind if e.kind != D.DISK else e.data["op"] for e in machine.trace
             if e.kind in (D.DISK, T.IRQ, T.IRQ_DELIVER)]
    assert kinds == ["submit", "complete", T.IRQ, T.IRQ_DELIVER] * 2


def test_completion_time_follows_cost_constants(tmp_path):
    """Requests rung back to back are served one after another: each completes REQUEST_NS
    plus SECTOR_NS per sector after the previous one (1000 cycles per µs)."""
    batch = [Req(D.READ, count=8, buffer=0, tag=1), Req(D.READ, count=1, buffer=1, tag=2),
             Req(D.SYNC, tag=3)]
    machine, disk, driver, _ = run_driver(tmp_path, [batch])
    submits, completes = disk_events(machine, "submit"), disk_events(machine, "complete")
    assert [e.data["tag"] for e in completes] == [1, 2, 3]
    first = submits[0].time + D.REQUEST_NS + 8 * D.SECTOR_NS
    second = first + D.REQUEST_NS + D.SECTOR_NS
    third = second + D.REQUEST_NS + D.SYNC_NS
    assert [e.time for e in completes] == [first, second, third]
    assert [e.data["done"] for e in submits] == [first, second, third]
    assert disk.stats["syncs"] == 1


@pytest.mark.parametrize("req, status", [
    (Req(D.READ, sector=SECTORS - 4, count=8), D.E_RANGE),
    (Req(D.WRITE, sector=SECTORS, count=1), D.E_RANGE),
    (Req(D.READ, buffer=None, dma=(64 << 20) - 1024, count=8), D.E_DMA),
    (Req(D.READ, buffer=None, dma=0xFFFFF000, count=1), D.E_DMA),
    (Req(D.WRITE, buffer=None, dma=0, count=1), D.E_DMA),
    (Req(9), D.E_COMMAND),
    (Req(D.READ, count=0), D.E_COUNT),
    (Req(D.READ, count=D.MAX_SECTORS + 1), D.E_COUNT),
])
def test_bad_requests_complete_with_error_status(tmp_path, req, status):
    """A bad request is not an exception: it completes (with an IRQ) with its error status
    after the request overhead, and neither the file nor the driver's buffers change."""
    req.tag = 0x77
    machine, disk, driver, image = run_driver(tmp_path, [[req]], fill={0: b"\xAA" * 4096})
    assert driver.completions == [(0x77, status)]
    assert driver.labels == [IRQ_LABEL]
    assert image.read_bytes() == numbered()
    assert driver.task.space.read(driver.buffer(0), 4096) == b"\xAA" * 4096
    submit, complete = disk_events(machine, "submit")[0], disk_events(machine, "complete")[0]
    assert complete.time - submit.time == D.REQUEST_NS
    assert complete.data["status"] == D.STATUS_NAMES[status] and disk.stats["errors"] == 1


def test_write_to_read_only_disk_refused(tmp_path):
    machine, disk, driver, image = run_driver(
        tmp_path, [[Req(D.WRITE, tag=1), Req(D.SYNC, tag=2)]], fill={0: b"x" * 4096}, read_only=True)
    assert driver.completions == [(1, D.E_READ_ONLY), (2, D.OK)]
    assert disk.read_reg(D.FLAGS) == D.FLAG_READ_ONLY
    assert image.read_bytes()[:4096] != b"x" * 4096


def test_reads_leave_the_image_file_untouched(tmp_path):
    """Reads (and a sync) never modify the host file: same bytes, same mtime."""
    image = make_image(tmp_path)
    before = (image.read_bytes(), os.stat(image).st_mtime_ns)
    os.utime(image, ns=(1_000_000_000, 1_000_000_000))
    machine = Machine(cores=1)
    disk = D.Disk(machine, image)
    driver = Driver(machine, disk, [[Req(D.READ, sector=s, count=8, buffer=s // 8 % 4, tag=s)
                                     for s in range(0, SECTORS, 8)], [Req(D.SYNC)]])
    machine.run()
    disk.close()
    assert [c[1] for c in driver.completions] == [D.OK] * 9
    assert image.read_bytes() == before[0]
    assert os.stat(image).st_mtime_ns == 1_000_000_000


def test_queue_full_completes_with_error(tmp_path):
    """Ringing QUEUE_DEPTH + 1 doorbells at once: the extra one completes QUEUE_FULL (early,
    without waiting for the queue), every other one OK, one completion per doorbell."""
    batch = [Req(D.READ, count=1, tag=i) for i in range(D.QUEUE_DEPTH + 1)]
    machine, disk, driver, _ = run_driver(tmp_path, [batch])
    assert sorted(driver.completions) == [(i, D.OK) for i in range(D.QUEUE_DEPTH)] + \
        [(D.QUEUE_DEPTH, D.E_QUEUE_FULL)]
    full = [e for e in disk_events(machine, "submit") if e.data["tag"] == D.QUEUE_DEPTH][0]
    assert full.data["done"] == full.time + D.REQUEST_NS
    assert driver.completions.index((D.QUEUE_DEPTH, D.E_QUEUE_FULL)) == 1  # overtakes tag 1
    assert disk.read_reg(D.IN_FLIGHT) == 0 and disk.read_reg(D.COMPLETIONS) == 0


def test_registers(tmp_path):
    """Capacity and the empty completion queue read as documented; unknown or wrong-way
    register accesses are driver bugs and raise."""
    machine = Machine(cores=1)
    disk = D.Disk(machine, make_image(tmp_path))
    assert (disk.read_reg(D.CAPACITY_LO), disk.read_reg(D.CAPACITY_HI)) == (SECTORS, 0)
    assert disk.read_reg(D.CPL_STATUS) == D.NO_COMPLETION and disk.read_reg(D.COMPLETIONS) == 0
    disk.write_reg(D.CPL_ACK, 1)  # acknowledging nothing is harmless
    disk.write_reg(D.TAG, 0x1_0000_0005)
    assert disk.read_reg(D.TAG) == 5
    with pytest.raises(ValueError):
        disk.read_reg(D.DOORBELL)
    with pytest.raises(ValueError):
        disk.write_reg(D.CAPACITY_LO, 1)
    with pytest.raises(ValueError):
        disk.read_reg(0x100)


def test_image_must_be_whole_sectors(tmp_path):
    path = tmp_path / "odd.img"
    path.write_bytes(bytes(1000))
    with pytest.raises(ValueError, match="sectors"):
        D.Disk(Machine(cores=1), path)


def test_closed_disk_completes_with_io_error(tmp_path):
    machine = Machine(cores=1)
    disk = D.Disk(machine, make_image(tmp_path))
    disk.write_reg(D.COUNT, 1)
    disk.write_reg(D.DMA, 0x10000)
    disk.write_reg(D.COMMAND, D.READ)
    disk.write_reg(D.DOORBELL, 1)
    disk.close()
    machine.run()
    assert disk.read_reg(D.CPL_STATUS) == D.E_IO


def test_same_requests_same_trace(tmp_path):
    """Deterministic: the same driver and image give the same trace digest."""
    digests = []
    for run in range(2):
        path = tmp_path / str(run)
        path.mkdir()
        machine, *_ = run_driver(path, [[Req(D.WRITE, sector=3, tag=1), Req(D.READ, buffer=1, tag=2)]],
                                 fill={0: b"z" * 4096})
        digests.append(machine.trace.digest())
    assert digests[0] == digests[1]
