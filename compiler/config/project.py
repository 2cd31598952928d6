"""``skewless_project.yml``: the project file."""

from __future__ import annotations

from typing import Any

import sqlglot
from pydantic import Field, field_validator

from .base import DurationUs, Frozen, Identifier

PROJECT_FILE = "skewless_project.yml"
BATCH_DIALECTS = ("duckdb", "postgres", "spark", "snowflake", "bigquery")


def _check_dialect(value: str) -> str:
    try:
        sqlglot.Dialect.get_or_raise(value)
    except ValueError:
        raise ValueError(f"unknown SQL dialect {value!r}") from None
    return value


class ProjectConfig(Frozen):
    name: Identifier
    version: str = "0.1.0"
    config_version: int = Field(1, ge=1, le=1)
    profile: str | None = None
    dialect: str = "postgres"
    feature_paths: list[str] = ["features"]
    model_paths: list[str] = ["models"]
    macro_paths: list[str] = ["macros"]
    source_paths: list[str] = ["sources"]
    target_path: str = "target"
    allowed_lateness: DurationUs = 300_000_000
    batch_dialects: list[str] = ["duckdb", "postgres", "spark"]
    vars: dict[str, Any] = {}

    _dialect = field_validator("dialect")(classmethod(lambda cls, v: _check_dialect(v)))

    @field_validator("batch_dialects")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        for d in value:
            if d not in BATCH_DIALECTS:
                raise ValueError(f"batch dialect {d!r} is not one of {', '.join(BATCH_DIALECTS)}")
        return value

    @property
    def profile_name(self) -> str:
        return self.profile or self.name
