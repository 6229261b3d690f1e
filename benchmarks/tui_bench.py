"""TUI benchmark (issue 7): host cost of a step with its redraw, and the cost of watching a run.

Runs the real app headless through Textual's Pilot (the same code path as a terminal; the
second part also encodes every screen update into escape sequences, as a terminal driver
does) and measures host time; nothing is asserted.

1. Host ms per step-with-redraw at 80×24 and 120×40: ``hello`` started in the fragmented
   composition, then the ``s`` key pressed N times; each sample is the time from the key
   press until the engine answered and the app drew the views of that step (``app.idle``)
   plus one refresh of the screen. Goal: under 50 ms.
2. While ``continue`` runs a busy workload (``syscall_loop``): the UI updates per host
   second (doorbells answered, each a redraw of the visible panes), the model's steps per
   second against the same run without any UI (a bare ``Session.run``) — the cost of
   watching; goal: at least ~85–90%. Since the machine may be shared, and then the host
   times drift, the run is also taken apart: the UI thread's CPU as a share of the run
   (time the model could not run: they share the GIL), and the model thread's CPU per step
   (its steps and its gathering of the views) next to the bare run's.

Run: python benchmarks/tui_bench.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textual._compositor import CompositorUpdate  # noqa: E402

from l4shell.session import Options, Session  # noqa: E402
from l4shell.tui.app import L4App  # noqa: E402
from table import print_table  # noqa: E402  (benchmarks/, run as scripts)

OPTIONS = Options("fragmented", 2, 0)


async def _idle(app, pilot) -> None:
    while not app.idle:
        await pilot.pause(0.001)


async def _answered(app, request: int) -> None:
    """Until the engine answered ``request`` and the app took its views."""
    while not (app.engine.latest and app.engine.latest.done >= request and app.idle):
        await asyncio.sleep(0.0002)


async def step_with_redraw(size: tuple[int, int], steps: int) -> list[float]:
    """ms from the key press to the screen drawn with the step's views. The key goes
    through the app's binding (``simulate_key``), the screen is drawn at once
    (``_on_timer_update``, what Textual's refresh timer calls) instead of at the next tick."""
    app = L4App(OPTIONS)
    samples = []
    async with app.run_test(size=size) as pilot:
        await _idle(app, pilot)
        app.submit("start hello a b")
        await _idle(app, pilot)
        await pilot.pause()
        for _ in range(steps):
            start = time.perf_counter()
            request = app.engine._next_id
            app.simulate_key("s")
            await _answered(app, request)
            app.screen._on_timer_update()
            samples.append((time.perf_counter() - start) * 1000)
            await pilot.pause()
    return samples


def drawn(app: L4App) -> L4App:
    """``app`` doing the work a terminal driver adds: each screen update encoded into escape
    sequences (the headless driver of ``run_test`` skips that step)."""
    display = app._display

    def encoded(screen, renderable) -> None:
        if isinstance(renderable, CompositorUpdate):
            renderable.render_segments(app.console)
        display(screen, renderable)
    app._display = encoded
    return app


@dataclass
class Watched:
    updates: float          # UI updates per host second
    steps: float            # model steps per host second
    model: float            # model-thread CPU µs per step (its steps and its gathering of views)
    ui: float               # UI-thread CPU, as a share of the run's host time
    ui_ms: float            # UI-thread CPU ms per update


async def updates_during_run(size: tuple[int, int], loops: int) -> Watched:
    """``continue`` on ``syscall_loop`` pressed as a key, watched until the run's last views
    are published. Nothing polls meanwhile: ``pilot.pause`` would redraw the whole screen
    at every poll and measure itself, and any poll is a wake-up of the UI thread, which
    takes the GIL from the model."""
    app = drawn(L4App(OPTIONS))
    async with app.run_test(size=size):
        await _quiet(app)
        app.submit(f"start syscall_loop {loops}")
        await _quiet(app)
        await asyncio.sleep(0.3)                # startup work of the widgets (the footer) ends
        model = await app.engine.call(lambda dbg: time.thread_time())
        loop, ended, publish = asyncio.get_running_loop(), asyncio.Event(), app.engine._publish
        updates, request, end = app.updates, app.engine._next_id, [0.0]

        def published() -> None:                # on the model thread: the views of the run's end?
            publish()
            latest = app.engine.latest
            if latest.done >= request and not latest.busy and not end[0]:
                end[0] = time.perf_counter()
                loop.call_soon_threadsafe(ended.set)
        app.engine._publish = published
        start, ui = time.perf_counter(), time.thread_time()
        app.simulate_key("c")
        await ended.wait()
        elapsed, ui = end[0] - start, time.thread_time() - ui
        shown = app.updates - updates
        await _quiet(app)
        model = await app.engine.call(lambda dbg: time.thread_time()) - model
        steps = app.engine.dbg.session.steps    # read after the run: the model thread is idle
        return Watched(shown / elapsed, steps / elapsed, model / steps * 1e6, ui / elapsed,
                       ui / max(shown, 1) * 1000)


async def _quiet(app) -> None:
    while not app.idle:
        await asyncio.sleep(0.01)


def bare(loops: int) -> tuple[float, float]:
    """(steps per second, CPU µs per step) of the same run by ``Session.run``, no UI."""
    session = Session(OPTIONS)
    session.start("syscall_loop", [str(loops)])
    start, cpu = time.perf_counter(), time.thread_time()
    session.run()
    return session.steps / (time.perf_counter() - start), (time.thread_time() - cpu) / session.steps * 1e6


def fresh(what: str, loops: int) -> tuple:
    """One measurement (``bare``, or a size such as ``120x40``) in a fresh process. In one
    process the runs would not be alike: whatever an earlier run left alive (a session not
    closed keeps its machine and trace), every later run's garbage collections walk."""
    out = subprocess.run([sys.executable, __file__, "--one", what, str(loops)], check=True,
                         capture_output=True, text=True).stdout
    values = json.loads(out.splitlines()[-1])
    return tuple(values) if what == "bare" else Watched(**values)


def one(what: str, loops: int) -> None:
    if what == "bare":
        print(json.dumps(bare(loops)))
    else:
        width, height = map(int, what.split("x"))
        print(json.dumps(asdict(asyncio.run(updates_during_run((width, height), loops)))))


def watching(loops: int, rounds: int) -> None:
    """Each round: a bare run, a watched run per size, a bare run again; a watched run is
    compared with the mean of the bare runs around it (the machine may be shared, and its
    load drift), and the table shows the medians over the rounds."""
    sizes = ("80x24", "120x40")
    bares, ratios, watched = [], {size: [] for size in sizes}, {size: [] for size in sizes}
    for _ in range(rounds):
        before = fresh("bare", loops)
        runs = {size: fresh(size, loops) for size in sizes}
        after = fresh("bare", loops)
        bares += [before, after]
        for size, run in runs.items():
            watched[size].append(run)
            ratios[size].append(run.steps / ((before[0] + after[0]) / 2))
    rows = [("bare Session.run", "", f"{statistics.median(b[0] for b in bares):,.0f}", "", "",
             f"{statistics.median(b[1] for b in bares):.0f}", "")]
    for size, runs in watched.items():
        median = {f: statistics.median(getattr(r, f) for r in runs)
                  for f in ("updates", "steps", "model", "ui", "ui_ms")}
        rows.append((f"TUI {size}", f"{median['updates']:.1f}", f"{median['steps']:,.0f}",
                     f"{statistics.median(ratios[size]):.0%}", f"{median['ui']:.1%}", f"{median['model']:.0f}",
                     f"{median['ui_ms']:.1f} ms of UI-thread CPU per update"))
    print(f"continue on syscall_loop {loops} (fragmented), medians of {rounds} rounds, each run in a fresh process")
    print_table(("", "UI updates/s", "steps/s", "of bare", "UI thread", "model µs/step", "notes"), rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--one", nargs=2, metavar=("bare|WxH", "LOOPS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        return one(args.one[0], int(args.one[1]))
    steps, loops, rounds = (20, 3000, 3) if args.quick else (60, 10000, 5)
    print(f"step with redraw (hello, fragmented, {steps} presses of 's')")
    for size in ((80, 24), (120, 40)):
        ms = asyncio.run(step_with_redraw(size, steps))
        print(f"  {size[0]}x{size[1]:<3}  median {statistics.median(ms):6.1f} ms   "
              f"p90 {sorted(ms)[int(len(ms) * 0.9)]:6.1f} ms   max {max(ms):6.1f} ms")
    watching(loops, rounds)


if __name__ == "__main__":
    main()
