"""The shell's and scripts' --disk: an encrypted image mounted in a debug session, used
through a private copy so that going back replays the same bytes."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from l4shell.language import Options, execute, new_debugger

BUSYBOX = Path("/tmp/bb/bin/busybox")
pytestmark = pytest.mark.skipif(not BUSYBOX.exists() or shutil.which("mke2fs") is None
                                and not Path("/sbin/mke2fs").exists(),
                                reason="needs busybox-static:armhf and mke2fs")


@pytest.fixture
def image(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "note.txt").write_text("secret note\n")
    key, img = tmp_path / "k.key", tmp_path / "d.img"
    key.write_bytes(bytes(range(64)))
    subprocess.run([sys.executable, "-m", "l4shell.cli", "disk", "create", str(img), "--size", "4M",
                    "--key-file", str(key), "--from-dir", str(tree)], check=True, capture_output=True)
    return img, key


def test_a_session_reads_and_writes_the_mounted_image_and_reverse_replays_it(image):
    img, key = image
    before = img.read_bytes()
    dbg = new_debugger(Options("fragmented", 2, 0, str(img), str(key)))
    script = "cat /mnt/note.txt; echo added >> /mnt/note.txt; cat /mnt/note.txt"
    execute(dbg, f"start busybox sh -c '{script}'")
    first = execute(dbg, "continue").text
    assert "secret note\nsecret note\nadded\n" in first
    digest = dbg.session.machine.trace.digest()
    execute(dbg, "reverse-step 50")
    again = execute(dbg, "continue").text
    assert dbg.session.machine.trace.digest() == digest and "added" in again
    assert img.read_bytes() == before            # the user's image is never written


def test_a_wrong_key_is_one_line(image, tmp_path):
    img, _ = image
    wrong = tmp_path / "w.key"
    wrong.write_bytes(bytes(64))
    result = subprocess.run([sys.executable, "-m", "l4shell.cli", "script", "--disk", str(img),
                             "--key-file", str(wrong), "/dev/null"], capture_output=True, text=True)
    assert result.returncode == 2 and "wrong key" in result.stderr and "Traceback" not in result.stderr
