"""The ext2 driver's operations (fragments.storage.ext2.fs) on real mke2fs images, judged by
e2fsck -fn and debugfs."""

import errno
import stat
import subprocess

import pytest

from fragments.storage.ext2 import FsError

from .conftest import FIXED_TIME, ModelClock, Mounted, assert_clean, debugfs, debugfs_cat, make_image, \
    needs_e2fsprogs

pytestmark = needs_e2fsprogs

GEOMETRIES = [(1024, 1, 256), (2048, 1, 256), (4096, 1, 256), (1024, 1, 128), (1024, 0, 128), (4096, 0, 128)]


def build(tmp_path, tree, block_size=1024, revision=1, inode_size=256, size_kib=4096):
    extra = ("-I", str(inode_size)) if revision == 1 else ()
    return make_image(tmp_path / "fs.img", size_kib, block_size, revision, tree, extra)


def refused(mounted: Mounted, code: int, operation, *args):
    """Run an operation that must fail with ``code`` and leave the image byte-identical."""
    mounted.fs.sync()
    before = bytes(mounted.image)
    with pytest.raises(FsError) as raised:
        operation(*args)
    assert raised.value.errno == code, raised.value
    mounted.fs.sync()
    assert bytes(mounted.image) == before


@pytest.mark.parametrize("block_size, revision, inode_size", GEOMETRIES)
def test_reads_mke2fs_image(tmp_path, tree, block_size, revision, inode_size):
    """Everything mke2fs -d wrote reads back: data (indirect blocks included), both symlink
    kinds, directory listings with types; and reading writes nothing."""
    path = build(tmp_path, tree, block_size, revision, inode_size)
    mounted = Mounted(path)
    fs = mounted.fs
    original = bytes(mounted.image)
    names = {entry.name: entry for entry in fs.readdir(2)}
    assert set(names) == {".", "..", "lost+found", "hello.txt", "docs", "empty", "fast", "slow"}
    assert names["docs"].d_type == stat.S_IFDIR >> 12 and names["fast"].d_type == stat.S_IFLNK >> 12
    assert names["hello.txt"].d_type == stat.S_IFREG >> 12
    hello = fs.lookup("/hello.txt")
    assert fs.read(hello, 0, 100) == b"hello, ext2\n"
    assert fs.read(hello, 7, 4) == b"ext2" and fs.read(hello, 50, 10) == b""
    big = fs.lookup("docs/big.bin")
    assert fs.read(big, 0, 1 << 20) == (tree / "docs" / "big.bin").read_bytes()
    assert fs.stat(big).size == 51200
    assert fs.read(fs.lookup("/empty"), 0, 10) == b""
    assert fs.readlink(fs.lookup("/fast")) == "hello.txt"
    assert fs.readlink(fs.lookup("/slow")) == "d/" * 40 + "target"
    assert fs.find(fs.lookup("/docs"), "..") == 2
    fs.sync()
    assert bytes(mounted.image) == original


