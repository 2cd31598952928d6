"""Views over other entities' features in the stream (issue 13): what the event-time frontier costs,
measured in one run on the example's generated events against what a skilled engineer would run
instead — two jobs with the upstream's rows materialized in between (as with a Kafka topic between
two Flink jobs), the second job reading them as its source:

* re-keyed: `merchant_customer_risk` (merchant, over user_merchant_mix's per-user rows) streamed as
  one chain, vs user_merchant_mix's job + a job of the same view over its written rows;
* view join: `user_merchant_risk` (user, joining merchant_risk's row of each event) streamed as one
  chain, vs merchant_risk's job + DuckDB joining its rows to the events + a job over the result.

Outputs are checked equal between the two ways. Wall times include each job's start.

Usage: python bench/rekey.py [--events 200000] [--days 14]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(1, str(Path(__file__).parents[1]))  # tests.support.compare
from _example import example_parser, example_project  # noqa: E402


def _source(name: str, columns: dict[str, str], path: str) -> str:
    cols = "".join(f"      - {{name: {c}, type: \"{t}\"}}\n" for c, t in columns.items())
    return (f"  - name: {name}\n    timestamp: ts\n    unique_key: [txn_id]\n    allowed_lateness: 2m\n    columns:\n{cols}"
            f"    stream: {{file: {path}}}\n    batch: {{path: {path}}}\n")


def _timed(fn):
    started = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - started


def main() -> None:
    parser = example_parser(200_000, 14)
    args = parser.parse_args()

    import duckdb
    import pyarrow.parquet as pq

    from skewless.compiler.project.build import build_project
    from skewless.compiler.project.loader import load_project
    from skewless.runtime.stream.jobs import replay
    from tests.support.compare import diff

    with tempfile.TemporaryDirectory() as tmp:
        root = example_project(tmp, args.events, args.days)
        compiled = build_project(load_project(root))
        out = root / "target"

        def run(c, views, tag):
            return replay(c, views, out / tag, to_online=False, dead_letters=out / f"{tag}.dead.jsonl")

        # the two jobs' first halves: the upstream views alone, their rows written
        up1, t_up1 = _timed(lambda: run(compiled, ["user_merchant_mix"], "umm"))
        up2, t_up2 = _timed(lambda: run(compiled, ["merchant_risk"], "mr"))
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        umm_rows = root / "data" / "umm_rows.parquet"
        con.execute(f"COPY (SELECT * FROM '{up1.outputs['user_merchant_mix']}' ORDER BY ts) TO '{umm_rows}' (FORMAT parquet)")
        enriched = root / "data" / "tx_with_merchant_risk.parquet"
        started = time.perf_counter()
        con.execute(f"COPY (SELECT t.*, r.merchant_txns_1h AS r__merchant_txns_1h, r.merchant_decline_rate_24h AS "
                    f"r__merchant_decline_rate_24h, r.merchant_lifetime_txns AS r__merchant_lifetime_txns "
                    f"FROM '{root}/data/transactions.parquet' t LEFT JOIN '{up2.outputs['merchant_risk']}' r "
                    f"ON r.txn_id = t.txn_id ORDER BY t.ts) TO '{enriched}' (FORMAT parquet)")
        t_join = time.perf_counter() - started
        umm = compiled.views["user_merchant_mix"]
        tx_cols = {c.name: c.type for c in compiled.project.sources["transactions"].columns}
        sources = root / "sources" / "payments.yml"
        sources.write_text(sources.read_text().replace("\ndimensions:", "\n" + _source(
            "umm_rows", {c.name: c.type for c in umm.columns}, "data/umm_rows.parquet") + _source(
            "tx_mr", {**tx_cols, "r__merchant_txns_1h": "bigint", "r__merchant_decline_rate_24h": "numeric",
                      "r__merchant_lifetime_txns": "bigint"}, "data/tx_with_merchant_risk.parquet") + "\ndimensions:", 1))
        mcr = (root / "features" / "merchant_customer_risk.sql").read_text()
        (root / "features" / "mcr_second_job.sql").write_text(mcr.replace("ref('user_merchant_mix')", "source('umm_rows')"))
        umr = (root / "features" / "user_merchant_risk.sql").read_text()
        (root / "features" / "umr_second_job.sql").write_text(
            umr.replace("LEFT JOIN {{ ref('merchant_risk') }} AS r ON r.txn_id = t.txn_id\n", "")
            .replace("source('transactions')", "source('tx_mr')").replace("r.merchant", "t.r__merchant"))
        compiled = build_project(load_project(root))
        assert not compiled.diagnostics, [d.format() for d in compiled.diagnostics]

        chain1, t_chain1 = _timed(lambda: run(compiled, ["merchant_customer_risk"], "chain1"))
        second1, t_second1 = _timed(lambda: run(compiled, ["mcr_second_job"], "second1"))
        chain2, t_chain2 = _timed(lambda: run(compiled, ["user_merchant_risk"], "chain2"))
        second2, t_second2 = _timed(lambda: run(compiled, ["umr_second_job"], "second2"))
        a = pq.read_table(chain1.outputs["merchant_customer_risk"])
        problems = diff(a, pq.read_table(second1.outputs["mcr_second_job"]), "txn_id")
        assert not problems, f"re-keyed outputs differ: {problems[:5]}"
        b = pq.read_table(chain2.outputs["user_merchant_risk"])
        assert not diff(b, pq.read_table(second2.outputs["umr_second_job"]), "txn_id"), "view-join outputs differ"
        n = a.num_rows
        two = t_up1 + t_second1
        print(f"re-keyed ({n:,} events): one chain {t_chain1:.1f} s ({n / t_chain1:,.0f} events/s) vs two jobs "
              f"{two:.1f} s (upstream {t_up1:.1f} + downstream {t_second1:.1f}) -> {t_chain1 / two:.2f}x the time; "
              f"the re-keyed stage alone adds {t_chain1 - t_up1:.1f} s to the upstream's job "
              f"(a job of its own: {t_second1:.1f} s)")
        two = t_up2 + t_join + t_second2
        print(f"view join ({b.num_rows:,} events): one chain {t_chain2:.1f} s ({b.num_rows / t_chain2:,.0f} events/s) vs "
              f"two jobs + a DuckDB join {two:.1f} s (upstream {t_up2:.1f} + join {t_join:.2f} + downstream "
              f"{t_second2:.1f}) -> {t_chain2 / two:.2f}x the time")


if __name__ == "__main__":
    main()
