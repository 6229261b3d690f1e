"""The Textual TUI, driven through Pilot as a user would: keys and command lines step real ARM
programs (demos/arm) on the model, and the panes show the model's state.

Every test waits for the app to be ``idle`` (each request answered by the model thread and
its views on screen) before it looks; nothing depends on host timing. Where a test checks
a pane, it compares with the model read on the model thread (``engine.call``), never with
a value computed by the test.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual.widgets import Input

from l4shell.session import BUSYBOX, Options
from l4shell.tui.app import PANES, L4App
from l4shell.tui.commandbar import CommandBar
from l4shell.tui.fragmap import FragmentMap
from l4shell.tui.help import HelpScreen, key_rows
from l4shell.tui.lineview import LineView
from l4shell.tui.recut import RecutDialog
from l4shell.tui.statusbar import StatusBar

WAIT_LIMIT = 6000          # polls of 10 ms: a hung model fails the test instead of hanging it


def app_for(composition: str = "fragmented", cores: int = 2, seed: int = 0, script: str | None = None) -> L4App:
    return L4App(Options(composition, cores, seed), script)


async def settle(app: L4App, pilot) -> None:
    """Until every request is answered and its views are on screen."""
    for _ in range(WAIT_LIMIT):
        if app.idle:
            await pilot.pause()
            if app.idle:
                return
        await pilot.pause(0.01)
    raise AssertionError("the model thread did not answer")


async def command(app: L4App, pilot, line: str) -> None:
    """Type a line into the command bar, as a user would."""
    await pilot.press("colon")
    await pilot.press(*line, "enter")
    await pilot.press("escape")          # leave the bar: single keys act on the model again
    await settle(app, pilot)


async def keys(app: L4App, pilot, *names: str) -> None:
    for name in names:
        await pilot.press(name)
        await settle(app, pilot)


async def until(pilot, condition) -> None:
    """Poll ``condition`` while the model may be running (no waiting for an idle CPU)."""
    for _ in range(WAIT_LIMIT):
        if condition():
            return
        await pilot.pause(0.01)
    raise AssertionError("the condition never held")


def transcript(app: L4App) -> str:
    return "\n".join(app.query_one("#transcript", LineView).texts)


def rows(app: L4App, selector: str) -> list[str]:
    return app.query_one(selector, LineView).texts


def status(app: L4App) -> tuple:
    return app.engine.latest.views["status"]


def drive(body, size=(80, 24), **options) -> None:
    """Run ``body(app, pilot)`` in an app of ``size`` over a freshly booted model, once the
    model thread has settled."""
    async def scenario():
        app = app_for(**options)
        async with app.run_test(size=size) as pilot:
            await settle(app, pilot)
            await body(app, pilot)
    run(scenario())


def run(coroutine):
    return asyncio.run(coroutine)


# --- stepping by key ------------------------------------------------------------------------------
def test_keys_step_the_model_and_the_status_line_follows():
    """s (step), i (stepi), n (next syscall), f (next page fault), p (next IPC) move the
    model: each leaves the event it stopped on in the trace, and the status shows the step."""
    async def body(app, pilot):
        await command(app, pilot, "start hello a b")
        await keys(app, pilot, "n")
        stop = await app.engine.call(lambda dbg: dbg.last_stop)
        assert stop.reason == "next syscall" and stop.event.kind == "syscall"
        await keys(app, pilot, "f")
        stop, steps = await app.engine.call(lambda dbg: (dbg.last_stop, dbg.session.steps))
        assert stop.event.kind == "page-fault"
        assert f"step {steps:,} " in status(app)[1]
        await keys(app, pilot, "s")
        assert await app.engine.call(lambda dbg: dbg.session.steps) == steps + 1
        instructions = await app.engine.call(lambda dbg: dbg.session.machine.instructions())
        await keys(app, pilot, "i")
        assert await app.engine.call(lambda dbg: dbg.session.machine.instructions()) == instructions + 1
        await keys(app, pilot, "p")
        stop = await app.engine.call(lambda dbg: dbg.last_stop)
        assert stop.event.kind in ("ipc-send", "ipc-reply")
        assert "stopped: next ipc" in transcript(app)
    drive(body, size=(120, 40))


def test_continue_runs_hello_to_its_end_and_the_console_shows_its_output():
    """c runs the program to its end; its output and the exit status reach the console and
    the status line."""
    async def body(app, pilot):
        await command(app, pilot, "start hello a b")
        await keys(app, pilot, "c")
        text = transcript(app)
        assert "hello, world" in text and "argv[2]=b" in text
        assert "all programs ended: hello (pid 2) exit status 2" in text
        assert "hello[2] exit status 2" in status(app)[2]
    drive(body, size=(80, 24))


def test_c_c_stops_the_run_even_before_the_model_thread_started_it():
    """A quick c c: the second c stops the run the first asked for, started or not yet
    (it used to queue a second continue when the first had not shown itself busy yet)."""
    async def body(app, pilot):
        await command(app, pilot, "start syscall_loop 300000")
        app.action_toggle_run()          # c, and c again before the model thread answered
        app.action_toggle_run()
        await settle(app, pilot)
        assert await app.engine.call(lambda dbg: dbg.session.running()) == [2]
        assert transcript(app).count("(l4) continue") == 1
    drive(body, size=(80, 24))


def test_reverse_step_goes_back_one_step_by_reexecution():
    """b (reverse-step) lands one machine step back, on the same trace prefix."""
    async def body(app, pilot):
        await command(app, pilot, "start hello")
        await keys(app, pilot, "f", "f", "s")
        steps, before = await app.engine.call(
            lambda dbg: (dbg.session.steps, [e.to_json() for e in dbg.session.machine.trace]))
        await keys(app, pilot, "b")
        back, after = await app.engine.call(
            lambda dbg: (dbg.session.steps, [e.to_json() for e in dbg.session.machine.trace]))
        assert back == steps - 1
        assert after == before[:len(after)] and len(after) < len(before)
    drive(body, size=(80, 24))


def test_esc_cancels_a_long_reverse_step_and_the_session_stays_usable():
    """Going back re-executes from boot, as long as the run was: the status line shows how
    far it got, Esc stops it between two steps — the session is then simply at an earlier
    step of the same history, and the console says which — and stepping forward and going
    back again both work from there."""
    async def body(app, pilot):
        await command(app, pilot, "start syscall_loop 4000")
        await keys(app, pilot, "c")
        steps, events = await app.engine.call(lambda dbg: (dbg.session.steps, list(dbg.session.machine.trace.events)))
        bar = app.query_one(StatusBar)
        app.simulate_key("b")
        await until(pilot, lambda: "going back: step" in bar.shown.plain)
        assert f" of {steps - 1:,} (Esc cancels)" in bar.shown.plain
        app.simulate_key("escape")
        await settle(app, pilot)
        back, trace = await app.engine.call(lambda dbg: (dbg.session.steps, dbg.session.machine.trace.events))
        assert 0 < back < steps - 1 and trace == events[:len(trace)]
        assert f"stopped: going back cancelled — at step {back:,} of {steps - 1:,}" in transcript(app)
        assert "■ going back cancelled — at step" in bar.shown.plain
        await keys(app, pilot, "s")
        assert await app.engine.call(lambda dbg: dbg.session.steps) == back + 1
        await keys(app, pilot, "b")
        assert await app.engine.call(lambda dbg: dbg.session.steps) == back
        assert "stopped: reverse" in transcript(app).rsplit("(l4) reverse-step", 1)[1]
    drive(body, size=(80, 24))


# --- panes show the model ----------------------------------------------------------------------------
def test_page_fault_pane_shows_the_path_thread_kernel_pager_map_frame():
    """The path of a completed fault names the faulting thread, the pager IPC through the
    process's pager gate, the reply with its map item, and the frame the trace's map event
    and the task's page table agree on."""
    async def body(app, pilot):
        await command(app, pilot, "start hello")
        await keys(app, pilot, "f", "f", "4")          # the second fault: the first is answered
        await keys(app, pilot, "up", "up", "enter")    # up: the newest fault, up: the first

        def truth(dbg):
            trace = dbg.session.machine.trace.events
            fault = next(e for e in trace if e.kind == "page-fault")
            mapped = next(e for e in trace[fault.seq:] if e.kind == "map" and e.task == fault.task)
            task = dbg.session.machine.kernel.find_task(fault.task)
            return fault, mapped, task.space.lookup(fault.data["address"]).resource
        fault, mapped, frame = await app.engine.call(truth)
        path = "\n".join(rows(app, "#fault-path"))
        assert f"#{fault.seq}" in path and fault.thread in path
        assert "→ kernel  page-fault IPC via gate:pf.2 to pager.server" in path
        assert "← reply   from pager.server, 1 map item" in path
        assert f"→ map     {mapped.data['address']:#010x} → frame {mapped.data['frame']}" in path
        assert f"  frame   {frame}: hello.2 " in path and mapped.data["frame"] == frame
    drive(body, size=(80, 24))


