"""mypy over the typed part of skewless (`make lint`; CI runs it): zero findings required.

The installed package maps directories that are not named like it (``skewless`` = api/,
``skewless.compiler`` = compiler/, ``skewless.runtime`` = runtime/), which mypy cannot follow, so
this builds a tree of symlinks named like the package in a temporary directory and checks that.

Typing is adopted package by package: `CHECKED` lists the ones held to zero findings (the settings
are ``[tool.mypy]`` in pyproject.toml); a package joins when its findings are fixed. Not yet: the
SQL lowering and batch compilers (sqlglot's compiled expression types), the stream engine, the
serving hot path, the CLI."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECKED = [
    "skewless.compiler.config", "skewless.compiler.ir", "skewless.compiler.plan", "skewless.compiler.render",
    "skewless.runtime.experiments", "skewless.runtime.registry", "skewless.runtime.training",
    "skewless.runtime.engines", "skewless.runtime.stores", "skewless.runtime.serving", "skewless.compiler.project",
    "skewless.runtime.sources",
]
MODULES = ["skewless.runtime.sqldb", "skewless.runtime.log_parity", "skewless.runtime.docs_site", "skewless.runtime.parity_run",
           "skewless.runtime.table_compare", "skewless.runtime.parity", "skewless.compiler.batch.row_positions",
           "skewless.compiler.batch.sliding_extreme", "skewless.compiler.batch.reach", "skewless.runtime.api",
           "skewless.runtime.parity_stream", "skewless.runtime.batch_jobs", "skewless.compiler.artifact",
           "skewless.compiler.contract", "skewless.compiler.manifest",
           "skewless.runtime.artifacts", "skewless.runtime.cli", "skewless.runtime.cli_common",
           "skewless.runtime.cli_batch", "skewless.runtime.cli_docs", "skewless.runtime.cli_demo",
           "skewless.runtime.cli_experiments", "skewless.runtime.cli_models", "skewless.runtime.cli_stream",
           "skewless.runtime.cli_train", "skewless.runtime.log"]


def main() -> int:
    from mypy import api

    with tempfile.TemporaryDirectory(prefix="skewless-typecheck-") as tmp:
        pkg = Path(tmp) / "skewless"
        pkg.mkdir()
        for f in (ROOT / "api").glob("*.py"):
            (pkg / f.name).symlink_to(f)
        (pkg / "compiler").symlink_to(ROOT / "compiler")
        (pkg / "runtime").symlink_to(ROOT / "runtime")
        args = ["--config-file", str(ROOT / "pyproject.toml"), "--cache-dir", str(Path(tmp) / ".mypy_cache")]
        for p in CHECKED:
            args += ["-p", p]
        for m in MODULES:
            args += ["-m", m]
        import os

        cwd = os.getcwd()
        os.chdir(tmp)
        try:
            out, err, status = api.run(args)
        finally:
            os.chdir(cwd)
    sys.stdout.write(out)
    sys.stderr.write(err)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
