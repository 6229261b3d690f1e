"""XTS mode (IEEE 1619-2007, NIST SP 800-38E) over a 16-byte block cipher in ECB form.

pycryptodome has no XTS, so it is composed here from the block cipher alone, the way
Linux's ``xts`` template composes ``xts(aes)`` from ``aes``.

Definitions, for a data unit of ``B`` 16-byte blocks P_0 … P_{B-1} and a 16-byte IV:

* the key is data key K1 ‖ tweak key K2, two halves of equal size;
* T_0 = E_K2(IV), T_j = T_0 · α^j in GF(2^128) with the IEEE 1619 *little-endian*
  convention: a block is the integer ``int.from_bytes(block, "little")``, multiplying
  by α is a left shift by one bit, and a carry out of bit 127 is folded back in as
  x^7 + x^2 + x + 1 (0x87);
* C_j = E_K1(P_j ⊕ T_j) ⊕ T_j, and decryption is P_j = D_K1(C_j ⊕ T_j) ⊕ T_j.

Speed comes from never looping over units in Python: the tweaks of a whole run of
units are computed together (one loop step per block position, see
``_tweak_stream``), the XORs are done on whole-run integers, and the block cipher is
called once per run.

Ciphertext stealing is not implemented: a data unit must be a positive multiple of 16
bytes (dm-crypt uses 512-byte units, so it never needs stealing).
"""

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Protocol

BLOCK_SIZE = 16
SLOT_BITS = 8 * BLOCK_SIZE
KEY_SIZES = (32, 64)  # XTS-AES-128 and XTS-AES-256 (IEEE 1619 defines only these two)
_REDUCTION = 0x87  # α^128 = x^7 + x^2 + x + 1


class BlockCipher(Protocol):
    """A keyed 16-byte block cipher applied block-wise (ECB) to whole runs of blocks."""

    def encrypt(self, data: bytes) -> bytes: ...

    def decrypt(self, data: bytes) -> bytes: ...


class Xts:
    """A keyed XTS transform; immutable once built.

    ``new_cipher(key_half)`` builds the keyed inner block cipher; it is called twice,
    for K1 (data) and K2 (tweak).
    """

    def __init__(self, new_cipher: Callable[[bytes], BlockCipher], key: bytes) -> None:
        if len(key) not in KEY_SIZES:
            raise ValueError(f"XTS key must be {' or '.join(map(str, KEY_SIZES))} bytes, got {len(key)}")
        half = len(key) // 2
        self._data_cipher = new_cipher(key[:half])
        self._tweak_cipher = new_cipher(key[half:])

    def encrypt(self, iv: bytes, unit: bytes) -> bytes:
        """Encrypt one data unit under a 16-byte IV."""
        return self.encrypt_units([iv], unit)

    def decrypt(self, iv: bytes, unit: bytes) -> bytes:
        """Decrypt one data unit under a 16-byte IV."""
        return self.decrypt_units([iv], unit)

    def encrypt_units(self, ivs: Sequence[bytes], data: bytes) -> bytes:
        """Encrypt ``len(ivs)`` equal, independent data units laid end to end in ``data``."""
        return self._crypt(ivs, data, self._data_cipher.encrypt)

    def decrypt_units(self, ivs: Sequence[bytes], data: bytes) -> bytes:
        """Inverse of ``encrypt_units``."""
        return self._crypt(ivs, data, self._data_cipher.decrypt)

    def _crypt(self, ivs: Sequence[bytes], data: bytes, ecb: Callable[[bytes], bytes]) -> bytes:
        blocks_per_unit = _blocks_per_unit(len(ivs), len(data))
        if any(len(iv) != BLOCK_SIZE for iv in ivs):
            raise ValueError("every XTS IV must be 16 bytes")
        first_tweaks = self._tweak_cipher.encrypt(b"".join(ivs))
        tweaks = _tweak_stream(first_tweaks, blocks_per_unit)
        size = len(data)
        whitened = (int.from_bytes(data, "little") ^ tweaks).to_bytes(size, "little")
        return (int.from_bytes(ecb(whitened), "little") ^ tweaks).to_bytes(size, "little")


def _blocks_per_unit(units: int, size: int) -> int:
    """Validate the run shape and return the number of 16-byte blocks per unit."""
    if units == 0 or size % units:
        raise ValueError(f"{size} bytes do not split into {units} equal data units")
    unit = size // units
    if unit == 0 or unit % BLOCK_SIZE:
        raise ValueError(f"XTS data unit must be a positive multiple of {BLOCK_SIZE} bytes, got {unit}")
    return unit // BLOCK_SIZE


def _tweak_stream(first_tweaks: bytes, blocks_per_unit: int) -> int:
    """All tweaks of a run as one integer whose 16-byte slot ``u*B + j`` holds T_j of unit u.

    Computed row by row: row j holds T_j of every unit side by side, so one row is
    the previous one times α, slot-wise, in a handful of whole-row integer operations
    (the carry out of a slot is a single bit, so ``carry * 0x87`` cannot spill into
    the neighbouring slot). The rows are then transposed into unit order.
    """
    units = len(first_tweaks) // BLOCK_SIZE
    row_bytes = units * BLOCK_SIZE
    low_bits = _replicate(units, (1 << (SLOT_BITS - 1)) - 1)
    top_bits = _replicate(units, 1)
    row = int.from_bytes(first_tweaks, "little")
    rows = []
    for _ in range(blocks_per_unit):
        rows.append(row.to_bytes(row_bytes, "little"))
        row = ((row & low_bits) << 1) ^ (((row >> (SLOT_BITS - 1)) & top_bits) * _REDUCTION)
    by_block = b"".join(rows)
    by_unit = by_block if units == 1 else _transpose_slots(by_block, blocks_per_unit, units)
    return int.from_bytes(by_unit, "little")


def _transpose_slots(table: bytes, rows: int, cols: int) -> bytes:
    """Transpose a row-major ``rows`` x ``cols`` table of 16-byte slots."""
    words_per_slot = BLOCK_SIZE // 8
    source = memoryview(table).cast("Q")
    result = bytearray(len(table))
    target = memoryview(result).cast("Q")
    for r in range(rows):
        for word in range(words_per_slot):
            first = r * cols * words_per_slot + word
            target[r * words_per_slot + word::rows * words_per_slot] = \
                source[first:first + cols * words_per_slot:words_per_slot]
    return bytes(result)


@lru_cache(maxsize=16)
def _replicate(slots: int, pattern: int) -> int:
    """``pattern`` (< 2^128) repeated in each of ``slots`` 128-bit slots."""
    return pattern * int.from_bytes(b"\x01".ljust(BLOCK_SIZE, b"\x00") * slots, "little")
