"""Tests of the pure storage logic: XTS, dm-crypt, the ext2 driver."""
