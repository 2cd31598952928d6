"""What each batch dialect can express: `caps(dialect)` (the definitions: dialects/<name>.py)."""

from __future__ import annotations

from .dialects import BatchDialect, batch_dialect


class BatchUnsupported(Exception):
    def __init__(self, view: str, construct: str, dialect: str, why: str = ""):
        self.view, self.construct, self.dialect = view, construct, dialect
        super().__init__(f"view {view!r}: {construct} cannot be compiled exactly for {dialect}"
                         + (f" ({why})" if why else ""))


def caps(dialect: str) -> BatchDialect:
    return batch_dialect(dialect)