@pytest.mark.parametrize("block_size, revision, inode_size", GEOMETRIES)
def test_modifications_pass_e2fsck(tmp_path, tree, block_size, revision, inode_size):
    """Write, append, overwrite, truncate, create, mkdir, symlink, rename, unlink, rmdir:
    e2fsck finds nothing to fix and debugfs reads the bytes we wrote."""
    mounted = Mounted(build(tmp_path, tree, block_size, revision, inode_size))
    fs = mounted.fs
    hello = fs.lookup("/hello.txt")
    fs.write(hello, fs.stat(hello).size, b"appended\n")
    fs.write(hello, 0, b"HELLO")
    big = fs.lookup("/docs/big.bin")
    fs.truncate(big, 5000)
    fs.write(big, 20000, b"after a hole")
    work = fs.mkdir(2, "work")
    nested = fs.mkdir(work, "nested")
    for index in range(60):
        fs.write(fs.create(work, f"entry-{index:02d}-" + "x" * (index % 17)), 0, bytes([index]) * index)
    for index in range(0, 60, 3):
        fs.unlink(work, f"entry-{index:02d}-" + "x" * (index % 17))
    fs.symlink(nested, "short", "../entry")
    fs.symlink(nested, "long", "/very/" * 30)
    fs.rename(2, "hello.txt", nested, "greeting.txt")
    fs.rename(2, "docs", work, "docs")
    fs.rmdir(2, "lost+found")
    fs.unlink(2, "empty")
    mounted.save()
    assert_clean(mounted.path)
    assert debugfs_cat(mounted.path, "/work/nested/greeting.txt") == b"HELLO, ext2\nappended\n"
    expected_big = (tree / "docs" / "big.bin").read_bytes()[:5000] + bytes(15000) + b"after a hole"
    assert debugfs_cat(mounted.path, "/work/docs/big.bin") == expected_big
    assert debugfs_cat(mounted.path, "/work/entry-01-x") == b"\x01"
    listing = debugfs(mounted.path, "ls -l /work/nested")
    assert "short" in listing and "long" in listing and "greeting.txt" in listing
    reread = Mounted(mounted.path).fs
    assert reread.readlink(reread.lookup("/work/nested/long")) == "/very/" * 30
    assert reread.find(reread.lookup("/work/docs"), "..") == reread.lookup("/work")


def test_link_counts(tmp_path, tree):
    """A directory has 2 links plus one per subdirectory; moves and removals keep this."""
    mounted = Mounted(build(tmp_path, tree))
    fs = mounted.fs
    root_links = fs.stat(2).nlink
    a, b = fs.mkdir(2, "a"), fs.mkdir(2, "b")
    assert fs.stat(2).nlink == root_links + 2 and fs.stat(a).nlink == 2
    child = fs.mkdir(a, "child")
    assert fs.stat(a).nlink == 3
    fs.rename(a, "child", b, "moved")
    assert (fs.stat(a).nlink, fs.stat(b).nlink) == (2, 3)
    assert fs.find(child, "..") == b
    fs.rmdir(b, "moved")
    assert fs.stat(b).nlink == 2
    mounted.save()
    assert_clean(mounted.path)


def test_an_unlinked_open_file_lives_until_its_last_release(tmp_path, tree):
    """Unlinked (or renamed over) while open, a file keeps its data, stays readable and
    writable and frees nothing until its last release; then inode and blocks go, and the
    image is clean. Unmounting frees the orphans still open."""
    mounted = Mounted(build(tmp_path, tree))
    fs = mounted.fs
    big, hello = fs.lookup("/docs/big.bin"), fs.lookup("/hello.txt")
    fs.open(big)
    fs.open(big)
    linked = fs.statfs()
    fs.unlink(fs.lookup("/docs"), "big.bin")
    assert fs.statfs().free_blocks == linked.free_blocks and fs.statfs().free_inodes == linked.free_inodes
    assert fs.read(big, 0, 4) == bytes(range(4)) and fs.stat(big).nlink == 0
    assert fs.write(big, 51200, b"more") == 4
    fs.release(big)
    assert fs.read(big, 51200, 4) == b"more"
    fs.open(hello)
    fs.rename(2, "empty", 2, "hello.txt")
    assert fs.read(hello, 0, 5) == b"hello"
    held = fs.statfs()
    sectors = fs.stat(big).blocks + fs.stat(hello).blocks       # what must come back
    fs.release(big)
    refused(mounted, errno.ENOENT, fs.read, big, 0, 4)
    fs.drop_orphans()
    refused(mounted, errno.ENOENT, fs.read, hello, 0, 5)
    freed = fs.statfs()
    assert freed.free_blocks == held.free_blocks + sectors * 512 // freed.block_size
    assert freed.free_inodes == held.free_inodes + 2
    mounted.save()
    assert_clean(mounted.path)


