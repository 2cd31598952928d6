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

from __future__ import annotations

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

__all__ = [
    "compile_project", "load_compiled", "build_artifacts", "CompiledProject",
    "Aggregate", "FeatureView", "ModelDef", "format_duration", "IDENT", "ExperimentDef", "PriorDef",
    "FeatureLogDef", "as_of_rule_text", "DuckDBBatch", "KafkaStream", "PostgresBatch", "SparkBatch", "DimensionDef", "SourceDef",
    "model_feature_columns",
    "BatchUnsupported", "per_event_sql", "SPINE_ID", "SPINE_T", "as_of_sql", "needed_columns", "input_for",
    "may_fail", "training_set_parts", "training_set_sql", "quote",
    "SqlError", "compile_scalar", "pgvalues", "scalar_type", "converter",
    "BOOL", "FLOAT8", "INT2", "INT4", "INT8", "INTEGERS", "INTERVAL", "NUMERIC", "TEXT", "TSTZ", "normalize",
    "numeric_typmod", "base_type", "dscale", "is_nan", "n_div", "n_quantize", "sort_key",
    "Diagnostic", "SkewlessError",
]