def test_selecting_a_task_focuses_the_memory_and_capability_panes_on_it():
    """Enter on a task row focuses every pane on it: its regions (with the fragments that
    live in them) and its capability table, slot for slot as the model has it."""
    async def body(app, pilot):
        await keys(app, pilot, "2")
        listed = rows(app, "#task-list")
        pager = next(i for i, row in enumerate(listed) if row.split()[1] == "pager")
        await keys(app, pilot, "home", *["down"] * pager, "enter")
        assert app.query_one("#caps").border_subtitle.startswith("of pager")
        slots = await app.engine.call(
            lambda dbg: sorted(dbg.session.machine.kernel.find_task("pager").caps.items()))
        shown = rows(app, "#caps LineView")
        assert [int(row.split()[0]) for row in shown] == [slot for slot, _ in slots]
        assert [row.split()[1] for row in shown] == [repr(node.resource) for _, node in slots]
        assert any(row.endswith("pager") for row in rows(app, "#regions"))      # the pager's own area
        assert any(row.endswith("stack") for row in rows(app, "#regions"))
    drive(body, size=(120, 40))


def test_queues_pane_shows_the_call_a_faulting_thread_waits_on():
    """Stopped on the page-fault IPC, the faulting thread is in the calls awaiting a reply
    from the pager (from inspection.snapshot)."""
    async def body(app, pilot):
        await command(app, pilot, "start hello")
        await command(app, pilot, "until kind == \"ipc-send\" and msg == \"pagefault\"")
        await keys(app, pilot, "3")
        text = "\n".join(rows(app, "#queues LineView"))
        assert "▶ hello.2 → pager.server (pagefault)" in text
    drive(body, size=(80, 24))


