"""The step debugger: run control, breakpoints and watchpoints over a ``Session``.

Stops are decided per trace event (breakpoints on syscalls, IPC, page faults, IRQs,
fragment operations, conditions) or per step (watchpoints compare memory). An address
breakpoint needs instruction granularity, so while one is enabled the machine runs in
single-step mode (one instruction per ARM quantum): slower, exact. Going back re-executes
the session (``Session.goto_step``); breakpoints are not part of the model and survive it.
When it goes back through a checkpoint, another process carries on: ``handover`` says what
it needs (the breakpoints, the command being answered, ``loop``: where the shell or script
was) and ``resume`` there answers the command. A re-execution can be long (from boot, the
whole run again): ``going_back`` (by default ``interrupted``, so Ctrl-C in the shell) may
cancel it between two steps, and the command then says at which earlier step it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from capstone import CS_ARCH_ARM, CS_MODE_ARM, CS_MODE_THUMB, Cs

from kernel_model.addrspace import MemoryFault
from kernel_model.arm import PC as PC_REG

from .commands import CommandError, Result, answer, command, count, number
from .expr import ExprError, compile_expr
from .session import Session, Stop

NEXT_KINDS = {"ipc": ("ipc-send", "ipc-reply"), "pf": ("page-fault",),
              "irq": ("irq", "irq-deliver"), "syscall": ("syscall",), "sched": ("schedule",),
              "recut": ("recut",), "fragment": ("fragment",)}
BREAK_KINDS = "{syscall|ipc|pf|irq|fragment|addr}"


@dataclass
class Breakpoint:
    number: int
    kind: str                  # addr | syscall | ipc | pf | irq | fragment | watch
    what: str                  # as the user wrote it
    test: object               # event -> bool (None for watch), made from kind and spec
    spec: tuple = ()           # the words after an event kind
    task: str = ""
    address: int = 0
    length: int = 0
    condition: str = ""
    cond: object = None
    ignore: int = 0
    enabled: bool = True
    hits: int = 0
    last: bytes = b""

    def describe(self) -> str:
        state = "" if self.enabled else " (disabled)"
        extra = f" if {self.condition}" if self.condition else ""
        ignore = f", ignore next {self.ignore}" if self.ignore else ""
        return f"{self.number}: {self.kind} {self.what}{extra} — hit {self.hits}×{ignore}{state}"


@dataclass
class Debugger:
    session: Session
    breakpoints: list[Breakpoint] = field(default_factory=list)
    last_output: str = ""
    last_stop: object = None
    raw: str = ""                  # the current command's arguments, unparsed (expressions)
    history: list[str] = field(default_factory=list)
    interrupted: object = staticmethod(lambda: False)     # Ctrl-C in the shell, Stop in the TUI
    going_back: object = None      # (step, target) -> True to cancel a re-execution; None: interrupted()
    narrate: object = staticmethod(lambda text: None)     # the TUI shows narration in a panel
    pause: object = staticmethod(lambda: None)            # batch: nothing to wait for
    loop: object = staticmethod(tuple)   # () -> where the shell or a script is (plain data)
    _next_number: int = 1

    # --- stopping ---------------------------------------------------------------------
    def _hit(self, bp: Breakpoint) -> bool:
        bp.hits += 1
        if bp.ignore:
            bp.ignore -= 1
            return False
        return True

    def _stop_test(self, extra=None):
        active = [b for b in self.breakpoints if b.enabled and b.kind != "watch"]
        watches = [b for b in self.breakpoints if b.enabled and b.kind == "watch"]

        def stop(event):
            if extra is not None:
                reason = extra(event)
                if reason:
                    return reason
            for bp in active:
                if bp.test(event) and (bp.cond is None or bp.cond(event)) and self._hit(bp):
                    return f"breakpoint {bp.number} ({bp.kind} {bp.what})"
            for bp in watches:
                now = self._peek(bp.task, bp.address, bp.length)
                if now != bp.last:
                    old, bp.last = bp.last, now
                    if self._hit(bp):
                        return f"watchpoint {bp.number}: {bp.what} {old.hex()} -> {now.hex()}"
            return None
        return stop

    def _peek(self, task_name: str, address: int, length: int) -> bytes:
        task = self.session.machine.kernel.find_task(task_name)
        if task is None or not task.alive:
            return b""
        try:
            return task.space.read(address, length, 0)
        except MemoryFault:
            return b""

    def go(self, extra=None, max_steps: int | None = None) -> Stop:
        """Run until a breakpoint, ``extra(event)``, the programs' end or idle."""
        session = self.session
        fine = any(b.enabled and b.kind == "addr" for b in self.breakpoints)
        if fine:
            session._act("single_step", True)
        try:
            result = session.run(self._stop_test(extra), max_steps, self.interrupted)
        finally:
            if fine:
                session._act("single_step", False)
        self.last_stop = result
        return result

    # --- going back through a checkpoint ----------------------------------------------------
    def handover(self, travel) -> dict:
        """What a process resumed from a checkpoint needs to answer the command and carry on."""
        return {"travel": travel, "loop": self.loop(), "history": self.history, "strace": self.session.strace_on,
                "breakpoints": [replace(b, test=None, cond=None) for b in self.breakpoints],
                "next_number": self._next_number}

    def resume(self, message: dict) -> Result:
        """In the resumed process: replay to the target, take over the user's state, answer.
        Program output the frozen copy had collected (a run it froze in) was shown then."""
        self.session.take_output()
        travel = message["travel"]
        reached = self.session.replay(message["log"], message["steps"], self.cancel_test(travel))
        self.session.set_strace(message["strace"])
        self.history, self._next_number = message["history"], message["next_number"]
        self.breakpoints = [_armed(b) for b in message["breakpoints"]]
        return answer(self, lambda: self.arrive(travel) if reached else self.cancelled(travel))

    def cancel_test(self, travel) -> object:
        """What a re-execution for ``travel`` asks between two steps: True cancels it."""
        if self.going_back is None:
            return self.interrupted
        session, check = self.session, self.going_back
        return lambda: check(session.steps, travel.steps)

    def cancelled(self, travel) -> str:
        self.last_stop = Stop("going back cancelled", detail=f"at step {self.session.steps:,} of {travel.steps:,}")
        return self.where(self.last_stop)

    def arrive(self, travel) -> str:
        if travel.stepi:
            self.session.stepi(travel.stepi)
        event = self.session.machine.trace.events[travel.event] if travel.event is not None else None
        self.last_stop = Stop(travel.reason, event)
        return self.where(self.last_stop)

    # --- where ----------------------------------------------------------------------------
    def where(self, stop: Stop | None = None) -> str:
        session = self.session
        lines = []
        if stop is not None:
            lines.append(f"stopped: {stop.reason}" + (f" — {stop.detail}" if stop.detail else ""))
        event = stop.event if stop is not None and stop.event is not None else (
            session.machine.trace.events[-1] if len(session.machine.trace) else None)
        if event is not None:
            lines.append(str(event))
            thread = session.machine.kernel.find_thread(event.thread) if event.thread else None
            if thread is not None and not thread.is_python and thread.alive:
                lines.append(self.location(thread))
        lines.append(f"step {session.steps}, {len(session.machine.trace)} events, "
                     f"{session.machine.instructions():,} instructions")
        return "\n".join(lines)

    def location(self, thread) -> str:
        """core, task, thread, PC and the instruction there."""
        pc, thumb = self.pc_of(thread)
        return f"core {thread.core} {thread.task.name}/{thread.name} pc={pc:#010x}  {self.disassemble(thread.task, pc, thumb, 1)[0]}"

    @staticmethod
    def pc_of(thread) -> tuple[int, bool]:
        engine = thread.task.engine
        if engine is None:
            return 0, False
        engine.activate(thread)
        return engine.reg(PC_REG), engine.thumb

    @staticmethod
    def disassemble(task, address: int, thumb: bool, count: int) -> list[str]:
        cs = Cs(CS_ARCH_ARM, CS_MODE_THUMB if thumb else CS_MODE_ARM)
        try:
            code = task.space.read(address, 4 * count + 4, 0)
        except MemoryFault:
            return [f"{address:#010x}: <not mapped>"]
        out = [f"{i.address:#010x}: {i.mnemonic} {i.op_str}".rstrip()
               for i in cs.disasm(code, address)][:count]
        return out or [f"{address:#010x}: <undecodable>"]


