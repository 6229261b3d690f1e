"""The `vfs` fragment: file descriptors, open files, pipes, path lookup, cwd.

Invariants:
- An ``OpenFile`` is shared by every descriptor that dup/fork made from one open (they
  share the offset); ``refs`` counts those descriptors. When it drops to 0 the pipe end
  it holds closes, which may wake blocked readers (EOF) or blocked writers (EPIPE).
- A ``Pipe`` holds at most ``PIPE_SIZE`` bytes in ``buf``. A write of at most
  ``PIPE_BUF`` bytes is atomic: all of it goes in, or none. A blocking write that does not
  (entirely) fit puts in what it may (nothing, if atomic), then is deferred as a
  ``BlockedWrite`` in ``blocked``, which keeps the bytes not yet written (copied from user
  memory when the write began: user memory is not read again). With O_NONBLOCK it answers
  the count it put in, or -EAGAIN if none.
- Reads on an empty pipe with writers left are deferred (``waiting``). ``_wake_pipe`` is
  the one place that moves bytes between the queues: blocked writes into ``buf`` in
  order, as room frees up, then ``buf`` to waiting reads, until neither moves. It runs
  after every write, read and close of a pipe end, and answers the calls it finishes
  only through ``self.complete`` (never by calling back into a syscall), so a reader
  waking a writer and a writer waking a reader cannot recurse or deadlock.
- So: ``blocked`` non-empty means its first write does not fit; ``waiting`` non-empty
  means ``buf`` and ``blocked`` are empty. New writes queue behind ``blocked`` (FIFO).
- When the last reader closes, every blocked write ends as Linux's does: SIGPIPE (through
  ``process.post_signal``) and the count already written, or -EPIPE if none.
- A poll that finds nothing ready waits (``pollers``) if it may: after every change of a
  pipe (``_wake_pipe``) and every console input, the waiting polls are checked again and
  those with a ready descriptor answered through ``self.complete``. A poll with a finite
  timeout does not wait: the clock jumps over the timeout, as nanosleep's does [A].
- Paths are resolved lexically against the process's cwd, then looked up in the mounted
  file systems, the root one (`ramfs`) included (see ``mounts``): files, directories and
  their names are reached only through the ``_node_*`` operations, plain data across the
  binding to each file system's fragment, whatever task holds it.
- Device files are the file systems' data (a mode and a number); the vfs serves the
  character devices of ``CHAR_DEVICES`` by number: the terminal through the `console`
  fragment, null, zero and (u)random itself (random bytes from the machine's seeded RNG,
  as getrandom's). Other device numbers open as -ENXIO.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field

from kernel_model.ipc_abi import signed32

from fragments.runtime.fragment import Fragment, operation

from . import abi
from .abi import (AT_FDCWD, FD_CLOEXEC, IOVEC, LOFF, O_ACCMODE, S_IFIFO, S_IFMT, STAT64, STATX,
                  AtFlag, FcntlCmd, OpenFlag, pack_dirent64)
from .mounts import Mounts, Node, normalize
from .syscalls import DEFER, Call, Completions, SyscallServer

O = OpenFlag


PIPE_SIZE = 65536          # a pipe's capacity (Linux's default: 16 pages)
PIPE_BUF = 4096            # writes up to this size are atomic
MAX_FDS = 1024             # descriptors per process (the RLIMIT_NOFILE soft limit)
UTIME_NOW, UTIME_OMIT = (1 << 30) - 1, (1 << 30) - 2     # utimensat's special nanoseconds
CHAR_DEVICES = {0x0500: "console", 0x0501: "console", 0x0103: "null", 0x0105: "zero",
                0x0108: "random", 0x0109: "random"}     # rdev -> file kind
DISCARDING = ("null", "zero", "random")                 # kinds whose writes go nowhere
CONSOLE = b"/dev/console"


@dataclass(eq=False)
class BlockedWrite:
    """A deferred pipe write: ``rest`` is what it has still to put in, ``done`` what it
    already has (the answer, once ``rest`` is empty)."""
    call: Call
    rest: bytes
    done: int = 0
    atomic: bool = False       # the whole write is at most PIPE_BUF bytes


@dataclass(eq=False)
class Poller:
    """A deferred poll: the pollfd array at ``address`` holds ``wanted`` (fd, events)."""
    call: Call
    address: int
    wanted: list


@dataclass(eq=False)
class Pipe:
    ino: int
    buf: bytearray = field(default_factory=bytearray)   # at most PIPE_SIZE bytes
    readers: int = 0
    writers: int = 0
    waiting: list = field(default_factory=list)   # deferred reads: (call, iov list)
    blocked: list = field(default_factory=list)   # deferred writes: BlockedWrite, in order

    def room_for(self, n: int, atomic: bool) -> int:
        """How many of ``n`` bytes a write may put in now (atomic writes: all or none)."""
        room = PIPE_SIZE - len(self.buf)
        return 0 if atomic and room < n else min(room, n)


@dataclass(eq=False)
class OpenFile:
    kind: str                  # file | dir | pipe_r | pipe_w | text (made up: /proc/mounts) | a device
    flags: int
    inode: Node | None = None  # what it opened (a pipe has none)
    pipe: Pipe | None = None
    path: bytes = b""
    offset: int = 0
    refs: int = 1
    stream: str = "out"        # console files: "err" for the initial stderr (see Console)


@dataclass(eq=False)
class FileContext:
    """The vfs's record of one process."""
    pid: int
    fds: dict = field(default_factory=dict)     # fd -> [OpenFile, cloexec]
    cwd: bytes = b"/"
    umask: int = 0o022
    exe_path: bytes = b""


