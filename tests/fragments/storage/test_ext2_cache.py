"""The ext2 block cache batches device requests: sync writes runs of consecutive dirty blocks
in one request each, and a file read that misses reads ahead in runs — fewer requests, the
same bytes (the storage fragments then cross fewer bindings and the disk sees fewer
requests)."""

from fragments.storage.blockdev import MemoryDevice
from fragments.storage.ext2 import Ext2
from fragments.storage.ext2.cache import RUN_BYTES
from fragments.storage.ext2.fs import READAHEAD

from .conftest import ModelClock, assert_clean, make_image, needs_e2fsprogs

pytestmark = needs_e2fsprogs


class Counting(MemoryDevice):
    """A memory device that records the size of every request."""

    def __init__(self, image: bytearray):
        super().__init__(image)
        self.reads: list[int] = []
        self.writes: list[int] = []

    def read(self, sector, count):
        self.reads.append(count * 512)
        return super().read(sector, count)

    def write(self, sector, data):
        self.writes.append(len(data))
        super().write(sector, data)


def test_sync_writes_runs_and_reads_ahead(tmp_path):
    """A 512 KiB file written in 4 KiB pieces reaches the device in a few RUN_BYTES writes;
    on a fresh mount, reading it 4 KiB at a time costs a few read-ahead requests, and the
    image is clean with the bytes written."""
    path = make_image(tmp_path / "fs.img", 4096, block_size=4096)
    image = bytearray(path.read_bytes())
    data = bytes(range(256)) * 2048
    device = Counting(image)
    fs = Ext2(device, ModelClock())
    ino = fs.create(2, "f")
    for pos in range(0, len(data), 4096):
        fs.write(ino, pos, data[pos:pos + 4096])
    fs.sync()
    assert max(device.writes) == RUN_BYTES and sum(device.writes) >= len(data)
    assert len(device.writes) < len(data) // RUN_BYTES + 12
    device = Counting(image)
    fs = Ext2(device, ModelClock())
    ino = fs.lookup("/f")
    assert b"".join(fs.read(ino, pos, 4096) for pos in range(0, len(data), 4096)) == data
    assert max(device.reads) == READAHEAD + 4096
    assert len(device.reads) < len(data) // READAHEAD + 12
    path.write_bytes(image)
    assert_clean(path)
