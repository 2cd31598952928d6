"""Dimension joins (issue 13): what `LEFT JOIN {{ source('merchants') }}` costs, measured in one run
on the example's generated events against the baseline a skilled engineer would write instead —
the same view over events that already carry the merchant's columns (denormalized upstream):

* stream: `replay` of user_merchant_mix (join in the stream) vs the same features over a pre-joined
  source (no join), events/s;
* batch (DuckDB): skewless's per-event relation of the joined view vs the view's own SQL run
  directly by DuckDB (the practical ceiling).

Every output is also checked equal between the two paths (same rows, same values).

Usage: python bench/dimension_join.py [--events 200000] [--days 14]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(1, str(Path(__file__).parents[1]))  # tests.support.compare
from _example import example_parser, example_project  # noqa: E402

PREJOINED = """
  - name: enriched
    timestamp: ts
    unique_key: [txn_id]
    allowed_lateness: 2m
    columns:
      - {name: txn_id, type: text}
      - {name: user_id, type: text}
      - {name: merchant_id, type: text}
      - {name: amount, type: double precision}
      - {name: ts, type: timestamptz}
      - {name: category, type: text}
      - {name: risk_tier, type: integer}
    stream: {file: data/enriched.parquet}
    batch: {path: data/enriched.parquet}
"""


def main() -> None:
    parser = example_parser(200_000, 14)
    args = parser.parse_args()

    import duckdb
    import pyarrow.parquet as pq

    from skewless.compiler.project.build import build_project
    from skewless.compiler.project.loader import load_project
    from skewless.runtime.api import Project
    from skewless.runtime.stream.jobs import replay
    from tests.support.compare import diff

    with tempfile.TemporaryDirectory() as tmp:
        root = example_project(tmp, args.events, args.days)
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"CREATE TABLE transactions AS SELECT * FROM '{root}/data/transactions.parquet'")
        con.execute(f"CREATE TABLE merchants AS SELECT * FROM '{root}/data/merchants.parquet'")
        # the baseline's input: events with the merchant's columns, joined once upstream (in arrival order)
        con.execute(f"COPY (SELECT t.txn_id, t.user_id, t.merchant_id, t.amount, t.ts, m.category, m.risk_tier "
                    f"FROM transactions t LEFT JOIN merchants m USING (merchant_id) ORDER BY t.rowid) "
                    f"TO '{root}/data/enriched.parquet' (FORMAT parquet)")
        sources = root / "sources" / "payments.yml"
        text = sources.read_text()
        sources.write_text(text.replace("\ndimensions:", PREJOINED + "\ndimensions:", 1))
        joined_sql = (root / "features" / "user_merchant_mix.sql").read_text()
        flat = (joined_sql.replace("LEFT JOIN {{ source('merchants') }} AS m ON m.merchant_id = t.merchant_id\n", "")
                .replace("source('transactions')", "source('enriched')").replace("m.", "t."))
        (root / "features" / "flat_merchant_mix.sql").write_text(flat)
        compiled = build_project(load_project(root))
        assert not compiled.diagnostics, compiled.diagnostics

        timings = {}
        for name in ("user_merchant_mix", "flat_merchant_mix"):
            started = time.perf_counter()
            result = replay(compiled, [name], root / "target" / name, to_online=False,
                            dead_letters=root / "target" / f"{name}.dead.jsonl")
            timings[name] = time.perf_counter() - started
        a = pq.read_table(result.outputs["flat_merchant_mix"])
        b = pq.read_table(root / "target" / "user_merchant_mix" / "user_merchant_mix.parquet")
        assert not diff(a, b, "txn_id"), "the joined and pre-joined stream outputs differ"
        n = a.num_rows
        print(f"stream, {n:,} events: join in the stream {n / timings['user_merchant_mix']:,.0f} events/s, "
              f"pre-joined source {n / timings['flat_merchant_mix']:,.0f} events/s "
              f"(ratio {timings['user_merchant_mix'] / timings['flat_merchant_mix']:.2f}x the time)")

        api = Project(root)
        started = time.perf_counter()
        ours = api.per_event("user_merchant_mix", engine="duckdb")
        t_ours = time.perf_counter() - started
        rendered = compiled.views["user_merchant_mix"].sql
        started = time.perf_counter()
        direct = con.sql(rendered).to_arrow_table()
        t_direct = time.perf_counter() - started
        assert not diff(direct, ours, "txn_id"), "skewless's DuckDB SQL differs from the view's SQL on DuckDB"
        print(f"batch (DuckDB), {n:,} events: skewless per-event {t_ours:.2f} s (incl. loading the files), "
              f"the view's own SQL on DuckDB {t_direct:.2f} s (tables in memory)")


if __name__ == "__main__":
    main()
