"""Shared fixtures: paths of the committed ARM programs; the Hypothesis profiles.

Property tests draw the same examples on every run (profile ``repeatable``, the default),
so a CI run fails only on a change, never on luck; ``HYPOTHESIS_PROFILE=explore`` draws
new random examples on each run, to hunt for bugs by hand. A bug found that way is
kept as an ``@example`` on its test."""

import os
from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

ROOT = Path(__file__).resolve().parent.parent
ARM = ROOT / "demos" / "arm"


@pytest.fixture
def native():
    """Bytes of a native L4 program from demos/arm/native."""
    return lambda name: (ARM / "native" / name).read_bytes()
