"""Shared fixtures: paths of the committed ARM programs."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARM = ROOT / "demos" / "arm"


@pytest.fixture
def native():
    """Bytes of a native L4 program from demos/arm/native."""
    return lambda name: (ARM / "native" / name).read_bytes()
