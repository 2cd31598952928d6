"""Shared parts of the fault suite: a small project over one source ``tx`` whose views' columns are
single aggregates (so the as-of definition can be written as lateral SQL for Postgres), event and
poison generators, the Postgres oracles (the views' own SQL per event; lateral SQL for store
reads), and a TCP proxy that can cut a component off (outages)."""

from __future__ import annotations

import json
import math
import random
import select
import socket
import threading
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path


from skewless.compiler.project.build import CompiledProject, build_project
from skewless.compiler.project.loader import load_project
from skewless.runtime.stream.online import read_as_of
from skewless.runtime.values import same
from tests.support.lateral import lateral_sql

BASE = datetime(2026, 10, 1, tzinfo=timezone.utc)
COLUMNS = {"txn_id": "text", "user_id": "text", "amount": "double precision", "n": "integer",
           "q": "numeric(12,2)", "status": "text", "ts": "timestamptz"}
W1H = "PARTITION BY user_id ORDER BY ts RANGE BETWEEN INTERVAL '1 hour' PRECEDING AND CURRENT ROW"
VIEWS = {
    "v_range": f"""SELECT txn_id, user_id, ts,
  COUNT(*) OVER w AS c, SUM(amount) OVER w AS s, AVG(amount) OVER w AS a, MAX(amount) OVER w AS mx,
  MIN(q) OVER w AS mq, SUM(n) OVER w AS sn, COUNT(*) FILTER (WHERE status = 'ok') OVER w AS c_ok
FROM {{{{ source('tx') }}}}
WINDOW w AS ({W1H})
""",
    "v_rows": """SELECT txn_id, user_id, ts,
  SUM(amount) OVER (PARTITION BY user_id ORDER BY ts, txn_id ROWS BETWEEN 4 PRECEDING AND CURRENT ROW) AS s5,
  COUNT(n) OVER (PARTITION BY user_id ORDER BY ts, txn_id ROWS BETWEEN 9 PRECEDING AND CURRENT ROW) AS c10,
  LAG(amount) OVER (PARTITION BY user_id ORDER BY ts, txn_id) AS prev
FROM {{ source('tx') }}
""",
    "v_day": """SELECT txn_id, user_id, ts,
  SUM(amount) OVER (PARTITION BY user_id ORDER BY ts RANGE BETWEEN INTERVAL '1 day' PRECEDING AND CURRENT ROW EXCLUDE CURRENT ROW) AS s1d,
  MAX(n) OVER (PARTITION BY user_id ORDER BY ts RANGE BETWEEN INTERVAL '10 minutes' PRECEDING AND CURRENT ROW EXCLUDE GROUP) AS mx10
FROM {{ source('tx') }}
""",
}
DIV_VIEW = """SELECT txn_id, user_id, ts,
  SUM(amount) OVER (PARTITION BY user_id ORDER BY ts RANGE BETWEEN INTERVAL '1 day' PRECEDING AND CURRENT ROW) AS s1d
FROM {{ source('tx') }}
WHERE 100 / n > 1
"""


def make_project(root: Path, *, topic: str = "tx", follow: bool = False, profile_extra: str = "",
                 views: dict[str, str] | None = None, lateness: str = "1m") -> Path:
    for sub in ("features", "sources", "data"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "skewless_project.yml").write_text(f"name: faults\nallowed_lateness: {lateness}\n"
                                               "batch_dialects: [postgres]\n")
    cols = "".join(f"      - {{name: {c}, type: \"{t}\"}}\n" for c, t in COLUMNS.items())
    (root / "sources" / "tx.yml").write_text(
        "sources:\n  - name: tx\n    timestamp: ts\n    unique_key: [txn_id]\n    columns:\n" + cols
        + f"    stream: {{file: data/tx.jsonl, topic: {topic}}}\n")
    (root / "profiles.yml").write_text("faults:\n  target: dev\n  targets:\n    dev:\n"
                                       "      online: {store: sqlite, path: target/online.sqlite}\n"
                                       f"      stream: {{kind: file, follow: {str(follow).lower()}}}\n" + profile_extra)
    for name, sql in (views or VIEWS).items():
        (root / "features" / f"{name}.sql").write_text(sql)
    return root


