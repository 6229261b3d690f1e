"""``l4shell run --disk IMAGE [--key-file KEY] [--mount PATH]``, as a user runs it: an image
made by ``l4shell disk create --from-dir``, changed by busybox in the model, judged after
exit by an independent AES-XTS (`cryptography`), e2fsck and debugfs; refusals are one line
and leave the image untouched."""

import subprocess
import sys
from pathlib import Path

import pytest

from .test_disk_cli import E2FSPROGS, debugfs, fsck, xts

ROOT = Path(__file__).resolve().parents[2]
BUSYBOX = Path("/tmp/bb/bin/busybox")
pytestmark = [pytest.mark.skipif(not E2FSPROGS, reason="e2fsprogs not installed"),
              pytest.mark.skipif(not BUSYBOX.exists(), reason="busybox-static:armhf not in /tmp/bb")]
KEY = bytes(range(7, 71))
SCRIPT = "cat /mnt/x; echo hi > /mnt/y; mkdir /mnt/d; mv /mnt/y /mnt/d/z; ls /mnt /mnt/d"
OUTPUT = b"from the host\n/mnt:\nd\nlost+found\nx\n\n/mnt/d:\nz\n"


def l4shell(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "l4shell.cli", *map(str, args)], cwd=ROOT,
                          input=b"", capture_output=True, timeout=300)


@pytest.fixture
def disk(tmp_path) -> tuple[Path, Path]:
    """(encrypted image, key file) from ``l4shell disk create --from-dir``."""
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "x").write_bytes(b"from the host\n")
    key = tmp_path / "disk.key"
    key.write_bytes(KEY)
    image = tmp_path / "disk.img"
    made = l4shell("disk", "create", image, "--size", "2M", "--key-file", key, "--from-dir", tree)
    assert made.returncode == 0, made.stderr
    return image, key


@pytest.mark.parametrize("composition", ["monolithic", "fragmented"])
def test_run_changes_the_encrypted_image(composition, disk, tmp_path):
    """The same output and image under both compositions: the decrypted image is clean and
    holds the file busybox wrote, where it moved it."""
    image, key = disk
    result = l4shell("run", "--composition", composition, "--disk", image, "--key-file", key,
                     BUSYBOX, "sh", "-c", SCRIPT)
    assert (result.returncode, result.stdout, result.stderr) == (0, OUTPUT, b"")
    plain = tmp_path / "plain.img"
    plain.write_bytes(xts(image.read_bytes(), KEY, decrypt=True))
    assert fsck(plain).returncode == 0, fsck(plain).stdout
    assert debugfs(plain, "cat /d/z") == b"hi\n"
    assert debugfs(plain, "cat /x") == b"from the host\n"


def test_plain_image_at_another_mount_point(tmp_path):
    """Without --key-file the image is plain ext2; --mount puts it elsewhere."""
    image = tmp_path / "plain.img"
    assert l4shell("disk", "create", image, "--size", "1M").returncode == 0
    result = l4shell("run", "--disk", image, "--mount", "/data", BUSYBOX, "sh", "-c",
                     "echo plain > /data/p; cat /data/p")
    assert (result.returncode, result.stdout) == (0, b"plain\n")
    assert fsck(image).returncode == 0
    assert debugfs(image, "cat /p") == b"plain\n"


def test_a_file_removed_while_open_is_read_to_its_end_then_freed(tmp_path):
    """On the ext2 mount, as on Linux: a file removed while a descriptor holds it is still
    read through it; once closed it is gone from the image, which e2fsck finds clean."""
    image = tmp_path / "plain.img"
    assert l4shell("disk", "create", image, "--size", "1M").returncode == 0
    result = l4shell("run", "--disk", image, BUSYBOX, "sh", "-c",
                     "echo kept > /mnt/f; exec 3</mnt/f; rm /mnt/f; cat <&3; exec 3<&-; ls /mnt")
    assert (result.returncode, result.stdout, result.stderr) == (0, b"kept\nlost+found\n", b"")
    assert fsck(image).returncode == 0, fsck(image).stdout
    names = [field.split(b"/")[5] for field in debugfs(image, "ls -p /").split(b"\n") if field.count(b"/") > 5]
    assert sorted(names) == [b".", b"..", b"lost+found"]