class Vfs(Fragment, SyscallServer, Completions, Mounts):
    NAME = "vfs"
    USES = ("pager", "console", "process", "ramfs", "ext2")

    def __init__(self, runtime):
        super().__init__(runtime)
        self.contexts: dict[int, FileContext] = {}
        self.console_readers: list = []     # deferred console reads: (call, iovecs)
        self.pollers: list[Poller] = []     # deferred polls
        self._pipe_ino = 1 << 20
        self.start_completions()
        self.start_mounts()

    def record(self, pid: int) -> FileContext | None:
        return self.contexts.get(pid)

    # --- processes ----------------------------------------------------------------------
    @operation
    def attach(self, pid):
        """A process started from outside: stdin, stdout, stderr on the console."""
        proc = self.contexts[pid] = FileContext(pid)
        inode = self.lookup(proc, CONSOLE)
        console = OpenFile("console", O.O_RDWR, inode, path=CONSOLE, refs=2)
        error = OpenFile("console", O.O_RDWR, inode, path=CONSOLE, stream="err")
        proc.fds = {0: [console, False], 1: [console, False], 2: [error, False]}

    @operation
    def fork(self, parent_pid, child_pid):
        parent = self.contexts[parent_pid]
        for f, _ in parent.fds.values():
            f.refs += 1
        self.contexts[child_pid] = FileContext(child_pid, {fd: [f, c] for fd, (f, c) in parent.fds.items()},
                                               parent.cwd, parent.umask, parent.exe_path)

    @operation
    def detach(self, pid):
        """``pid`` ended: close its descriptors (may wake pipe readers)."""
        proc = self.contexts.pop(pid, None)
        if proc is not None:
            for fd in sorted(proc.fds):
                self._close(proc, fd)

    @operation
    def exec_done(self, pid, path):
        """After a successful execve: close-on-exec descriptors go, /proc/self/exe follows."""
        proc = self.contexts[pid]
        proc.exe_path = path
        for fd in [fd for fd, (_, cloexec) in proc.fds.items() if cloexec]:
            self._close(proc, fd)

    @operation
    def exec_file(self, pid, dirfd, path_addr):
        """(path, contents) of the file execve names, or -errno."""
        call = Call(self.contexts[pid], 0, [])
        path = self._path(call, dirfd, path_addr)
        if isinstance(path, int):
            return path
        inode = self.lookup(call.proc, path)
        if isinstance(inode, int):
            return inode
        if not inode.is_reg:
            return -errno.EACCES
        data = self._node_contents(inode)
        return data if isinstance(data, int) else (path, data)

    @operation
    def open_file(self, path):
        """Contents of a regular file (a program started from outside), or -errno."""
        inode = self.lookup(FileContext(0), path)
        if isinstance(inode, int):
            return inode
        return self._node_contents(inode) if inode.is_reg else -errno.EACCES

    def _file(self, proc, fd: int) -> OpenFile | None:
        entry = proc.fds.get(fd)
        return entry[0] if entry else None

    def _install(self, proc, f: OpenFile, cloexec: bool = False, lowest: int = 0) -> int:
        fd = lowest
        while fd in proc.fds:
            fd += 1
        if fd >= MAX_FDS:
            return -errno.EMFILE
        proc.fds[fd] = [f, cloexec]
        return fd

    def _close(self, proc, fd: int) -> int:
        entry = proc.fds.pop(fd, None)
        if entry is None:
            return -errno.EBADF
        f = entry[0]
        f.refs -= 1
        if f.refs == 0 and f.kind == "file":
            self._node_release(f.inode)
        if f.refs == 0 and f.pipe is not None:
            if f.kind == "pipe_r":
                f.pipe.readers -= 1
            else:
                f.pipe.writers -= 1
            self._wake_pipe(f.pipe)
        return 0

    @operation
    def file_bytes(self, pid, fd):
        proc = self.contexts.get(pid)
        f = None if proc is None else self._file(proc, fd)
        data = self._node_contents(f.inode) if f is not None and f.kind == "file" else None
        return None if isinstance(data, int) else data

    # --- paths ------------------------------------------------------------------------
    def _base(self, proc, dirfd: int) -> bytes | int:
        if dirfd == AT_FDCWD or dirfd == (AT_FDCWD & 0xFFFFFFFF):
            return proc.cwd
        f = self._file(proc, dirfd)
        if f is None:
            return -errno.EBADF
        if f.kind != "dir":
            return -errno.ENOTDIR
        return f.path

    def _path(self, call, dirfd: int, address: int) -> bytes | int:
        raw = self.use.pager.read_cstring(call.pid, address)
        if raw is None:
            return -errno.EFAULT
        if not raw:
            return -errno.ENOENT
        if raw.startswith(b"/"):
            return normalize(raw)
        base = self._base(call.proc, dirfd)
        return base if isinstance(base, int) else normalize(base + b"/" + raw)

    def _parent(self, proc, path: bytes) -> tuple[Node, bytes] | int:
        directory, _, name = path.rpartition(b"/")
        parent = self.lookup(proc, directory or b"/")
        if isinstance(parent, int):
            return parent
        if not parent.is_dir:
            return -errno.ENOTDIR
        if not name:
            return -errno.EEXIST
        return parent, name

    # --- the handler table --------------------------------------------------------------
    def handlers(self):
        return {
            "read": self.sys_read, "write": self.sys_write, "readv": self.sys_readv,
            "writev": self.sys_writev, "open": self.sys_open, "openat": self.sys_openat,
            "close": self.sys_close, "lseek": self.sys_lseek, "_llseek": self.sys_llseek,
            "dup": self.sys_dup, "dup2": self.sys_dup2, "dup3": self.sys_dup3,
            "pipe": self.sys_pipe, "pipe2": self.sys_pipe2, "fcntl64": self.sys_fcntl64,
            "ioctl": self.sys_ioctl, "umask": self.sys_umask, "chdir": self.sys_chdir,
            "getcwd": self.sys_getcwd, "stat64": self.sys_stat64, "lstat64": self.sys_lstat64,
            "fstat64": self.sys_fstat64, "fstatat64": self.sys_fstatat64, "statx": self.sys_statx,
            "getdents64": self.sys_getdents64, "mkdir": self.sys_mkdir, "mkdirat": self.sys_mkdirat,
            "rmdir": self.sys_rmdir, "unlink": self.sys_unlink, "unlinkat": self.sys_unlinkat,
            "rename": self.sys_rename, "renameat": self.sys_renameat, "renameat2": self.sys_renameat2,
            "access": self.sys_access, "faccessat": self.sys_faccessat,
            "faccessat2": self.sys_faccessat, "readlink": self.sys_readlink,
            "readlinkat": self.sys_readlinkat, "poll": self.sys_poll, "ppoll": self.sys_ppoll,
            "ppoll_time64": self.sys_ppoll64, "utimensat": self.sys_utimensat,
            "chmod": self.sys_chmod, "fchmod": self.sys_fchmod, "fchmodat": self.sys_fchmodat,
            "utimensat_time64": self.sys_utimensat64,
            **self.mount_handlers(),
        }

    # --- read / write -------------------------------------------------------------------
    def _iov(self, call, address: int, count: int) -> list[tuple[int, int]] | None:
        raw = self.use.pager.read(call.pid, address, IOVEC.size * count)
        if raw is None:
            return None
        return [IOVEC.unpack_from(raw, i * IOVEC.size) for i in range(count)]

    def sys_read(self, call, fd, buf, count, *_):
        return self._readv(call, fd, [(buf, count)])

    def sys_readv(self, call, fd, iov, iovcnt, *_):
        vec = self._iov(call, iov, iovcnt)
        return -errno.EFAULT if vec is None else self._readv(call, fd, vec)

    def _readv(self, call, fd, vec):
        f = self._file(call.proc, fd)
        if f is None or f.flags & O_ACCMODE == O.O_WRONLY and f.kind != "console":
            return -errno.EBADF
        total = sum(n for _, n in vec)
        if f.kind == "dir":
            return -errno.EISDIR
        if f.kind == "null":
            return 0
        if f.kind == "text":
            data = f.inode.target[f.offset:f.offset + total]
            f.offset += len(data)
            return self._scatter(call, vec, data)
        if f.kind == "zero":
            return self._scatter(call, vec, bytes(total))
        if f.kind == "random":        # the seeded RNG, as getrandom: runs repeat
            return self._scatter(call, vec, self.runtime.machine.rng.randbytes(total))
        if f.kind == "console":
            data = self.use.console.read(total)
            if data is None:
                self.console_readers.append((call, vec))
                return DEFER
            return self._scatter(call, vec, data)
        if f.kind == "pipe_r":
            pipe = f.pipe
            if not pipe.buf and pipe.writers:
                if f.flags & O.O_NONBLOCK:
                    return -errno.EAGAIN
                pipe.waiting.append((call, vec))
                return DEFER
            data = bytes(pipe.buf[:total])
            del pipe.buf[:total]
            self._wake_pipe(pipe)      # room for blocked writers
            return self._scatter(call, vec, data)
        data = self._node_read(f.inode, f.offset, total)
        if isinstance(data, int):
            return data
        result = self._scatter(call, vec, data)
        if result > 0:
            f.offset += result
        return result

    def _scatter(self, call, vec, data: bytes) -> int:
        done = 0
        for address, length in vec:
            piece = data[done:done + length]
            if piece and not self.use.pager.write(call.pid, address, piece):
                return done or -errno.EFAULT
            done += len(piece)
            if done >= len(data):
                break
        return done

    def _wake_pipe(self, pipe: Pipe) -> None:
        """Move bytes: blocked writes into the buffer, the buffer to waiting reads, until
        nothing moves; answer what finished through ``complete``."""
        if not pipe.readers:
            self._break_pipe(pipe)
        moved = True
        while moved:
            moved = self._fill_pipe(pipe)
            while pipe.waiting and (pipe.buf or not pipe.writers):
                call, vec = pipe.waiting.pop(0)
                if call.pid not in self.contexts:
                    continue
                total = sum(n for _, n in vec)
                data = bytes(pipe.buf[:total])
                del pipe.buf[:total]
                moved = moved or bool(data)
                self.complete(call.pid, self._scatter(call, vec, data))
        self._wake_pollers()

    def _fill_pipe(self, pipe: Pipe) -> bool:
        """Blocked writes into the buffer, in order, as far as room allows."""
        moved = False
        while pipe.blocked:
            write = pipe.blocked[0]
            if write.call.pid not in self.contexts:     # the writer is gone
                pipe.blocked.pop(0)
                continue
            room = pipe.room_for(len(write.rest), write.atomic)
            if room == 0:
                break
            pipe.buf += write.rest[:room]
            write.rest, write.done, moved = write.rest[room:], write.done + room, True
            if write.rest:
                break
            pipe.blocked.pop(0)
            self.complete(write.call.pid, write.done)
        return moved

    def _break_pipe(self, pipe: Pipe) -> None:
        """No reader is left: blocked writes end with SIGPIPE (and -EPIPE if none wrote)."""
        for write in pipe.blocked:
            if write.call.pid in self.contexts:
                self.use.process.post_signal(write.call.pid, int(abi.Signal.SIGPIPE))
                self.complete(write.call.pid, write.done or -errno.EPIPE)
        pipe.blocked.clear()

    def boot(self) -> None:
        """The console notifies input through an Irq of ours (see ``Console._input``)."""
        irq = self.runtime.kernel.create_irq("vfs.console")
        self.console_wake = self.runtime.endpoint(self, irq, self._console_woken)
        self.share("console", ("wake", "vfs"), irq)
        self.hold(("wake", "console"), irq)

    def _console_woken(self, result) -> None:
        from kernel_model import irqs
        irqs.unmask(self.runtime.kernel, self.console_wake.obj)
        self.console_input()

    def console_input(self):
        """The console has input (or reached its end): complete the waiting reads, then
        the waiting polls that what is left makes ready."""
        while self.console_readers:
            call, vec = self.console_readers[0]
            if call.pid not in self.contexts:
                self.console_readers.pop(0)
                continue
            data = self.use.console.read(sum(n for _, n in vec))
            if data is None:
                return
            self.console_readers.pop(0)
            self.complete(call.pid, self._scatter(call, vec, data))
        self._wake_pollers()

    def sys_write(self, call, fd, buf, count, *_):
        return self._writev(call, fd, [(buf, count)])

    def sys_writev(self, call, fd, iov, iovcnt, *_):
        vec = self._iov(call, iov, iovcnt)
        return -errno.EFAULT if vec is None else self._writev(call, fd, vec)

    def _writev(self, call, fd, vec):
        f = self._file(call.proc, fd)
        if f is None or f.flags & O_ACCMODE == abi.O_RDONLY and f.kind not in ("console", *DISCARDING):
            return -errno.EBADF
        data = bytearray()
        for address, length in vec:
            piece = self.use.pager.read(call.pid, address, length)
            if piece is None:
                if not data:
                    return -errno.EFAULT
                break
            data += piece
        if f.kind == "console":
            return self.use.console.write(bytes(data), f.stream)
        if f.kind in DISCARDING:
            return len(data)
        if f.kind == "pipe_w":
            if not f.pipe.readers:
                self.use.process.post_signal(call.pid, int(abi.Signal.SIGPIPE))
                return -errno.EPIPE
            return self._pipe_write(call, f, bytes(data))
        if f.kind == "dir":
            return -errno.EISDIR
        return self._node_write(f, bytes(data))

    def _pipe_write(self, call, f: OpenFile, data: bytes):
        """Put in what fits, let waiting readers drain it, again while it moves; the rest
        (all of an atomic write that does not fit) blocks or gives -EAGAIN."""
        pipe, done, atomic = f.pipe, 0, len(data) <= PIPE_BUF
        while done < len(data) and not pipe.blocked:     # behind blocked writes: wait
            n = pipe.room_for(len(data) - done, atomic)
            if n == 0:
                break
            pipe.buf += data[done:done + n]
            done += n
            self._wake_pipe(pipe)
        if done == len(data):
            return done
        if f.flags & O.O_NONBLOCK:
            return done or -errno.EAGAIN
        pipe.blocked.append(BlockedWrite(call, data[done:], done, atomic))
        return DEFER

    # --- open / close -------------------------------------------------------------------
    def sys_open(self, call, path, flags, mode, *_):
        return self.sys_openat(call, AT_FDCWD, path, flags, mode)

    def sys_openat(self, call, dirfd, path_addr, flags, mode, *_):
        path = self._path(call, dirfd, path_addr)
        if isinstance(path, int):
            return path
        proc = call.proc
        inode = self.lookup(proc, path)
        if isinstance(inode, int):
            if inode != -errno.ENOENT or not flags & O.O_CREAT:
                return inode
            parent = self._parent(proc, path)
            if isinstance(parent, int):
                return parent
            inode = self._node_new(parent[0], parent[1], abi.S_IFREG | (mode & 0o7777 & ~proc.umask))
            if isinstance(inode, int):
                return inode
        elif flags & O.O_CREAT and flags & O.O_EXCL:
            return -errno.EEXIST
        if flags & O.O_DIRECTORY and not inode.is_dir:
            return -errno.ENOTDIR
        if inode.is_dir:
            if flags & O_ACCMODE != abi.O_RDONLY:
                return -errno.EISDIR
            kind = "dir"
        elif inode.mode & S_IFMT == abi.S_IFCHR:
            kind = CHAR_DEVICES.get(inode.rdev)
            if kind is None:
                return -errno.ENXIO
        elif inode.mount is None:       # a file the vfs makes up (/proc/mounts): read-only
            if flags & O_ACCMODE != abi.O_RDONLY:
                return -errno.EACCES
            kind = "text"
        else:
            kind = "file"
            if flags & O.O_TRUNC and flags & O_ACCMODE:
                error = self._node_truncate(inode, 0)
                if error:
                    return error
            error = self._node_open(inode)
            if error:
                return error
        f = OpenFile(kind, flags & ~(O.O_CREAT | O.O_EXCL | O.O_TRUNC | O.O_CLOEXEC), inode, path=path)
        fd = self._install(proc, f, bool(flags & O.O_CLOEXEC))
        if fd < 0 and kind == "file":
            self._node_release(inode)
        return fd

    def sys_close(self, call, fd, *_):
        return self._close(call.proc, fd)

    def _seek(self, f: OpenFile, offset: int, whence: int) -> int:
        if f.kind not in ("file", "dir", "text"):
            return -errno.ESPIPE
        base = {0: 0, 1: f.offset, 2: self._node_size(f.inode) if f.kind in ("file", "text") else 0}.get(whence)
        if base is not None and base < 0:
            return base
        if base is None or base + offset < 0:
            return -errno.EINVAL
        f.offset = base + offset
        return f.offset

    def sys_lseek(self, call, fd, offset, whence, *_):
        f = self._file(call.proc, fd)
        if f is None:
            return -errno.EBADF
        return self._seek(f, signed32(offset), whence)

    def sys_llseek(self, call, fd, high, low, result, whence, *_):
        f = self._file(call.proc, fd)
        if f is None:
            return -errno.EBADF
        offset = (high << 32) | low
        if offset & (1 << 63):
            offset -= 1 << 64
        pos = self._seek(f, offset, whence)
        if pos < 0:
            return pos
        return 0 if self.use.pager.write(call.pid, result, LOFF.pack(pos)) else -errno.EFAULT

    # --- descriptors --------------------------------------------------------------------
    def sys_dup(self, call, fd, *_):
        f = self._file(call.proc, fd)
        if f is None:
            return -errno.EBADF
        f.refs += 1
        return self._install(call.proc, f)

    def sys_dup2(self, call, old, new, *_):
        f = self._file(call.proc, old)
        if f is None:
            return -errno.EBADF
        if old == new:
            return new
        return self._dup_to(call.proc, f, new, False)

    def sys_dup3(self, call, old, new, flags, *_):
        f = self._file(call.proc, old)
        if f is None:
            return -errno.EBADF
        if old == new:
            return -errno.EINVAL
        return self._dup_to(call.proc, f, new, bool(flags & O.O_CLOEXEC))

    def _dup_to(self, proc, f, new, cloexec):
        if new >= MAX_FDS:
            return -errno.EBADF
        f.refs += 1
        self._close(proc, new)
        proc.fds[new] = [f, cloexec]
        return new

    def sys_pipe(self, call, fds, *_):
        return self.sys_pipe2(call, fds, 0)

    def sys_pipe2(self, call, address, flags, *_):
        pipe = Pipe(self._pipe_ino, readers=1, writers=1)
        self._pipe_ino += 1
        cloexec = bool(flags & O.O_CLOEXEC)
        extra = flags & O.O_NONBLOCK
        r = self._install(call.proc, OpenFile("pipe_r", abi.O_RDONLY | extra, pipe=pipe), cloexec)
        w = self._install(call.proc, OpenFile("pipe_w", O.O_WRONLY | extra, pipe=pipe), cloexec)
        if not self.use.pager.write(call.pid, address, abi.FD_PAIR.pack(r, w)):
            self._close(call.proc, r)
            self._close(call.proc, w)
            return -errno.EFAULT
        return 0

    def sys_fcntl64(self, call, fd, cmd, arg, *_):
        entry = call.proc.fds.get(fd)
        if entry is None:
            return -errno.EBADF
        f = entry[0]
        if cmd in (FcntlCmd.F_DUPFD, FcntlCmd.F_DUPFD_CLOEXEC):
            f.refs += 1
            return self._install(call.proc, f, cmd == FcntlCmd.F_DUPFD_CLOEXEC, arg)
        if cmd == FcntlCmd.F_GETFD:
            return FD_CLOEXEC if entry[1] else 0
        if cmd == FcntlCmd.F_SETFD:
            entry[1] = bool(arg & FD_CLOEXEC)
            return 0
        if cmd == FcntlCmd.F_GETFL:
            return f.flags | O.O_LARGEFILE
        if cmd == FcntlCmd.F_SETFL:
            keep = O.O_APPEND | O.O_NONBLOCK
            f.flags = (f.flags & ~keep) | (arg & keep)
            return 0
        return -errno.EINVAL

    def sys_ioctl(self, call, fd, request, argp, *_):
        f = self._file(call.proc, fd)
        if f is None:
            return -errno.EBADF
        if f.kind != "console":
            return -errno.ENOTTY
        size = self.use.console.ioctl_input(request)
        data = self.use.pager.read(call.pid, argp, size) if size else b""
        if data is None:
            return -errno.EFAULT
        result, out = self.use.console.ioctl(request, data)
        if out and not self.use.pager.write(call.pid, argp, out):
            return -errno.EFAULT
        return result

    # --- poll ---------------------------------------------------------------------------
    def sys_poll(self, call, fds, nfds, timeout, *_):
        return self._poll(call, fds, nfds, signed32(timeout))

    def sys_ppoll(self, call, fds, nfds, tsp, *_):
        """ppoll: the timeout is a timespec (NULL: none); the signal mask is not applied."""
        return self._ppoll(call, fds, nfds, tsp, abi.TIMESPEC32)

    def sys_ppoll64(self, call, fds, nfds, tsp, *_):
        return self._ppoll(call, fds, nfds, tsp, abi.TIMESPEC64)

    def _ppoll(self, call, fds, nfds, tsp, layout):
        if not tsp:
            return self._poll(call, fds, nfds, -1)
        raw = self.use.pager.read(call.pid, tsp, layout.size)
        if raw is None:
            return -errno.EFAULT
        sec, ns = layout.unpack(raw)
        if sec < 0 or not 0 <= ns < 1_000_000_000:
            return -errno.EINVAL
        return self._poll(call, fds, nfds, sec * 1000 + -(-ns // 1_000_000))

    def _poll(self, call, address, nfds, timeout_ms):
        """Answer at once what is ready; else wait (no timeout), or let the timeout pass."""
        size = abi.POLLFD.size
        if nfds > MAX_FDS:
            return -errno.EINVAL
        raw = self.use.pager.read(call.pid, address, size * nfds)
        if raw is None:
            return -errno.EFAULT
        wanted = [abi.POLLFD.unpack_from(raw, i * size)[:2] for i in range(nfds)]
        ready = self._poll_answer(call, address, wanted, may_wait=timeout_ms != 0)
        if ready is not None:
            return ready
        if timeout_ms > 0:
            self.runtime.skip_clock(timeout_ms * 1_000_000)
            return self._poll_answer(call, address, wanted, may_wait=False)
        self.pollers.append(Poller(call, address, wanted))
        return DEFER

    def _poll_answer(self, call, address, wanted, may_wait: bool) -> int | None:
        """The count of ready descriptors, their revents written back (-EFAULT if that
        fails); None, with nothing written, if none is ready and ``may_wait``."""
        revents = [self._revents(call.proc, fd, events) for fd, events in wanted]
        ready = sum(1 for r in revents if r)
        if not ready and may_wait:
            return None
        out = b"".join(abi.POLLFD.pack(fd, events, r) for (fd, events), r in zip(wanted, revents))
        return ready if self.use.pager.write(call.pid, address, out) else -errno.EFAULT

    def _revents(self, proc, fd: int, events: int) -> int:
        """What ``fd`` is ready for, of ``events`` (errors and hang-ups always count)."""
        P = abi.PollEvent
        if fd < 0:
            return 0
        f = self._file(proc, fd)
        if f is None:
            return P.POLLNVAL
        if f.kind == "pipe_r":
            got = (P.POLLIN if f.pipe.buf else 0) | (0 if f.pipe.writers else P.POLLHUP)
        elif f.kind == "pipe_w":
            pipe = f.pipe
            got = ((P.POLLOUT if not pipe.blocked and pipe.room_for(PIPE_BUF, True) else 0)
                   | (0 if pipe.readers else P.POLLERR))
        elif f.kind == "console":
            got = P.POLLOUT | (P.POLLIN if self.use.console.ready() else 0)
        else:                   # files, directories, null: never wait
            got = P.POLLIN | P.POLLOUT
        return int(got & (events | P.POLLERR | P.POLLHUP | P.POLLNVAL))

    def waits_for_console(self) -> bool:
        """Whether a read or a poll is waiting for console input."""
        if self.console_readers:
            return True
        for poller in self.pollers:
            proc = self.contexts.get(poller.call.pid)
            if proc is not None and any(
                    events & abi.PollEvent.POLLIN and getattr(self._file(proc, fd), "kind", None) == "console"
                    for fd, events in poller.wanted):
                return True
        return False

    def _wake_pollers(self) -> None:
        """Answer the waiting polls that now have a ready descriptor."""
        waiting, self.pollers = self.pollers, []
        for poller in waiting:
            if poller.call.pid not in self.contexts:      # the process is gone
                continue
            ready = self._poll_answer(poller.call, poller.address, poller.wanted, may_wait=True)
            if ready is None:
                self.pollers.append(poller)
            else:
                self.complete(poller.call.pid, ready)

    # --- the cwd and the umask ----------------------------------------------------------
    def sys_umask(self, call, mask, *_):
        old, call.proc.umask = call.proc.umask, mask & 0o777
        return old

    def sys_chdir(self, call, path_addr, *_):
        path = self._path(call, AT_FDCWD, path_addr)
        if isinstance(path, int):
            return path
        inode = self.lookup(call.proc, path)
        if isinstance(inode, int):
            return inode
        if not inode.is_dir:
            return -errno.ENOTDIR
        call.proc.cwd = path
        return 0

    def sys_getcwd(self, call, buf, size, *_):
        cwd = call.proc.cwd + b"\0"
        if size < len(cwd):
            return -errno.ERANGE
        return len(cwd) if self.use.pager.write(call.pid, buf, cwd) else -errno.EFAULT

    # --- metadata -----------------------------------------------------------------------
    def _stat_of(self, call, dirfd, path_addr, flags) -> Node | int:
        if flags & AtFlag.AT_EMPTY_PATH:
            raw = self.use.pager.read_cstring(call.pid, path_addr)
            if raw == b"":
                f = self._file(call.proc, dirfd)
                return -errno.EBADF if f is None else self._inode_of(f)
        path = self._path(call, dirfd, path_addr)
        if isinstance(path, int):
            return path
        return self.lookup(call.proc, path, follow=not flags & AtFlag.AT_SYMLINK_NOFOLLOW)

    def _inode_of(self, f: OpenFile) -> Node:
        return f.inode if f.pipe is None else self._own_node(f.pipe.ino, S_IFIFO | 0o600)

    def _put_stat64(self, call, inode, address):
        inode = self._node_fresh(inode)
        if isinstance(inode, int):
            return inode
        a = inode.attr
        data = STAT64.pack(inode.dev, a.ino & 0xFFFFFFFF, a.mode, a.nlink, 0, 0, a.rdev, a.size, 4096,
                           a.blocks, a.atime, 0, a.mtime, 0, a.ctime, 0, a.ino)
        return 0 if self.use.pager.write(call.pid, address, data) else -errno.EFAULT

    def sys_stat64(self, call, path, buf, *_):
        return self.sys_fstatat64(call, AT_FDCWD, path, buf, 0)

    def sys_lstat64(self, call, path, buf, *_):
        return self.sys_fstatat64(call, AT_FDCWD, path, buf, AtFlag.AT_SYMLINK_NOFOLLOW)

    def sys_fstat64(self, call, fd, buf, *_):
        f = self._file(call.proc, fd)
        return -errno.EBADF if f is None else self._put_stat64(call, self._inode_of(f), buf)

    def sys_fstatat64(self, call, dirfd, path, buf, flags, *_):
        inode = self._stat_of(call, dirfd, path, flags)
        return inode if isinstance(inode, int) else self._put_stat64(call, inode, buf)

    def sys_statx(self, call, dirfd, path, flags, mask, buf, *_):
        inode = self._stat_of(call, dirfd, path, flags)
        inode = inode if isinstance(inode, int) else self._node_fresh(inode)
        if isinstance(inode, int):
            return inode
        a = inode.attr
        ts = (a.atime, 0, 0, a.ctime, 0, 0, a.ctime, 0, 0, a.mtime, 0, 0)   # ctime stands in for btime
        data = STATX.pack(0x7FF, 4096, 0, a.nlink, 0, 0, a.mode, 0, a.ino, a.size, a.blocks, 0, *ts,
                          a.rdev >> 8, a.rdev & 0xFF, 0, inode.dev, 0, 0, 0)
        return 0 if self.use.pager.write(call.pid, buf, data) else -errno.EFAULT

    def sys_getdents64(self, call, fd, dirp, count, *_):
        f = self._file(call.proc, fd)
        if f is None:
            return -errno.EBADF
        if f.kind != "dir":
            return -errno.ENOTDIR
        entries = self._node_entries(f.inode)
        if isinstance(entries, int):
            return entries
        out = bytearray()
        while f.offset < len(entries):
            name, ino, dtype = entries[f.offset]
            record = pack_dirent64(ino, f.offset + 1, dtype, name)
            if len(out) + len(record) > count:
                if not out:
                    return -errno.EINVAL
                break
            out += record
            f.offset += 1
        return len(out) if self.use.pager.write(call.pid, dirp, bytes(out)) else -errno.EFAULT

    # --- the namespace ------------------------------------------------------------------
    def sys_mkdir(self, call, path, mode, *_):
        return self.sys_mkdirat(call, AT_FDCWD, path, mode)

    def sys_mkdirat(self, call, dirfd, path_addr, mode, *_):
        path = self._path(call, dirfd, path_addr)
        if isinstance(path, int):
            return path
        parent = self._parent(call.proc, path)
        if isinstance(parent, int):
            return parent
        node = self._node_new(parent[0], parent[1], abi.S_IFDIR | (mode & 0o7777 & ~call.proc.umask))
        return node if isinstance(node, int) else 0

    def sys_rmdir(self, call, path, *_):
        return self.sys_unlinkat(call, AT_FDCWD, path, AtFlag.AT_REMOVEDIR)

    def sys_unlink(self, call, path, *_):
        return self.sys_unlinkat(call, AT_FDCWD, path, 0)

    def sys_unlinkat(self, call, dirfd, path_addr, flags, *_):
        path = self._path(call, dirfd, path_addr)
        if isinstance(path, int):
            return path
        inode = self.lookup(call.proc, path, follow=False)
        if isinstance(inode, int):
            return inode
        if path == b"/":
            return -errno.EBUSY
        parent, name = self._parent(call.proc, path)
        return self._node_unlink(path, inode, parent, name, flags)

    def sys_rename(self, call, old, new, *_):
        return self.sys_renameat2(call, AT_FDCWD, old, AT_FDCWD, new, 0)

    def sys_renameat(self, call, olddir, old, newdir, new, *_):
        return self.sys_renameat2(call, olddir, old, newdir, new, 0)

    def sys_renameat2(self, call, olddir, old_addr, newdir, new_addr, flags, *_):
        old, new = self._path(call, olddir, old_addr), self._path(call, newdir, new_addr)
        for p in (old, new):
            if isinstance(p, int):
                return p
        inode = self.lookup(call.proc, old, follow=False)
        if isinstance(inode, int):
            return inode
        target = self._parent(call.proc, new)
        if isinstance(target, int):
            return target
        source = self._parent(call.proc, old)
        if isinstance(source, int):
            return source
        return self._node_rename(old, new, source, target)

    def sys_utimensat(self, call, dirfd, path, times, flags, *_):
        return self._utimensat(call, dirfd, path, times, flags, abi.TIMESPEC32)

    def sys_utimensat64(self, call, dirfd, path, times, flags, *_):
        return self._utimensat(call, dirfd, path, times, flags, abi.TIMESPEC64)

    def _utimensat(self, call, dirfd, path, times, flags, layout):
        """Times from two timespecs (atime, mtime; NULL: both now), each UTIME_NOW or
        UTIME_OMIT or seconds (the file systems keep whole seconds)."""
        stamps = self._utimes(call, times, layout)
        if isinstance(stamps, int):
            return stamps
        inode = self._stat_of(call, dirfd, path, flags) if path else None
        if path == 0:
            f = self._file(call.proc, dirfd)
            inode = -errno.EBADF if f is None else self._inode_of(f)
        return inode if isinstance(inode, int) else self._node_change(inode, "utimes", *stamps)

    def _utimes(self, call, times, layout) -> tuple | int:
        """(atime, mtime) in seconds, None where UTIME_OMIT, or -errno."""
        if not times:
            return self.seconds(), self.seconds()
        raw = self.use.pager.read(call.pid, times, 2 * layout.size)
        if raw is None:
            return -errno.EFAULT
        stamps = []
        for i in range(2):
            sec, ns = layout.unpack_from(raw, i * layout.size)
            if ns == UTIME_NOW:
                stamps.append(self.seconds())
            elif ns == UTIME_OMIT:
                stamps.append(None)
            elif not 0 <= ns < 1_000_000_000:
                return -errno.EINVAL
            else:
                stamps.append(sec)
        return tuple(stamps)

    def sys_chmod(self, call, path, mode, *_):
        return self.sys_fchmodat(call, AT_FDCWD, path, mode)

    def sys_fchmodat(self, call, dirfd, path_addr, mode, *_):
        path = self._path(call, dirfd, path_addr)
        if isinstance(path, int):
            return path
        inode = self.lookup(call.proc, path)
        return inode if isinstance(inode, int) else self._node_change(inode, "chmod", mode)

    def sys_fchmod(self, call, fd, mode, *_):
        f = self._file(call.proc, fd)
        return -errno.EBADF if f is None else self._node_change(self._inode_of(f), "chmod", mode)

    def sys_access(self, call, path, mode, *_):
        return self.sys_faccessat(call, AT_FDCWD, path, mode)

    def sys_faccessat(self, call, dirfd, path_addr, mode, *_):
        path = self._path(call, dirfd, path_addr)
        if isinstance(path, int):
            return path
        inode = self.lookup(call.proc, path)
        return inode if isinstance(inode, int) else 0

    def sys_readlink(self, call, path, buf, size, *_):
        return self.sys_readlinkat(call, AT_FDCWD, path, buf, size)

    def sys_readlinkat(self, call, dirfd, path_addr, buf, size, *_):
        path = self._path(call, dirfd, path_addr)
        if isinstance(path, int):
            return path
        inode = self.lookup(call.proc, path, follow=False)
        if isinstance(inode, int):
            return inode
        target = self._node_readlink(inode)
        if isinstance(target, int):
            return target
        data = target[:size]
        return len(data) if self.use.pager.write(call.pid, buf, data) else -errno.EFAULT

