"""The storage stack as fragments under L4Linux (blockdev, devmapper, crypto, ext2, and the
vfs mount): unmodified busybox reads and writes an encrypted image made by mke2fs; the
image, decrypted by an independent AES-XTS, is judged by e2fsck and debugfs."""

import hashlib
from pathlib import Path

import pytest

from fragments.runtime.fragment import CODE
from fragments.storage.dmcrypt import encrypt_image
from kernel_model import disk as D
from kernel_model.devices import DISK_LINE

from tests.demos import boot_demos

from .conftest import (assert_clean, debugfs, debugfs_cat, decrypt_with_cryptography, make_image,
                       needs_e2fsprogs)

pytestmark = needs_e2fsprogs
BUSYBOX = Path("/tmp/bb/bin/busybox")
needs_busybox = pytest.mark.skipif(not BUSYBOX.exists(), reason="busybox-static:armhf not in /tmp/bb")
# a key no file holds (bytes 1..64 run through a table in busybox, whose pages the ramfs holds)
KEY = hashlib.sha512(b"l4shell test key").digest()
STORAGE = ("ext2", "devmapper", "crypto", "blockdev")
EPOCH = 1_700_000_000

SCRIPT = ("cat /mnt/hello.txt; echo one > /mnt/new.txt; echo two >> /mnt/new.txt; "
          "mkdir -p /mnt/a/b; mv /mnt/new.txt /mnt/a/b/moved.txt; cp /mnt/docs/big.bin /mnt/a/copy.bin; "
          "rm /mnt/empty; rmdir /mnt/a/b 2>/dev/null || echo not empty; mkdir /mnt/gone; rmdir /mnt/gone; "
          "ln -s a/b/moved.txt /mnt/link; cat /mnt/link; ln -s a /mnt/dir; cat /mnt/dir/b/moved.txt; "
          "cd /mnt/a; ls; cd /; ls /mnt; wc -c < /mnt/a/copy.bin; readlink /mnt/fast")
EXPECTED = (b"hello, ext2\nnot empty\none\ntwo\none\ntwo\nb\ncopy.bin\n"
            b"a\ndir\ndocs\nfast\nhello.txt\nlink\nlost+found\nslow\n51200\nhello.txt\n")


@pytest.fixture
def image(tmp_path, tree) -> Path:
    """The conftest tree in a 4 MiB ext2 (1 KiB blocks) made by mke2fs -d, encrypted as
    plain dm-crypt aes-xts-plain64 under KEY."""
    plain = make_image(tmp_path / "plain.img", 4096, source=tree)
    encrypted = tmp_path / "disk.img"
    encrypt_image(plain, encrypted, KEY)
    return encrypted


def boot(composition="monolithic", cores=2):
    files = [(b"/bin/busybox", BUSYBOX.read_bytes())] if BUSYBOX.exists() else []
    return boot_demos(composition, cores, 7, (), files)


def run(machine, system, *argv) -> tuple[int, bytes]:
    """Run busybox with ``argv`` to its end: (exit status, console output)."""
    start = len(machine.uart.written)
    pid = system.spawn("/bin/busybox", ["busybox", *argv], [])
    machine.run()
    assert machine.crashes == []
    return system.exit_status(pid) >> 8, machine.uart.written[start:]


def decrypted(image: Path, tmp_path: Path) -> Path:
    plain = tmp_path / "decrypted.img"
    plain.write_bytes(decrypt_with_cryptography(image.read_bytes(), KEY))
    return plain


@needs_busybox
@pytest.mark.parametrize("composition", ["monolithic", "fragmented", "mixed"])
def test_busybox_changes_an_encrypted_image_that_e2fsck_calls_clean(composition, image, tmp_path, tree):
    """Busybox creates, appends, renames, copies, deletes files and directories and makes
    symlinks on /mnt, with the same output in every composition; after the flush at
    detach, the image decrypted by `cryptography` is clean and holds exactly that."""
    machine, system = boot(composition)
    assert system.attach_disk(str(image), KEY) is None
    assert run(machine, system, "sh", "-c", SCRIPT) == (0, EXPECTED)
    assert system.detach_disk() is None
    plain = decrypted(image, tmp_path)
    assert_clean(plain)
    assert debugfs_cat(plain, "/a/b/moved.txt") == b"one\ntwo\n"
    assert debugfs_cat(plain, "/a/copy.bin") == (tree / "docs" / "big.bin").read_bytes()
    assert debugfs_cat(plain, "/hello.txt") == b"hello, ext2\n"
    listing = debugfs(plain, "ls -l /")
    assert "empty" not in listing and "gone" not in listing
    assert "a/b/moved.txt" in debugfs(plain, "stat /link")


