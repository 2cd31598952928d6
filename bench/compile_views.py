"""Compile-time benchmark: 100 feature views (``skewless compile`` minus file writes, then with).

Usage: python bench/compile_views.py [--views 100]
Builds a temporary project whose views are variations of the example project's four views,
then times load + render + parse + lower + manifest/SQL generation, and the same with writing
``target/``. Goal (issue 2): under 1 s for 100 views.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from skewless.compiler.lower.types import _CACHE
from skewless.compiler.manifest import build_artifacts
from skewless.compiler.project.build import build_project
from skewless.compiler.project.loader import load_project
from skewless.runtime.artifacts import write_artifacts

EXAMPLE = Path(__file__).parents[1] / "features"


def make_project(n_views: int, root: Path) -> None:
    for part in ("skewless_project.yml", "profiles.yml", "sources", "macros"):
        src = EXAMPLE / part
        (shutil.copytree if src.is_dir() else shutil.copy)(src, root / part)
    (root / "features").mkdir()
    templates = sorted((EXAMPLE / "features").glob("*.sql"))
    for i in range(n_views):
        text = templates[i % len(templates)].read_text()
        # vary the windows so views are not identical
        text = text.replace("1 hour", f"{1 + i % 5} hours").replace("'7 days'", f"'{7 + i % 3} days'")
        (root / "features" / f"{templates[i % len(templates)].stem}_{i}.sql").write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--views", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dialects", default=None, help="comma list overriding batch_dialects (e.g. duckdb)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_project(args.views, root)
        if args.dialects:
            cfg = root / "skewless_project.yml"
            cfg.write_text(cfg.read_text().replace("batch_dialects: [duckdb, postgres, spark, snowflake, bigquery]",
                                                   f"batch_dialects: [{args.dialects}]"))
        build_times, total_times = [], []
        for _ in range(args.repeat):
            _CACHE.clear()  # measure cold type inference every time
            t0 = time.perf_counter()
            compiled = build_project(load_project(root))
            assert not compiled.diagnostics, compiled.diagnostics[:3]
            artifacts = build_artifacts(compiled)
            t1 = time.perf_counter()
            write_artifacts(root / "target", artifacts)
            t2 = time.perf_counter()
            build_times.append(t1 - t0)
            total_times.append(t2 - t0)
        aggs = sum(len(v.aggregates) for v in compiled.views.values())
        print(f"views: {len(compiled.views)}  aggregates: {aggs}  dialects: {len(compiled.project.config.batch_dialects)}")
        print(f"compile (load+render+lower+manifest+SQL): median {statistics.median(build_times) * 1000:.0f} ms, "
              f"best {min(build_times) * 1000:.0f} ms")
        print(f"compile incl. writing target/:            median {statistics.median(total_times) * 1000:.0f} ms")
        print(f"per view: {statistics.median(total_times) / len(compiled.views) * 1000:.2f} ms  "
              f"goal: < 1000 ms for 100 views -> {'OK' if statistics.median(total_times) < 1 else 'MISSED'}")


if __name__ == "__main__":
    main()