def test_event_log_filter_shows_only_matching_events():
    """/ then a filter: the log holds only page faults of the program's task, the newest
    last, as many as the trace has."""
    async def body(app, pilot):
        await command(app, pilot, "start hello")
        await keys(app, pilot, "c")
        await pilot.press("slash", *"pf task=hello.2", "enter")
        await settle(app, pilot)
        shown = rows(app, "#log LineView")
        faults = await app.engine.call(
            lambda dbg: [e.seq for e in dbg.session.machine.trace.filter(["page-fault"], "hello.2")])
        assert [int(row.split()[0].lstrip("▶")) for row in shown] == faults
        assert all(" page-fault " in row for row in shown)
    drive(body, size=(80, 24))


def test_command_bar_takes_any_shell_command_and_reports_errors():
    """The command bar runs the shell's language: info, an unknown word (one error line)."""
    async def body(app, pilot):
        await command(app, pilot, "info queues")
        await command(app, pilot, "frobnicate")
        text = transcript(app)
        assert "(l4) info queues" in text and "calls awaiting a reply:" in text
        assert "error: unknown command 'frobnicate'" in text
    drive(body, size=(80, 24))


def test_tab_completes_from_the_command_table_and_the_model():
    """Tab in the command bar completes a command, then a fragment name from the model."""
    async def body(app, pilot):
        await pilot.press("colon", *"dupl", "tab")
        await settle(app, pilot)
        bar = app.query_one(CommandBar)
        assert bar.value == "duplicate "
        await pilot.press(*"sys", "tab")
        await settle(app, pilot)
        assert bar.value == "duplicate syscalls "
    drive(body, size=(80, 24))


