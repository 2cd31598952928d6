"""Registry entries, one module per family (as sqlglot keeps one file per concern)."""


def load() -> None:
    from . import arith, casts, compare, conditional, logic, math, temporal, text  # noqa: F401 - they register
