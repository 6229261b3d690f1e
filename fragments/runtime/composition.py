"""Compositions: which fragments share which task, on which core, which are duplicated.

A composition is a TOML file (``demos/compositions/NAME.toml``)::

    description = "one line"
    rwx = false                 # true: every page read-write-execute (the monolithic form)
    duplicate = ["syscalls"]    # a replica per core (fragments declared REPLICABLE)
    subset = false              # true: fragments not named are left out (a minimal system)

    [tasks.l4linux]
    fragments = ["loader", "syscalls"]
    core = 0

Validation refuses, with the file's line and the reason: a fragment named twice, one
missing (unless ``subset = true``), an unknown one, a core the machine lacks, a duplicate of
a fragment that is not replicable or left out. In a subset, a call to a left-out fragment
raises ``runtime.AbsentFragment`` (see there).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

COMPOSITIONS = Path(__file__).resolve().parent.parent.parent / "demos" / "compositions"


class CompositionError(ValueError):
    """A composition that cannot be used; the message names the file and line."""


@dataclass
class TaskSpec:
    name: str
    fragments: list[str]
    core: int = 0


@dataclass
class Composition:
    name: str
    tasks: list[TaskSpec]
    rwx: bool = False
    duplicate: list[str] = field(default_factory=list)
    description: str = ""
    subset: bool = False        # fragments not named are left out

    def fragments(self) -> list[str]:
        return [f for task in self.tasks for f in task.fragments]

    def task_of(self, fragment: str) -> TaskSpec:
        return next(t for t in self.tasks if fragment in t.fragments)

    def to_toml(self) -> str:
        lines = [f'description = "{self.description}"', f"rwx = {str(self.rwx).lower()}",
                 "duplicate = [" + ", ".join(f'"{d}"' for d in self.duplicate) + "]"]
        lines += ["subset = true", ""] if self.subset else [""]
        for task in self.tasks:
            lines += [f"[tasks.{task.name}]",
                      "fragments = [" + ", ".join(f'"{f}"' for f in task.fragments) + "]",
                      f"core = {task.core}", ""]
        return "\n".join(lines)


def known() -> list[str]:
    return sorted(p.stem for p in COMPOSITIONS.glob("*.toml"))


def resolve(name_or_path: str) -> Path:
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise CompositionError(f"{name_or_path}: no such composition file")
        return path
    path = COMPOSITIONS / f"{name_or_path}.toml"
    if not path.is_file():
        raise CompositionError(f"unknown composition {name_or_path!r} (known: {', '.join(known())})")
    return path


def load(name_or_path: str, classes: dict[str, type], cores: int) -> Composition:
    path = resolve(name_or_path)
    text = path.read_text()
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise CompositionError(f"{path}: {error}") from None
    return parse(raw, text, str(path), path.stem, classes, cores)


def parse(raw: dict, text: str, where: str, name: str, classes: dict[str, type],
          cores: int) -> Composition:
    def fail(reason: str, needle: str | None = None, nth: int = 0):
        line = _line(text, needle, nth) if needle else 0
        raise CompositionError(f"{where}:{line}: {reason}" if line else f"{where}: {reason}")

    tasks_raw = raw.get("tasks")
    if not isinstance(tasks_raw, dict) or not tasks_raw:
        fail("no [tasks.NAME] tables")
    tasks, seen = [], {}
    for task_name, spec in tasks_raw.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("fragments"), list):
            fail(f"task {task_name} needs a list 'fragments'", f"[tasks.{task_name}]")
        core = spec.get("core", 0)
        if not isinstance(core, int) or not 0 <= core < cores:
            fail(f"task {task_name} is on core {core}, but the machine has {cores} "
                 f"core{'s' if cores != 1 else ''} (0..{cores - 1})", f"[tasks.{task_name}]")
        for fragment in spec["fragments"]:
            if fragment not in classes:
                fail(f"unknown fragment {fragment!r} (known: {', '.join(sorted(classes))})",
                     f'"{fragment}"')
            if fragment in seen:
                fail(f"fragment {fragment} is named twice (tasks {seen[fragment]} and {task_name})",
                     f'"{fragment}"', 1)
            seen[fragment] = task_name
        tasks.append(TaskSpec(task_name, list(spec["fragments"]), core))
    subset = raw.get("subset", False)
    if not isinstance(subset, bool):
        fail("'subset' must be true or false", "subset")
    for fragment in classes:
        if fragment not in seen and not subset:
            fail(f"fragment {fragment} is missing (every fragment must be in one task; "
                 f"'subset = true' leaves fragments out)")
    duplicate = raw.get("duplicate", [])
    for fragment in duplicate:
        if fragment not in classes:
            fail(f"unknown fragment {fragment!r} in duplicate", f'"{fragment}"')
        if not classes[fragment].REPLICABLE:
            fail(f"fragment {fragment} cannot be duplicated (it is neither stateless nor per-core)",
                 f'"{fragment}"')
        if fragment not in seen:
            fail(f"fragment {fragment} is duplicated but left out", f'"{fragment}"')
    return Composition(name, tasks, bool(raw.get("rwx", False)), list(duplicate),
                       str(raw.get("description", "")), subset)


def _line(text: str, needle: str, nth: int) -> int:
    """The 1-based line of the ``nth`` (0-based) occurrence of ``needle`` (0 if absent)."""
    at = -1
    for _ in range(nth + 1):
        at = text.find(needle, at + 1)
        if at < 0:
            return 0
    return text.count("\n", 0, at) + 1