# --- re-cutting ---------------------------------------------------------------------------------------
def test_migrate_from_the_fragment_map_while_a_workload_runs():
    """g on a fragment opens the re-cut dialog; Enter migrates its task while continue runs
    syscall_loop. The re-cut happens between two steps of the run (the program has not
    ended yet), the map shows the new core, and the program still ends with every syscall
    answered. (Keys go through ``simulate_key`` while the model runs: Pilot's ``press``
    waits for the process to idle, which it does not while the model steps.)"""
    async def body(app, pilot):
        await command(app, pilot, "start syscall_loop 5000")
        listed = rows(app, "#fragment-list")
        process = next(i for i, row in enumerate(listed) if row.split()[0].lstrip("▶") == "process")
        await keys(app, pilot, "6", "home", *["down"] * process)
        app.simulate_key("c")
        await until(pilot, lambda: app.engine.latest.busy)
        app.simulate_key("g")
        await until(pilot, lambda: isinstance(app.screen, RecutDialog))
        app.simulate_key("enter")                       # the dialog says "migrate process 1"
        await until(pilot, lambda: "migrate done" in transcript(app))
        app.simulate_key("c")                           # stop (or nothing, if it ended)
        await settle(app, pilot)

        def when(dbg):
            recut = next(e for e in dbg.session.machine.trace if e.kind == "recut")
            ended = next((e.seq for e in dbg.session.machine.trace
                          if e.kind == "syscall" and e.data.get("name") == "exit_group"), None)
            return recut, ended, dbg.session.log
        recut, ended, log = await app.engine.call(when)
        assert recut.data["op"] == "migrate" and recut.data["to_core"] == 1
        assert ended is None or ended > recut.seq            # re-cut while the program ran
        assert any(a.kind == "migrate" and a.step > 0 for a in log)
        assert any(row.split()[:3] == ["process", "process", "1"] for row in rows(app, "#fragment-list"))
        await keys(app, pilot, "c")                     # to the end
        assert "syscall_loop: 5000 getppid calls, all equal: yes" in transcript(app)
    drive(body, size=(120, 40))


def test_split_and_duplicate_keys_show_the_new_tasks_and_their_capabilities():
    """x splits the selected fragment out of the monolithic task: a new task appears in the
    tasks pane, the fragment map shows the binding become IPC; d duplicates syscalls: a
    replica task per other core."""
    async def body(app, pilot):
        listed = rows(app, "#fragment-list")
        vfs = next(i for i, row in enumerate(listed) if row.split()[0].lstrip("▶") == "vfs")
        await keys(app, pilot, "6", "home", *["down"] * vfs, "x")
        assert "split done" in transcript(app)
        tasks = [row.split()[1] for row in rows(app, "#task-list")]
        assert "vfs" in tasks and "l4linux" in tasks
        assert any(row.split()[:2] == ["vfs", "vfs"] for row in rows(app, "#fragment-list"))
        syscalls = next(i for i, row in enumerate(rows(app, "#fragment-list"))
                        if row.split()[0].lstrip("▶") == "syscalls")
        await keys(app, pilot, "home", *["down"] * syscalls, "d")
        assert "duplicate done" in transcript(app)
        assert "syscalls@1" in [row.split()[1] for row in rows(app, "#task-list")]
        caps = await app.engine.call(lambda dbg: len(dbg.session.machine.kernel.find_task("vfs").caps))
        await keys(app, pilot, "2")
        index = [row.split()[1] for row in rows(app, "#task-list")].index("vfs")
        await keys(app, pilot, "home", *["down"] * index, "enter")
        assert len(rows(app, "#caps LineView")) == caps
    drive(body, size=(120, 40), composition="monolithic")


# --- console, scripts, help, layout, theme ---------------------------------------------------------------
@pytest.mark.skipif(not BUSYBOX.is_file(), reason="busybox (Debian's armhf busybox-static) is not installed")
def test_typed_input_reaches_the_running_program():
    """k focuses the program's input; a typed line and Ctrl-D reach busybox cat through the
    UART, which echoes the line back to the console."""
    async def body(app, pilot):
        await command(app, pilot, "start busybox cat")
        await keys(app, pilot, "c")                      # cat blocks reading: the model idles
        await pilot.press("k", *"typed by a person", "enter", "ctrl+d", "escape")
        await settle(app, pilot)
        await keys(app, pilot, "c")
        text = transcript(app)
        assert "console input: 18 bytes" in text and "console input: end of input" in text
        assert "\ntyped by a person\n" in text and "status 0" in text
    drive(body, size=(80, 24))


