"""The one exception the ext2 driver raises: ``FsError(errno)``, an OSError.

Every operation validates first and raises before changing anything, so an FsError
always means "nothing happened". EIO is reserved for on-disk structures that are
corrupt (a block pointer outside the filesystem, a malformed directory entry).
"""

import os


class FsError(OSError):
    """A failed filesystem operation; ``.errno`` is a value from Python's ``errno`` module."""

    def __init__(self, code: int, detail: str | None = None) -> None:
        message = os.strerror(code) if detail is None else f"{os.strerror(code)}: {detail}"
        super().__init__(code, message)
