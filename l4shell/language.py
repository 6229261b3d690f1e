"""The whole command language in one import: every command module registers itself here.

``new_debugger(options)`` is how the shell, ``l4shell script`` and the TUI get a debugger
over a freshly booted session.
"""

from __future__ import annotations

from . import debugger, inspect_commands, recut_commands, script, shell  # noqa: F401  (registration)
from .commands import COMMANDS, complete, execute
from .debugger import Debugger
from .session import Options, Session

__all__ = ["COMMANDS", "complete", "execute", "new_debugger", "Options"]


def new_debugger(options: Options = Options()) -> Debugger:
    return Debugger(Session(options))