def test_script_shows_narration_waits_on_pause_and_highlights_what_it_names(tmp_path: Path):
    """--script plays a walkthrough: narration in the panel, the panes it names marked,
    the task it names focused; pause waits for space; the rest then runs."""
    script = tmp_path / "walk.l4s"
    script.write_text('say "Watch the page-fault path of hello.2"\nstart hello\nnext pf\npause\n'
                      'say "Now it runs to its end"\ncontinue\nexpect "hello, world"\n')

    async def scenario():
        app = app_for(script=str(script))
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.engine.latest is not None and app.engine.latest.paused)
            await settle(app, pilot)
            panel = app.query_one("#narration")
            assert panel.has_class("-active") and "Watch the page-fault path" in str(panel.render())
            assert app.query_one("#faults").has_class("-named") and app.shown == "faults"
            assert app.focus_state.task == "hello.2"
            assert "hello, world" not in transcript(app)         # still paused
            await pilot.press("space")
            await until(pilot, lambda: app.engine.latest.script.endswith("ended"))
            await settle(app, pilot)
            assert "hello, world" in transcript(app)
            assert "Now it runs to its end" in str(panel.render())
    run(scenario())


def test_output_shown_during_a_run_stays_in_the_result_for_expect(tmp_path: Path):
    """Program output appears in the console while a run goes on, once, and is still part
    of the command's result, so a script's ``expect`` sees it (hello prints at once,
    syscall_loop keeps the run going through many refreshes)."""
    script = tmp_path / "both.l4s"
    script.write_text('start hello\nstart syscall_loop 3000\ncontinue\nexpect "hello, world"\n'
                      'say "done"\n')

    async def scenario():
        app = app_for(script=str(script))
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.engine.latest is not None and app.engine.latest.script.endswith("ended"))
            await settle(app, pilot)
            assert app.engine.latest.narration == "done"           # the expect passed
            assert transcript(app).split("\n").count("hello, world") == 1
            assert app.updates > 2                                 # refreshed during the run
    run(scenario())


def test_help_screen_lists_every_key_and_every_command():
    """? opens the help: every binding of the app and the fragment map, every command."""
    async def body(app, pilot):
        await pilot.press("question_mark")
        screen = app.screen
        assert isinstance(screen, HelpScreen)
        text = str(screen.query_one("#help-body Static").render())
        for _, keys_, what in key_rows([("app", L4App.BINDINGS), ("map", FragmentMap.BINDINGS)]):
            assert what in text
        from l4shell.commands import COMMANDS
        assert all(cmd.usage in text for cmd in COMMANDS.values())
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
    drive(body, size=(120, 40))


def test_layout_shows_one_pane_when_small_and_all_when_large():
    """At 80×24 one pane is on screen (digits switch it); at 120×40 every pane is."""
    async def body(app, pilot):
        shown = [p.PANE_ID for p in PANES if app.query_one(f"#{p.PANE_ID}").region.height]
        assert shown == ["fragments"]
        await keys(app, pilot, "3")
        assert [p.PANE_ID for p in PANES if app.query_one(f"#{p.PANE_ID}").region.height] == ["queues"]
        await pilot.resize_terminal(120, 40)
        await settle(app, pilot)
        assert all(app.query_one(f"#{p.PANE_ID}").region.height > 3 for p in PANES)
    drive(body, size=(80, 24))


def test_theme_key_switches_between_dark_and_light():
    """T toggles the light and the dark theme (the styles use theme variables only)."""
    async def scenario():
        app = app_for()
        async with app.run_test(size=(80, 24)) as pilot:
            dark = app.theme
            await pilot.press("T")
            assert app.theme == "textual-light" != dark
            await pilot.press("T")
            assert app.theme == "textual-dark"
    run(scenario())


# --- the mouse -----------------------------------------------------------------------------------------
def on_screen(app: L4App, selector: str) -> dict[str, int]:
    """The rows of the list ``selector`` drawn on screen: key -> line."""
    view = app.query_one(selector, LineView)
    return {key: view.line_of(key) for key, _ in view.rows if view.line_of(key) is not None}


async def click_row(app: L4App, pilot, selector: str, key: str) -> None:
    """Click the row of ``key`` in the list ``selector``, where it is drawn, as a user would."""
    view = app.query_one(selector, LineView)
    line = view.line_of(key)
    assert line is not None, f"row {key} of {selector} is not on screen"
    assert await pilot.click(view, offset=(2, line))
    await settle(app, pilot)