# --- run control -------------------------------------------------------------------------------
@command("start", "start PROGRAM [ARGS…]", "run a program (a host file, or a name in the model's /bin)",
         complete=("program",))
def _start(dbg, args):
    if not args:
        raise CommandError("usage: start PROGRAM [ARGS…]")
    pid = dbg.session.start(args[0], args[1:])
    return f"started {args[0]} as pid {pid}"


@command("stepi", "stepi [N] [core C]", "run N ARM instructions (default 1), on core C if given",
         aliases=("si",))
def _stepi(dbg, args):
    core = None
    if "core" in args:
        at = args.index("core")
        if at + 1 >= len(args):
            raise CommandError("usage: stepi [N] [core C]")
        core = number(args[at + 1], "a core")
        if not 0 <= core < len(dbg.session.machine.cores):
            raise CommandError(f"no core {core}")
        args = args[:at]
    stop = dbg.session.stepi(count(args), core)
    dbg.last_stop = stop
    return dbg.where(stop)


@command("step", "step [N]", "advance N kernel events (default 1)", aliases=("s",))
def _step(dbg, args):
    target = len(dbg.session.machine.trace) + count(args)
    stop = dbg.go(lambda e: "step" if e.seq + 1 >= target else None)
    return dbg.where(stop)


@command("next", "next ipc|pf|irq|syscall|sched|recut|fragment [TASK]",
         "run to the next event of that kind (in TASK if given)", complete=("{ipc|pf|irq|syscall|sched|recut|fragment}", "task"),
         aliases=("n",))
