"""TUI benchmark (issue 7): host cost of a step with its redraw, and UI updates during a run.

Runs the real app headless through Textual's Pilot (the same code path as a terminal,
minus the terminal's own drawing) and measures host time; nothing is asserted.

1. Host ms per step-with-redraw at 80×24 and 120×40: ``hello`` started in the fragmented
   composition, then the ``s`` key pressed N times; each sample is the time from the key
   press until the engine answered and the app drew the views of that step (``app.idle``)
   plus one refresh of the screen. Goal: under 50 ms.
2. UI updates per second while ``continue`` runs a busy workload (``syscall_loop``): the
   doorbells the app answered (each one a redraw of every visible pane) per host second,
   and the model's steps per second with the UI attached against the same run without it
   (a bare ``Session.run``), which is the cost of watching.

Run: python benchmarks/tui_bench.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from l4shell.session import Options, Session  # noqa: E402
from l4shell.tui.app import L4App  # noqa: E402

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


async def updates_during_run(size: tuple[int, int], loops: int) -> tuple[float, float, int]:
    app = L4App(OPTIONS)
    async with app.run_test(size=size) as pilot:
        await _idle(app, pilot)
        app.submit(f"start syscall_loop {loops}")
        await _idle(app, pilot)
        updates = app.updates
        start = time.perf_counter()
        await pilot.press("c")
        await pilot.pause(0.05)
        await _idle(app, pilot)
        elapsed = time.perf_counter() - start
        session = app.engine.dbg.session        # read after the run: the model thread is idle
        return (app.updates - updates) / elapsed, session.steps / elapsed, session.steps


def bare_steps_per_second(loops: int) -> float:
    session = Session(OPTIONS)
    session.start("syscall_loop", [str(loops)])
    start = time.perf_counter()
    session.run()
    return session.steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    steps, loops = (20, 2000) if args.quick else (60, 10000)
    print(f"step with redraw (hello, fragmented, {steps} presses of 's')")
    for size in ((80, 24), (120, 40)):
        ms = asyncio.run(step_with_redraw(size, steps))
        print(f"  {size[0]}x{size[1]:<3}  median {statistics.median(ms):6.1f} ms   "
              f"p90 {sorted(ms)[int(len(ms) * 0.9)]:6.1f} ms   max {max(ms):6.1f} ms")
    bare = bare_steps_per_second(loops)
    print(f"continue on syscall_loop {loops} (fragmented)")
    for size in ((80, 24), (120, 40)):
        per_second, steps_per_second, total = asyncio.run(updates_during_run(size, loops))
        print(f"  {size[0]}x{size[1]:<3}  {per_second:5.1f} UI updates/s   {steps_per_second:8,.0f} steps/s "
              f"({steps_per_second / bare:4.0%} of {bare:,.0f} bare), {total:,} steps")


if __name__ == "__main__":
    main()