def test_clicking_a_task_focuses_the_panes_on_it_as_enter_does():
    """A click on a task row selects it as Enter does: the row is highlighted and has the
    keys, and the memory and capability panes show that task."""
    async def body(app, pilot):
        await click_row(app, pilot, "#task-list", "pager")
        view = app.query_one("#task-list", LineView)
        assert view.key == "pager" and app.focused is view and app.focus_state.task == "pager"
        assert app.query_one("#tasks").border_subtitle == "regions of pager"
        assert app.query_one("#caps").border_subtitle.startswith("of pager")
        assert any(row.endswith("pager") for row in rows(app, "#regions"))
        await keys(app, pilot, "down", "enter")              # the keys go on from the clicked row
        assert app.focus_state.task == view.key != "pager"
    drive(body, size=(120, 40))


def test_clicking_a_fragment_focuses_its_task_and_the_recut_keys_act_on_it():
    """A click on a fragment in the map selects it and focuses the panes on its task
    (marked ▶ in the task list); x then splits that fragment."""
    async def body(app, pilot):
        await click_row(app, pilot, "#fragment-list", "crypto")
        assert app.focus_state.fragment == "crypto" and app.focus_state.task == "l4linux"
        view = app.query_one("#task-list", LineView)
        assert [key for (key, _), row in zip(view.rows, view.texts) if row.startswith("▶")] == ["l4linux"]
        await keys(app, pilot, "x")
        assert "split done" in transcript(app)
        assert any(row.lstrip("▶").split()[:2] == ["crypto", "crypto"] for row in rows(app, "#fragment-list"))
    drive(body, size=(120, 40), composition="monolithic")


def test_clicking_an_event_selects_it_where_it_is_and_a_fault_shows_its_path():
    """A click on a row of the event log selects that event and focuses its task; the log
    stops following the trace and its rows stay where they were. Clicked in the fault list
    (or in a log of page faults), a fault gets its path shown."""
    async def body(app, pilot):
        await command(app, pilot, "start hello")
        await keys(app, pilot, "f", "f", "f", "n")
        log = app.query_one("#log LineView", LineView)
        drawn = on_screen(app, "#log LineView")
        key = sorted(drawn, key=int)[1]
        await click_row(app, pilot, "#log LineView", key)
        event = await app.engine.call(lambda dbg: dbg.session.machine.trace.events[int(key)])
        assert log.key == key and not log.follow
        assert {k: log.line_of(k) for k in drawn} == drawn
        assert app.focus_state.event == event.seq and app.focus_state.task == event.task
        first = min(on_screen(app, "#fault-list"), key=int)
        await click_row(app, pilot, "#fault-list", first)
        assert app.focus_state.fault == int(first) and app.query_one("#faults").border_subtitle == f"fault #{first}"
        assert f"#{first} " in rows(app, "#fault-path")[0] + " "
        await pilot.click("#log-filter")
        await pilot.press(*"pf", "enter")
        await settle(app, pilot)
        last = log.rows[-1][0]
        await click_row(app, pilot, "#log LineView", last)
        assert app.focus_state.fault == int(last) and app.query_one("#faults").border_subtitle == f"fault #{last}"
    drive(body, size=(120, 40))


def test_clicking_a_core_focuses_the_task_it_runs():
    """Stopped inside a program's quantum (stepi), a click on the core running it focuses
    that task."""
    async def body(app, pilot):
        await command(app, pilot, "start hello")
        await keys(app, pilot, "n", "i")
        await click_row(app, pilot, "#cores LineView", "hello.2")
        assert app.focus_state.task == "hello.2"
        assert app.query_one("#caps").border_subtitle.startswith("of hello.2")
    drive(body, size=(120, 40))


def test_clicking_the_pane_bar_shows_a_pane_and_gives_it_the_keys():
    """At 80×24 a click on a pane's name shows it (and only it is gathered); the keys then
    move in it; ? help opens the help."""
    async def body(app, pilot):
        bar = app.query_one("#panebar")
        text = bar.render().plain
        await pilot.click(bar, offset=(text.index("2 tasks") + 1, 0))
        await settle(app, pilot)
        assert app.shown == "tasks" and app.engine.visible == {"tasks", "status"}
        assert app.focused is app.query_one("#task-list")
        await keys(app, pilot, "home", "down", "enter")
        assert app.focus_state.task == app.query_one("#task-list", LineView).key
        await pilot.click(bar, offset=(text.index("? help") + 1, 0))
        await settle(app, pilot)
        assert isinstance(app.screen, HelpScreen)
    drive(body, size=(80, 24))