def _next(dbg, args):
    if not args or args[0] not in NEXT_KINDS:
        raise CommandError(f"usage: next {'|'.join(NEXT_KINDS)} [TASK]")
    kinds, task = NEXT_KINDS[args[0]], (args[1] if len(args) > 1 else None)
    stop = dbg.go(lambda e: f"next {args[0]}" if e.kind in kinds and (task is None or e.task == task) else None)
    return dbg.where(stop)


@command("continue", "continue", "run until a breakpoint or every program has ended (Ctrl-C stops)",
         aliases=("c", "cont"))
def _continue(dbg, args):
    stop = dbg.go()
    if stop.reason == "exited":
        statuses = ", ".join(f"{dbg.session.names[p]} (pid {p}) {dbg.session.ended(p)}"
                             for p in dbg.session.pids)
        return f"all programs ended: {statuses}" if statuses else "nothing to run"
    return dbg.where(stop)


@command("until", "until EXPR", "run until an event satisfies EXPR (e.g. kind == \"syscall\" and name == \"write\")")
def _until(dbg, args):
    if not args:
        raise CommandError("usage: until EXPR")
    try:
        test = compile_expr(dbg.raw)
    except ExprError as error:
        raise CommandError(str(error)) from None
    stop = dbg.go(lambda e: "until" if test(e) else None)
    return dbg.where(stop)


@command("finish", "finish [THREAD]", "run until the current IPC call of THREAD (default: the last event's) is answered")
def _finish(dbg, args):
    trace = dbg.session.machine.trace
    name = args[0] if args else (trace.events[-1].thread if len(trace) else "")
    thread = dbg.session.machine.kernel.find_thread(name)
    if thread is None or thread.awaiting is None:
        raise CommandError(f"thread {name or '?'} is not waiting for a reply")
    stop = dbg.go(lambda e: "finish" if e.kind == "ipc-reply" and e.data.get("to") == thread.name else None)
    return dbg.where(stop)


# --- going back ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Travel:
    """Where a going-back command goes: ``steps`` machine steps from boot, then ``stepi``
    instructions; the stop it shows (``event``: the number of the event to show)."""
    steps: int
    reason: str
    event: int | None = None
    stepi: int = 0


def _travel(dbg, travel: Travel) -> str:
    if dbg.session.goto_step(travel.steps, lambda: dbg.handover(travel), dbg.cancel_test(travel)):
        return dbg.arrive(travel)
    return dbg.cancelled(travel)


@command("reverse-step", "reverse-step [N]", "go back N machine steps (by deterministic re-execution)",
         aliases=("rs",))
def _reverse_step(dbg, args):
    return _travel(dbg, Travel(max(dbg.session.steps - count(args), 0), "reverse"))


@command("reverse-stepi", "reverse-stepi [N]", "go back N ARM instructions", aliases=("rsi",))
def _reverse_stepi(dbg, args):
    session = dbg.session
    target = session.machine.instructions() - count(args)
    if target < 0:
        raise CommandError("not that many instructions have run")
    steps = session.step_of_instructions(target)
    return _travel(dbg, Travel(steps, "reverse", stepi=target - session.marks[1][steps]))


@command("reverse-next", "reverse-next KIND", "go back to the previous event of that kind",
         complete=("{ipc|pf|irq|syscall|sched|recut|fragment}",))
def _reverse_next(dbg, args):
    if not args or args[0] not in NEXT_KINDS:
        raise CommandError(f"usage: reverse-next {'|'.join(NEXT_KINDS)}")
    kinds = NEXT_KINDS[args[0]]
    earlier = [e for e in dbg.session.earlier_events() if e.kind in kinds]
    if not earlier:
        raise CommandError(f"no earlier {args[0]} event")
    seq = earlier[-1].seq
    return _travel(dbg, Travel(dbg.session.step_of_event(seq), "reverse", seq))