def test_rename_replacing(tmp_path, tree):
    """rename over an existing file frees it; over an empty directory frees that; the
    same-inode case is a no-op; the kinds must match."""
    mounted = Mounted(build(tmp_path, tree))
    fs = mounted.fs
    free_inodes = fs.statfs().free_inodes
    victim = fs.create(2, "victim")
    fs.write(victim, 0, b"old" * 1000)
    fs.rename(2, "hello.txt", 2, "victim")
    assert fs.statfs().free_inodes == free_inodes
    assert fs.read(fs.lookup("/victim"), 0, 100) == b"hello, ext2\n"
    src, dst = fs.mkdir(2, "src"), fs.mkdir(2, "dst")
    fs.mkdir(src, "inner")
    links = fs.stat(2).nlink
    fs.rename(2, "src", 2, "dst")
    assert fs.lookup("/dst") == src and fs.stat(2).nlink == links - 1
    with pytest.raises(FsError):
        fs.stat(dst)
    fs.rename(2, "fast", 2, "fast")
    refused(mounted, errno.EISDIR, fs.rename, 2, "victim", 2, "dst")
    refused(mounted, errno.ENOTDIR, fs.rename, 2, "dst", 2, "victim")
    fs.write(fs.create(fs.lookup("/dst/inner"), "f"), 0, b"x")
    other = fs.mkdir(2, "other")
    fs.mkdir(other, "inner")
    refused(mounted, errno.ENOTEMPTY, fs.rename, other, "inner", fs.lookup("/dst"), "inner")
    refused(mounted, errno.EINVAL, fs.rename, 2, "dst", fs.lookup("/dst/inner"), "loop")
    refused(mounted, errno.ENOENT, fs.rename, 2, "missing", 2, "x")
    mounted.save()
    assert_clean(mounted.path)


def test_errors_change_nothing(tmp_path, tree):
    """Each refused operation raises the POSIX errno and leaves the image byte-identical."""
    mounted = Mounted(build(tmp_path, tree))
    fs = mounted.fs
    hello = fs.lookup("/hello.txt")
    docs = fs.lookup("/docs")
    refused(mounted, errno.ENOENT, fs.lookup, "/nope")
    refused(mounted, errno.ENOTDIR, fs.lookup, "/hello.txt/x")
    refused(mounted, errno.EEXIST, fs.create, 2, "hello.txt")
    refused(mounted, errno.EEXIST, fs.mkdir, 2, "docs")
    refused(mounted, errno.ENOTDIR, fs.create, hello, "x")
    refused(mounted, errno.EISDIR, fs.unlink, 2, "docs")
    refused(mounted, errno.EISDIR, fs.read, docs, 0, 10)
    refused(mounted, errno.EISDIR, fs.write, docs, 0, b"x")
    refused(mounted, errno.ENOTDIR, fs.rmdir, 2, "hello.txt")
    refused(mounted, errno.ENOTEMPTY, fs.rmdir, 2, "docs")
    refused(mounted, errno.EINVAL, fs.rmdir, docs, ".")
    refused(mounted, errno.EINVAL, fs.create, 2, "..")
    refused(mounted, errno.EINVAL, fs.create, 2, "a/b")
    refused(mounted, errno.EINVAL, fs.create, 2, "")
    refused(mounted, errno.ENAMETOOLONG, fs.create, 2, "n" * 256)
    refused(mounted, errno.ENAMETOOLONG, fs.symlink, 2, "s", "t" * 1024)
    refused(mounted, errno.EINVAL, fs.readlink, hello)
    refused(mounted, errno.EINVAL, fs.read, hello, -1, 1)
    refused(mounted, errno.EINVAL, fs.truncate, fs.lookup("/fast"), 0)
    refused(mounted, errno.EFBIG, fs.write, hello, 2 ** 45, b"x")
    fs.create(2, "n" * 255)  # the longest legal name


def test_timestamps_come_from_the_clock(tmp_path, tree):
    """Times are the caller's modeled clock, never the host's: creation sets all three, writes
    set mtime/ctime, and the parent directory's mtime follows its entries."""
    clock = ModelClock(start=1000)
    mounted = Mounted(build(tmp_path, tree), clock)
    fs = mounted.fs
    ino = fs.create(2, "timed")
    created = fs.stat(ino)
    assert created.atime == created.mtime == created.ctime == clock.now
    assert fs.stat(2).mtime == clock.now
    fs.write(ino, 0, b"data")
    written = fs.stat(ino)
    assert written.mtime == written.ctime == clock.now and written.atime == created.atime
    fs.read(ino, 0, 4)
    assert fs.stat(ino).atime == created.atime  # noatime: reads never write
    mounted.save()
    assert f"mtime: 0x{written.mtime:08x}" in debugfs(mounted.path, "stat /timed")