def test_resizing_gathers_the_panes_now_visible_and_keeps_the_keys_on_one():
    """Growing to the grid gathers every pane (the layout used to follow the size one
    resize late: the panes of the grid stayed empty); shrinking gathers the shown pane only,
    and the keys leave a pane that is no longer on screen."""
    async def body(app, pilot):
        assert app.engine.visible == {"fragments", "status"} and not rows(app, "#cores LineView")
        await pilot.resize_terminal(120, 40)
        await settle(app, pilot)
        assert app.engine.visible == {p.PANE_ID for p in PANES} | {"status"}
        assert len(rows(app, "#cores LineView")) == 2
        await click_row(app, pilot, "#log LineView", app.query_one("#log LineView", LineView).rows[-1][0])
        await pilot.resize_terminal(80, 24)
        await settle(app, pilot)
        assert app.engine.visible == {"fragments", "status"}
        assert app.focused is app.query_one("#fragment-list")
    drive(body, size=(80, 24))


# --- the engine ------------------------------------------------------------------------------------------
def test_model_runs_on_one_thread_and_updates_are_coalesced():
    """Every event of a run is made on the engine's thread (greenlets cannot cross threads),
    and the UI is refreshed far less often than the model steps."""
    async def body(app, pilot):
        import threading
        threads: set[int] = set()
        await app.engine.call(lambda dbg: dbg.session.machine.trace.listeners.append(
            lambda event: threads.add(threading.get_ident())))
        await command(app, pilot, "start syscall_loop 1000")
        updates = app.updates
        await keys(app, pilot, "c")
        steps = await app.engine.call(lambda dbg: dbg.session.steps)
        assert threads == {app.engine._thread.ident} != {threading.get_ident()}
        assert app.updates - updates < steps / 50
        assert "all equal: yes" in transcript(app)
    drive(body, size=(80, 24))


def test_a_run_gathers_views_only_when_the_ui_took_the_last_ones():
    """The engine rings once and waits for the UI to answer: a UI that never takes the
    doorbell costs a running model no gathering of views at all — only the publishes that
    answer requests (boot, start, the end of continue) gather; once answered, the next
    publish rings again."""
    import time

    from l4shell.tui.engine import Engine
    gathered, rung = [], []
    engine = Engine(Options("fragmented", 2, 0), {"status": lambda ctx: gathered.append(ctx.session.steps)},
                    rung.append)
    engine.start()
    try:
        engine.submit("line", "start syscall_loop 1000")
        run = engine.submit("line", "continue")
        for _ in range(WAIT_LIMIT):
            if engine.latest is not None and engine.latest.done >= run and not engine.latest.busy:
                break
            time.sleep(0.01)
        assert len(rung) == 1
        assert len(gathered) == 3 and gathered[-1] > 1000          # boot, start, the run's end
        engine.answered()
        engine.submit("refresh")
        for _ in range(WAIT_LIMIT):
            if len(rung) == 2:
                break
            time.sleep(0.01)
        assert len(rung) == 2
    finally:
        engine.shutdown()


# --- snapshots -------------------------------------------------------------------------------------------
def _snapshot(*lines: str, keys_: tuple[str, ...] = ()):
    async def before(pilot):
        app = pilot.app
        for field in app.query(Input):
            field.cursor_blink = False
        await settle(app, pilot)
        for line in lines:
            await command(app, pilot, line)
        for key in keys_:
            await pilot.press(key)
            await settle(app, pilot)
    return before


def test_snapshot_faults_80x24(snap_compare):
    """80×24: the page-fault pane after hello's first faults (one pane, console, keys)."""
    assert snap_compare(app_for(), terminal_size=(80, 24),
                        run_before=_snapshot("start hello a b", keys_=("f", "f", "f", "4")))


def test_snapshot_all_panes_120x40(snap_compare):
    """120×40: every pane, stopped at hello's first syscall."""
    assert snap_compare(app_for(), terminal_size=(120, 40),
                        run_before=_snapshot("start hello a b", keys_=("n",)))


def test_snapshot_light_theme_after_split_120x40(snap_compare):
    """120×40, light theme: the monolithic system after splitting vfs out (fragment map)."""
    assert snap_compare(app_for("monolithic"), terminal_size=(120, 40),
                        run_before=_snapshot("split vfs", keys_=("T",)))