@needs_busybox
def test_each_layer_is_a_fragment_and_the_disk_interrupts_the_driver(image):
    """In the fragmented composition every layer is reached by IPC (vfs → ext2 → devmapper →
    crypto and blockdev); each disk request completes by an IRQ delivered to blockdev."""
    machine, system = boot("fragmented")
    assert system.attach_disk(str(image), KEY) is None
    run(machine, system, "cat", "/mnt/docs/big.bin")
    edges = {(e.data["caller"], e.data["target"], e.data["mode"]) for e in machine.trace.filter(["fragment"])}
    assert {("vfs", "ext2", "ipc"), ("ext2", "devmapper", "ipc"), ("devmapper", "crypto", "ipc"),
            ("devmapper", "blockdev", "ipc")} <= edges
    completions = [e for e in machine.trace.filter([D.DISK]) if e.data["op"] == "complete"]
    assert completions and all(e.data["status"] == "ok" for e in completions)
    blockdev = system.fragment("blockdev")
    delivered = [e for e in machine.trace.filter(["irq-deliver"]) if e.data.get("line") == DISK_LINE]
    assert delivered and {e.thread for e in delivered} == {blockdev.server.thread.name}
    system.detach_disk()


@pytest.mark.parametrize("composition, holders", [("fragmented", {"devmapper", "crypto"}),
                                                   ("monolithic", {"l4linux"})])
def test_the_key_is_only_in_memory_of_devmapper_and_crypto(composition, holders, image):
    """Every frame holding a piece of the key is mapped only in the tasks of devmapper and
    crypto (in monolithic: the one L4Linux task); detaching wipes their key slots."""
    machine, system = boot(composition)
    assert system.attach_disk(str(image), KEY) is None
    pieces = [KEY[i:i + 16] for i in range(0, 64, 16)]
    holding = set()
    for task in (t for t in machine.kernel.tasks if t.alive):
        for node in task.space.pages.values():
            frame = machine.ram.read(node.resource, 0, 4096)
            if any(piece in frame for piece in pieces):
                holding.add(task.name)
    assert holding == holders
    mapper, crypto = system.fragment("devmapper"), system.fragment("crypto")
    slots = mapper.key_page, crypto.key_page
    system.detach_disk()
    assert mapper.peek(slots[0], 64) == bytes(64) and crypto.peek(slots[1], 64) == bytes(64)


def test_a_wrong_key_or_no_ext2_is_refused_and_nothing_is_written(image, tmp_path):
    """A wrong key, a plain image read as encrypted, a missing image and a mount point that
    is not a directory are one-line refusals; the image is unchanged, nothing stays
    attached, nothing is mounted."""
    before = image.read_bytes()
    machine, system = boot()
    refusal = system.attach_disk(str(image), bytes(range(64, 128)))
    assert "wrong key" in refusal and "\n" not in refusal
    assert image.read_bytes() == before
    assert system.fragment("blockdev").disk is None and [m.fs for m in system.vfs.mounts] == ["ramfs"]
    refusal = system.attach_disk(str(image), None)
    assert refusal.startswith(f"{image}: not an ext2 image")
    assert image.read_bytes() == before
    assert system.attach_disk(str(tmp_path / "missing.img"), KEY).endswith("No such file or directory")
    assert system.attach_disk(str(image), KEY, b"/dev/null").endswith("/dev/null: not a free directory")
    assert image.read_bytes() == before and system.fragment("blockdev").disk is None


