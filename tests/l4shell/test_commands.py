"""The command language through its one entry point (``execute``), on real ARM programs."""

import json

import pytest

from l4shell.language import Options, complete, execute, new_debugger
from l4shell.script import run_script


@pytest.fixture
def dbg():
    return new_debugger(Options("fragmented", 2, 1))


def ok(dbg, line):
    result = execute(dbg, line)
    assert result.ok, result.text
    return result.text


def test_start_next_syscall_stops_at_a_syscall_event_and_shows_where(dbg):
    ok(dbg, "start hello a b")
    text = ok(dbg, "next syscall")
    assert "stopped: next syscall" in text and " syscall " in text
    assert dbg.last_stop.event.kind == "syscall"     # a stop comes at the end of the step that made it


def test_continue_runs_the_program_to_its_end_with_its_output(dbg):
    ok(dbg, "start hello a b")
    text = ok(dbg, "continue")
    assert "hello, world\nargv[0]=hello\nargv[1]=a\nargv[2]=b" in text
    assert "exit status 2" in text


def test_a_program_killed_by_a_signal_is_reported_by_its_name(dbg):
    ok(dbg, "start nxstack")
    assert "nxstack (pid 2) killed by SIGSEGV" in ok(dbg, "continue")


def test_stepi_runs_exactly_n_instructions(dbg):
    ok(dbg, "start compute")
    ok(dbg, "next syscall")
    before = dbg.session.machine.instructions()
    ok(dbg, "stepi 25")
    assert dbg.session.machine.instructions() == before + 25


def test_breakpoints_on_syscall_with_condition_and_ignore_count(dbg):
    ok(dbg, "start fileio")
    ok(dbg, "break syscall write if ret > 5")
    ok(dbg, "ignore 1 1")
    text = ok(dbg, "continue")
    assert "breakpoint 1" in text
    writes = [e for e in dbg.session.machine.trace.filter(["syscall"]) if e.data["name"] == "write" and e.data["ret"] > 5]
    assert len(writes) == 2 and dbg.last_stop.event == writes[-1]
    assert "hit 2×" in ok(dbg, "info breakpoints")


def test_address_breakpoint_stops_before_that_instruction(dbg):
    ok(dbg, "start hello")
    ok(dbg, "next syscall")
    pc = dbg.session.machine.kernel.find_thread("hello.2")
    from l4shell.debugger import Debugger
    address, _ = Debugger.pc_of(pc)
    ok(dbg, f"break {address + 8:#x} hello.2")
    text = ok(dbg, "continue")
    assert "breakpoint 1" in text and f"pc={address + 8:#010x}" in text


def test_watchpoint_sees_a_write_into_process_memory(dbg):
    ok(dbg, "start fileio")
    ok(dbg, "next syscall")
    sp = dbg.session.machine.kernel.find_thread("fileio.2")
    from kernel_model.arm import SP
    engine = sp.task.engine
    engine.activate(sp)
    address = (engine.reg(SP) - 1024) & ~3
    ok(dbg, f"watch fileio.2 {address:#x} 1024")      # the stack the program's calls will use
    text = ok(dbg, "continue")
    assert "watchpoint 1" in text and "status" not in text   # stopped while the program runs
    assert dbg.session.system.exit_status(2) is None


def test_reverse_then_forward_lands_on_the_identical_state(dbg):
    ok(dbg, "start forkexec")
    ok(dbg, "continue")
    session = dbg.session
    digest, steps, events = session.machine.trace.digest(), session.steps, len(session.machine.trace)
    ok(dbg, "reverse-step 40")
    assert session.steps == steps - 40 and len(session.machine.trace) < events
    ok(dbg, "continue")
    assert session.machine.trace.digest() == digest


def test_goto_and_reverse_next_and_reverse_stepi(dbg):
    ok(dbg, "start hello")
    ok(dbg, "continue")
    ok(dbg, "goto 300")
    assert len(dbg.session.machine.trace) > 300
    assert dbg.session.machine.trace.events[300].seq == 300
    earlier = [e.seq for e in dbg.session.earlier_events() if e.kind == "syscall"]
    ok(dbg, "reverse-next syscall")
    assert dbg.last_stop.event.seq == earlier[-1] and len(dbg.session.machine.trace) > earlier[-1]
    n = dbg.session.machine.instructions()
    ok(dbg, "reverse-stepi 3")
    assert dbg.session.machine.instructions() == n - 3


def test_reverse_next_and_reverse_continue_always_move_back(dbg):
    """From a stop on a syscall, going back to the previous one (or breakpoint hit) lands
    at an earlier step, never on the step the session stands on."""
    ok(dbg, "start syscall_loop 50")
    ok(dbg, "break syscall getppid")
    for _ in range(4):
        ok(dbg, "continue")
    for command in ("reverse-next syscall", "reverse-continue", "reverse-continue"):
        steps = dbg.session.steps
        ok(dbg, command)
        assert dbg.session.steps < steps and dbg.last_stop.event.kind == "syscall"


def test_inspection_commands_read_the_model(dbg):
    ok(dbg, "start hello")
    ok(dbg, "next pf")
    assert "hello.2" in ok(dbg, "info tasks")
    assert "pager" in ok(dbg, "info fragments")
    assert "ipc" in ok(dbg, "info bindings")
    caps = ok(dbg, "info caps pager")
    assert "gate:pf.2" in caps and "task:hello.2" in caps
    mem = ok(dbg, "info mem pager")
    assert "r-x" in mem and "rwx" in mem
    for topic in ("cores", "threads", "irqs", "queues"):
        ok(dbg, f"info {topic}")
    ok(dbg, "next syscall")
    from l4shell.debugger import Debugger
    pc, _ = Debugger.pc_of(dbg.session.machine.kernel.find_thread("hello.2"))
    word = dbg.session.machine.kernel.find_task("hello.2").space.read(pc, 4, 0)
    assert f"{int.from_bytes(word, 'little'):#010x}" in ok(dbg, f"x/1xw {pc:#x} hello.2")
    assert "svc" in ok(dbg, f"x/2i {pc - 4:#x} hello.2") + ok(dbg, "disas")
    assert "pc=" in ok(dbg, "regs hello.2")
    ok(dbg, "continue")
    assert "map" in ok(dbg, "pfpath last")
    assert "syscall" in ok(dbg, "trace syscall last 2")
    assert "instructions" in ok(dbg, "stats")