def test_chmod_links_and_times_on_the_mount_reach_the_image(tmp_path):
    """chmod, ln and touch -d through the ext2 fragment: stat in the model and debugfs on
    the image after exit agree on the new mode (the file type kept), on two names for one
    inode (links 2) and on the modification time; a hard link into another mount is EXDEV;
    e2fsck finds the image clean."""
    image = tmp_path / "plain.img"
    assert l4shell("disk", "create", image, "--size", "1M").returncode == 0
    result = l4shell("run", "--disk", image, BUSYBOX, "sh", "-c",
                     "echo x > /mnt/f; chmod 4751 /mnt/f; stat -c %a /mnt/f; mkdir /mnt/d; chmod 700 /mnt/d;"
                     " ln /mnt/f /mnt/d/g; stat -c %h /mnt/f; ln /mnt/f /tmp/g 2>/dev/null; echo $?;"
                     " touch -d '2001-02-03 04:05:06' /mnt/f")
    assert (result.returncode, result.stdout, result.stderr) == (0, b"4751\n2\n1\n", b"")
    assert fsck(image).returncode == 0, fsck(image).stdout
    f = debugfs(image, "stat /f").decode()
    assert "Mode:  04751" in f and "Links: 2" in f
    assert "mtime: 0x3a7b8372" in f        # 2001-02-03 04:05:06 UTC, set by touch -d
    assert debugfs(image, "stat /d/g").decode().split("Generation")[0] == f.split("Generation")[0]
    assert "Mode:  0700" in debugfs(image, "stat /d").decode()


def test_df_reads_the_mounts_and_the_ext2_superblock(tmp_path):
    """busybox df: /proc/mounts lists the ramfs at / and the image at /mnt, and statfs64
    gives the image's size and free blocks as debugfs reads them from the image after exit."""
    image = tmp_path / "plain.img"
    assert l4shell("disk", "create", image, "--size", "2M").returncode == 0
    result = l4shell("run", "--disk", image, BUSYBOX, "sh", "-c",
                     "echo hi > /mnt/f; cat /proc/mounts; df -k /mnt | tail -n 1")
    assert result.returncode == 0 and result.stderr == b""
    out = result.stdout.decode()
    assert out.startswith("ramfs / ramfs rw 0 0\next2 /mnt ext2 rw 0 0\n")
    stats = dict(line.split(":", 1) for line in debugfs(image, "stats").decode().splitlines() if ":" in line)
    size_kib = int(stats["Block count"]) * int(stats["Block size"]) // 1024
    free_kib = int(stats["Free blocks"]) * int(stats["Block size"]) // 1024
    assert out.splitlines()[-1].split()[:4] == ["ext2", str(size_kib), str(size_kib - free_kib), str(free_kib)]


def test_wrong_key_is_one_line_and_leaves_the_image_untouched(disk, tmp_path):
    """A wrong key: one line on stderr, status 1, the program never runs, the image is
    byte for byte what it was."""
    image, _ = disk
    before = image.read_bytes()
    wrong = tmp_path / "wrong.key"
    wrong.write_bytes(bytes(64))
    result = l4shell("run", "--disk", image, "--key-file", wrong, BUSYBOX, "echo", "ran")
    assert result.returncode == 1 and result.stdout == b""
    assert result.stderr.decode().startswith(f"l4shell: {image}: wrong key")
    assert result.stderr.count(b"\n") == 1
    assert image.read_bytes() == before


@pytest.mark.parametrize("options, message", [
    (["--key-file", "KEY"], "l4shell: --key-file needs --disk\n"),
    (["--disk", "IMAGE"], "not an ext2 image (an encrypted one needs its key)"),
    (["--disk", "IMAGE", "--key-file", "KEY", "--mount", "/"], "--mount /: expected an absolute path"),
])
def test_refusals(options, message, disk):
    """Options that cannot work are one line on stderr and status 1."""
    image, key = disk
    argv = [str(image) if o == "IMAGE" else str(key) if o == "KEY" else o for o in options]
    result = l4shell("run", *argv, BUSYBOX, "true")
    assert result.returncode == 1
    assert message in result.stderr.decode() and result.stderr.count(b"\n") == 1


def test_a_full_disk_reaches_the_program_as_enospc(tmp_path):
    """Writing more than the image holds: the program sees ENOSPC; the image stays clean."""
    image = tmp_path / "tiny.img"
    assert l4shell("disk", "create", image, "--size", "512K").returncode == 0
    result = l4shell("run", "--disk", image, BUSYBOX, "cp", "/bin/busybox", "/mnt/b")
    assert result.returncode == 1
    assert b"No space left on device" in result.stderr
    assert fsck(image).returncode == 0