def test_without_a_disk_the_storage_fragments_are_inert():
    """Booted without a disk, the storage fragments hold no capability, no page beyond their
    code, no interrupt line; a program's run never reaches them."""
    machine, system = boot("fragmented")
    hello = Path(__file__).resolve().parents[3] / "demos" / "arm" / "hello"
    system.fs.add_file(b"/bin/hello", hello.read_bytes())
    pid = system.spawn("/bin/hello", ["hello"], [])
    machine.run()
    assert system.exit_status(pid) == 0
    for name in STORAGE:
        fragment = system.fragment(name)
        assert fragment.caps == {} and set(fragment.pages.values()) == {CODE}
    assert machine.gic.lines[DISK_LINE].irq is None
    assert not any(e.data["target"] in STORAGE for e in machine.trace.filter(["fragment"]))
    assert not list(machine.trace.filter([D.DISK]))


@needs_busybox
def test_a_full_disk_is_enospc_and_the_image_stays_clean(tmp_path):
    """Filling a 512 KiB image: the program gets ENOSPC, and what it wrote before is on a
    clean file system after detach."""
    plain = make_image(tmp_path / "plain.img", 512)
    image = tmp_path / "small.img"
    encrypt_image(plain, image, KEY)
    machine, system = boot()
    assert system.attach_disk(str(image), KEY) is None
    status, out = run(machine, system, "sh", "-c", "echo kept > /mnt/kept; cat /bin/busybox > /mnt/fill; "
                      "echo status=$?")
    assert out.endswith(b"status=1\n")
    assert system.detach_disk() is None
    plain = decrypted(image, tmp_path)
    assert_clean(plain)
    assert debugfs_cat(plain, "/kept") == b"kept\n"


@needs_busybox
def test_large_file_made_by_mke2fs_reads_through_the_stack(tmp_path):
    """An 8 MiB file (double-indirect blocks with 1 KiB blocks) written by mke2fs -d reads
    back byte for byte through ext2, dm-crypt, crypto and the disk driver."""
    source = tmp_path / "big"
    source.mkdir()
    data = hashlib.shake_256(b"large").digest(8 << 20)
    (source / "large.bin").write_bytes(data)
    image = tmp_path / "large.img"
    encrypt_image(make_image(tmp_path / "plain.img", 12 << 10, source=source), image, KEY)
    machine, system = boot()
    assert system.attach_disk(str(image), KEY) is None
    assert run(machine, system, "md5sum", "/mnt/large.bin") == (
        0, f"{hashlib.md5(data).hexdigest()}  /mnt/large.bin\n".encode())
    system.detach_disk()


@needs_busybox
def test_sync_makes_writes_durable_and_times_come_from_the_modeled_clock(image, tmp_path):
    """After sync(2) the image already holds the new file (before any unmount); its mtime
    is the model's clock (2023-11-14 plus modeled seconds), not the host's."""
    machine, system = boot()
    assert system.attach_disk(str(image), KEY) is None
    assert run(machine, system, "sh", "-c", "echo durable > /mnt/d; sync") == (0, b"")
    plain = decrypted(image, tmp_path)
    assert_clean(plain)
    assert debugfs_cat(plain, "/d") == b"durable\n"
    mtime = int(debugfs(plain, "stat /d").split("mtime: 0x")[1][:8], 16)
    assert EPOCH <= mtime <= EPOCH + machine.modeled_time() // (machine.cycles_per_us * 10**6) + 1
    system.detach_disk()


@needs_busybox
def test_storage_fragments_split_while_a_program_reads(image, tmp_path):
    """Splitting crypto and blockdev out of the monolithic task while busybox reads the disk
    changes the bindings (direct calls become IPC), not the bytes read."""
    machine, system = boot()
    assert system.attach_disk(str(image), KEY) is None
    pid = system.spawn("/bin/busybox", ["busybox", "md5sum", "/mnt/docs/big.bin"], [])
    machine.run(predicate=lambda e: e.kind == D.DISK)
    system.split("crypto")
    system.split("blockdev")
    machine.run()
    assert system.exit_status(pid) == 0
    digest = hashlib.md5(Path(tmp_path / "tree" / "docs" / "big.bin").read_bytes()).hexdigest()
    assert machine.uart.written == f"{digest}  /mnt/docs/big.bin\n".encode()
    modes = {(e.data["target"], e.data["mode"]) for e in machine.trace.filter(["fragment"])}
    assert {("crypto", "direct"), ("crypto", "ipc"), ("blockdev", "ipc")} <= modes
    assert system.detach_disk() is None
    assert_clean(decrypted(image, tmp_path))
