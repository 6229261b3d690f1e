"""The `console` fragment: a tty on the UART.

Writes go to the UART; ``read`` takes the bytes the user fed and answers None while there
are none and input has not ended (the vfs then defers the read). The UART's receive
interrupt arrives here as IPC from its Irq; the console triggers the vfs's console Irq,
and the vfs, woken, reads and completes the waiting reads. ioctl answers TCGETS/TCSETS* from a stored termios and
TIOCGWINSZ with 24x80 — but only when ``is_tty``: when the user's stdout is not a
terminal, the console says ENOTTY as Linux does for a pipe, so programs buffer their
output exactly as under qemu in a pipeline.
"""

from __future__ import annotations

import errno

from kernel_model import irqs
from kernel_model.devices import UART_LINE

from fragments.runtime.fragment import Fragment, operation

from .abi import TERMIOS, WINSIZE, Ioctl


class Console(Fragment):
    NAME = "console"
    USES = ("vfs",)

    def __init__(self, runtime):
        super().__init__(runtime)
        self.uart = runtime.machine.uart
        self.is_tty = False
        self.termios = TERMIOS.pack(0o2400, 0o5, 0o277, 0o105073, 0, bytes(19))
        self.err_sink = None        # callable(bytes) for stderr output, or None: the UART
        self.irq = None

    def boot(self) -> None:
        k = self.runtime.kernel
        irq = k.create_irq("uart.rx")
        self.runtime.machine.gic.lines[UART_LINE].irq, irq.line = irq, UART_LINE
        self.irq = self.runtime.endpoint(self, irq, self._input)
        self.hold(("irq", "uart"), irq)

    def _input(self, result) -> None:
        """Input came: notify the vfs through its Irq (a call would deadlock: the vfs
        calls ``read`` here while serving it)."""
        irqs.unmask(self.runtime.kernel, self.irq.obj)
        wake = self.cap(("wake", "vfs"))
        if wake is not None:
            irqs.trigger(self.runtime.kernel, wake)

    @operation
    def write(self, data, stream):
        """Bytes to the terminal. The initial stderr of a process is its own stream so
        that the CLI can keep it apart from stdout (``err_sink``); without a sink it goes
        to the UART like everything else."""
        if stream == "err" and self.err_sink is not None:
            self.err_sink(data)
        else:
            self.uart.write(data)
        return len(data)

    @operation
    def read(self, count):
        """Up to ``count`` bytes of input; b"" at its end; None while none has come."""
        if not self.uart.rx and not self.uart.eof:
            return None
        return self.uart.read(count)

    @operation
    def ready(self):
        """Whether ``read`` would answer at once (input has come, or its end)."""
        return bool(self.uart.rx) or self.uart.eof

    @operation
    def ioctl_input(self, request):
        """How many bytes at argp ``ioctl(request)`` reads."""
        return TERMIOS.size if self.is_tty and request in (Ioctl.TCSETS, Ioctl.TCSETSW, Ioctl.TCSETSF) else 0

    @operation
    def ioctl(self, request, data):
        """(result, bytes to write at argp)."""
        if not self.is_tty:
            return -errno.ENOTTY, b""
        if request == Ioctl.TCGETS:
            return 0, self.termios
        if request in (Ioctl.TCSETS, Ioctl.TCSETSW, Ioctl.TCSETSF):
            self.termios = data
            return 0, b""
        if request == Ioctl.TIOCGWINSZ:
            return 0, WINSIZE.pack(24, 80, 0, 0)
        if request == Ioctl.TIOCGPGRP:
            return 0, (1).to_bytes(4, "little")
        return -errno.ENOTTY, b""
