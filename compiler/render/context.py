"""The Jinja functions a view can call: source(), ref(), config(), var(), env_var()."""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

from pydantic import ValidationError

from ..config.base import Frozen


class TemplateCallError(Exception):
    """Raised from a Jinja function; the renderer attaches the template line."""

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.message = message
        self.hint = hint


class ViewConfig(Frozen):
    description: str = ""
    tags: list[str] = []
    enabled: bool = True
    online: bool = True


_MISSING = object()


def var_value(vars_: dict[str, Any], name: str, default: Any = _MISSING) -> Any:
    if name in vars_:
        return vars_[name]
    if default is not _MISSING:
        return default
    raise TemplateCallError(
        f"var {name!r} is not defined",
        "define it under vars: in skewless_project.yml, pass --vars, or give a default: var('name', default)",
    )


_ENV_READS: list[dict[str, str | None]] = []  # the open `recording_env` blocks' reads


@contextmanager
def recording_env() -> Iterator[dict[str, str | None]]:
    """Every environment variable `env_var()` reads inside the block -> its value (None: unset).
    The compiled artifact is stale when one of them changes (`compiler.artifact`)."""
    reads: dict[str, str | None] = {}
    _ENV_READS.append(reads)
    try:
        yield reads
    finally:
        _ENV_READS.remove(reads)


@contextmanager
def not_recording_env() -> Iterator[None]:
    """Reads that are not part of the compiled artifact (profiles: the target's secrets)."""
    saved = _ENV_READS[:]
    _ENV_READS.clear()
    try:
        yield
    finally:
        _ENV_READS[:] = saved


def env_var_value(name: str, default: Any = _MISSING) -> Any:
    for reads in _ENV_READS:
        reads[name] = os.environ.get(name)
    if name in os.environ:
        return os.environ[name]
    if default is not _MISSING:
        return default
    raise TemplateCallError(f"environment variable {name!r} is not set", "export it or give a default: env_var('NAME', 'default')")


@dataclass
class RenderContext:
    """Records what a view's template asked for while it renders."""

    sources: set[str]
    views: set[str]
    vars: dict[str, Any]
    used_sources: list[str] = field(default_factory=list)
    used_refs: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)

    def source(self, name: str, *rest: str) -> str:
        if rest:
            raise TemplateCallError("source() takes one name", "write {{ source('transactions') }}")
        if name not in self.sources:
            known = ", ".join(sorted(self.sources)) or "none declared"
            raise TemplateCallError(f"unknown source {name!r}", f"declared sources: {known}")
        self.used_sources.append(name)
        return f'"{name}"'

    def ref(self, name: str) -> str:
        if name not in self.views:
            known = ", ".join(sorted(self.views)) or "none"
            raise TemplateCallError(f"unknown view {name!r} in ref()", f"views in this project: {known}")
        self.used_refs.append(name)
        return f'"{name}"'

    def set_config(self, **kwargs: Any) -> str:
        merged = {**self.config, **kwargs}
        try:
            ViewConfig(**merged)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise TemplateCallError(
                f"invalid config({where}=...): {err['msg']}",
                f"config() accepts: {', '.join(ViewConfig.model_fields)}",
            ) from None
        self.config = merged
        return ""

    def var(self, name: str, default: Any = _MISSING) -> Any:
        return var_value(self.vars, name, default)
