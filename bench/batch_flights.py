"""Issue 17's workload: a 10-view model over 1M flight-like events with dense keys and EXCLUDE GROUP
frames, one label per event (features as of 1 µs before it, the default rule).

Keys as in the US flights data the issue was found on: 3 origin airports (~330k events each — the
dense keys), 16 carriers (Zipf), 4,000 aircraft, 105 destinations, their routes. Departures on
whole minutes (ties: EXCLUDE GROUP matters). Windows 1 hour to 30 days and lifetime, all EXCLUDE
GROUP (the leakage-safe form docs/semantics.md recommends).

Prints, in one run on the same events:
- the training set built by skewless (`Project.training_set`, the command's code path) on DuckDB
  and on Postgres;
- the hand-written DuckDB query a skilled engineer writes for the same values (per view a union of
  events and labels, windows ending 1 µs before each label, joined by label id);
- cells differing between each of them and the hand-written result (0 expected).
With --parity: `skewless parity` over the 10 views against each path it runs, timed alone.

Usage: python bench/batch_flights.py [--events 1000000] [--days 365] [--postgres] [--parity]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

WINDOWS = {  # name -> (frame start, end) in the view's SQL; all exclude the label's own departure minute
    "h1": ("INTERVAL '1 hour' PRECEDING", "CURRENT ROW EXCLUDE GROUP"),
    "d1": ("INTERVAL '1 day' PRECEDING", "CURRENT ROW EXCLUDE GROUP"),
    "d7": ("INTERVAL '7 days' PRECEDING", "CURRENT ROW EXCLUDE GROUP"),
    "d30": ("INTERVAL '30 days' PRECEDING", "CURRENT ROW EXCLUDE GROUP"),
    "life": ("UNBOUNDED PRECEDING", "CURRENT ROW EXCLUDE GROUP"),
}
HAND_START = {"h1": "INTERVAL 1 HOUR PRECEDING", "d1": "INTERVAL 1 DAY PRECEDING", "d7": "INTERVAL 7 DAYS PRECEDING",
              "d30": "INTERVAL 30 DAYS PRECEDING", "life": "UNBOUNDED PRECEDING"}

# view -> (entity, [(feature, SQL aggregate over the window, window)]); `*` counts rows
VIEWS: dict[str, tuple[list[str], list[tuple[str, str, str]]]] = {
    "origin_hourly": (["origin"], [("n_1h", "COUNT(*)", "h1"), ("dep_avg_1h", "AVG(dep_delay)", "h1"),
                                   ("dep_max_1h", "MAX(dep_delay)", "h1")]),
    "origin_daily": (["origin"], [("n_1d", "COUNT(*)", "d1"), ("dep_avg_1d", "AVG(dep_delay)", "d1"),
                                  ("dep_sd_1d", "STDDEV_SAMP(dep_delay)", "d1"),
                                  ("late_1d", "COUNT(*) FILTER (WHERE dep_delay > 60)", "d1"),
                                  ("dep_max_1d", "MAX(dep_delay)", "d1")]),
    "origin_history": (["origin"], [("arr_avg_7d", "AVG(arr_delay)", "d7"), ("n_life", "COUNT(*)", "life"),
                                    ("arr_avg_life", "AVG(arr_delay)", "life")]),
    "carrier_daily": (["carrier"], [("n_1d", "COUNT(*)", "d1"), ("arr_avg_1d", "AVG(arr_delay)", "d1"),
                                    ("cancelled_1d", "COUNT(*) FILTER (WHERE cancelled)", "d1")]),
    "carrier_monthly": (["carrier"], [("arr_avg_30d", "AVG(arr_delay)", "d30"),
                                      ("arr_var_30d", "VAR_POP(arr_delay)", "d30"), ("n_life", "COUNT(*)", "life")]),
    "tail_history": (["tailnum"], [("n_7d", "COUNT(*)", "d7"), ("arr_avg_7d", "AVG(arr_delay)", "d7"),
                                   ("dep_max_7d", "MAX(dep_delay)", "d7"), ("n_life", "COUNT(*)", "life")]),
    "route_weekly": (["origin", "dest"], [("n_7d", "COUNT(*)", "d7"), ("air_avg_7d", "AVG(air_time)", "d7"),
                                          ("arr_min_7d", "MIN(arr_delay)", "d7")]),
    "dest_daily": (["dest"], [("n_1d", "COUNT(*)", "d1"), ("arr_avg_1d", "AVG(arr_delay)", "d1")]),
    "origin_carrier_daily": (["origin", "carrier"], [("n_1d", "COUNT(*)", "d1"),
                                                     ("dep_avg_1d", "AVG(dep_delay)", "d1"),
                                                     ("dep_max_1d", "MAX(dep_delay)", "d1")]),
    "carrier_distance": (["carrier"], [("dist_sum_7d", "SUM(distance)", "d7"),
                                       ("dist_avg_life", "AVG(distance)", "life")]),
}

SOURCE = """sources:
  - name: flights
    timestamp: ts
    unique_key: [flight_id]
    columns:
      - {name: flight_id, type: text}
      - {name: origin, type: text}
      - {name: dest, type: text}
      - {name: carrier, type: text}
      - {name: tailnum, type: text}
      - {name: dep_delay, type: double precision}
      - {name: arr_delay, type: double precision}
      - {name: air_time, type: double precision}
      - {name: distance, type: integer}
      - {name: cancelled, type: boolean}
      - {name: late, type: boolean}
      - {name: ts, type: timestamptz}
    batch: {path: data/flights.parquet}
