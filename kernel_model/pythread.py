"""Threads whose code is Python: the servers of the upper layers.

A Python thread is a generator. It talks to the kernel only by yielding requests, exactly as
an ARM thread does with ``svc``: ``Ipc`` is the invoke syscall (same selector word, tag,
timeout and label as r2/r0/r3/r4), ``Work`` charges modeled cycles for the computation done
since the last yield. Message registers live in the thread's UTCB in task memory and are
read and written through ``ThreadContext``, with the same page-table checks as any access.
The kernel resumes the generator with an ``IpcResult`` (for ``Ipc``) or None (for ``Work``).
"""

from __future__ import annotations

from dataclasses import dataclass

from .ipc_abi import (CALL, MR_COUNT, REPLY_AND_WAIT, SEND, TIMEOUT_NEVER, UTCB_BR0, UTCB_BDR,
                      UTCB_TCR_ERROR, WAIT, MsgTag)
from .caps import INVALID_CAP


@dataclass(frozen=True)
class Ipc:
    dest: int                 # selector | operation flags
    tag: MsgTag
    timeout: int = TIMEOUT_NEVER
    label: int = 0

    def __init__(self, dest: int, tag: MsgTag, timeout: int = TIMEOUT_NEVER, label: int = 0):
        fields = self.__dict__   # faster than the generated frozen __init__ (see MsgTag)
        fields["dest"], fields["tag"] = dest, tag
        fields["timeout"], fields["label"] = timeout, label


@dataclass(frozen=True)
class Work:
    cycles: int


@dataclass(frozen=True)
class IpcResult:
    tag: MsgTag
    label: int
    error: int = 0

    def __init__(self, tag: MsgTag, label: int, error: int = 0):
        fields = self.__dict__   # faster than the generated frozen __init__ (see MsgTag)
        fields["tag"], fields["label"], fields["error"] = tag, label, error

    @property
    def ok(self) -> bool:
        return not self.error


class ThreadContext:
    """What a Python thread's code sees of itself: its UTCB and request builders."""

    def __init__(self, thread):
        self.thread = thread

    @property
    def space(self):
        return self.thread.task.space

    def _word(self, index: int) -> int:
        return self.thread.utcb + 4 * index

    def mr(self, index: int) -> int:
        return self.space.read_word(self._word(index))

    def mrs(self, count: int) -> list[int]:
        return self.space.read_words(self._word(0), count, 0)

    def set_mrs(self, values: list[int], start: int = 0) -> None:
        if start + len(values) > MR_COUNT:
            raise ValueError(f"{len(values)} words do not fit the {MR_COUNT} message registers")
        self.space.poke_words(self._word(start), values)

    def set_receive_window(self, fpage_word: int) -> None:
        """Accept map items into ``fpage_word`` (one receive item in BR0/BR1)."""
        self.space.poke(self._word(UTCB_BDR), (0).to_bytes(4, "little"))
        self.space.poke(self._word(UTCB_BR0), (0x8 | 0).to_bytes(4, "little")
                        + (fpage_word & 0xFFFFFFFF).to_bytes(4, "little"))

    def error_code(self) -> int:
        return self.mr(UTCB_TCR_ERROR)

    # --- requests ---------------------------------------------------------------------
    @staticmethod
    def call(sel: int, tag: MsgTag, timeout: int = TIMEOUT_NEVER) -> Ipc:
        return Ipc(sel | CALL, tag, timeout)

    @staticmethod
    def send(sel: int, tag: MsgTag, timeout: int = TIMEOUT_NEVER) -> Ipc:
        return Ipc(sel | SEND, tag, timeout)

    @staticmethod
    def wait(timeout: int = TIMEOUT_NEVER) -> Ipc:
        return Ipc(INVALID_CAP | WAIT, MsgTag(), timeout)

    @staticmethod
    def reply_and_wait(tag: MsgTag) -> Ipc:
        return Ipc(INVALID_CAP | REPLY_AND_WAIT, tag)
