"""A crypto API in the Linux style: algorithms are allocated by name.

Names follow Linux's grammar: a plain cipher name (``"aes"``) or a template applied to
an inner name (``"xts(aes)"``), nested as deep as the templates allow. The registry is
data — ``BLOCK_CIPHERS`` and ``TEMPLATES`` — and ``allocate`` is the only lookup, so
the list of what exists is declared once.

An ``Algorithm`` is unkeyed and immutable; ``algorithm.new(key)`` gives a keyed
transform (Linux: ``crypto_alloc_*`` then ``setkey``). An unknown name raises
``NoSuchAlgorithm`` (Linux returns -ENOENT from ``crypto_alloc_*``).
"""

import errno
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from Crypto.Cipher import AES

from fragments.storage import xts


class NoSuchAlgorithm(LookupError):
    """No cipher or template by that name; ``errno`` is ENOENT, as in Linux."""

    errno = errno.ENOENT


@dataclass(frozen=True)
class Algorithm:
    """An unkeyed algorithm: its full name, kind, block size, accepted key sizes, keyed constructor.

    ``kind`` is Linux's: ``"cipher"`` transforms single blocks (``encrypt(data)`` applies
    it to each block), ``"skcipher"`` transforms IV-addressed data units
    (``encrypt(iv, unit)``, ``encrypt_units(ivs, data)``).
    """

    name: str
    kind: str
    block_size: int
    key_sizes: tuple[int, ...]
    new: Callable[[bytes], Any]


AES_KEY_SIZES = (16, 24, 32)


class Aes:
    """AES as a bare block cipher: ``encrypt``/``decrypt`` apply it to each 16-byte block."""

    def __init__(self, key: bytes) -> None:
        if len(key) not in AES_KEY_SIZES:
            raise ValueError(f"AES key must be 16, 24 or 32 bytes, got {len(key)}")
        self._ecb = AES.new(key, AES.MODE_ECB)

    def encrypt(self, data: bytes) -> bytes:
        return self._ecb.encrypt(data)

    def decrypt(self, data: bytes) -> bytes:
        return self._ecb.decrypt(data)



def _xts_template(inner: Algorithm) -> Algorithm:
    if inner.kind != "cipher" or inner.block_size != xts.BLOCK_SIZE:
        raise NoSuchAlgorithm(f"xts needs a {xts.BLOCK_SIZE}-byte block cipher, not {inner.name!r}")
    return Algorithm(f"xts({inner.name})", "skcipher", inner.block_size, xts.KEY_SIZES,
                     lambda key: xts.Xts(inner.new, key))


BLOCK_CIPHERS: dict[str, Algorithm] = {
    "aes": Algorithm("aes", "cipher", 16, AES_KEY_SIZES, Aes),
}
TEMPLATES: dict[str, Callable[[Algorithm], Algorithm]] = {
    "xts": _xts_template,
}

_TEMPLATE_NAME = re.compile(r"(?P<template>[a-z0-9_-]+)\((?P<inner>.+)\)")


def allocate(name: str) -> Algorithm:
    """Resolve ``name`` (``"aes"``, ``"xts(aes)"``, …) to an algorithm, or raise NoSuchAlgorithm."""
    applied = _TEMPLATE_NAME.fullmatch(name)
    if applied is None:
        if name not in BLOCK_CIPHERS:
            raise NoSuchAlgorithm(f"no such crypto algorithm: {name!r} (known ciphers: {', '.join(sorted(BLOCK_CIPHERS))})")
        return BLOCK_CIPHERS[name]
    template = applied["template"]
    if template not in TEMPLATES:
        raise NoSuchAlgorithm(f"no such crypto template: {template!r} in {name!r} (known templates: {', '.join(sorted(TEMPLATES))})")
    return TEMPLATES[template](allocate(applied["inner"]))