def test_recut_commands_print_before_and_after(dbg):
    ok(dbg, "start pipes")
    ok(dbg, "next ipc")
    text = ok(dbg, "merge pager process")
    assert "- process:" in text and "+ pager:" in text
    assert "core 1" in ok(dbg, "migrate vfs 1")
    assert "syscalls@1" in ok(dbg, "duplicate syscalls")
    assert "status 0" in ok(dbg, "continue")


def test_mistakes_are_one_line_errors(dbg):
    for line in ("bogus", "stepi x", "info nothing", "split nosuch", "break nonsense", "x/4xw 0x0 hello.2",
                 "goto 999999", 'until kind ==', "start /no/such/file", "migrate pager 9"):
        result = execute(dbg, line)
        assert not result.ok and result.text.startswith("error: ") and "\n" not in result.text, line


def test_completion_is_a_pure_function_of_line_and_model(dbg):
    assert complete(dbg, "rev") == ["reverse-continue", "reverse-next", "reverse-step", "reverse-stepi"]
    assert complete(dbg, "split p") == ["pager", "process"]
    assert "write" in complete(dbg, "break syscall wr") or complete(dbg, "break ") 
    assert complete(dbg, "info ca") == ["caps"]
    assert complete(dbg, "info caps ") == complete(dbg, "info caps ")


def test_strace_and_exports(dbg, tmp_path):
    ok(dbg, "strace on")
    ok(dbg, "start hello")
    text = ok(dbg, "continue")
    assert "[2] exit_group(" in text
    path = tmp_path / "t.json"
    ok(dbg, f"trace export {path}")
    chrome = json.loads(path.read_text())
    phases = {e["ph"] for e in chrome["traceEvents"]}
    assert {"X", "i", "s", "f", "M"} <= phases
    ok(dbg, f"trace export {tmp_path / 't.jsonl'}")
    assert len((tmp_path / "t.jsonl").read_text().splitlines()) == len(dbg.session.machine.trace)


def test_record_then_check_replays_the_same_trace(dbg, tmp_path, capsys):
    for line in ("start pipes", "next syscall", "merge loader pager", "continue"):
        ok(dbg, line)
    path = tmp_path / "s.l4s"
    ok(dbg, f"record {path}")
    assert run_script(new_debugger(Options("fragmented", 2, 1)), str(path), check=True) == 0
    assert run_script(new_debugger(Options("fragmented", 2, 2)), str(path), check=True) == 1


def test_expect_fails_a_script(tmp_path):
    path = tmp_path / "e.l4s"
    path.write_text('start hello\ncontinue\nexpect "goodbye"\n')
    assert run_script(new_debugger(), str(path)) == 1


def test_seq_draws_the_ipc_chain_of_a_syscall(dbg):
    ok(dbg, "start hello")
    ok(dbg, "break syscall writev")
    ok(dbg, "continue")
    text = ok(dbg, "seq last-syscall")
    lines = text.splitlines()
    assert "──exception──▶ syscalls.server" in lines[1]
    assert "vfs → console.write (ipc)" in text
    assert lines[-1].split()[1] == "hello.2" and "◀──reply── syscalls.server" in lines[-1]


def test_until_and_finish(dbg):
    ok(dbg, "start hello")
    text = ok(dbg, 'until kind == "syscall" and name == "writev"')
    assert dbg.last_stop.event.data["name"] == "writev" and "stopped: until" in text
    from kernel_model.inspection import pending_calls
    ok(dbg, "next fragment")
    calls = [c for c in pending_calls(dbg.session.machine) if c.kind == "ipc"]
    assert calls, "a fragment call is in flight"
    ok(dbg, f"finish {calls[0].caller}")
    assert dbg.last_stop.event.kind == "ipc-reply" and dbg.last_stop.event.data["to"] == calls[0].caller


def test_interrupt_stops_a_run_between_steps(dbg):
    ok(dbg, "start compute 100000000")
    calls = {"n": 0}

    def interrupted():
        calls["n"] += 1
        return calls["n"] > 3
    dbg.interrupted = interrupted
    assert "stopped: interrupted" in ok(dbg, "continue")
    assert dbg.session.system.exit_status(2) is None and dbg.session.steps == 3


def test_interrupt_cancels_going_back_at_an_earlier_step(dbg):
    """Ctrl-C (``interrupted``) during the re-execution of a going-back command stops it
    between two steps: the command says where it stopped, and the session steps forward
    and goes back again from there."""
    ok(dbg, "start syscall_loop 300")
    ok(dbg, "continue")
    target, calls = dbg.session.steps - 1, {"n": 0}

    def interrupted():
        calls["n"] += 1
        return calls["n"] > 500
    dbg.interrupted = interrupted
    text = ok(dbg, "reverse-step")
    assert f"stopped: going back cancelled — at step 500 of {target:,}" in text and dbg.session.steps == 500
    assert dbg.last_stop.reason == "going back cancelled"
    dbg.interrupted = lambda: False
    ok(dbg, "step")
    ok(dbg, "reverse-step")
    assert dbg.session.steps == 500 and dbg.last_stop.reason == "reverse"
