"""``l4shell disk …``: host tools that make and convert the disk images the model attaches.

    l4shell disk create IMAGE --size SIZE [--key-file KEY] [--from-dir DIR] [--block-size N]
    l4shell disk encrypt IMAGE --key-file KEY [-o OUT]
    l4shell disk decrypt IMAGE --key-file KEY [-o OUT]
    l4shell disk keygen KEY [--bits 256|512]

``create`` runs ``mke2fs -q -t ext2 -F [-d DIR] -b N IMAGE SIZE`` and, given a key, encrypts
the result as plain dm-crypt ``aes-xts-plain64`` (no header; sector n under IV LE64(n) ‖ 0^64,
the format of ``fragments.storage.dmcrypt``). ``encrypt``/``decrypt`` convert between the
plain and the encrypted form, in place unless ``-o`` names another file.

A key file holds the raw key: 32 bytes (AES-128-XTS) or 64 bytes (AES-256-XTS), as
cryptsetup's ``--key-file`` reads it for plain mode. ``keygen`` writes one from the host's
random source — host tooling, never the model (which draws only from its seeded RNG).

Invariants: an output is written to a temporary file next to it and renamed into place only
when complete, so an error or an interrupt never leaves a half-written image (or clobbers
the input of an in-place conversion). Errors of the user's making are one line on stderr
and a non-zero exit status (1; 2 for bad arguments), never a traceback. Progress of
conversions of more than ``PROGRESS_MIN_BYTES`` goes to stderr.

The disk commands are host tools: they touch no machine, so they sit beside the CLI rather
than in the model. ``add_disk_parser(subparsers)`` registers them on the CLI.

The options that attach an image to a booted system (``--disk IMAGE [--key-file KEY]
[--mount PATH]``) are registered by ``add_disk_options``; ``attach_disk`` applies them
(the model's storage fragments mount it, see ``fragments.linux.storage``) and
``detach_disk`` flushes and unmounts at exit.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from fragments.storage import crypto_api
from fragments.storage.blockdev import SECTOR_SIZE
from fragments.storage.dmcrypt import DEFAULT_CIPHER, IMAGE_CHUNK_SECTORS, CipherSpec, CryptTarget

BLOCK_SIZES = (1024, 2048, 4096)
DEFAULT_BLOCK_SIZE = 1024
KEY_SIZES = crypto_api.allocate("xts(aes)").key_sizes   # (32, 64): what dmcrypt accepts
PROGRESS_MIN_BYTES = 4 << 20
SBIN_DIRS = ("/usr/sbin", "/sbin")   # mke2fs lives here, often outside a user's PATH
EXT2_MAGIC_OFFSET, EXT2_MAGIC = 1024 + 56, b"\x53\xef"
_SIZE = re.compile(r"(?P<number>\d+)\s*(?P<unit>[kmgt]?)(?:i?b)?", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}

Progress = Callable[[int, int], None]   # (bytes done, bytes total)


class DiskToolError(Exception):
    """A user-facing failure: the message is the whole story (one line)."""


# --- inputs -----------------------------------------------------------------------------
def parse_size(text: str) -> int:
    """``8M``, ``64MiB``, ``512K``, ``1G`` (powers of 1024) or plain bytes; a positive whole
    number of KiB (mke2fs counts in KiB, dm-crypt in 512-byte sectors)."""
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise DiskToolError(f"bad size {text!r}: give bytes or a number with K, M or G")
    size = int(match["number"]) * _UNITS[match["unit"].lower()]
    if size <= 0 or size % 1024:
        raise DiskToolError(f"bad size {text!r}: must be a positive multiple of 1 KiB")
    return size


def read_key(path: str | os.PathLike) -> bytes:
    """The raw key in ``path``; its size must suit AES-XTS (32 or 64 bytes)."""
    try:
        key = Path(path).read_bytes()
    except OSError as error:
        raise DiskToolError(f"key file {path}: {error.strerror}") from None
    if len(key) not in KEY_SIZES:
        hint = " (a hex text? the key file holds raw bytes)" if _looks_hex(key) else ""
        raise DiskToolError(f"key file {path}: holds {len(key)} bytes, an aes-xts-plain64 key is "
                            f"{' or '.join(map(str, KEY_SIZES))} raw bytes{hint}")
    return key


def _looks_hex(data: bytes) -> bool:
    return bool(re.fullmatch(rb"[0-9a-fA-F]+\s*", data))


def weak_key(key: bytes) -> bool:
    """XTS with equal data and tweak keys is weak (Linux refuses it in FIPS mode)."""
    half = len(key) // 2
    return key[:half] == key[half:]


def looks_like_ext2(path: str | os.PathLike) -> bool:
    with open(path, "rb") as image:
        image.seek(EXT2_MAGIC_OFFSET)
        return image.read(2) == EXT2_MAGIC


def find_mke2fs() -> str | None:
    search = os.pathsep.join([os.environ.get("PATH", ""), *SBIN_DIRS])
    return shutil.which("mke2fs", path=search)


# --- atomic output ----------------------------------------------------------------------
class _AtomicOutput:
    """A temporary file beside ``target``; ``commit(mode)`` makes it durable and renames it
    over ``target``; leaving the ``with`` block without a commit removes it."""

    def __init__(self, target: Path):
        self.target = target
        self.committed = False

    def __enter__(self) -> "_AtomicOutput":
        directory = self.target.parent
        try:
            fd, name = tempfile.mkstemp(dir=directory, prefix=f".{self.target.name}.",
                                        suffix=".tmp")
        except OSError as error:
            raise DiskToolError(f"{directory}: cannot write here: {error.strerror}") from None
        os.close(fd)
        self.path = Path(name)
        return self

    def commit(self, mode: int) -> None:
        os.chmod(self.path, mode)
        with open(self.path, "rb+") as out:
            os.fsync(out.fileno())
        os.replace(self.path, self.target)
        self.committed = True

    def __exit__(self, *exc) -> None:
        if not self.committed:
            self.path.unlink(missing_ok=True)


def _new_file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _check_output(path: Path, force: bool) -> None:
    if path.exists() and not force:
        raise DiskToolError(f"{path}: exists (use --force to replace it)")
    if path.is_dir():
        raise DiskToolError(f"{path}: is a directory")


# --- conversions ------------------------------------------------------------------------
def _convert(src: Path, dst: Path, transform: Callable[[int, bytes], bytes],
             progress: Progress | None) -> int:
    """Stream ``src`` through ``transform(sector, data)`` into ``dst`` (may be ``src``);
    returns the sector count. The caller has checked that ``src`` is whole sectors."""
    size = src.stat().st_size
    chunk = IMAGE_CHUNK_SECTORS * SECTOR_SIZE
    same = src == dst
    source = os.open(src, os.O_RDWR if same else os.O_RDONLY)
    target = source if same else os.open(dst, os.O_WRONLY | os.O_TRUNC)
    try:
        for position in range(0, size, chunk):
            data = os.pread(source, min(chunk, size - position), position)
            os.pwrite(target, transform(position // SECTOR_SIZE, data), position)
            if progress:
                progress(position + len(data), size)
    finally:
        os.close(source)
        if not same:
            os.close(target)
    return size // SECTOR_SIZE


def _target(key: bytes) -> CryptTarget:
    return CryptTarget(CipherSpec.parse(DEFAULT_CIPHER), key)


def check_conversion(image: str | os.PathLike, out: str | os.PathLike | None,
                     force: bool) -> tuple[Path, Path, bool]:
    """Everything that can be wrong with a conversion before it starts: (source, output,
    in place?)."""
    src = Path(image)
    if not src.is_file():
        raise DiskToolError(f"{src}: no such image file")
    size = src.stat().st_size
    if size % SECTOR_SIZE or size == 0:
        raise DiskToolError(f"{src}: {size} bytes is not a positive whole number of "
                            f"{SECTOR_SIZE}-byte sectors")
    dst = src if out is None else Path(out)
    in_place = dst.exists() and os.path.samefile(src, dst)
    if in_place:
        dst = Path(os.path.realpath(dst))  # replace the file a symlink names, not the link
    else:
        _check_output(dst, force)
    return src, dst, in_place


def convert_image(image: str | os.PathLike, key: bytes, encrypt: bool,
                  out: str | os.PathLike | None = None, force: bool = False,
                  progress: Progress | None = None) -> Path:
    """Encrypt (or decrypt) ``image`` into ``out`` (default: ``image`` itself, replaced
    atomically); returns the path written."""
    src, dst, in_place = check_conversion(image, out, force)
    target = _target(key)
    transform = target.encrypt if encrypt else target.decrypt
    mode = (src.stat().st_mode & 0o7777) if in_place else _new_file_mode()
    with _AtomicOutput(dst) as out:
        _convert(src, out.path, transform, progress)
        out.commit(mode)
    return dst


def check_create(image: str | os.PathLike, size: int, from_dir: str | os.PathLike | None,
                 block_size: int, force: bool) -> tuple[Path, str]:
    """Everything that can be wrong with ``create`` before mke2fs runs: (output, mke2fs)."""
    dst = Path(image)
    if block_size not in BLOCK_SIZES:
        raise DiskToolError(f"block size {block_size}: must be one of {', '.join(map(str, BLOCK_SIZES))}")
    if size % 1024 or size <= 0:
        raise DiskToolError(f"size {size}: must be a positive multiple of 1 KiB")
    if from_dir is not None and not Path(from_dir).is_dir():
        raise DiskToolError(f"{from_dir}: not a directory")
    _check_output(dst, force)
    mke2fs = find_mke2fs()
    if mke2fs is None:
        raise DiskToolError("mke2fs not found: install e2fsprogs")
    return dst, mke2fs


def create_image(image: str | os.PathLike, size: int, key: bytes | None = None,
                 from_dir: str | os.PathLike | None = None, block_size: int = DEFAULT_BLOCK_SIZE,
                 force: bool = False, progress: Progress | None = None) -> Path:
    """Make an ext2 image of ``size`` bytes with mke2fs (filled from ``from_dir``), then
    encrypt it with ``key`` if one is given."""
    dst, mke2fs = check_create(image, size, from_dir, block_size, force)
    with _AtomicOutput(dst) as out:
        tmp = out.path
        os.truncate(tmp, size)
        command = [mke2fs, "-q", "-t", "ext2", "-F"]
        if from_dir is not None:
            command += ["-d", str(from_dir)]
        command += ["-b", str(block_size), str(tmp), f"{size // 1024}k"]
        result = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if result.returncode:
            message = _last_line(result.stderr or result.stdout).replace(str(tmp), str(dst))
            raise DiskToolError(f"mke2fs failed: {message}")
        if key is not None:
            _convert(tmp, tmp, _target(key).encrypt, progress)
        out.commit(_new_file_mode())
    return dst


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


def keygen(path: str | os.PathLike, bits: int = 512, force: bool = False) -> Path:
    """Write a fresh random key of ``bits`` (256 or 512) to ``path``, mode 0600."""
    if bits // 8 not in KEY_SIZES or bits % 8:
        raise DiskToolError(f"--bits {bits}: must be {' or '.join(str(8 * n) for n in KEY_SIZES)}")
    dst = Path(path)
    _check_output(dst, force)
    with _AtomicOutput(dst) as out:
        out.path.write_bytes(secrets.token_bytes(bits // 8))
        out.commit(0o600)
    return dst


# --- attaching to a booted system -------------------------------------------------------
def add_disk_options(parser) -> None:
    """--disk, --key-file, --mount: an image for the model's storage stack."""
    parser.add_argument("--disk", metavar="IMAGE", help="attach an ext2 image (see 'disk create')")
    parser.add_argument("--key-file", metavar="KEY", help="the image is plain dm-crypt "
                        "aes-xts-plain64 under this raw key (without it: a plain ext2 image)")
    parser.add_argument("--mount", default="/mnt", metavar="PATH",
                        help="where the image appears in the model (default /mnt)")


