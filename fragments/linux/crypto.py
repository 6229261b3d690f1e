"""The `crypto` fragment: Linux's crypto API as a server (fragments.storage.crypto_api).

A client allocates a transform by name (``alloc("xts(aes)")`` → a handle, -ENOENT for an
unknown name, as ``crypto_alloc_skcipher``), gives it a key (``setkey``), then converts
data with it. For an ``skcipher`` (``xts(aes)``) the data is a run of equal data units
and ``ivs`` holds one 16-byte IV per unit, laid end to end; for a bare ``cipher``
(``aes``) ``ivs`` is empty and the data is whole blocks.

The key lives in this fragment's memory: each handle owns a KEY_SLOT-byte slot of the key
page (a data page of the fragment, so its frame is what page tables show as reachable);
the keyed transform is built from the bytes read back from that page. The page is marked
secret (KEY_SECRET), so the isolation report shows which fragments can reach it.
"""

from __future__ import annotations

import errno

from fragments.runtime.fragment import DATA, PAGE, Fragment, operation
from fragments.storage import crypto_api

KEY_SLOT = 64                         # the largest key the registry accepts (xts(aes) 512-bit)
KEY_SECRET = "disk key"               # the key pages' name in the isolation report
SLOTS = PAGE // KEY_SLOT


class CryptoApi(Fragment):
    NAME = "crypto"

    def __init__(self, runtime):
        super().__init__(runtime)
        self.algorithms: dict[int, crypto_api.Algorithm] = {}   # handle -> unkeyed algorithm
        self.keyed: dict[int, object] = {}                        # handle -> keyed transform
        self.key_page = 0                                         # mapped on the first setkey

    @operation
    def alloc(self, name):
        """A handle for the algorithm ``name``, or -ENOENT."""
        try:
            algorithm = crypto_api.allocate(name)
        except crypto_api.NoSuchAlgorithm:
            return -errno.ENOENT
        free = [h for h in range(SLOTS) if h not in self.algorithms]
        if not free:
            return -errno.ENOMEM
        self.algorithms[free[0]] = algorithm
        return free[0]

    @operation
    def setkey(self, handle, key):
        """Key the transform; 0, or -EINVAL for a key size the algorithm refuses."""
        algorithm = self.algorithms.get(handle)
        if algorithm is None:
            return -errno.EBADF
        if len(key) not in algorithm.key_sizes:
            return -errno.EINVAL
        if not self.key_page:
            self.key_page = self.data_start
            self.map_new_page(self.key_page, DATA, secret=KEY_SECRET)
        slot = self.key_page + handle * KEY_SLOT
        self.poke(slot, bytes(key).ljust(KEY_SLOT, b"\0"))
        self.keyed[handle] = algorithm.new(self.peek(slot, len(key)))
        return 0

    @operation
    def encrypt(self, handle, ivs, data):
        return self._convert(handle, ivs, data, "encrypt")

    @operation
    def decrypt(self, handle, ivs, data):
        return self._convert(handle, ivs, data, "decrypt")

    @operation
    def free(self, handle):
        """Forget the transform and wipe its key slot."""
        self.algorithms.pop(handle, None)
        if self.keyed.pop(handle, None) is not None:
            self.poke(self.key_page + handle * KEY_SLOT, bytes(KEY_SLOT))
        return 0

    def _convert(self, handle: int, ivs: bytes, data: bytes, direction: str):
        transform = self.keyed.get(handle)
        if transform is None:
            return -errno.ENOKEY
        try:
            if self.algorithms[handle].kind == "cipher":
                return getattr(transform, direction)(data)
            units = [ivs[i:i + 16] for i in range(0, len(ivs), 16)]
            return getattr(transform, f"{direction}_units")(units, data)
        except ValueError:
            return -errno.EINVAL
