"""The `console` fragment: a tty on the UART.

Writes go to ``machine.uart``; reads take the bytes the user fed (``uart.rx``) and block
while there are none and input has not ended (``uart.eof``). ioctl answers TCGETS/TCSETS*
from a stored termios and TIOCGWINSZ with 24x80 — but only when ``is_tty``: when the
user's stdout is not a terminal, the console says ENOTTY as Linux does for a pipe, so
programs buffer their output exactly as under qemu in a pipeline.
"""

from __future__ import annotations

import errno

from .abi import TERMIOS, WINSIZE, Ioctl


class Console:
    def __init__(self, uart, is_tty: bool = False):
        self.uart = uart
        self.is_tty = is_tty
        self.termios = TERMIOS.pack(0o2400, 0o5, 0o277, 0o105073, 0, bytes(19))
        self.readers: list = []     # deferred reads waiting for input: (call, iovecs)
        self.err_sink = None        # callable(bytes) for stderr output, or None: the UART

    def write(self, data: bytes, stream: str = "out") -> int:
        """Bytes to the terminal. The initial stderr of a process is its own stream so
        that the CLI can keep it apart from stdout (``err_sink``); without a sink it goes
        to the UART like everything else."""
        if stream == "err" and self.err_sink is not None:
            self.err_sink(data)
        else:
            self.uart.write(data)
        return len(data)

    def ready(self) -> bool:
        return bool(self.uart.rx) or self.uart.eof

    def read(self, count: int) -> bytes:
        return self.uart.read(count)

    def ioctl(self, request: int, user) -> int:
        """``user`` is (read(n) -> bytes | None, write(bytes) -> bool) at argp."""
        read, write = user
        if not self.is_tty:
            return -errno.ENOTTY
        if request == Ioctl.TCGETS:
            return 0 if write(self.termios) else -errno.EFAULT
        if request in (Ioctl.TCSETS, Ioctl.TCSETSW, Ioctl.TCSETSF):
            data = read(TERMIOS.size)
            if data is None:
                return -errno.EFAULT
            self.termios = data
            return 0
        if request == Ioctl.TIOCGWINSZ:
            return 0 if write(WINSIZE.pack(24, 80, 0, 0)) else -errno.EFAULT
        if request in (Ioctl.TIOCGPGRP,):
            return 0 if write((1).to_bytes(4, "little")) else -errno.EFAULT
        return -errno.ENOTTY
