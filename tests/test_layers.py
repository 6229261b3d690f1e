"""Layers point one way: kernel_model and fragments never import the UI or l4shell."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {"textual", "prompt_toolkit", "l4shell"}


def _imports(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module.split(".")[0]


def test_lower_layers_do_not_import_upper():
    for layer, extra in (("kernel_model", {"fragments"}), ("fragments", set())):
        for path in (ROOT / layer).rglob("*.py"):
            bad = set(_imports(path)) & (FORBIDDEN | extra)
            assert not bad, f"{path.relative_to(ROOT)} imports {bad}"
