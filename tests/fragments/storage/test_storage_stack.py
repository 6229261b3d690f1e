"""The storage stack end to end: ext2 mounted through a dm-crypt device over an encrypted image,
checked after decryption by an independent XTS, e2fsck and debugfs."""

import os

from fragments.storage.blockdev import MemoryDevice
from fragments.storage.dmcrypt import CryptDevice, CryptTableLine, encrypt_image
from fragments.storage.ext2 import Ext2

from .conftest import (ModelClock, assert_clean, debugfs_cat, decrypt_with_cryptography, make_image,
                       needs_e2fsprogs)

pytestmark = needs_e2fsprogs


def test_ext2_over_dm_crypt(tmp_path, tree):
    """An mke2fs image encrypted by encrypt_image mounts through a decrypting CryptDevice built
    from a table line; after changes and sync, the independently decrypted image is a clean
    ext2 holding the new bytes, and no plaintext reached the backing image."""
    plain = make_image(tmp_path / "plain.img", 2048, 1024, source=tree)
    key = os.urandom(64)
    encrypted = tmp_path / "crypt.img"
    encrypt_image(plain, encrypted, key)
    backing = MemoryDevice(bytearray(encrypted.read_bytes()))
    table = CryptTableLine.parse(f"0 {backing.sector_count} crypt aes-xts-plain64 {key.hex()} 0 crypt.img 0")
    fs = Ext2(CryptDevice(backing, table.target(), table.offset, table.length), ModelClock())
    assert fs.read(fs.lookup("/hello.txt"), 0, 100) == b"hello, ext2\n"
    secret = b"attack at dawn " * 300
    ino = fs.create(fs.mkdir(2, "private"), "plan.txt")
    fs.write(ino, 0, secret)
    fs.unlink(2, "hello.txt")
    fs.sync()
    assert b"attack at dawn" not in backing.image
    decrypted = tmp_path / "decrypted.img"
    decrypted.write_bytes(decrypt_with_cryptography(bytes(backing.image), key))
    assert_clean(decrypted)
    assert debugfs_cat(decrypted, "/private/plan.txt") == secret
    assert debugfs_cat(decrypted, "/docs/big.bin") == (tree / "docs" / "big.bin").read_bytes()
