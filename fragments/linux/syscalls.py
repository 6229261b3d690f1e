"""The `syscalls` fragment: the exception handler of every Linux process.

An ``svc`` of a process arrives as an exception IPC (22-word frame, PC at the svc). This
fragment decodes r7 and r0..r5, finds the entry in the declared table and routes the call
to the fragment that serves it (``entry.fragment``). A handler answers with:
- an int: the result (r0), the reply advances PC past the svc;
- ``DEFER``: the call is kept and completed later through ``LinuxSystem.finish``;
- ``Replace(frame)``: the whole register frame (execve);
- None: no reply at all (the process is gone).
An unknown number, or a declared syscall no fragment serves, answers -ENOSYS and leaves a
``syscall`` trace event with ``unknown=True``.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass

from .syscall_table import Fragment, Syscall

DEFER = "defer"


@dataclass(eq=False)
class Call:
    """One syscall in service."""

    proc: object
    thread: object
    frame: list            # the 22-word exception frame (replies are built from it)
    nr: int
    entry: Syscall | None
    args: list
    strace_line: str = ""  # rendered before the call when the call destroys its arguments


class Syscalls:
    def __init__(self, system):
        self.system = system
        # Bindings: in the monolithic composition every fragment is a direct call.
        self.routes = {Fragment.PROCESS: system.process.handlers(),
                       Fragment.VFS: system.vfs.handlers(),
                       Fragment.PAGER: system.pager.handlers()}

    def dispatch(self, call: Call):
        entry = call.entry
        handler = self.routes[entry.fragment].get(entry.name) if entry else None
        if handler is None:
            return -errno.ENOSYS
        return handler(call, *call.args)