def compile_project(root: Path) -> CompiledProject:
    compiled = build_project(load_project(root))
    assert not compiled.diagnostics, [d.format() for d in compiled.diagnostics]
    return compiled


def good_events(n: int, users: int, seed: int, start: datetime = BASE) -> list[dict]:
    """In arrival order, out of order by less than the lateness (1 minute); ties on ts."""
    rnd = random.Random(seed)
    t, rows = 0.0, []
    for i in range(n):
        t += rnd.choice([0, 0.5, 1, 7, 30, 60, 200, 900])
        rows.append({"txn_id": f"t{i:07d}", "user_id": f"u{rnd.randrange(users):04d}",
                     "amount": rnd.choice([None, 1.5, 2.25, 10.0, 99.5, -3.0, 1000.0]),
                     "n": rnd.choice([None, 1, 2, 3, 5, 40, -8]), "q": rnd.choice([None, "0.10", "12.34", "-5.00"]),
                     "status": rnd.choice(["ok", "bad", None, "Straße"]), "ts": start + timedelta(seconds=t)})
    for i in range(len(rows) - 1):
        if rnd.random() < 0.2 and (rows[i + 1]["ts"] - rows[i]["ts"]).total_seconds() < 30:
            rows[i], rows[i + 1] = rows[i + 1], rows[i]
    return rows


def line(row: dict) -> bytes:
    return json.dumps({k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}).encode()


def poison(first: datetime, last: datetime) -> list[tuple[str, bytes, str | None]]:
    """(category, raw line, None). ``kept`` events are valid (Postgres reads them): they stay in the
    oracle. ``__TS__`` / ``__EPOCH__`` become the time of the good event before the insertion point
    (an event dated ahead of its neighbours would make the events after it late, by definition)."""
    ok = {"user_id": "u9999", "amount": 1.0, "n": 1, "q": "1.00", "status": "ok", "ts": "__TS__"}

    def ev(i, **kw):
        return json.dumps({"txn_id": f"p{i:04d}", **ok, **kw})

    raw = [
        ("invalid JSON", b"{not json"), ("invalid JSON", b"[" * 100_000 + b"]" * 100_000),
        ("invalid JSON", b'{"txn_id": ' + b"9" * 5000 + b"}"), ("not a JSON object", b"[1, 2]"),
        ("invalid UTF-8", b'{"txn_id": "\xff\xfe"}'),
        ("column", ev(1, amount=1).replace('"amount": 1', '"amount": 1e999').encode()),
        ("column", ev(2, amount=1).replace('"amount": 1', '"amount": 1e-400').encode()),
        ("column", ev(3, n=1.5).encode()), ("column", ev(4, n=2147483648).encode()), ("column", ev(5, n="abc").encode()),
        ("column", ev(6, q=1).replace('"q": 1', '"q": 1e999').encode()), ("column", ev(7, ts=1e18).encode()),
        ("column", ev(8, ts="2026-13-45").encode()), ("column", ev(9, status="a\u0000b").encode()),
        ("column", ev(10).replace('"status": "ok"', '"status": "\\ud800"').encode()),
        ("missing timestamp", ev(11, ts=None).encode()),
        ("future", ev(12, ts="2099-01-01T00:00:00Z").encode()),
        ("kept", ev(13, user_id="u_nan", amount=1).replace('"amount": 1', '"amount": NaN').encode()),
        ("kept", ev(14, user_id="u_nan", amount=1).replace('"amount": 1', '"amount": Infinity').encode()),
        ("kept", ev(15, user_id="u_nan", amount="-inf").encode()),
        ("kept", ev(16, user_id="u_obj", status={"x": 1}).encode()),
        ("kept", ev(17, user_id="u_epoch").replace('"__TS__"', "__EPOCH__").encode()),
        ("evaluation", ev(18, user_id="u_div", n=0).encode()),
        ("overflow", ev(19, user_id="u_ovf", amount=1.7e308).encode()),
        ("overflow", ev(20, user_id="u_ovf", amount=1.7e308).encode()),
    ]
    out = [(cat, r, None) for cat, r in raw]
    out.append(("late", ev(21, ts=(first - timedelta(days=1)).isoformat()).encode(), None))
    return out


