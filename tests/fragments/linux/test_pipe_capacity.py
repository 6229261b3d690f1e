"""Pipes of bounded capacity (vfs): 64 KiB, atomic writes up to 4 KiB, writers that block
until readers drain, O_NONBLOCK partial writes and EAGAIN, EPIPE for blocked writers."""

import subprocess
import sys
from pathlib import Path

import pytest

from fragments.linux.vfs import PIPE_SIZE, Vfs
from tests.demos import boot_demos

ROOT = Path(__file__).resolve().parents[3]
BIGPIPE = ROOT / "demos" / "arm" / "bigpipe"
QEMU = Path("/usr/bin/qemu-arm-static")
BUSYBOX = Path("/tmp/bb/bin/busybox")


def l4shell_run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "l4shell.cli", "run", *map(str, args)],
                          cwd=ROOT, input=b"", capture_output=True, timeout=300)


def run_in(composition_name: str, monkeypatch) -> tuple[bytes, int, list]:
    """Output, status and the pipe fill levels after each pipe write, in one composition."""
    levels = []
    write = Vfs._pipe_write

    def watched(self, call, f, data):
        answer = write(self, call, f, data)
        levels.append((len(f.pipe.buf), answer))
        return answer

    monkeypatch.setattr(Vfs, "_pipe_write", watched)
    machine, system = boot_demos(composition_name, 2, 5, ("bigpipe",))
    pid = system.spawn("/bin/bigpipe", ["bigpipe"], [])
    machine.run()
    assert machine.crashes == []
    return bytes(machine.uart.written), system.exit_status(pid), levels


def test_bigpipe_matches_qemu():
    """300000 bytes in 50000-byte writes through a 64 KiB pipe arrive whole (each write
    answers 50000), and a non-blocking 70000-byte write puts in 65536: qemu's output."""
    if not QEMU.exists():
        pytest.skip("qemu-arm-static not installed")
    reference = subprocess.run([QEMU, BIGPIPE], capture_output=True, timeout=60)
    ours = l4shell_run(BIGPIPE)
    assert reference.returncode == 0
    assert ours.stdout == reference.stdout
    assert ours.returncode == reference.returncode


def test_bigpipe_same_in_monolithic_and_fragmented(monkeypatch):
    """The writer really blocks (deferred writes, a full pipe, never more than 64 KiB),
    and the fragmented composition gives the monolithic one's output and status."""
    mono = run_in("monolithic", monkeypatch)
    frag = run_in("fragmented", monkeypatch)
    assert mono[1] == 0 and b"match" in mono[0]
    assert frag[:2] == mono[:2]
    for _, _, levels in (mono, frag):
        assert any(answer == "defer" for _, answer in levels)
        assert max(level for level, _ in levels) == PIPE_SIZE


def test_busybox_yes_into_head():
    """`yes` blocks on a full pipe; `head` takes 200000 bytes and exits; the blocked
    writer ends with EPIPE/SIGPIPE and the pipeline finishes."""
    if not BUSYBOX.exists():
        pytest.skip("busybox-static:armhf not fetched")
    result = l4shell_run(BUSYBOX, "sh", "-c", "yes | head -c 200000 | wc -c")
    assert result.stdout.strip() == b"200000"
    assert result.returncode == 0
