"""Devices: a programmable timer and a UART, each raising an interrupt line.

Devices act only at modeled times, through the machine's event heap. Input from outside
the model (keyboard bytes for the UART) enters through ``Uart.feed`` and is logged with the
modeled time it arrived, so a replay can feed the same bytes at the same times.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from .machine import Machine

TIMER_LINE = 0
UART_LINE = 1
DISK_LINE = 2
NIC_LINE = 3


class Timer:
    """A periodic timer on one line; ``period`` in modeled cycles (0 = stopped)."""

    def __init__(self, machine: "Machine", line: int = TIMER_LINE):
        self.machine = machine
        self.line = line
        self.period = 0
        self.ticks = 0
        self._generation = 0

    def program(self, period: int) -> None:
        self._generation += 1
        self.period = period
        if period:
            self._arm(self._generation, self.machine.now() + period)

    def _arm(self, generation: int, when: int) -> None:
        def fire():
            if generation != self._generation:
                return
            self.ticks += 1
            self.machine.raise_irq(self.line)
            self._arm(generation, when + self.period)
        self.machine.at(when, fire, core=self.machine.gic.lines[self.line].target_core)


class Uart:
    """A serial port: bytes written go to ``sink``; bytes fed in wait in ``rx`` and raise
    the line."""

    def __init__(self, machine: "Machine", line: int = UART_LINE):
        self.machine = machine
        self.line = line
        self.rx: deque[int] = deque()
        self.sink: Callable[[bytes], None] = lambda data: None
        self.written = bytearray()
        self.input_log: list[tuple[int, bytes]] = []
        self.eof = False

    def write(self, data: bytes) -> None:
        self.written += data
        self.sink(data)

    def feed(self, data: bytes) -> None:
        """Bytes typed by the user (or a replay); empty bytes means end of input."""
        self.input_log.append((self.machine.now(), bytes(data)))
        if not data:
            self.eof = True
        self.rx.extend(data)
        self.machine.raise_irq(self.line)

    def read(self, limit: int) -> bytes:
        out = bytearray()
        while self.rx and len(out) < limit:
            out.append(self.rx.popleft())
        return bytes(out)
