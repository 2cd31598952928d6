"""skewless: SQL feature views computed exactly in a stream and in batch.

``skewless.Project`` is the Python API (runtime/api.py); ``skewless.compiler`` turns a project's
text into the IR and plans, ``skewless.runtime`` executes them."""

from __future__ import annotations

__all__ = ["Project"]


def __getattr__(name: str):
    if name == "Project":  # imported on first use: `import skewless.compiler` stays light
        from skewless.runtime.api import Project

        return Project
    raise AttributeError(f"module 'skewless' has no attribute {name!r}")
