"""Parity benchmark (issue 17): `skewless parity` over the example project's views against each
path it runs, timed alone on the same events — the stream replay, the compiled SQL on DuckDB and
on Postgres, the views' own SQL on the oracle — and the ratio of parity's time to the slowest
single path (goal <= 3x). Also times `--sample-keys`.

Usage: python bench/parity.py [--events 300000] [--days 30] [--sample-keys 200]
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from _example import example_parser, example_project, parity_paths, time_parity


def main() -> None:
    parser = example_parser(300_000, 30)
    parser.add_argument("--sample-keys", type=int, default=200)
    args = parser.parse_args()

    from skewless.compiler.project.build import build_project
    from skewless.compiler.project.loader import load_project
    from skewless.runtime.pg_local import throwaway_cluster

    with tempfile.TemporaryDirectory() as tmp, throwaway_cluster() as dsn:
        root = example_project(tmp, args.events, args.days)
        compiled = build_project(load_project(root))
        views = sorted(compiled.views)
        paths = parity_paths(compiled, views, dsn, Path(tmp) / "s")

        def parity(*extra: str) -> float:
            secs, proc = time_parity(root, "--postgres", dsn, *extra)
            if proc.returncode != 0:
                raise SystemExit(proc.stdout + proc.stderr)
            return secs

        total = parity()
        sampled = parity("--sample-keys", str(args.sample_keys))
        slowest = max(paths.values())
        print(f"{args.events:,} events over {args.days} days, {len(views)} views (example project)")
        for name, secs in paths.items():
            print(f"  {name:26s} {secs:7.1f} s")
        print(f"parity (every path + comparison): {total:7.1f} s = {total / slowest:.2f}x the slowest path "
              f"(goal <= 3x)")
        print(f"parity --sample-keys {args.sample_keys}:     {sampled:7.1f} s")


if __name__ == "__main__":
    main()
