"""The `process` fragment: pids, fork with copy-on-write, execve, wait4, exit, signals
(default actions only), identity, time, randomness, TLS.

Invariants:
- A ``Process`` is alive until exit or a fatal signal; then its task is destroyed, its
  pages and descriptors released, and it stays a zombie (``status`` set) until its parent
  reaps it with wait4 — or is dropped at once if the parent is gone.
- ``waiters`` of a process are its deferred wait4 calls; a child's exit completes the
  first one that matches.
- Signals: default actions (terminate, or ignore for SIGCHLD & co.), SIG_IGN, and
  handlers. A signal with a handler becomes ``pending`` and is delivered when the process
  next returns from a syscall (``deliver``): the interrupted register frame and mask are
  saved on the user stack, the handler runs with r0 = signal and lr = sa_restorer (musl
  and glibc always give SA_RESTORER), and sigreturn/rt_sigreturn restore them. The saved
  frame is this model's own layout, not Linux's sigcontext (programs that read the
  ucontext see zeros). A process blocked in a deferred call is not interrupted (no EINTR).
- Time is modeled: the clocks read the machine's modeled cycles (plus what nanosleep
  skipped), never the host clock.
"""

from __future__ import annotations

import errno
import struct
from dataclasses import dataclass, field

from kernel_model.ipc_abi import EXC_CPSR, EXC_LR, EXC_PC, EXC_SP, EXC_TPIDRURO

from . import abi
from .abi import NEW_UTSNAME, RLIMIT32, RLIMIT64, SIGACTION, SIGSET, Signal
from .elf import ExecFormatError
from .syscalls import DEFER

EPOCH = 1_700_000_000          # modeled wall clock at boot, seconds
INIT_PID = 1                   # orphans are reparented to init, which reaps them at once
IGNORED_BY_DEFAULT = {Signal.SIGCHLD, Signal.SIGCONT, Signal.SIGURG, Signal.SIGWINCH}


@dataclass(eq=False)
class Process:
    pid: int
    ppid: int
    task: object
    thread: object
    name: str
    amap: object = None
    fds: dict = field(default_factory=dict)
    cwd: bytes = b"/"
    umask: int = 0o022
    exe_path: bytes = b""
    pgid: int = 0
    alive: bool = True
    status: int | None = None          # wait status once dead
    waiters: list = field(default_factory=list)
    sigactions: dict = field(default_factory=dict)   # signal -> SIGACTION bytes
    sigmask: int = 0
    pending: int = 0                   # bit sig-1: caught signals waiting for delivery


@dataclass
class Replace:
    """A handler's answer that replaces the whole register frame (execve)."""
    frame: list