def mix(good: list[dict], bad: list[tuple[str, bytes, str | None]], seed: int) -> list[bytes]:
    """Poison spread through the good events; late events at the end (behind every partition)."""
    rnd = random.Random(seed)
    lines = [line(r) for r in good]
    stamps = [r["ts"] for r in good]
    pair_at = None
    for cat, raw, _ in bad:
        if cat != "late":
            at = rnd.randrange(len(lines) // 2, len(lines))
            if cat == "overflow":  # the overflowing pair side by side: in every frame together
                pair_at = at = pair_at or at
            ts = stamps[at - 1]  # not ahead of the events around it
            raw = raw.replace(b"__TS__", ts.isoformat().encode()).replace(b"__EPOCH__", repr(ts.timestamp()).encode())
            lines.insert(at, raw)
            stamps.insert(at, ts)
    return lines + [raw for cat, raw, _ in bad if cat == "late"]


# --- oracles ---------------------------------------------------------------------------------

def load_pg(conn, rows: list[dict], table: str = "tx") -> None:
    conn.execute(f"DROP TABLE IF EXISTS {table}")  # the suite's own table in its own throwaway cluster
    conn.execute(f"CREATE TABLE {table} (" + ", ".join(f'"{c}" {t}' for c, t in COLUMNS.items()) + ")")
    with conn.cursor() as cur, cur.copy(f"COPY {table} FROM STDIN") as copy:
        for r in rows:
            copy.write_row([r[c] for c in COLUMNS])
    conn.execute(f"CREATE INDEX ON {table} (user_id, ts)")
    conn.execute(f"ANALYZE {table}")


def read_jsonl(path: Path, kills: int = 0) -> list[dict]:
    """An append-only JSON-lines output. A process killed inside a write leaves one torn line
    (sealed by the next start): at most ``kills`` lines that are not JSON are allowed, each the
    prefix of an object (its rows are written again after recovery)."""
    out, torn = [], 0
    for text in path.read_text().splitlines():
        if not text.strip():
            continue
        try:
            out.append(json.loads(text))
        except json.JSONDecodeError:
            torn += 1
            assert torn <= kills and text.startswith("{"), (path, text)
    return out


def per_event_rows(out_dir: Path, view: str, kills: int = 0) -> tuple[dict[str, dict], int]:
    """The run's per-event rows (at least once): by txn_id, and how many were repeats. Repeats
    must be identical (a replay after a crash recomputes the same values)."""
    rows: dict[str, dict] = {}
    repeats = 0
    for path in sorted(out_dir.glob(f"{view}.*.jsonl")):
        for r in read_jsonl(path, kills):
            if r["txn_id"] in rows:
                repeats += 1
                assert _same_row(rows[r["txn_id"]], r), (view, rows[r["txn_id"]], r)
            rows[r["txn_id"]] = r
    return rows, repeats


def _same_row(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(same(_num(a[k]), _num(b[k]), 1e12) for k in a)


def _num(v):
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, datetime):
        return v.isoformat()
    return v


def compare_per_event(conn, compiled: CompiledProject, view: str, got: dict[str, dict],
                      skip_users: set[str] = frozenset()) -> list[str]:
    """The view's own SQL on Postgres (over table tx) against the stream's per-event rows."""
    v = compiled.views[view]
    cur = conn.execute(compiled.views[view].sql)
    names = [d.name for d in cur.description]
    expected = {r[0]: dict(zip(names, r)) for r in cur.fetchall() if dict(zip(names, r))["user_id"] not in skip_users}
    got = {k: r for k, r in got.items() if r.get("user_id") not in skip_users}
    problems = []
    if expected.keys() != got.keys():
        problems.append(f"{view}: rows missing {sorted(expected.keys() - got.keys())[:5]} "
                        f"extra {sorted(got.keys() - expected.keys())[:5]}")
    feature_cols = [c.name for c in v.columns if c.kind == "feature"]
    for k in sorted(expected.keys() & got.keys()):
        for c in feature_cols:
            e, g = _num(expected[k][c]), got[k].get(c)
            if not same(e, g, 1e12):
                problems.append(f"{view} {k} {c}: Postgres {e!r}, stream {g!r}")
    return problems[:10]


def compare_store(conn, compiled: CompiledProject, store, views: list[str], users: list[str],
                  last_ts: dict[str, datetime]) -> tuple[int, list[str]]:
    """Online reads from ``store`` for every user, at its latest event, 1 µs and 1 h + 1 µs later,
    against the as-of definition as lateral SQL on Postgres."""
    after = [timedelta(0), timedelta(microseconds=1), timedelta(hours=1, microseconds=1)]
    spine = [(u, last_ts[u] + d, i) for i, (u, d) in enumerate((u, d) for u in users for d in after)]
    conn.execute("DROP TABLE IF EXISTS spine")
    conn.execute("CREATE TABLE spine (user_id text, __t timestamptz, __spine_id bigint)")
    with conn.cursor() as cur, cur.copy("COPY spine FROM STDIN") as copy:
        for row in spine:
            copy.write_row(row)
    problems, reads = [], 0
    for name in views:
        view = compiled.views[name]
        single = {c.name: view.aggregate(c.aggregates[0]) for c in view.columns
                  if c.kind == "feature" and c.expr == f"__{c.aggregates[0]}"}
        # keys are never NULL here: equality (indexable) instead of IS NOT DISTINCT FROM
        lateral = [lateral_sql(view, agg).replace('e."user_id" IS NOT DISTINCT FROM s."user_id"', 'e."user_id" = s."user_id"')
                   for agg in single.values()]
        cur = conn.execute("SELECT s.__spine_id, " + ", ".join(f'{sql} AS "{col}"' for sql, col in zip(lateral, single))
                           + " FROM spine s")
        oracle = {r[0]: dict(zip(single, r[1:])) for r in cur.fetchall()}
        for user, t, sid in spine:
            got = read_as_of(store, view, [user], t)
            reads += 1
            for col in single:
                if not same(_num(oracle[sid][col]), _num(got[col]), 1e12):
                    problems.append(f"{name} {user} @ {t.isoformat()} {col}: Postgres {oracle[sid][col]!r}, "
                                    f"store {got[col]!r}")
    return reads, problems[:10]


def dead_letter_reasons(path: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    if not path.exists():
        return counts
    for text in path.read_text().splitlines():
        if text.strip():
            reason = json.loads(text)["reason"]
            key = reason.split(":")[0] if not reason.startswith("column") else "column: " + reason.split(": ", 1)[1][:40]
            key = "view " + reason.split(": ", 1)[1].split(" (")[0][:40] if reason.startswith("view ") else key
            counts[key] = counts.get(key, 0) + 1
    return counts


def is_nan(v) -> bool:
    return isinstance(v, float) and math.isnan(v)


# --- outages ---------------------------------------------------------------------------------

class Proxy:
    """A loopback TCP proxy to ``target_port``; ``cut()`` drops every connection and refuses new
    ones (the component is unreachable), ``restore()`` accepts again."""

    def __init__(self, target_port: int):
        self.target = ("127.0.0.1", target_port)
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(128)
        self.port = self.server.getsockname()[1]
        self.up = True
        self.conns: list[socket.socket] = []
        self.lock = threading.Lock()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.conns += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        socks = [a, b]
        try:
            while self.up and not self.closed:
                ready, _, _ = select.select(socks, [], [], 0.2)
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    (b if s is a else a).sendall(data)
        except OSError:
            pass
        finally:
            for s in socks:
                try:
                    s.close()
                except OSError:
                    pass

    def cut(self) -> None:
        self.up = False
        with self.lock:
            for s in self.conns:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            self.conns = []

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self.closed = True
        self.cut()
        self.server.close()
