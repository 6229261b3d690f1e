"""``l4shell disk …``: images made by mke2fs and encrypted as plain dm-crypt, judged by an
independent AES-XTS (the `cryptography` package), e2fsck and debugfs; bad inputs give one
line on stderr, a non-zero status, and leave no file behind."""

import argparse
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from l4shell import disk as tools

ROOT = Path(__file__).resolve().parent.parent.parent
E2FSPROGS = all(shutil.which(t, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
                for t in ("mke2fs", "e2fsck", "debugfs"))
needs_e2fsprogs = pytest.mark.skipif(not E2FSPROGS, reason="e2fsprogs (mke2fs, e2fsck, debugfs) not installed")
KEY64 = bytes(range(64))
KEY32 = bytes(range(100, 132))


def run(argv, capsys):
    """Parse ``l4shell disk …`` with the registration the CLI uses; (status, stderr)."""
    parser = argparse.ArgumentParser(prog="l4shell")
    tools.add_disk_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["disk", *map(str, argv)])
    status = args.handler(args)
    return status, capsys.readouterr().err


def xts(data: bytes, key: bytes, decrypt: bool) -> bytes:
    """Plain dm-crypt aes-xts-plain64 by `cryptography`, sector by sector."""
    out = []
    for sector in range(len(data) // 512):
        cipher = Cipher(algorithms.AES(key), modes.XTS(sector.to_bytes(8, "little") + bytes(8)))
        worker = cipher.decryptor() if decrypt else cipher.encryptor()
        out.append(worker.update(data[sector * 512:(sector + 1) * 512]))
    return b"".join(out)


def tool(name: str) -> str:
    return shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")


def fsck(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([tool("e2fsck"), "-fn", str(path)], capture_output=True, text=True)


def debugfs(path: Path, request: str) -> bytes:
    return subprocess.run([tool("debugfs"), "-R", request, str(path)], capture_output=True,
                          check=True).stdout


def write_key(path: Path, key: bytes) -> Path:
    path.write_bytes(key)
    return path


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "tree"
    (root / "sub").mkdir(parents=True)
    (root / "hello.txt").write_bytes(b"hello from the host\n")
    (root / "sub" / "big.bin").write_bytes(os.urandom(300_000))  # indirect blocks at 1 KiB
    (root / "link").symlink_to("hello.txt")
    return root


@needs_e2fsprogs
def test_create_encrypted_from_dir_checked_independently(tmp_path, tree, capsys):
    """create --from-dir --key-file: the image, decrypted by `cryptography`'s XTS, is an ext2
    that e2fsck calls clean and whose files debugfs reads byte for byte; the encrypted image
    holds none of the plaintext."""
    image = tmp_path / "disk.img"
    status, err = run(["create", image, "--size", "2M", "--from-dir", tree,
                       "--key-file", write_key(tmp_path / "k", KEY64)], capsys)
    assert (status, err) == (0, "")
    ciphertext = image.read_bytes()
    assert len(ciphertext) == 2 << 20
    assert b"hello from the host" not in ciphertext
    plain = tmp_path / "plain.img"
    plain.write_bytes(xts(ciphertext, KEY64, decrypt=True))
    result = fsck(plain)
    assert result.returncode == 0, result.stdout + result.stderr
    assert debugfs(plain, "cat /hello.txt") == b"hello from the host\n"
    assert debugfs(plain, "cat /sub/big.bin") == (tree / "sub" / "big.bin").read_bytes()
    assert b"hello.txt" in debugfs(plain, "stat /link")
    assert leftovers(tmp_path) == []


@needs_e2fsprogs
@pytest.mark.parametrize("block_size", [1024, 4096])
def test_create_plain_with_block_size(tmp_path, capsys, block_size):
    """Without a key the image is plain ext2 of exactly SIZE bytes with the asked block size."""
    image = tmp_path / "plain.img"
    status, _ = run(["create", image, "--size", "8M", "--block-size", block_size], capsys)
    assert status == 0 and image.stat().st_size == 8 << 20
    assert fsck(image).returncode == 0
    assert f"Block size:               {block_size}".encode() in debugfs(image, "stats")
    assert tools.looks_like_ext2(image)


@needs_e2fsprogs
def test_encrypt_decrypt_roundtrip(tmp_path, capsys):
    """encrypt in place equals `cryptography`'s encryption of the plain image (32-byte key);
    decrypt -o gives back the plain image exactly and leaves the encrypted one alone."""
    image = tmp_path / "disk.img"
    assert run(["create", image, "--size", "1M"], capsys)[0] == 0
    plain = image.read_bytes()
    key = write_key(tmp_path / "k", KEY32)
    os.chmod(image, 0o640)
    assert run(["encrypt", image, "--key-file", key], capsys) == (0, "")
    assert image.read_bytes() == xts(plain, KEY32, decrypt=False)
    assert stat.S_IMODE(image.stat().st_mode) == 0o640  # in place keeps the mode
    out = tmp_path / "out.img"
    assert run(["decrypt", image, "--key-file", key, "-o", out], capsys) == (0, "")
    assert out.read_bytes() == plain
    assert image.read_bytes() == xts(plain, KEY32, decrypt=False)
    assert run(["decrypt", image, "--key-file", key], capsys) == (0, "")
    assert image.read_bytes() == plain
    assert leftovers(tmp_path) == []


def test_conversion_of_any_sector_image(tmp_path, capsys):
    """encrypt/decrypt work on any whole-sector image, not only ext2 (with a warning)."""
    data = os.urandom(64 * 512)
    image = tmp_path / "raw.img"
    image.write_bytes(data)
    key = write_key(tmp_path / "k", KEY64)
    status, err = run(["encrypt", image, "--key-file", key, "-o", tmp_path / "enc.img"], capsys)
    assert status == 0 and "no ext2 superblock" in err
    assert (tmp_path / "enc.img").read_bytes() == xts(data, KEY64, decrypt=False)


def test_progress_for_big_images(tmp_path, capsys):
    """Conversions above PROGRESS_MIN_BYTES report a percentage on stderr ending at 100%."""
    image = tmp_path / "big.img"
    image.write_bytes(bytes(tools.PROGRESS_MIN_BYTES + (1 << 20)))
    key = write_key(tmp_path / "k", KEY64)
    status, err = run(["encrypt", image, "--key-file", key], capsys)
    assert status == 0 and "encrypting big.img: 100%\n" in err
    small = tmp_path / "small.img"
    small.write_bytes(bytes(4096))
    assert "%" not in run(["encrypt", small, "--key-file", key], capsys)[1]


def test_wrong_key_warns_on_decrypt(tmp_path, capsys):
    image = tmp_path / "fs.img"
    image.write_bytes(bytes(1080) + b"\x53\xef" + bytes(4096 - 1082))
    tools.convert_image(image, KEY64, encrypt=True)
    status, err = run(["decrypt", image, "--key-file", write_key(tmp_path / "k", KEY32)], capsys)
    assert status == 0 and "wrong key?" in err


@pytest.mark.parametrize("argv, message", [
    (["encrypt", "{d}/img", "--key-file", "{d}/key10"], "holds 10 bytes"),
    (["encrypt", "{d}/img", "--key-file", "{d}/hexkey"], "a hex text?"),
    (["encrypt", "{d}/img", "--key-file", "{d}/nokey"], "No such file"),
    (["decrypt", "{d}/noimg", "--key-file", "{d}/key64"], "no such image"),
    (["encrypt", "{d}/odd.img", "--key-file", "{d}/key64", "-o", "{d}/out"], "whole number"),
    (["encrypt", "{d}/img", "--key-file", "{d}/key64", "-o", "{d}/key10"], "exists"),
    (["create", "{d}/new", "--size", "8X"], "bad size"),
    (["create", "{d}/new", "--size", "1000"], "multiple of 1 KiB"),
    (["create", "{d}/new", "--size", "8M", "--from-dir", "{d}/nodir"], "not a directory"),
    (["create", "{d}/img", "--size", "8M"], "exists"),
    (["create", "{d}/new", "--size", "8M", "--key-file", "{d}/key10"], "holds 10 bytes"),
    (["keygen", "{d}/key64"], "exists"),
])
def test_bad_inputs_one_line_error_nothing_written(tmp_path, capsys, argv, message):
    """Each mistake: status 1, exactly one 'l4shell:' line on stderr, inputs unchanged, no
    new file and no temporary file left."""
    (tmp_path / "img").write_bytes(bytes(8192))
    (tmp_path / "odd.img").write_bytes(bytes(1000))
    write_key(tmp_path / "key10", bytes(10))
    write_key(tmp_path / "hexkey", KEY32.hex().encode() + b"\n")
    write_key(tmp_path / "key64", KEY64)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    status, err = run([a.format(d=tmp_path) for a in argv], capsys)
    assert status == 1
    assert err.count("\n") == 1 and err.startswith("l4shell: ") and message in err
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_missing_mke2fs(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(tools, "SBIN_DIRS", ())
    status, err = run(["create", tmp_path / "x.img", "--size", "8M"], capsys)
    assert status == 1 and err == "l4shell: mke2fs not found: install e2fsprogs\n"
    assert list(tmp_path.iterdir()) == []


@needs_e2fsprogs
def test_mke2fs_failure_names_the_image_and_leaves_nothing(tmp_path, capsys):
    status, err = run(["create", tmp_path / "tiny.img", "--size", "8K"], capsys)
    assert status == 1 and err.startswith("l4shell: mke2fs failed: ") and err.count("\n") == 1
    assert ".tmp" not in err
    assert list(tmp_path.iterdir()) == []


def test_interrupt_midway_keeps_the_input(tmp_path, capsys, monkeypatch):
    """An interrupt in the middle of an in-place conversion leaves the image as it was and no
    temporary file (status 130)."""
    data = os.urandom(4 << 20)
    image = tmp_path / "img"
    image.write_bytes(data)
    calls = []
    real = tools.CryptTarget.encrypt

    def flaky(self, sector, chunk):
        calls.append(sector)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(self, sector, chunk)
    monkeypatch.setattr(tools.CryptTarget, "encrypt", flaky)
    status, err = run(["encrypt", image, "--key-file", write_key(tmp_path / "k", KEY64)], capsys)
    assert status == 130 and "interrupted" in err
    assert image.read_bytes() == data
    assert leftovers(tmp_path) == []


def test_keygen(tmp_path, capsys):
    """keygen writes a random raw key (64 bytes by default, 32 with --bits 256), mode 0600,
    usable at once by encrypt; it never overwrites without --force."""
    assert run(["keygen", tmp_path / "a"], capsys) == (0, "")
    assert run(["keygen", tmp_path / "b", "--bits", "256"], capsys) == (0, "")
    a, b = (tmp_path / "a").read_bytes(), (tmp_path / "b").read_bytes()
    assert len(a) == 64 and len(b) == 32 and a[:32] != b
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o600
    assert run(["keygen", tmp_path / "a", "--force"], capsys)[0] == 0
    assert (tmp_path / "a").read_bytes() != a
    tools.read_key(tmp_path / "a")


def test_weak_key_warns(tmp_path, capsys):
    image = tmp_path / "img"
    image.write_bytes(bytes(4096))
    status, err = run(["encrypt", image, "--key-file", write_key(tmp_path / "k", bytes(32))], capsys)
    assert status == 0 and "weak XTS key" in err


@pytest.mark.parametrize("text, size", [("8M", 8 << 20), ("64MiB", 64 << 20), ("512K", 512 << 10),
                                        ("512k", 512 << 10), ("1G", 1 << 30), ("4096", 4096),
                                        ("2MB", 2 << 20)])
def test_parse_size(text, size):
    assert tools.parse_size(text) == size


@pytest.mark.parametrize("text", ["", "8X", "-1M", "1.5M", "0", "513"])
def test_parse_size_refuses(text):
    with pytest.raises(tools.DiskToolError):
        tools.parse_size(text)


def test_no_traceback_from_the_command_line(tmp_path):
    """Run as a program: a bad key file is one line on stderr and status 1."""
    (tmp_path / "img").write_bytes(bytes(4096))
    (tmp_path / "k").write_bytes(b"short")
    result = subprocess.run([sys.executable, "-m", "l4shell.disk", "encrypt", str(tmp_path / "img"),
                             "--key-file", str(tmp_path / "k")], capture_output=True, text=True,
                            cwd=ROOT)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