class ProcessManager:
    def __init__(self, system):
        self.system = system
        self.procs: dict[int, Process] = {}
        self.next_pid = 2       # pid 1 is init: the l4linux server itself (never a Process)
        self.sleep_skew = 0     # nanoseconds nanosleep has skipped ahead

    # --- time -------------------------------------------------------------------------
    def nanoseconds(self) -> int:
        m = self.system.machine
        return m.modeled_time() * 1000 // m.cycles_per_us + self.sleep_skew

    def seconds(self) -> int:
        return EPOCH + self.nanoseconds() // 1_000_000_000

    # --- life cycle -------------------------------------------------------------------
    def exit(self, proc: Process, status: int) -> None:
        """``proc`` ends with wait status ``status``."""
        if not proc.alive:
            return
        proc.alive = False
        proc.status = status
        system = self.system
        system.vfs.close_all(proc)
        system.pager.release(proc)
        system.kernel.destroy_task(proc.task)
        system.kernel.emit("process", task=proc.task, op="exit", pid=proc.pid, status=status)
        for child in self.procs.values():
            if child.ppid == proc.pid:
                child.ppid = INIT_PID
        for child in [c for c in self.procs.values() if c.ppid == INIT_PID and not c.alive and c.pid != proc.pid]:
            if child.pid not in system.keep:
                del self.procs[child.pid]
        parent = self.procs.get(proc.ppid)
        if parent is None or not parent.alive:
            if proc.pid not in system.keep:
                del self.procs[proc.pid]
            return
        self.signal(parent, Signal.SIGCHLD)
        for waiter in list(parent.waiters):
            call, want, wstatus = waiter
            if self._matches(parent, proc, want):
                parent.waiters.remove(waiter)
                system.finish(call, self._reap(call, proc, wstatus))
                break

    def signal(self, proc: Process, sig: int) -> None:
        """Deliver ``sig`` with its default action (handlers are not run, see above)."""
        if not proc.alive or sig == 0:
            return
        action = proc.sigactions.get(sig)
        handler = SIGACTION.unpack(action)[0] if action else 0
        if handler == 1 and sig not in (Signal.SIGKILL, Signal.SIGSTOP):
            return
        if handler > 1 and sig not in (Signal.SIGKILL, Signal.SIGSTOP):
            proc.pending |= 1 << (sig - 1)
            return
        if sig in (Signal.SIGKILL, Signal.SIGSTOP) or (handler == 0 and sig not in IGNORED_BY_DEFAULT
                                                       and sig not in (Signal.SIGTSTP,)):
            self.exit(proc, sig & 0x7F)

    def _matches(self, parent, child, want: int) -> bool:
        if child.ppid != parent.pid:
            return False
        if want == -1 or want == 0xFFFFFFFF:
            return True
        if want & 0x80000000:
            return child.pgid == (-(want - (1 << 32)))
        if want == 0:
            return child.pgid == parent.pgid
        return child.pid == want

    def _reap(self, call, child, wstatus) -> int:
        if wstatus and not self.system.pager.write(call.proc, wstatus, abi.INT32.pack(child.status)):
            return -errno.EFAULT
        if child.pid not in self.system.keep:
            self.procs.pop(child.pid, None)
        else:
            child.ppid = INIT_PID
        return child.pid

    # --- the handler table --------------------------------------------------------------
    def handlers(self):
        return {
            "exit": self.sys_exit, "exit_group": self.sys_exit, "fork": self.sys_fork,
            "vfork": self.sys_fork, "clone": self.sys_clone, "execve": self.sys_execve,
            "wait4": self.sys_wait4, "getpid": self.sys_getpid, "gettid": self.sys_getpid,
            "getppid": self.sys_getppid, "getpgrp": self.sys_getpgrp, "getpgid": self.sys_getpgid,
            "setpgid": self.sys_setpgid, "kill": self.sys_kill, "tgkill": self.sys_tgkill,
            "getuid32": self.sys_zero, "geteuid32": self.sys_zero, "getgid32": self.sys_zero,
            "getegid32": self.sys_zero, "set_tid_address": self.sys_getpid,
            "set_robust_list": self.sys_zero, "sched_yield": self.sys_zero,
            "uname": self.sys_uname, "rt_sigaction": self.sys_rt_sigaction,
            "rt_sigprocmask": self.sys_rt_sigprocmask, "ugetrlimit": self.sys_ugetrlimit,
            "prlimit64": self.sys_prlimit64, "getrandom": self.sys_getrandom,
            "clock_gettime": self.sys_clock_gettime, "clock_gettime64": self.sys_clock_gettime64,
            "gettimeofday": self.sys_gettimeofday, "nanosleep": self.sys_nanosleep,
            "clock_nanosleep": self.sys_clock_nanosleep,
            "clock_nanosleep_time64": self.sys_clock_nanosleep64,
            "sched_getaffinity": self.sys_sched_getaffinity, "set_tls": self.sys_set_tls,
            "sigreturn": self.sys_sigreturn, "rt_sigreturn": self.sys_sigreturn,
            "cacheflush": self.sys_zero, "prctl": self.sys_enosys, "rseq": self.sys_enosys,
        }

    def sys_zero(self, call, *_):
        return 0

    # --- handler delivery -------------------------------------------------------------
    SAVED = struct.Struct("<22IQ")    # the interrupted frame and the signal mask

    def deliver(self, proc: Process, frame: list[int]) -> list[int]:
        """If a caught, unblocked signal is pending, the frame that enters its handler
        (the given frame is saved on the user stack); else ``frame`` unchanged."""
        ready = proc.pending & ~proc.sigmask
        if not ready or not proc.alive:
            return frame
        sig = (ready & -ready).bit_length()
        proc.pending &= ~(1 << (sig - 1))
        handler, flags, restorer, mask = SIGACTION.unpack(proc.sigactions[sig])
        sp = (frame[EXC_SP] - self.SAVED.size - 128 - 64) & ~15
        info = abi.INT32.pack(sig) + bytes(124)
        if not self.system.pager.write(proc, sp, self.SAVED.pack(*frame, proc.sigmask) + info + bytes(64)):
            self.exit(proc, Signal.SIGSEGV)
            return frame
        if flags & abi.SigactionFlag.SA_RESETHAND:
            proc.sigactions.pop(sig, None)
        proc.sigmask |= mask | (0 if flags & abi.SigactionFlag.SA_NODEFER else 1 << (sig - 1))
        new = list(frame)
        new[2], new[3], new[4] = sig, sp + self.SAVED.size, sp + self.SAVED.size + 128
        new[EXC_SP], new[EXC_LR], new[EXC_PC] = sp, restorer, handler & ~1
        new[EXC_CPSR] = (frame[EXC_CPSR] & ~0x20) | (0x20 if handler & 1 else 0)
        return new

    def sys_sigreturn(self, call, *_):
        raw = self.system.pager.read(call.proc, call.frame[EXC_SP], self.SAVED.size)
        if raw is None:
            self.exit(call.proc, Signal.SIGSEGV)
            return None
        *frame, mask = self.SAVED.unpack(raw)
        call.proc.sigmask = mask & ~((1 << (Signal.SIGKILL - 1)) | (1 << (Signal.SIGSTOP - 1)))
        return Replace(frame)

    def sys_enosys(self, call, *_):
        return -errno.ENOSYS

    def sys_exit(self, call, status, *_):
        self.exit(call.proc, (status & 0xFF) << 8)
        return None

    def sys_getpid(self, call, *_):
        return call.proc.pid

    def sys_getppid(self, call, *_):
        return call.proc.ppid

    def sys_getpgrp(self, call, *_):
        return call.proc.pgid

    def sys_getpgid(self, call, pid, *_):
        proc = call.proc if pid == 0 else self.procs.get(pid)
        return -errno.ESRCH if proc is None else proc.pgid

    def sys_setpgid(self, call, pid, pgid, *_):
        proc = call.proc if pid == 0 else self.procs.get(pid)
        if proc is None:
            return -errno.ESRCH
        proc.pgid = proc.pid if pgid == 0 else pgid
        return 0

    def sys_kill(self, call, pid, sig, *_):
        if sig > 64:
            return -errno.EINVAL
        if pid & 0x80000000 or pid == 0:
            group = call.proc.pgid if pid == 0 else -(pid - (1 << 32))
            targets = [p for p in self.procs.values() if p.alive and (pid == 0xFFFFFFFF or p.pgid == group)]
        else:
            targets = [p for p in self.procs.values() if p.pid == pid and p.alive]
        if not targets:
            return -errno.ESRCH
        for target in targets:
            self.signal(target, sig)
        return None if not call.proc.alive else 0

    def sys_tgkill(self, call, tgid, tid, sig, *_):
        return self.sys_kill(call, tid, sig)

    def sys_fork(self, call, *_):
        return self.system.fork(call)

    def sys_clone(self, call, flags, newsp, parent_tid, tls, child_tid, *_):
        """fork with the TID bookkeeping glibc asks for (threads, CLONE_VM, are not
        modeled)."""
        if flags & abi.CloneFlag.CLONE_VM:
            return -errno.ENOSYS
        pid = self.system.fork(call, newsp, tls if flags & abi.CloneFlag.CLONE_SETTLS else None)
        tid = abi.INT32.pack(pid)
        if flags & abi.CloneFlag.CLONE_PARENT_SETTID:
            self.system.pager.write(call.proc, parent_tid, tid)
        if flags & abi.CloneFlag.CLONE_CHILD_SETTID:
            self.system.pager.write(self.procs[pid], child_tid, tid)
        return pid

    def sys_wait4(self, call, pid, wstatus, options, rusage, *_):
        proc = call.proc
        children = [c for c in self.procs.values() if self._matches(proc, c, pid)]
        if not children:
            return -errno.ECHILD
        for child in children:
            if not child.alive:
                return self._reap(call, child, wstatus)
        if options & abi.WaitOption.WNOHANG:
            return 0
        proc.waiters.append((call, pid, wstatus))
        return DEFER

    def sys_execve(self, call, path_addr, argv_addr, envp_addr, *_):
        system, proc = self.system, call.proc
        path = system.vfs._path(call, abi.AT_FDCWD, path_addr)
        if isinstance(path, int):
            return path
        argv, envp = self._strings(proc, argv_addr), self._strings(proc, envp_addr)
        if argv is None or envp is None:
            return -errno.EFAULT
        inode = system.vfs.lookup(proc, path)
        if isinstance(inode, int):
            return inode
        if not inode.is_reg:
            return -errno.EACCES
        try:
            entry, sp = system.loader.load(proc, bytes(inode.data), argv, envp, path)
        except ExecFormatError as error:
            system.note(f"execve {path.decode(errors='replace')}: {error}")
            return -errno.ENOEXEC
        system.vfs.exec_fds(proc)
        proc.sigactions = {s: a for s, a in proc.sigactions.items() if SIGACTION.unpack(a)[0] == 1}
        proc.name = path.rsplit(b"/", 1)[-1].decode(errors="replace")
        frame = [0] * 22
        frame[EXC_SP], frame[EXC_PC] = sp, entry & ~1
        frame[EXC_CPSR] = 0x10 | (0x20 if entry & 1 else 0)
        return Replace(frame)

    def _strings(self, proc, address) -> list[bytes] | None:
        out = []
        if address == 0:
            return out
        pager = self.system.pager
        while len(out) < 4096:
            raw = pager.read(proc, address + 4 * len(out), 4)
            if raw is None:
                return None
            pointer = int.from_bytes(raw, "little")
            if pointer == 0:
                return out
            s = pager.read_cstring(proc, pointer)
            if s is None:
                return None
            out.append(s)
        return None

    def sys_uname(self, call, buf, *_):
        fields = (b"Linux", b"l4shell", b"6.1.0-l4linux", b"#1 SMP l4shell model", b"armv7l", b"(none)")
        data = NEW_UTSNAME.pack(*fields)
        return 0 if self.system.pager.write(call.proc, buf, data) else -errno.EFAULT

    def sys_rt_sigaction(self, call, sig, act, oldact, sigsetsize, *_):
        if not 1 <= sig <= 64 or sig in (Signal.SIGKILL, Signal.SIGSTOP) and act:
            return -errno.EINVAL
        pager, proc = self.system.pager, call.proc
        if oldact and not pager.write(proc, oldact, proc.sigactions.get(sig, bytes(SIGACTION.size))):
            return -errno.EFAULT
        if act:
            data = pager.read(proc, act, SIGACTION.size)
            if data is None:
                return -errno.EFAULT
            proc.sigactions[sig] = data
        return 0

    def sys_rt_sigprocmask(self, call, how, set_addr, oldset, sigsetsize, *_):
        pager, proc = self.system.pager, call.proc
        if oldset and not pager.write(proc, oldset, SIGSET.pack(proc.sigmask)):
            return -errno.EFAULT
        if set_addr:
            data = pager.read(proc, set_addr, SIGSET.size)
            if data is None:
                return -errno.EFAULT
            value = SIGSET.unpack(data)[0]
            if how == 0:
                proc.sigmask |= value
            elif how == 1:
                proc.sigmask &= ~value
            elif how == 2:
                proc.sigmask = value
            else:
                return -errno.EINVAL
        return 0

    def _limit(self, resource: int) -> tuple[int, int]:
        return {7: (1024, 4096), 3: (8 << 20, (1 << 64) - 1)}.get(resource, ((1 << 64) - 1,) * 2)

    def sys_ugetrlimit(self, call, resource, rlim, *_):
        cur, top = (min(v, 0xFFFFFFFF) for v in self._limit(resource))
        return 0 if self.system.pager.write(call.proc, rlim, RLIMIT32.pack(cur, top)) else -errno.EFAULT

    def sys_prlimit64(self, call, pid, resource, new, old, *_):
        if old and not self.system.pager.write(call.proc, old, RLIMIT64.pack(*self._limit(resource))):
            return -errno.EFAULT
        return 0

    def sys_getrandom(self, call, buf, length, flags, *_):
        rng = self.system.machine.rng
        data = bytes(rng.randrange(256) for _ in range(min(length, 1 << 16)))
        return len(data) if self.system.pager.write(call.proc, buf, data) else -errno.EFAULT

    def _now(self, clock: int) -> tuple[int, int]:
        ns = self.nanoseconds() + (EPOCH * 1_000_000_000 if clock in (0, 5, 8, 11) else 0)
        return divmod(ns, 1_000_000_000)

    def sys_clock_gettime(self, call, clock, tp, *_):
        data = abi.TIMESPEC32.pack(*self._now(clock))
        return 0 if self.system.pager.write(call.proc, tp, data) else -errno.EFAULT

    def sys_clock_gettime64(self, call, clock, tp, *_):
        data = abi.TIMESPEC64.pack(*self._now(clock))
        return 0 if self.system.pager.write(call.proc, tp, data) else -errno.EFAULT

    def sys_gettimeofday(self, call, tv, tz, *_):
        sec, ns = self._now(0)
        if tv and not self.system.pager.write(call.proc, tv, abi.TIMEVAL32.pack(sec, ns // 1000)):
            return -errno.EFAULT
        return 0

    def _sleep(self, call, req, layout) -> int:
        data = self.system.pager.read(call.proc, req, layout.size)
        if data is None:
            return -errno.EFAULT
        sec, ns = layout.unpack(data)
        if sec < 0 or not 0 <= (ns & 0xFFFFFFFF) < 1_000_000_000:
            return -errno.EINVAL
        self.sleep_skew += sec * 1_000_000_000 + (ns & 0xFFFFFFFF)
        return 0

    def sys_nanosleep(self, call, req, rem, *_):
        return self._sleep(call, req, abi.TIMESPEC32)

    def sys_clock_nanosleep(self, call, clock, flags, req, rem, *_):
        return self._sleep(call, req, abi.TIMESPEC32)

    def sys_clock_nanosleep64(self, call, clock, flags, req, rem, *_):
        return self._sleep(call, req, abi.TIMESPEC64)

    def sys_sched_getaffinity(self, call, pid, size, mask, *_):
        cores = len(self.system.machine.cores)
        data = ((1 << cores) - 1).to_bytes(4, "little")
        if size < 4:
            return -errno.EINVAL
        return 4 if self.system.pager.write(call.proc, mask, data) else -errno.EFAULT

    def sys_set_tls(self, call, tls, *_):
        call.frame[EXC_TPIDRURO] = tls
        return 0