"""


def view_sql(name: str) -> str:
    entity, feats = VIEWS[name]
    used = sorted({w for _, _, w in feats})
    cols = ",\n  ".join(f"{agg} OVER {w} AS {f}" for f, agg, w in feats)
    wins = ",\n       ".join(f"{w} AS (PARTITION BY {', '.join(entity)} ORDER BY ts RANGE BETWEEN "
                             f"{WINDOWS[w][0]} AND {WINDOWS[w][1]})" for w in used)
    return f"SELECT flight_id, {', '.join(entity)}, ts,\n  {cols}\nFROM {{{{ source('flights') }}}}\nWINDOW {wins}\n"


def model_yml() -> str:
    feats = "\n".join(f"      - view: {v}" for v in VIEWS)
    return f"""models:
  - name: delays
    label: {{source: flights, column: late}}
    features:
{feats}
    objective: binary
"""


def hand_sql(events: str) -> str:
    """What a skilled engineer writes in DuckDB for the same training set: labels numbered; per
    view the labels' rows (times 1 µs before the label) unioned with the events, windows without
    the events at that time (EXCLUDE GROUP, as the views), joined back."""
    ctes = [f"labels AS (SELECT *, ROW_NUMBER() OVER (ORDER BY ts, flight_id) AS sid FROM {events})"]
    select, joins = ["l.sid", "l.flight_id", "l.late"], []
    for i, (name, (entity, feats)) in enumerate(VIEWS.items()):
        k = ", ".join(entity)
        cols = ", ".join(sorted({c for _, agg, _ in feats for c in ("dep_delay", "arr_delay", "air_time", "distance",
                                                                   "cancelled") if c in agg}))
        nulls = ", ".join(f"NULL AS {c}" for c in cols.split(", ")) if cols else ""
        used = sorted({w for _, _, w in feats})
        # the label row is a peer of events at its read time: EXCLUDE GROUP leaves them out (DuckDB
        # evaluates EXCLUDE with its segment trees; a frame ending 1 µs before is 2-10x slower)
        win = ", ".join(f"{w} AS (PARTITION BY {k} ORDER BY t RANGE BETWEEN {HAND_START[w]} AND "
                        f"CURRENT ROW EXCLUDE GROUP)" for w in used)
        fs = []
        for f, agg, w in feats:
            agg = agg.replace("COUNT(*)", "COUNT(ev)")
            fs.append(f"{agg} OVER {w} AS {f}")
        ctes.append(f"v{i} AS (SELECT sid, {', '.join(fs)} FROM ("
                    f"SELECT {k}, ts AS t, 1 AS ev, {cols + ', ' if cols else ''}NULL::BIGINT AS sid FROM {events} "
                    f"UNION ALL SELECT {k}, ts - INTERVAL 1 MICROSECOND, NULL, {nulls + ', ' if nulls else ''}sid "
                    f"FROM labels) WINDOW {win} QUALIFY sid IS NOT NULL)")
        select += [f"v{i}.{f} AS {name}__{f}" for f, _, _ in feats]
        joins.append(f"LEFT JOIN v{i} USING (sid)")
    return f"WITH {', '.join(ctes)} SELECT {', '.join(select)} FROM labels l {' '.join(joins)}"


def make_data(n: int, days: int, out: Path) -> Path:
    rng = np.random.default_rng(17)

    def zipf(k: int, size: int) -> np.ndarray:
        w = 1 / np.arange(1, k + 1) ** 1.1
        return rng.choice(k, size=size, p=w / w.sum())

    origin = rng.choice(3, size=n, p=[0.36, 0.33, 0.31])
    carrier, dest, tail = zipf(16, n), zipf(105, n), zipf(4000, n)
    minutes = np.sort(rng.integers(0, days * 1440, size=n))
    ts = minutes * 60_000_000 + 1_735_689_600_000_000  # from 2025-01-01 (in the past), whole minutes
    base = rng.gamma(1.2, 12, size=n) - 8 + (carrier % 5) * 2 + origin * 3
    cancelled = rng.random(n) < 0.02
    dep = np.round(base, 0)
    arr = np.round(dep + rng.normal(-5, 12, size=n), 0)
    events = pa.table({
        "flight_id": pa.array([f"F{i:07d}" for i in range(n)]),
        "origin": pa.array(np.array(["EWR", "JFK", "LGA"])[origin]),
        "dest": pa.array([f"D{d:03d}" for d in dest]),
        "carrier": pa.array([f"C{c:02d}" for c in carrier]),
        "tailnum": pa.array([f"N{t:04d}" for t in tail]),
        "dep_delay": pa.array(dep, mask=cancelled),
        "arr_delay": pa.array(arr, mask=cancelled),
        "air_time": pa.array(np.round(rng.normal(120, 60, size=n).clip(20), 0), mask=cancelled),
        "distance": pa.array((rng.integers(80, 2600, size=n)).astype(np.int32)),
        "cancelled": pa.array(cancelled),
        "late": pa.array(~cancelled & (arr > 15)),
        "ts": pa.array(ts).cast(pa.timestamp("us", tz="UTC")),
    })
    path = out / "flights.parquet"
    pq.write_table(events, path)
    return path


def write_project(root: Path, events: Path) -> None:
    for sub in ("features", "sources", "data", "models"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "skewless_project.yml").write_text("name: flights\nbatch_dialects: [duckdb, postgres]\n")
    (root / "sources" / "flights.yml").write_text(SOURCE)
    (root / "models" / "delays.yml").write_text(model_yml())
    for name in VIEWS:
        (root / "features" / f"{name}.sql").write_text(view_sql(name))
    shutil.copy(events, root / "data" / "flights.parquet")


def differing(hand: pa.Table, ours: pa.Table) -> tuple[int, list]:
    from skewless.runtime.table_compare import compare_tables

    ours = ours.rename_columns(["sid" if c == "__spine_id" else c for c in ours.column_names])
    cols = [c for c in hand.column_names if c not in ("late",)]
    got = compare_tables(hand.select(cols), ours.select(cols), ["sid"], 5)
    if got is None:
        raise SystemExit("tables cannot be compared columnwise (rows missing?)")
    sample, _, cells = got
    return cells, sample


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--postgres", action="store_true", help="also build the training set on Postgres")
    parser.add_argument("--parity", action="store_true",
                        help="also time `skewless parity` and its paths (stream, DuckDB; the views' own SQL on "
                             "DuckDB as the oracle)")
    parser.add_argument("--parity-postgres", action="store_true",
                        help="parity with Postgres too (its compiled SQL, and the oracle: Postgres restarts every "
                             "row's aggregate under EXCLUDE — lifetime frames on dense keys take hours)")
    parser.add_argument("--keep", help="keep the project in this directory")
    args = parser.parse_args()

    import duckdb

    from skewless import Project

    tmp = Path(args.keep or tempfile.mkdtemp(prefix="skewless-flights-"))
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        events = make_data(args.events, args.days, tmp)
        root = tmp / "p"
        write_project(root, events)
        project = Project(root)
        assert not [d for d in project.validate() if d.severity == "error"], project.validate()
        counts = pq.read_table(events, columns=["origin"]).group_by("origin").aggregate([([], "count_all")])
        n_features = sum(len(f) for _, f in VIEWS.values())
        print(f"{args.events:,} events over {args.days} days, busiest key {max(counts['count_all'].to_pylist()):,} "
              f"events; {args.events:,} labels; {len(VIEWS)} views, {n_features} features (EXCLUDE GROUP frames)")

        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        start = time.perf_counter()
        hand = con.sql(hand_sql(f"read_parquet('{root / 'data' / 'flights.parquet'}')")).to_arrow_table()
        t_hand = time.perf_counter() - start
        con.close()
        print(f"DuckDB hand-written query: {t_hand:7.1f} s")

        start = time.perf_counter()
        ours = project.training_set("delays", engine="duckdb")
        t_duck = time.perf_counter() - start
        cells, sample = differing(hand, ours)
        print(f"skewless on DuckDB:        {t_duck:7.1f} s = {t_duck / t_hand:.2f}x hand-written (goal <= 1.2x; "
              f"<= 60 s); cells differing: {cells} {sample[:2] if sample else ''}")
        if args.postgres:
            from skewless.runtime.pg_local import throwaway_cluster

            with throwaway_cluster() as dsn:
                start = time.perf_counter()
                pg = project.training_set("delays", engine="postgres", dsn=dsn)
                t_pg = time.perf_counter() - start
                cells, sample = differing(hand, pg)
                print(f"skewless on Postgres:      {t_pg:7.1f} s = {t_pg / t_duck:.1f}x DuckDB (goal <= 5x); "
                      f"cells differing: {cells} {sample[:2] if sample else ''}")
                if args.parity_postgres:
                    parity(root, dsn)
        if args.parity_postgres and not args.postgres:
            from skewless.runtime.pg_local import throwaway_cluster

            with throwaway_cluster() as dsn:
                parity(root, dsn)
        if args.parity:  # the oracle on DuckDB (see --help)
            parity(root, None)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


def parity(root: Path, dsn: str | None) -> None:
    """Each path parity runs, alone, then parity itself (without ``dsn``: DuckDB paths only, the
    views' own SQL on DuckDB)."""
    from _example import parity_paths, time_parity

    from skewless.compiler.project.build import build_project
    from skewless.compiler.project.loader import load_project

    compiled = build_project(load_project(root))
    paths = parity_paths(compiled, sorted(compiled.views), dsn, root / "target" / "bench_stream")
    for name, secs in paths.items():
        print(f"  {name:26s} {secs:7.1f} s", flush=True)
    total, proc = time_parity(root, *(["--postgres", dsn] if dsn else []))
    print(proc.stdout[-2000:], proc.stderr[-2000:])
    print(f"parity (every path + comparison): {total:7.1f} s = {total / max(paths.values()):.2f}x the slowest "
          f"path (goal <= 3x); exit {proc.returncode}")


if __name__ == "__main__":
    main()
