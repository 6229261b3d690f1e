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

import unicorn.arm_const as A

from kernel_model.ipc_abi import EXC_CPSR, EXC_LR, EXC_PC, EXC_SP, EXC_TPIDRURO

from fragments.runtime.fragment import EPOCH, Fragment, operation

from . import abi
from .abi import NEW_UTSNAME, RLIMIT32, RLIMIT64, SIGACTION, SIGSET, Signal
from .pager import reserve_frames
from .syscalls import DEFER, Completions, Replace, SyscallServer, returned

INIT_PID = 1                   # orphans are reparented to init, which reaps them at once
IGNORED_BY_DEFAULT = {Signal.SIGCHLD, Signal.SIGCONT, Signal.SIGURG, Signal.SIGWINCH, Signal.SIGTSTP}
FPEXC_EN = 0x40000000
VFP_REGS = [A.UC_ARM_REG_FPEXC, A.UC_ARM_REG_FPSCR] + [A.UC_ARM_REG_D0 + i for i in range(32)]


@dataclass(eq=False)
class Process:
    pid: int
    ppid: int
    task: object
    thread: object
    name: str
    pgid: int = 0
    alive: bool = True
    status: int | None = None          # wait status once dead
    waiters: list = field(default_factory=list)
    sigactions: dict = field(default_factory=dict)   # signal -> SIGACTION bytes
    sigmask: int = 0
    pending: int = 0                   # bit sig-1: caught signals waiting for delivery