def attach_disk(system, args) -> str | None:
    """Attach and mount ``args.disk`` (if given); None, or a one-line error (nothing
    written to the image)."""
    if args.disk is None:
        return "--key-file needs --disk" if args.key_file else None
    point = "/" + os.path.normpath(args.mount).lstrip("/")
    if not args.mount.startswith("/") or point == "/":
        return f"--mount {args.mount}: expected an absolute path below /"
    try:
        key = read_key(args.key_file) if args.key_file else None
    except DiskToolError as error:
        return str(error)
    error = system.attach_disk(args.disk, key, point.encode())
    if error and key is not None and Path(args.disk).is_file() and looks_like_ext2(args.disk):
        error += " (the image is plain ext2: drop --key-file)"
    return error


def detach_disk(system) -> str | None:
    """Flush and unmount the attached image at exit; None, or what went wrong."""
    return system.detach_disk()


# --- the command line -------------------------------------------------------------------
def add_disk_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``disk`` and its subcommands; each sets ``handler`` (args -> exit status)."""
    disk = subparsers.add_parser("disk", help="make, encrypt and decrypt disk images",
                                 description=__doc__.split("\n\n")[0])
    sub = disk.add_subparsers(dest="disk_command", required=True, metavar="COMMAND")

    create = sub.add_parser("create", help="make an ext2 image with mke2fs, optionally encrypted")
    create.add_argument("image", metavar="IMAGE")
    create.add_argument("--size", required=True, metavar="SIZE", help="e.g. 8M, 64M, 512K, or bytes")
    create.add_argument("--key-file", metavar="KEY", help="encrypt as plain dm-crypt aes-xts-plain64")
    create.add_argument("--from-dir", metavar="DIR", help="fill the file system from DIR (mke2fs -d)")
    create.add_argument("--block-size", type=int, default=DEFAULT_BLOCK_SIZE, metavar="N",
                        choices=BLOCK_SIZES, help=f"ext2 block size (default {DEFAULT_BLOCK_SIZE})")
    create.add_argument("--force", action="store_true", help="replace an existing IMAGE")
    create.set_defaults(handler=cmd_create)

    for name, verb in (("encrypt", "encrypt a plain image"), ("decrypt", "decrypt an encrypted image")):
        convert = sub.add_parser(name, help=f"{verb} (plain dm-crypt aes-xts-plain64)")
        convert.add_argument("image", metavar="IMAGE")
        convert.add_argument("--key-file", required=True, metavar="KEY")
        convert.add_argument("-o", "--output", metavar="OUT", help="write here instead of in place")
        convert.add_argument("--force", action="store_true", help="replace an existing OUT")
        convert.set_defaults(handler=cmd_convert, encrypt=name == "encrypt")

    gen = sub.add_parser("keygen", help="write a random raw key file (mode 0600)")
    gen.add_argument("key", metavar="KEY")
    gen.add_argument("--bits", type=int, default=512, choices=[8 * n for n in KEY_SIZES])
    gen.add_argument("--force", action="store_true", help="replace an existing KEY")
    gen.set_defaults(handler=cmd_keygen)
    return disk


def _guarded(body: Callable[[], int]) -> int:
    try:
        return body()
    except DiskToolError as error:
        return _error(str(error))
    except OSError as error:
        where = f"{error.filename}: " if error.filename else ""
        return _error(f"{where}{error.strerror or error}")
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return _error("interrupted (nothing written)", 130)


def _error(message: str, status: int = 1) -> int:
    print(f"l4shell: {message}", file=sys.stderr)
    return status


def _warn(message: str) -> None:
    print(f"l4shell: warning: {message}", file=sys.stderr)


def _progress_for(verb: str, name: str, size: int) -> Progress | None:
    """A stderr percentage for conversions bigger than PROGRESS_MIN_BYTES."""
    if size <= PROGRESS_MIN_BYTES:
        return None
    shown = [-1]

    def report(done: int, total: int) -> None:
        percent = done * 100 // total
        if percent != shown[0]:
            shown[0] = percent
            end = "\n" if done >= total else ""
            print(f"\r{verb} {name}: {percent:3d}%", end=end, file=sys.stderr, flush=True)
    return report


def _warn_weak(args, key: bytes) -> None:
    if weak_key(key):
        _warn(f"key file {args.key_file}: its two halves are equal, a weak XTS key")


def cmd_create(args) -> int:
    def body() -> int:
        size = parse_size(args.size)
        key = read_key(args.key_file) if args.key_file else None
        check_create(args.image, size, args.from_dir, args.block_size, args.force)
        if key is not None:
            _warn_weak(args, key)
        progress = _progress_for("encrypting", Path(args.image).name, size) if key else None
        create_image(args.image, size, key, args.from_dir, args.block_size, args.force, progress)
        return 0
    return _guarded(body)


def cmd_convert(args) -> int:
    def body() -> int:
        key = read_key(args.key_file)
        src, _, _ = check_conversion(args.image, args.output, args.force)
        _warn_weak(args, key)
        if args.encrypt and not looks_like_ext2(src):
            _warn(f"{src} has no ext2 superblock: is it encrypted already?")
        verb = "encrypting" if args.encrypt else "decrypting"
        progress = _progress_for(verb, src.name, src.stat().st_size)
        written = convert_image(src, key, args.encrypt, args.output, args.force, progress)
        if not args.encrypt and not looks_like_ext2(written):
            _warn(f"{written} has no ext2 superblock after decryption: wrong key?")
        return 0
    return _guarded(body)


def cmd_keygen(args) -> int:
    def body() -> int:
        keygen(args.key, args.bits, args.force)
        return 0
    return _guarded(body)


def main(argv: list[str] | None = None) -> int:
    """``python -m l4shell.disk …``: the disk commands on their own."""
    parser = argparse.ArgumentParser(prog="l4shell")
    add_disk_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["disk", *(sys.argv[1:] if argv is None else argv)])
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
