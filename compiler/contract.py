"""Everything the runtime may use of the compiler — the one door between the two packages.

``skewless.runtime`` imports ``skewless.compiler`` only through this module
(tests/test_layering.py enforces it). What passes through it:

- **the compiled artifact**: `load_compiled` (``target/manifest.json`` → `CompiledProject`, or
  why it is stale), `compile_project` (the compiler, for ``compile``/``validate`` and stale
  artifacts), `build_artifacts` (the files ``compile`` writes);
- **the IR** (`FeatureView`, `Aggregate`; docs/ir.md) and the project's declarations it refers to
  (sources, dimensions, models, profiles' batch targets, experiments);
- **plans built from the IR**: batch SQL per dialect (`per_event_sql`, `as_of_sql`,
  `training_set_sql`, ...), the argument-reach rule the stream shares with it (`may_fail`);
- **the meaning of the IR's expressions**: the SQL function library (`compile_scalar`,
  `scalar_type`, Postgres types and values), which the stream evaluates and batch SQL spells;
- **diagnostics** (`Diagnostic`, `SkewlessError`).
"""

# ruff: noqa: F401
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# name -> (module under skewless.compiler, its name there), imported on first use: a process that
# needs the types and values only (a stream worker, a serving worker) does not load the batch
# compilers, the manifest and the project loader with them. The same names, for type checkers:
# the TYPE_CHECKING block below (tests/test_layering.py checks that the two agree).
_EXPORTS: dict[str, tuple[str, str]] = {
    **{n: ("artifact", n) for n in ("compile_project", "load_compiled")},
    "build_artifacts": ("manifest", "build_artifacts"),
    "CompiledProject": ("project.build", "CompiledProject"),
    **{n: ("ir", n) for n in ("Aggregate", "FeatureView")},
    **{n: ("config", n) for n in ("ModelDef", "format_duration")},
    "IDENT": ("config.base", "IDENT"),
    **{n: ("config.experiments", n) for n in ("ExperimentDef", "PriorDef")},
    **{n: ("config.models", n) for n in ("FeatureLogDef", "as_of_rule_text")},
    **{n: ("config.profiles", n) for n in ("DuckDBBatch", "KafkaStream", "PostgresBatch", "SparkBatch")},
    **{n: ("config.sources", n) for n in ("DimensionDef", "SourceDef")},
    "model_feature_columns": ("project.models_check", "model_feature_columns"),
    **{n: ("batch", n) for n in ("BatchUnsupported", "per_event_sql")},
    **{n: ("batch.as_of", n) for n in ("SPINE_ID", "SPINE_T", "as_of_sql", "needed_columns")},
    "input_for": ("batch.inputs", "input_for"),
    "may_fail": ("batch.reach", "may_fail"),
    **{n: ("batch.training", n) for n in ("training_set_parts", "training_set_sql")},
    "quote": ("batch.windows", "quote"),
    **{n: ("functions", n) for n in ("SqlError", "compile_scalar", "pgvalues", "scalar_type")},
    **{n: ("functions.pgtypes", n) for n in ("BOOL", "FLOAT8", "INT2", "INT4", "INT8", "INTEGERS", "INTERVAL",
                                              "NUMERIC", "TEXT", "TSTZ", "normalize", "numeric_typmod")},
    "base_type": ("functions.pgtypes", "base"),
    **{n: ("functions.pgvalues", n) for n in ("dscale", "is_nan", "n_div", "n_quantize", "sort_key")},
    "converter": ("functions.registry", "converter"),
    **{n: ("errors", n) for n in ("Diagnostic", "SkewlessError")},
}
__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attr = _EXPORTS[name]
    value = getattr(importlib.import_module(f"{__package__}.{module}"), attr)
    globals()[name] = value
    return value


if TYPE_CHECKING:  # re-exports: ruff cannot see them in the computed __all__ (noqa at the top)
    # the compiled artifact
    from .artifact import compile_project, load_compiled
    from .manifest import build_artifacts
    from .project.build import CompiledProject

    # the IR and the declarations it refers to
    from .ir import Aggregate, FeatureView
    from .config import ModelDef, format_duration
    from .config.base import IDENT
    from .config.experiments import ExperimentDef, PriorDef
    from .config.models import FeatureLogDef, as_of_rule_text
    from .config.profiles import DuckDBBatch, KafkaStream, PostgresBatch, SparkBatch
    from .config.sources import DimensionDef, SourceDef
    from .project.models_check import model_feature_columns

    # plans: batch SQL
    from .batch import BatchUnsupported, per_event_sql
    from .batch.as_of import SPINE_ID, SPINE_T, as_of_sql, needed_columns
    from .batch.inputs import input_for
    from .batch.reach import may_fail
    from .batch.training import training_set_parts, training_set_sql
    from .batch.windows import quote

    # the meaning of expressions: SQL functions, Postgres types and values
    from .functions import SqlError, compile_scalar, pgvalues, scalar_type
    from .functions.pgtypes import (
        BOOL, FLOAT8, INT2, INT4, INT8, INTEGERS, INTERVAL, NUMERIC, TEXT, TSTZ, normalize, numeric_typmod,
    )
    from .functions.pgtypes import base as base_type
    from .functions.pgvalues import dscale, is_nan, n_div, n_quantize, sort_key
    from .functions.registry import converter

    # diagnostics
    from .errors import Diagnostic, SkewlessError
