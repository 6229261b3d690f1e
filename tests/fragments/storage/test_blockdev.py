"""The block device protocol's two devices (fragments.storage.blockdev)."""

import pytest

from fragments.storage.blockdev import FileDevice, MemoryDevice


def test_memory_device_reads_back_writes():
    """Sector-addressed writes land at sector * 512 of the shared image."""
    image = bytearray(4096)
    device = MemoryDevice(image)
    device.write(3, b"x" * 1024)
    assert device.sector_count == 8
    assert device.read(3, 2) == b"x" * 1024
    assert image[1536:2560] == b"x" * 1024


@pytest.mark.parametrize("sector, data", [(7, bytes(1024)), (-1, bytes(512)), (0, bytes(100))])
def test_memory_device_refuses_bad_ranges_untouched(sector, data):
    """Out-of-range or partial-sector writes are refused before anything changes."""
    image = bytearray(4096)
    with pytest.raises(ValueError):
        MemoryDevice(image).write(sector, data)
    assert image == bytearray(4096)


def test_file_device(tmp_path):
    """A file-backed device reads and writes the image file, range-checked the same way."""
    path = tmp_path / "disk.img"
    path.write_bytes(bytes(2048))
    with FileDevice(path) as device:
        device.write(1, b"a" * 512)
        assert device.read(0, 2) == bytes(512) + b"a" * 512
        with pytest.raises(ValueError):
            device.read(3, 2)
    assert path.read_bytes()[512:1024] == b"a" * 512