def test_enospc_when_full(tmp_path, tree):
    """Filling the disk ends in ENOSPC with nothing half-done: the failing write changes no
    byte and no count; inode exhaustion gives ENOSPC too; freeing gives the space back."""
    path = make_image(tmp_path / "small.img", 512, 1024, 1, None, ("-N", "32"))
    mounted = Mounted(path)
    fs = mounted.fs
    start = fs.statfs()
    root_sectors = fs.stat(2).blocks
    filler = fs.create(2, "filler")
    chunk = b"\xaa" * 8192
    with pytest.raises(FsError) as raised:
        while True:
            fs.write(filler, fs.stat(filler).size, chunk)
    assert raised.value.errno == errno.ENOSPC
    free = fs.statfs().free_blocks
    refused(mounted, errno.ENOSPC, fs.write, filler, fs.stat(filler).size, b"\xbb" * (free + 1) * 1024)
    with pytest.raises(FsError) as raised:
        while True:
            fs.write(filler, fs.stat(filler).size, b"\xcc" * 1024)
    assert raised.value.errno == errno.ENOSPC and fs.statfs().free_blocks <= 1
    refused(mounted, errno.ENOSPC, fs.write, filler, fs.stat(filler).size, b"x")
    refused(mounted, errno.ENOSPC, fs.mkdir, 2, "nodir")
    names = []
    with pytest.raises(FsError) as raised:
        while True:
            names.append(fs.create(2, f"f{len(names)}"))
    assert raised.value.errno == errno.ENOSPC and fs.statfs().free_inodes == 0
    mounted.save()
    assert_clean(path)
    fs.unlink(2, "filler")
    for index in range(len(names)):
        fs.unlink(2, f"f{index}")
    root_growth = (fs.stat(2).blocks - root_sectors) // 2  # 1 KiB blocks the root directory gained
    assert fs.statfs().free_blocks == start.free_blocks - root_growth
    assert fs.statfs().free_inodes == start.free_inodes
    mounted.save()
    assert_clean(path)


def test_htree_directory_becomes_linear(tmp_path):
    """An htree-indexed directory (built by e2fsck -D) is read linearly; modifying it clears
    the index flag as Linux's ext2 does, and e2fsck stays clean."""
    source = tmp_path / "many"
    (source / "big").mkdir(parents=True)
    for index in range(300):
        (source / "big" / f"file-with-a-longish-name-{index}").write_bytes(str(index).encode())
    path = make_image(tmp_path / "htree.img", 4096, 1024, 1, source)
    subprocess.run(["e2fsck", "-fyD", str(path)], capture_output=True)
    assert "Flags: 0x1000" in debugfs(path, "stat /big")
    mounted = Mounted(path)
    fs = mounted.fs
    big = fs.lookup("/big")
    assert len(fs.readdir(big)) == 302
    assert fs.read(fs.lookup("/big/file-with-a-longish-name-299"), 0, 10) == b"299"
    fs.unlink(big, "file-with-a-longish-name-7")
    fs.write(fs.create(big, "newcomer"), 0, b"new")
    mounted.save()
    assert_clean(path)
    assert "Flags: 0x0" in debugfs(path, "stat /big")
    assert debugfs_cat(path, "/big/newcomer") == b"new"


def test_clock_is_not_host_time(tmp_path, tree):
    """A fixed clock yields exactly that time everywhere the driver stamps."""
    mounted = Mounted(build(tmp_path, tree), clock=lambda: FIXED_TIME)
    fs = mounted.fs
    ino = fs.mkdir(2, "d")
    assert fs.stat(ino).ctime == FIXED_TIME == fs.stat(2).mtime
