"""The docs' function table, generated from the registry (``python -m skewless.compiler.functions.surface``)."""

from __future__ import annotations

from .registry import FAMILIES, REGISTRY
from .typecheck import Checker  # noqa: F401 - loads every family


def markdown() -> str:
    lines = ["# Functions and operators (generated from compiler/functions; do not edit)", "",
             "Every entry is implemented exactly in the stream and type-checked by `validate` with "
             "Postgres's rules; a batch dialect that cannot compute one exactly gets no SQL for the view "
             "and the manifest says why (compiler/functions/dialects/).", ""]
    for family in sorted(FAMILIES):  # import order of the families must not reorder the docs
        lines += [f"## {family}", "", "| construct | notes |", "|---|---|"]
        seen = set()
        for entry in REGISTRY.values():
            if entry.family == family and entry.spelling not in seen:
                seen.add(entry.spelling)
                lines.append(f"| `{entry.spelling}` | {entry.notes} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown())
