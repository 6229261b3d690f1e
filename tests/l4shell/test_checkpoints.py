"""Going back through checkpoints (frozen copies of the shell process, made with fork)
lands where re-execution from boot lands: the same transcript and the same trace digest,
disk image included; the session's status reaches the user's shell, and no process is
left behind. Run through the real CLI, as a user would (the checkpoints fork it)."""

import os
import subprocess
import sys
import time
from pathlib import Path

from l4shell.checkpoints import KEEP

ROOT = Path(__file__).resolve().parents[2]

GOING_BACK = """\
start syscall_loop 3000
continue
reverse-stepi 3
stepi 1
reverse-step 2
break syscall getppid
reverse-continue
reverse-continue
info breakpoints
goto 500
reverse-next syscall
delete
continue
"""


def l4shell(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "l4shell.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


def transcript(result: subprocess.CompletedProcess) -> list[str]:
    """The transcript without its last line (which says recorded, or matches)."""
    return result.stdout.splitlines()[:-1]


def alive_with(marker: str) -> list[int]:
    """Processes whose command line names ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker in (entry / "cmdline").read_bytes().decode(errors="replace"):
                found.append(int(entry.name))
        except OSError:
            pass
    return found


def test_going_back_through_checkpoints_lands_where_reexecution_lands(tmp_path):
    script = tmp_path / "back.l4s"
    script.write_text("boot --composition fragmented --cores 2 --seed 3\n" + GOING_BACK)
    frozen = l4shell("script", "--record", "--checkpoint-interval", "0.02", str(script))
    assert frozen.returncode == 0, frozen.stderr
    replayed = l4shell("script", "--check", "--no-checkpoints", str(script))
    assert replayed.returncode == 0, replayed.stderr          # the same trace, bit for bit
    assert transcript(frozen) == transcript(replayed)
    assert frozen.stdout.count("syscall_loop: 3000 getppid calls") == 2   # ran to the end twice


def test_checkpoints_are_taken_used_thinned_and_none_is_left_behind(tmp_path):
    script = tmp_path / "leftover-marker.l4s"
    script.write_text("start syscall_loop 8000\ncontinue\ninfo checkpoints\nexpect \"frozen process\"\n"
                      "reverse-step 5\ninfo checkpoints\nexpect \"frozen process\"\ncontinue\n"
                      "expect \"status 0\"\n")
    run = subprocess.Popen([sys.executable, "-m", "l4shell.cli", "script", "--checkpoint-interval", "0.01",
                            str(script)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    most = 0
    while run.poll() is None:
        most = max(most, len(alive_with(str(script))))
        time.sleep(0.05)
    assert run.returncode == 0, run.stdout.read()
    assert 4 < most <= KEEP + 3            # checkpoints, the anchor, the live and a resumed one
    deadline = time.monotonic() + 10
    while alive_with(str(script)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert alive_with(str(script)) == []


def test_a_disk_image_goes_back_with_its_checkpoint(tmp_path):
    image = ROOT / "demos" / "disk" / "notes.img"
    before = image.read_bytes()
    script = tmp_path / "disk.l4s"
    script.write_text(
        f"boot --composition fragmented --seed 1 --disk {image} --key-file demos/disk/demo.key\n"
        "start notes /mnt/README \"appended twice?\"\ncontinue\nreverse-step 400\ncontinue\n"
        "start notes /mnt/README\ncontinue\nexpect \"appended twice?\"\n")
    frozen = l4shell("script", "--record", "--checkpoint-interval", "0.02", str(script))
    assert frozen.returncode == 0, frozen.stderr
    replayed = l4shell("script", "--check", "--no-checkpoints", str(script))
    assert replayed.returncode == 0, replayed.stderr
    assert transcript(frozen) == transcript(replayed)
    assert image.read_bytes() == before                      # the user's image is never written
    assert [name for name in os.listdir(tmp_path) if name != script.name] == []


def test_the_session_status_reaches_the_caller_through_the_anchor(tmp_path):
    script = tmp_path / "fails.l4s"
    script.write_text("start syscall_loop 500\ncontinue\nreverse-step 3\nexpect \"not in the output\"\n")
    result = l4shell("script", "--checkpoint-interval", "0.02", str(script))
    assert result.returncode == 1 and "line 4 failed" in result.stderr


def test_a_checkpoint_interval_must_be_positive():
    result = l4shell("script", "--checkpoint-interval", "0", "demos/walkthroughs/first_program.l4s")
    assert result.returncode == 2 and "positive number of seconds" in result.stderr


def test_the_shell_goes_back_and_keeps_the_keys_typed_ahead():
    """Commands piped into the shell are read ahead by the process that goes back; the
    resumed process gets them (not the stale ones its frozen copy had read)."""
    typed = "start syscall_loop 3000\ncontinue\nreverse-step 2\nreverse-step 1\nstep 3\nquit\n"

    def stops(*options: str) -> list[str]:
        result = subprocess.run([sys.executable, "-m", "l4shell.cli", "shell", *options], input=typed,
                                cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr
        return [line for line in result.stdout.splitlines() if line.startswith("step ")]

    frozen = stops("--checkpoint-interval", "0.02")
    assert len(frozen) == 3 and frozen == stops("--no-checkpoints")


def test_going_back_shows_no_program_output_twice(tmp_path):
    """A copy frozen in the middle of a run holds the output collected so far, already
    shown when that run ended; going back through it must not show it again."""
    script = tmp_path / "twice.l4s"
    script.write_text("start mmapcow\ncontinue\nreverse-step 1\nreverse-step 1\n")
    frozen = l4shell("script", "--checkpoint-interval", "0.001", str(script))
    assert frozen.returncode == 0, frozen.stderr
    assert frozen.stdout.count("cow ok") == 1
    assert frozen.stdout == l4shell("script", "--no-checkpoints", str(script)).stdout