@command("reverse-continue", "reverse-continue", "go back to the last breakpoint hit, or to boot",
         aliases=("rc",))
def _reverse_continue(dbg, args):
    session = dbg.session
    armed = [b for b in dbg.breakpoints if b.enabled and b.test is not None]
    hits = [e.seq for e in session.earlier_events()
            if any(b.test(e) and (b.cond is None or b.cond(e)) for b in armed)]
    if hits:
        return _travel(dbg, Travel(session.step_of_event(hits[-1]), "reverse", hits[-1]))
    return _travel(dbg, Travel(0, "reverse: boot"))


@command("goto", "goto EVENT", "re-execute to just after event number EVENT")
def _goto(dbg, args):
    if not args:
        raise CommandError("usage: goto EVENT")
    seq = number(args[0].lstrip("#"), "an event number")
    return _travel(dbg, Travel(dbg.session.step_of_event(seq), "goto", seq))


# --- breakpoints --------------------------------------------------------------------------------
def _test_of(bp: Breakpoint):
    if bp.kind == "watch":
        return None
    if bp.kind == "addr":
        return (lambda e, a=bp.address, t=bp.task: e.kind == "quantum" and e.data.get("pc") == a
                and (not t or e.task == t))
    return _event_test(bp.kind, list(bp.spec))


def _armed(bp: Breakpoint) -> Breakpoint:
    """A carried breakpoint (plain data) with its tests made again."""
    return replace(bp, test=_test_of(bp), cond=compile_expr(bp.condition) if bp.condition else None)


def _event_test(kind: str, spec: list[str]):
    if kind == "syscall":
        if not spec:
            raise CommandError("usage: break syscall NAME|NUMBER")
        key = spec[0]
        if key.isdigit():
            return lambda e: e.kind == "syscall" and e.data.get("nr") == int(key)
        return lambda e: e.kind == "syscall" and e.data.get("name") == key
    if kind == "ipc":
        direction, who = (spec + ["", ""])[:2] if spec and spec[0] in ("from", "to") else ("any", spec[0] if spec else "")

        def test(e):
            if e.kind != "ipc-send":
                return False
            if not who:
                return True
            sender = who in (e.task, e.thread)
            receiver = who in (e.data.get("to"), e.data.get("to_task")) or who == e.data.get("via", "").split(":")[-1] \
                or who == str(e.data.get("label"))
            return sender if direction == "from" else receiver if direction == "to" else sender or receiver
        return test
    if kind == "pf":
        access = next((w for w in spec if w in ("read", "write", "exec")), None)
        span = next((w for w in spec if "-" in w), None)
        lo, hi = (number(x, "an address") for x in span.split("-")) if span else (0, 1 << 32)
        return lambda e: (e.kind == "page-fault" and lo <= e.data.get("address", -1) < hi
                          and (access is None or e.data.get("access") == access))
    if kind == "irq":
        line = number(spec[0], "an IRQ line") if spec else None
        return lambda e: e.kind == "irq" and (line is None or e.data.get("line") == line)
    if kind == "fragment":
        op = spec[0] if spec else ""
        return lambda e: e.kind == "fragment" and (not op or op in (e.data.get("op"), e.data.get("target"),
                                                                  f"{e.data.get('target')}.{e.data.get('op')}"))
    raise CommandError(f"unknown breakpoint kind {kind!r} (syscall, ipc, pf, irq, fragment, or an address)")


@command("break", "break syscall NAME|NR | ipc [from|to] WHO | pf [LO-HI] [read|write|exec] | irq [LINE] | fragment [OP] | ADDR [TASK]  [if EXPR]",
         "stop on an event or at an address", complete=(BREAK_KINDS,), aliases=("b",))
def _break(dbg, args):
    if not args:
        raise CommandError("usage: break WHAT [if EXPR] (see help break)")
    condition = ""
    if "if" in args:
        at = args.index("if")
        condition, args = dbg.raw.split(" if ", 1)[1].split("#")[0].strip(), args[:at]
    try:
        cond = compile_expr(condition) if condition else None
    except ExprError as error:
        raise CommandError(str(error)) from None
    if args[0] in ("syscall", "ipc", "pf", "irq", "fragment"):
        kind, what, spec, task, address = args[0], " ".join(args[1:]), tuple(args[1:]), "", 0
    else:
        kind, spec, address = "addr", (), number(args[0], "an address or a kind")
        task = args[1] if len(args) > 1 else ""
        what = f"{address:#x}" + (f" in {task}" if task else "")
    bp = Breakpoint(dbg._next_number, kind, what, None, spec, task, address, condition=condition, cond=cond)
    bp.test = _test_of(bp)
    dbg._next_number += 1
    dbg.breakpoints.append(bp)
    return f"breakpoint {bp.number}: {kind} {what}"


