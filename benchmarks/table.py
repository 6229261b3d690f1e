"""The plain-text table the benchmarks print: the measure's name left-aligned, the values
right-aligned, the last column free text. Cells are shown as given (format them first)."""

from __future__ import annotations


def print_table(header: tuple, rows: list[tuple]) -> None:
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        values = (f"{cell!s:>{width}}" for cell, width in zip(row[1:-1], widths[1:-1]))
        print("  ".join([f"{row[0]!s:<{widths[0]}}", *values, str(row[-1])]).rstrip())
