"""Property test of the ext2 driver: random create/write/truncate/unlink/rename sequences keep
e2fsck clean and the contents equal to a dict model."""

import errno
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fragments.storage.blockdev import MemoryDevice
from fragments.storage.ext2 import Ext2, FsError

from .conftest import ModelClock, make_image, needs_e2fsprogs

pytestmark = needs_e2fsprogs

NAMES = st.text("abcd", min_size=1, max_size=2)  # few names, so operations meet
OPERATIONS = st.lists(st.one_of(
    st.tuples(st.just("create"), NAMES),
    st.tuples(st.just("write"), NAMES, st.integers(0, 40_000), st.integers(1, 6000), st.integers(0, 255)),
    st.tuples(st.just("truncate"), NAMES, st.integers(0, 60_000)),
    st.tuples(st.just("unlink"), NAMES),
    st.tuples(st.just("rename"), NAMES, NAMES),
), max_size=25)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> bytes:
    """One small 1 KiB-block image (indirect blocks are reached quickly), built once."""
    return make_image(tmp_path_factory.mktemp("template") / "t.img", 1024, 1024).read_bytes()


def apply(fs: Ext2, model: dict[str, bytearray], operation: tuple) -> None:
    kind, name = operation[0], operation[1]
    if kind == "create" and name not in model:
        fs.create(2, name)
        model[name] = bytearray()
    elif kind == "write" and name in model:
        _, _, offset, length, byte = operation
        fs.write(fs.find(2, name), offset, bytes([byte]) * length)
        content = model[name]
        content.extend(bytes(max(0, offset + length - len(content))))
        content[offset:offset + length] = bytes([byte]) * length
    elif kind == "truncate" and name in model:
        size = operation[2]
        fs.truncate(fs.find(2, name), size)
        model[name] = model[name][:size].ljust(size, b"\0")
    elif kind == "unlink" and name in model:
        fs.unlink(2, name)
        del model[name]
    elif kind == "rename" and name in model:
        target = operation[2]
        fs.rename(2, name, 2, target)
        model[target] = model.pop(name)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=OPERATIONS)
def test_random_operations_keep_fsck_clean_and_match_model(template, tmp_path, operations):
    """After any sequence, e2fsck -fn passes and a fresh mount reads exactly the model."""
    image = bytearray(template)
    fs = Ext2(MemoryDevice(image), ModelClock())
    model: dict[str, bytearray] = {}
    for operation in operations:
        try:
            apply(fs, model, operation)
        except FsError as error:  # only running out of space is acceptable
            assert error.errno == errno.ENOSPC, error
    fs.sync()
    path: Path = tmp_path / "check.img"
    path.write_bytes(image)
    check = subprocess.run(["e2fsck", "-fn", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
    fresh = Ext2(MemoryDevice(bytearray(image)), ModelClock())
    names = {entry.name for entry in fresh.readdir(2)} - {".", "..", "lost+found"}
    assert names == set(model)
    for name, content in model.items():
        assert fresh.read(fresh.find(2, name), 0, len(content) + 10) == bytes(content)