class ProcessManager(Fragment, SyscallServer, Completions):
    NAME = "process"
    USES = ("pager", "vfs", "loader", "syscalls")

    def __init__(self, runtime):
        super().__init__(runtime)
        self.machine = runtime.machine
        self.procs: dict[int, Process] = {}
        self.next_pid = 2       # pid 1 is init: the Linux server itself (never a Process)
        self.keep: set[int] = set()        # pids spawned from outside: status kept
        self.notes: list[str] = []         # messages for the user (failed execs…)
        self.start_completions()

    def record(self, pid: int) -> Process | None:
        proc = self.procs.get(pid)
        return proc if proc is not None and proc.alive else None

    def core_for(self, pid: int) -> int:
        return (pid - 1) % len(self.machine.cores)

    # --- creating processes -------------------------------------------------------------
    def _new_process(self, ppid: int, name: str) -> Process | None:
        """A task with one alien thread whose pager is the gate the pager makes for it. Its
        exception gate comes from the syscalls replica of its core, which then ``start``s
        it (syscalls cannot be called from here: it may be waiting for this very fork).
        None if a task does not fit in the RAM left above the reserve (``reserve_frames``,
        as the pager's pool stops there)."""
        k, pid = self.runtime.kernel, self.next_pid
        if not k.task_fits(spare=reserve_frames(k.ram.size)):
            return None
        self.next_pid += 1
        core = self.core_for(pid)
        task = k.create_task(f"{name}.{pid}")
        thread = k.create_thread(task, f"{name}.{pid}")
        thread.alien = True
        self.hold(("task", pid), task)
        self.share("pager", ("task", pid), task)
        self.share("syscalls", ("task", pid), task, core)
        thread.pager = self.use.pager.attach(pid)
        proc = Process(pid, ppid, task, thread, name, pgid=pid)
        self.procs[pid] = proc
        return proc

    @operation
    def spawn(self, path, argv, envp):
        """Start the file at ``path`` as a new process (a user's command, from outside the
        model); its pid, or the reason it cannot run (a str)."""
        data = self.use.vfs.open_file(path)
        if isinstance(data, int):
            return f"{path.decode(errors='replace')}: no such file in the model"
        proc = self._new_process(INIT_PID, path.rsplit(b"/", 1)[-1].decode(errors="replace"))
        if proc is None:
            return "out of memory: no frame left for a new task (ENOMEM)"
        self.use.vfs.attach(proc.pid)
        error, *loaded = self.use.loader.load(proc.pid, data, argv, envp, path)
        if error:
            self._discard(proc)
            return f"{loaded[0]} ({errno.errorcode[error]})"
        self.use.vfs.exec_done(proc.pid, path)
        entry, sp = loaded
        self.keep.add(proc.pid)
        self.machine.set_thread_start(proc.thread, entry, sp)
        engine = self.machine.engine(proc.task)
        engine.activate(proc.thread)
        engine.set_reg(A.UC_ARM_REG_FPEXC, FPEXC_EN)
        return proc.pid

    @operation
    def start(self, pid, exc_handler):
        """Run a new process (spawned or forked) with its exception gate's selector."""
        proc = self.procs[pid]
        proc.thread.exc_handler = exc_handler
        self.machine.start_thread(proc.thread, core=self.core_for(pid))

    @operation
    def core_of(self, pid):
        return self.core_for(pid)

    def _discard(self, proc: Process) -> None:
        self.use.vfs.detach(proc.pid)
        self.use.pager.detach(proc.pid)
        self.runtime.kernel.destroy_task(proc.task)
        self.drop(("task", proc.pid))
        del self.procs[proc.pid]

    def _fork(self, call, newsp: int = 0, tls: int | None = None) -> int:
        parent = call.proc
        child = self._new_process(parent.pid, parent.name)
        if child is None:
            return -errno.ENOMEM
        self.use.pager.fork(parent.pid, child.pid)
        self.use.vfs.fork(parent.pid, child.pid)
        child.pgid, child.sigmask = parent.pgid, parent.sigmask
        child.sigactions = dict(parent.sigactions)
        frame = call.frame
        thumb = frame[EXC_CPSR] & 0x20
        regs = {i: frame[2 + i] for i in range(13)}
        regs[0] = 0
        pc = frame[EXC_PC] + (2 if thumb else 4)
        self.machine.set_thread_start(child.thread, pc | (1 if thumb else 0), newsp or frame[15], regs)
        engine = parent.task.engine
        engine.activate(parent.thread)
        vfp = [(r, engine.reg(r)) for r in VFP_REGS]
        engine = self.machine.engine(child.task)
        engine.activate(child.thread)
        engine.set_reg(A.UC_ARM_REG_LR, frame[16])
        engine.set_reg(A.UC_ARM_REG_CPSR, (frame[EXC_CPSR] & 0xF8000000) | 0x10 | thumb)
        engine.set_reg(A.UC_ARM_REG_C13_C0_3, frame[20] if tls is None else tls)
        for reg, value in vfp:
            engine.set_reg(reg, value)
        return child.pid

    @operation
    def status(self, pid):
        """The wait status of a process once it ended (None while it runs or if unknown)."""
        proc = self.procs.get(pid)
        return None if proc is None else proc.status

    # --- time -------------------------------------------------------------------------
    def nanoseconds(self) -> int:
        return self.runtime.clock_ns()

    # --- life cycle -------------------------------------------------------------------
    def exit(self, proc: Process, status: int) -> None:
        """``proc`` ends with wait status ``status``."""
        if not proc.alive:
            return
        proc.alive = False
        proc.status = status
        self.use.vfs.detach(proc.pid)
        self.use.pager.detach(proc.pid)
        self.runtime.kernel.destroy_task(proc.task)
        self.drop(("task", proc.pid))
        self.runtime.kernel.emit("process", task=proc.task, op="exit", pid=proc.pid, status=status)
        for child in self.procs.values():
            if child.ppid == proc.pid:
                child.ppid = INIT_PID
        for child in [c for c in self.procs.values() if c.ppid == INIT_PID and not c.alive and c.pid != proc.pid]:
            if child.pid not in self.keep:
                del self.procs[child.pid]
        parent = self.procs.get(proc.ppid)
        if parent is None or not parent.alive:
            if proc.pid not in self.keep:
                del self.procs[proc.pid]
            return
        self.signal(parent, Signal.SIGCHLD)
        for waiter in list(parent.waiters):
            call, want, wstatus = waiter
            if self._matches(parent, proc, want):
                parent.waiters.remove(waiter)
                self.complete(parent.pid, self._reap(call, proc, wstatus))
                break

    def _handler(self, proc: Process, sig: int) -> int:
        """0 default, 1 ignore, else the handler's address (SIGKILL/SIGSTOP: always 0)."""
        if sig in (Signal.SIGKILL, Signal.SIGSTOP):
            return 0
        action = proc.sigactions.get(sig)
        return SIGACTION.unpack(action)[0] if action else 0

    def signal(self, proc: Process, sig: int) -> None:
        """Send ``sig`` now: a default fatal action ends the process at once; a handler
        makes it pending (run on the next return from a syscall)."""
        if not proc.alive or sig == 0:
            return
        handler = self._handler(proc, sig)
        if handler > 1:
            proc.pending |= 1 << (sig - 1)
        elif handler == 0 and sig not in IGNORED_BY_DEFAULT:
            self.exit(proc, sig & 0x7F)

    @operation
    def post_signal(self, pid, sig):
        """Make ``sig`` pending for ``pid`` (a peer's signal, e.g. SIGPIPE from the vfs):
        it takes effect, handler or default action, on the process's return to user."""
        proc = self.procs.get(pid)
        if proc is not None and proc.alive and self._handler(proc, sig) != 1:
            proc.pending |= 1 << (sig - 1)

    @operation
    def kill(self, pid, sig):
        """End ``pid`` with signal ``sig`` (a fault nobody handles)."""
        proc = self.procs.get(pid)
        if proc is not None:
            self.exit(proc, sig)

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
        if wstatus and not self.use.pager.write(call.pid, wstatus, abi.INT32.pack(child.status)):
            return -errno.EFAULT
        if child.pid not in self.keep:
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

    def answer(self, pid, frame, answer):
        """This fragment holds the signal state, so it returns the final frame itself
        (signals delivered): the caller needs no second call to ``deliver``."""
        if isinstance(answer, Replace):
            return "return", 0, self.deliver(pid, answer.frame)
        if isinstance(answer, int):
            return "return", int(answer), self.deliver(pid, returned(frame, answer))
        return answer

    # --- handler delivery -------------------------------------------------------------
    SAVED = struct.Struct("<22IQ")    # the interrupted frame and the signal mask

    @operation
    def deliver(self, pid, frame):
        """The frame to return to ``pid`` with: if an unblocked signal is pending, the
        frame that enters its handler (``frame`` is saved on the user stack); None if
        the signal's default action ended the process; else ``frame`` unchanged."""
        proc = self.procs.get(pid)
        if proc is None or not proc.alive:
            return None
        ready = proc.pending & ~proc.sigmask
        if not ready:
            return frame
        sig = (ready & -ready).bit_length()
        proc.pending &= ~(1 << (sig - 1))
        if self._handler(proc, sig) <= 1:
            self.signal(proc, sig)
            return frame if proc.alive else None
        handler, flags, restorer, mask = SIGACTION.unpack(proc.sigactions[sig])
        sp = (frame[EXC_SP] - self.SAVED.size - 128 - 64) & ~15
        info = abi.INT32.pack(sig) + bytes(124)
        if not self.use.pager.write(pid, sp, self.SAVED.pack(*frame, proc.sigmask) + info + bytes(64)):
            self.exit(proc, Signal.SIGSEGV)
            return None
        if flags & abi.SigactionFlag.SA_RESETHAND:
            proc.sigactions.pop(sig, None)
        proc.sigmask |= mask | (0 if flags & abi.SigactionFlag.SA_NODEFER else 1 << (sig - 1))
        new = list(frame)
        new[2], new[3], new[4] = sig, sp + self.SAVED.size, sp + self.SAVED.size + 128
        new[EXC_SP], new[EXC_LR], new[EXC_PC] = sp, restorer, handler & ~1
        new[EXC_CPSR] = (frame[EXC_CPSR] & ~0x20) | (0x20 if handler & 1 else 0)
        return new

    def sys_sigreturn(self, call, *_):
        raw = self.use.pager.read(call.pid, call.frame[EXC_SP], self.SAVED.size)
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
        return self._fork(call)

    def sys_clone(self, call, flags, newsp, parent_tid, tls, child_tid, *_):
        """fork with the TID bookkeeping glibc asks for (threads, CLONE_VM, are not
        modeled)."""
        if flags & abi.CloneFlag.CLONE_VM:
            return -errno.ENOSYS
        pid = self._fork(call, newsp, tls if flags & abi.CloneFlag.CLONE_SETTLS else None)
        if pid < 0:
            return pid
        tid = abi.INT32.pack(pid)
        if flags & abi.CloneFlag.CLONE_PARENT_SETTID:
            self.use.pager.write(call.pid, parent_tid, tid)
        if flags & abi.CloneFlag.CLONE_CHILD_SETTID:
            self.use.pager.write(pid, child_tid, tid)
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
        proc = call.proc
        found = self.use.vfs.exec_file(call.pid, abi.AT_FDCWD, path_addr)
        if isinstance(found, int):
            return found
        path, data = found
        argv, envp = self._strings(call.pid, argv_addr), self._strings(call.pid, envp_addr)
        if argv is None or envp is None:
            return -errno.EFAULT
        error, *loaded = self.use.loader.load(call.pid, data, argv, envp, path)
        if error:
            self.notes.append(f"execve {path.decode(errors='replace')}: {loaded[0]}")
            if error == errno.ENOMEM:   # past the point of no return: the old image is gone
                self.exit(proc, Signal.SIGSEGV)
                return None
            return -error
        entry, sp = loaded
        self.use.vfs.exec_done(call.pid, path)
        proc.sigactions = {s: a for s, a in proc.sigactions.items() if SIGACTION.unpack(a)[0] == 1}
        proc.name = path.rsplit(b"/", 1)[-1].decode(errors="replace")
        frame = [0] * 22
        frame[EXC_SP], frame[EXC_PC] = sp, entry & ~1
        frame[EXC_CPSR] = 0x10 | (0x20 if entry & 1 else 0)
        return Replace(frame)

    def _strings(self, pid, address) -> list[bytes] | None:
        out = []
        if address == 0:
            return out
        pager = self.use.pager
        while len(out) < 4096:
            raw = pager.read(pid, address + 4 * len(out), 4)
            if raw is None:
                return None
            pointer = int.from_bytes(raw, "little")
            if pointer == 0:
                return out
            s = pager.read_cstring(pid, pointer)
            if s is None:
                return None
            out.append(s)
        return None

    def sys_uname(self, call, buf, *_):
        fields = (b"Linux", b"l4shell", b"6.1.0-l4linux", b"#1 SMP l4shell model", b"armv7l", b"(none)")
        data = NEW_UTSNAME.pack(*fields)
        return 0 if self.use.pager.write(call.pid, buf, data) else -errno.EFAULT

    def sys_rt_sigaction(self, call, sig, act, oldact, sigsetsize, *_):
        if not 1 <= sig <= 64 or sig in (Signal.SIGKILL, Signal.SIGSTOP) and act:
            return -errno.EINVAL
        pager, proc = self.use.pager, call.proc
        if oldact and not pager.write(call.pid, oldact, proc.sigactions.get(sig, bytes(SIGACTION.size))):
            return -errno.EFAULT
        if act:
            data = pager.read(call.pid, act, SIGACTION.size)
            if data is None:
                return -errno.EFAULT
            proc.sigactions[sig] = data
        return 0

    def sys_rt_sigprocmask(self, call, how, set_addr, oldset, sigsetsize, *_):
        pager, proc = self.use.pager, call.proc
        if oldset and not pager.write(call.pid, oldset, SIGSET.pack(proc.sigmask)):
            return -errno.EFAULT
        if set_addr:
            data = pager.read(call.pid, set_addr, SIGSET.size)
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
        return 0 if self.use.pager.write(call.pid, rlim, RLIMIT32.pack(cur, top)) else -errno.EFAULT

    def sys_prlimit64(self, call, pid, resource, new, old, *_):
        if old and not self.use.pager.write(call.pid, old, RLIMIT64.pack(*self._limit(resource))):
            return -errno.EFAULT
        return 0

    def sys_getrandom(self, call, buf, length, flags, *_):
        rng = self.machine.rng
        data = bytes(rng.randrange(256) for _ in range(min(length, 1 << 16)))
        return len(data) if self.use.pager.write(call.pid, buf, data) else -errno.EFAULT

    def _now(self, clock: int) -> tuple[int, int]:
        ns = self.nanoseconds() + (EPOCH * 1_000_000_000 if clock in (0, 5, 8, 11) else 0)
        return divmod(ns, 1_000_000_000)

    def sys_clock_gettime(self, call, clock, tp, *_):
        data = abi.TIMESPEC32.pack(*self._now(clock))
        return 0 if self.use.pager.write(call.pid, tp, data) else -errno.EFAULT

    def sys_clock_gettime64(self, call, clock, tp, *_):
        data = abi.TIMESPEC64.pack(*self._now(clock))
        return 0 if self.use.pager.write(call.pid, tp, data) else -errno.EFAULT

    def sys_gettimeofday(self, call, tv, tz, *_):
        sec, ns = self._now(0)
        if tv and not self.use.pager.write(call.pid, tv, abi.TIMEVAL32.pack(sec, ns // 1000)):
            return -errno.EFAULT
        return 0

    def _sleep(self, call, req, layout) -> int:
        data = self.use.pager.read(call.pid, req, layout.size)
        if data is None:
            return -errno.EFAULT
        sec, ns = layout.unpack(data)
        if sec < 0 or not 0 <= (ns & 0xFFFFFFFF) < 1_000_000_000:
            return -errno.EINVAL
        self.runtime.skip_clock(sec * 1_000_000_000 + (ns & 0xFFFFFFFF))
        return 0

    def sys_nanosleep(self, call, req, rem, *_):
        return self._sleep(call, req, abi.TIMESPEC32)

    def sys_clock_nanosleep(self, call, clock, flags, req, rem, *_):
        return self._sleep(call, req, abi.TIMESPEC32)

    def sys_clock_nanosleep64(self, call, clock, flags, req, rem, *_):
        return self._sleep(call, req, abi.TIMESPEC64)

    def sys_sched_getaffinity(self, call, pid, size, mask, *_):
        cores = len(self.machine.cores)
        data = ((1 << cores) - 1).to_bytes(4, "little")
        if size < 4:
            return -errno.EINVAL
        return 4 if self.use.pager.write(call.pid, mask, data) else -errno.EFAULT

    def sys_set_tls(self, call, tls, *_):
        frame = list(call.frame)
        frame[EXC_TPIDRURO], frame[2] = tls, 0
        frame[EXC_PC] += 2 if frame[EXC_CPSR] & 0x20 else 4
        return Replace(frame)
