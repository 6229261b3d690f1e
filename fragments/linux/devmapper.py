"""The `devmapper` fragment: Linux's device-mapper core with the `linear` and `crypt` targets.

One mapped device over the `blockdev` fragment's disk, described by a table in dmsetup's
format, one target per line (sectors of 512 bytes, Documentation/admin-guide/
device-mapper)::

    <start> <length> linear <device> <offset>
    <start> <length> crypt <cipher> <hexkey> <iv_offset> <device> <offset> [<#opt> <opts>…]

The lines must cover sectors 0.. without gap or overlap; ``<device>`` names the backing
device, and there is one: the disk. A ``crypt`` target is plain dm-crypt exactly as in
``fragments.storage.dmcrypt`` (whose ``CryptDevice`` and ``CryptTarget`` it reuses), with
its cipher work done by the `crypto` fragment: each crypt target allocates a transform
there by name (``xts(aes)``) and gives it the key; IVs are made here, as dm-crypt makes them.

The key lives in this fragment's memory (a slot of its key page, marked secret and read
back from there to key the target) and in `crypto`'s; ``remove`` wipes both. ``create`` decodes and checks the
whole table before it changes anything, and answers a one-line reason on refusal.
"""

from __future__ import annotations

import errno

from fragments.runtime.fragment import DATA, Fragment, operation
from fragments.storage.blockdev import SECTOR_SIZE
from fragments.storage.dmcrypt import CryptDevice, CryptTableLine, CryptTarget

from .crypto import KEY_SECRET, KEY_SLOT


class DeviceMapper(Fragment):
    NAME = "devmapper"
    USES = ("blockdev", "crypto")

    def __init__(self, runtime):
        super().__init__(runtime)
        self.table: list[tuple[int, int, object]] = []   # (start, length, target device)
        self.handles: list[int] = []                      # crypto transforms of the table
        self.key_page = 0                                 # mapped for the first crypt target

    # --- the table ----------------------------------------------------------------------
    @operation
    def create(self, table):
        """Load ``table`` (text, one target per line); 0 or a one-line reason."""
        info = self.use.blockdev.info()
        if info is None:
            return "no disk attached"
        try:
            lines = [_parse(line) for line in table.strip().splitlines()]
        except ValueError as error:
            return f"bad table: {error}"
        at = 0
        for start, length, line in lines:
            if start != at:
                return f"bad table: target at sector {start}, expected {at}"
            if line.offset + length > info[0]:
                return f"bad table: target of {length} sectors does not fit a disk of {info[0]}"
            at = start + length
        self.remove()
        for index, (start, length, line) in enumerate(lines):
            self.table.append((start, length, self._target(index, length, line)))
        return 0

    @operation
    def remove(self):
        """Drop the table; free the crypto transforms and wipe the keys."""
        for handle in self.handles:
            self.use.crypto.free(handle)
        if self.key_page:
            self.poke(self.key_page, bytes(len(self.handles) * KEY_SLOT))
        self.table, self.handles = [], []
        return 0

    def _target(self, index: int, length: int, line):
        backing = _Disk(self)
        if isinstance(line, _LinearLine):
            return _Linear(backing, line.offset)
        if not self.key_page:
            self.key_page = self.data_start
            self.map_new_page(self.key_page, DATA, secret=KEY_SECRET)
        slot = self.key_page + index * KEY_SLOT
        self.poke(slot, line.key)
        key = self.peek(slot, len(line.key))
        target = CryptTarget(line.spec, key, line.iv_offset, keyed=self._remote)
        return CryptDevice(backing, target, line.offset, length)

    def _remote(self, mode, key: bytes) -> "_Transform":
        handle = self.use.crypto.alloc(mode.name)
        if handle < 0 or self.use.crypto.setkey(handle, key) < 0:
            raise ValueError(f"crypto refused {mode.name}")
        self.handles.append(handle)
        return _Transform(self, handle)

    # --- the mapped device --------------------------------------------------------------
    @operation
    def info(self):
        """Sectors of the mapped device (None without a table)."""
        return self.table[-1][0] + self.table[-1][1] if self.table else None

    @operation
    def read(self, sector, count):
        """``count`` sectors as bytes, or -errno."""
        out = []
        status = self._map(sector, count, lambda target, s, n, at: out.append(target.read(s, n)))
        return status if status else b"".join(out)

    @operation
    def write(self, sector, data):
        """Write whole sectors; 0 or -errno."""
        if len(data) % SECTOR_SIZE:
            return -errno.EINVAL
        return self._map(sector, len(data) // SECTOR_SIZE, lambda target, s, n, at: target.write(
            s, data[at * SECTOR_SIZE:(at + n) * SECTOR_SIZE]))

    @operation
    def sync(self):
        """A flush: passed to the disk (0 or -errno)."""
        return self.use.blockdev.sync() if self.table else -errno.ENODEV

    def _map(self, sector: int, count: int, io) -> int:
        """``io(target, target sector, sectors, index in the request)`` for each target the
        range crosses; 0 or -errno."""
        size = self.info()
        if size is None:
            return -errno.ENODEV
        if sector < 0 or count < 0 or sector + count > size:
            return -errno.EINVAL
        try:
            for start, length, target in self.table:
                low, high = max(sector, start), min(sector + count, start + length)
                if low < high:
                    io(target, low - start, high - low, low - sector)
        except OSError as error:
            return -(error.errno or errno.EIO)
        return 0


def _parse(text: str):
    """(start, length, CryptTableLine or _LinearLine)."""
    fields = text.split()
    if len(fields) >= 3 and fields[2] == "crypt":
        line = CryptTableLine.parse(text)
        return line.start, line.length, line
    if len(fields) != 5 or fields[2] != "linear" or not all(f.isdigit() for f in fields[:2] + fields[4:]):
        raise ValueError(f"not a linear or crypt target: {text!r}")
    return int(fields[0]), int(fields[1]), _LinearLine(int(fields[4]))


class _LinearLine:
    def __init__(self, offset: int):
        self.offset = offset


class _Disk:
    """The backing block device (fragments.storage.blockdev protocol) over the binding to
    `blockdev`; a failed request raises OSError with its errno."""

    def __init__(self, mapper: DeviceMapper):
        self.use = mapper.use
        self.sector_count = mapper.use.blockdev.info()[0]

    def read(self, sector: int, count: int) -> bytes:
        return _ok(self.use.blockdev.read(sector, count))

    def write(self, sector: int, data: bytes) -> None:
        _ok(self.use.blockdev.write(sector, data))


class _Linear:
    def __init__(self, backing: _Disk, offset: int):
        self.backing, self.offset = backing, offset

    def read(self, sector: int, count: int) -> bytes:
        return self.backing.read(self.offset + sector, count)

    def write(self, sector: int, data: bytes) -> None:
        self.backing.write(self.offset + sector, data)


class _Transform:
    """The keyed transform of a crypt target, living in the `crypto` fragment."""

    def __init__(self, mapper: DeviceMapper, handle: int):
        self.use, self.handle = mapper.use, handle

    def encrypt_units(self, ivs: list[bytes], data: bytes) -> bytes:
        return _ok(self.use.crypto.encrypt(self.handle, b"".join(ivs), data))

    def decrypt_units(self, ivs: list[bytes], data: bytes) -> bytes:
        return _ok(self.use.crypto.decrypt(self.handle, b"".join(ivs), data))


def _ok(answer):
    if isinstance(answer, int) and answer < 0:
        raise OSError(-answer, "block I/O failed")
    return answer
