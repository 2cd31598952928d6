"""Diagnostics: every user-facing problem is a `Diagnostic` with a file position.

Errors print as ``path:line:col: error: <what> — <hint>`` (lines and columns are 1-based and
refer to the file the user wrote, not to rendered SQL).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, order=True)
class Diagnostic:
    path: str
    line: int
    col: int
    message: str
    hint: str = ""
    severity: str = "error"

    def format(self) -> str:
        path = self.path if self.path.isprintable() else self.path.encode("unicode_escape").decode("ascii")
        text = f"{path}:{self.line}:{self.col}: {self.severity}: {self.message}"
        return f"{text} — {self.hint}" if self.hint else text


class SkewlessError(Exception):
    """Raised with one or more diagnostics; the CLI prints them and exits 1."""

    def __init__(self, diagnostics: list[Diagnostic] | Diagnostic):
        if isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics = sorted(diagnostics)
        super().__init__("\n".join(d.format() for d in self.diagnostics))


class ViewError(Exception):
    """Raised inside lowering at one rendered-SQL offset; converted to a Diagnostic by the caller."""

    def __init__(self, message: str, hint: str = "", offset: int | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.offset = offset


@dataclass
class DiagnosticBag:
    """Collects diagnostics so that validate reports every problem at once."""

    items: list[Diagnostic] = field(default_factory=list)

    def add(self, path: str | Path, line: int, col: int, message: str, hint: str = "") -> None:
        self.items.append(Diagnostic(str(path), max(line, 1), max(col, 1), message, hint))

    def extend(self, diags: list[Diagnostic]) -> None:
        self.items.extend(diags)

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        if self.items:
            raise SkewlessError(list(self.items))
