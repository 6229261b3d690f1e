"""The session's going back: a replay stopped half-way leaves a consistent session; the
system it replaces is freed."""

import gc
import weakref

from l4shell.session import Options, Session


def stop_after(count: int):
    """An ``interrupted`` that answers True from its ``count``-th question on."""
    asked = {"n": 0}

    def interrupted():
        asked["n"] += 1
        return asked["n"] > count
    return interrupted


def test_an_interrupted_replay_is_the_same_history_cut_at_an_earlier_step():
    """Stopped between two steps, a re-execution is at an earlier step of the same history:
    the trace is a prefix of the original one, the log holds the actions reached, and going
    on from there (or going back again) replays the same events."""
    session = Session(Options("fragmented", 2, 0))
    session.start("syscall_loop", ["200"])
    session.run()
    events, steps = list(session.machine.trace.events), session.steps
    assert not session.goto_step(steps - 1, interrupted=stop_after(300))
    assert session.steps == 300
    assert session.machine.trace.events == events[:len(session.machine.trace)]
    assert [a.kind for a in session.log] == ["start"]
    session.run(max_steps=50)
    assert session.machine.trace.events == events[:len(session.machine.trace)]
    assert session.goto_step(120)
    assert session.steps == 120 and session.machine.trace.events == events[:len(session.machine.trace)]


def test_an_interrupted_replay_ends_a_stretch_of_single_stepping():
    """A replay stopped inside a ``stepi`` (single-step mode switched on and off by logged
    actions) does not leave the machine in single-step mode: it logs the switch off."""
    session = Session(Options("fragmented", 2, 0))
    session.start("compute", ["1000"])
    session.run(max_steps=40)
    session.stepi(500)
    session.run(max_steps=20)
    switched = [a.step for a in session.log if a.kind == "single_step"]
    middle = (switched[0] + switched[1]) // 2
    assert not session.goto_step(session.steps, interrupted=stop_after(middle))
    assert session.steps == middle and not session.machine.single_step
    assert [(a.kind, a.args) for a in session.log[-2:]] == [("single_step", (True,)), ("single_step", (False,))]
    assert session.log[-1].step == middle


def test_going_back_frees_the_system_it_replaces():
    """Going back boots a fresh system and replays; the one it replaces is freed (its
    fragment servers' suspended greenlets kept the machine and its whole trace alive: a
    leak at every reverse-step in the TUI, which goes back from boot)."""
    session = Session(Options("fragmented", 2, 0))
    session.start("syscall_loop", ["50"])
    session.run()
    replaced = weakref.ref(session.machine)
    session.goto_step(session.steps - 1)
    gc.collect()
    assert replaced() is None
