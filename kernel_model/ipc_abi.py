"""The IPC binary interface: message tag, operation flags, timeouts, UTCB layout, error
codes, protocol labels. Values are the reference's (l4-facts §1.2, §2.1–2.5, §2.7).

Tag word: bits 0–5 untyped words, 6–11 typed items, 12–15 flags, 16–31 label (signed).
On ARM the kernel is entered with ``svc`` and r5 = syscall (0 invoke), r0 = tag,
r2 = destination selector | operation flags, r3 = timeout pair, r4 = label; on return
r0 = result tag and r4 = received label.
"""

from __future__ import annotations

from dataclasses import dataclass

# Operation flags in the low bits of the selector word (r2).
SEND = 0x1
RECV = 0x2
OPEN_WAIT = 0x4
REPLY = 0x8
CALL = SEND | RECV
WAIT = OPEN_WAIT | RECV
SEND_AND_WAIT = OPEN_WAIT | SEND | RECV
REPLY_AND_WAIT = REPLY | SEND | RECV | OPEN_WAIT

# Tag flags.
TAG_TRANSFER_FPU = 0x1000
TAG_SCHEDULE = 0x2000
TAG_PROPAGATE = 0x4000
TAG_ERROR = 0x8000

# Syscall numbers in r5.
SYS_INVOKE = 0
SYS_MEM_OP = 1

# Protocol labels (negative).
PROTO_NONE = 0
PROTO_ALLOW_SYSCALL = 1
PROTO_IRQ = -1
PROTO_PAGE_FAULT = -2
PROTO_EXCEPTION = -5
PROTO_KOBJECT = -10
PROTO_TASK = -11
PROTO_THREAD = -12
PROTO_LOG = -13
PROTO_SCHEDULER = -14
PROTO_FACTORY = -15
PROTO_IRQ_SENDER = -18
PROTO_ICU = -19  # [A] Fiasco's ICU protocol id; modeling choice
PROTO_SEMAPHORE = -20

# IPC error codes (TCR error word); bit 0 set = receive phase.
E_SEND_TIMEOUT = 0x02
E_RECV_TIMEOUT = 0x03
E_NOT_EXISTENT = 0x04
E_SEND_CANCELED = 0x06
E_RECV_CANCELED = 0x07
E_SEND_MSG_CUT = 0x08
E_RECV_MSG_CUT = 0x09
E_SEND_ABORTED = 0x0E
E_RECV_ABORTED = 0x0F
E_SEND_MAP_FAILED = 0x10
E_RECV_MAP_FAILED = 0x11
E_NO_REPLY_CAP = 0x13

ERROR_NAMES = {
    E_SEND_TIMEOUT: "send timeout", E_RECV_TIMEOUT: "receive timeout",
    E_NOT_EXISTENT: "partner does not exist", E_SEND_CANCELED: "send canceled",
    E_RECV_CANCELED: "receive canceled", E_SEND_MSG_CUT: "message cut (send)",
    E_RECV_MSG_CUT: "message cut (receive)", E_SEND_ABORTED: "send aborted",
    E_RECV_ABORTED: "receive aborted", E_SEND_MAP_FAILED: "map failed (send)",
    E_RECV_MAP_FAILED: "map failed (receive)", E_NO_REPLY_CAP: "no reply capability",
}

# Timeouts: 16 bits each, receive in bits 0–15 and send in 16–31 of the pair.
TIMEOUT_NEVER = 0x0000
TIMEOUT_ZERO = 0x0400
TIMEOUTS_NEVER = 0


def timeout_pair(send: int = TIMEOUT_NEVER, receive: int = TIMEOUT_NEVER) -> int:
    return (send << 16) | receive


def timeout_us(raw: int) -> int | None:
    """Relative timeout in µs (mantissa 10 bits × 2^exponent 5 bits); None = never.
    Absolute timeouts (bit 15) are not modeled and count as never."""
    if raw == TIMEOUT_NEVER or raw & 0x8000:
        return None
    return (raw & 0x3FF) << ((raw >> 10) & 0x1F)


# UTCB layout on 32-bit ARM, in words.
MR_COUNT = 63
UTCB_BDR = 64
UTCB_BR0 = 65
UTCB_TCR_ERROR = 123
UTCB_SIZE = 512  # bytes; 128 words

# Exception frame (l4_exc_regs_t, 22 words).
EXC_WORDS = 22
EXC_PFA, EXC_ERR, EXC_R0, EXC_SP, EXC_LR, EXC_PC, EXC_CPSR, EXC_TPIDRURO, EXC_TPIDRURW = (
    0, 1, 2, 15, 16, 18, 19, 20, 21)
EC_UNKNOWN = 0x00
EC_SVC32 = 0x11
EC_IABT = 0x20
EC_DABT = 0x24

# Page-fault MR0 flag bits on ARM.
PF_NOT_PRESENT = 0x1
PF_WRITE = 0x2
PF_EXEC = 0x4

# Typed item control word.
ITEM_MAP = 0x8
ITEM_GRANT = 0x2
ITEM_COMPOUND = 0x1


@dataclass(frozen=True)
class MsgTag:
    label: int = 0
    words: int = 0
    items: int = 0
    flags: int = 0

    def __init__(self, label: int = 0, words: int = 0, items: int = 0, flags: int = 0):
        # The generated frozen __init__ sets each field through object.__setattr__; filling
        # the instance dict directly costs half as much, and IPC makes tags all the time.
        # (The same for the other small frozen records of every IPC: Ipc, IpcResult, Trap.)
        fields = self.__dict__
        fields["label"], fields["words"] = label, words
        fields["items"], fields["flags"] = items, flags

    def encode(self) -> int:
        return (((self.label & 0xFFFF) << 16) | (self.flags & 0xF000) | ((self.items & 0x3F) << 6)
                | (self.words & 0x3F))

    @staticmethod
    def decode(word: int) -> "MsgTag":
        tag = _DECODED.get(word)
        if tag is None:
            label = (word >> 16) & 0xFFFF
            if label & 0x8000:
                label -= 0x10000
            tag = MsgTag(label, word & 0x3F, (word >> 6) & 0x3F, word & 0xF000)
            if len(_DECODED) < _TAG_CACHE_SIZE:
                _DECODED[word] = tag
        return tag

    @property
    def has_error(self) -> bool:
        return bool(self.flags & TAG_ERROR)

    def __str__(self) -> str:
        flags = " ERR" if self.has_error else ""
        return f"tag(label={self.label}, words={self.words}, items={self.items}{flags})"


# Tags are immutable, so the kernel's hot paths share them instead of building new ones
# (building a frozen dataclass costs about as much as the rest of a short IPC step).
_TAG_CACHE_SIZE = 4096
_DECODED: dict[int, MsgTag] = {}
_TAGS: dict[tuple[int, int, int, int], MsgTag] = {}


def tag_of(label: int = 0, words: int = 0, items: int = 0, flags: int = 0) -> MsgTag:
    """``MsgTag(label, words, items, flags)``, shared with earlier equal tags."""
    key = (label, words, items, flags)
    tag = _TAGS.get(key)
    if tag is None:
        tag = MsgTag(label, words, items, flags)
        if len(_TAGS) < _TAG_CACHE_SIZE:
            _TAGS[key] = tag
    return tag


def signed32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value