@command("watch", "watch TASK ADDR [LEN]", "stop when the bytes at ADDR in TASK change (default 4)",
         complete=("task",))
def _watch(dbg, args):
    if len(args) < 2:
        raise CommandError("usage: watch TASK ADDR [LEN]")
    task = dbg.session.machine.kernel.find_task(args[0])
    if task is None:
        raise CommandError(f"no task {args[0]!r}")
    address, length = number(args[1], "an address"), number(args[2], "a length") if len(args) > 2 else 4
    bp = Breakpoint(dbg._next_number, "watch", f"{task.name} {address:#x}+{length}", None, (), task.name,
                    address, length)
    bp.last = dbg._peek(task.name, address, length)
    dbg._next_number += 1
    dbg.breakpoints.append(bp)
    return f"watchpoint {bp.number}: {bp.what} = {bp.last.hex() or '<not mapped>'}"


def _numbered(dbg, args) -> list[Breakpoint]:
    if not args:
        return list(dbg.breakpoints)
    wanted = {number(a, "a breakpoint number") for a in args}
    found = [b for b in dbg.breakpoints if b.number in wanted]
    missing = wanted - {b.number for b in found}
    if missing:
        raise CommandError(f"no breakpoint {', '.join(map(str, sorted(missing)))}")
    return found


@command("delete", "delete [N…]", "delete breakpoints (all without N)")
def _delete(dbg, args):
    gone = _numbered(dbg, args)
    dbg.breakpoints = [b for b in dbg.breakpoints if b not in gone]
    return f"deleted {len(gone)}"


@command("disable", "disable [N…]", "disable breakpoints")
def _disable(dbg, args):
    for bp in _numbered(dbg, args):
        bp.enabled = False
    return ""


@command("enable", "enable [N…]", "enable breakpoints")
def _enable(dbg, args):
    for bp in _numbered(dbg, args):
        bp.enabled = True
    return ""


@command("ignore", "ignore N COUNT", "let breakpoint N pass COUNT more hits")
def _ignore(dbg, args):
    if len(args) != 2:
        raise CommandError("usage: ignore N COUNT")
    bp = _numbered(dbg, args[:1])[0]
    bp.ignore = number(args[1], "a count")
    return bp.describe()


@command("condition", "condition N [EXPR]", "set (or clear) the condition of breakpoint N")
def _condition(dbg, args):
    if not args:
        raise CommandError("usage: condition N [EXPR]")
    bp = _numbered(dbg, args[:1])[0]
    bp.condition = dbg.raw.split(None, 1)[1] if len(args) > 1 else ""
    try:
        bp.cond = compile_expr(bp.condition) if bp.condition else None
    except ExprError as error:
        raise CommandError(str(error)) from None
    return bp.describe()


BOOT_USAGE = ("boot [--composition NAME|FILE] [--cores N] [--seed S] [--disk IMAGE] "
              "[--key-file KEY] [--mount PATH]")
BOOT_FLAGS = ("--composition", "--cores", "--seed", "--disk", "--key-file", "--mount")


@command("boot", BOOT_USAGE, "a fresh system with these options (the others as before); breakpoints stay",
         complete=("{" + "|".join(BOOT_FLAGS) + "}",))
def _boot(dbg, args):
    from dataclasses import replace
    options, words = dbg.session.options, list(args)
    while words:
        flag = words.pop(0)
        if flag not in BOOT_FLAGS or not words:
            raise CommandError(f"usage: {BOOT_USAGE}")
        value, field_name = words.pop(0), flag[2:].replace("-", "_")
        if field_name in ("cores", "seed"):
            value = number(value, field_name)
        options = replace(options, **{field_name: value})
    try:
        session = Session(options)
    except ValueError as error:
        raise CommandError(str(error)) from None
    session.checkpoints, checkpoints = dbg.session.checkpoints, dbg.session.checkpoints
    if checkpoints is not None:
        checkpoints.discard(0)              # copies of the old system
    dbg.session.close()
    dbg.session = session
    o = options
    return f"booted: composition {o.composition}, {o.cores} cores, seed {o.seed}"
