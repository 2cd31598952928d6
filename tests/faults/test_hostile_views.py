"""The hostile-view corpus (tests/faults/hostile_views.py, 200+ files): 0 tracebacks, 0 internal
errors, every refusal a ``path:line:col`` diagnostic, and 0 accepted views that Postgres refuses —
each accepted view runs on Postgres (empty table: plan-time refusals) and its stream and batch
results equal Postgres's on events (the differential fuzzer's `check`)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import duckdb
import psycopg
import pytest

from skewless.compiler.errors import SkewlessError
from skewless.compiler.project.build import build_project
from skewless.compiler.project.loader import load_project
from tests.fuzz.test_differential import PROJECT, SOURCES, check
from tests.fuzz.views import COLUMNS

from .hostile_views import corpus

pytestmark = [pytest.mark.faults, pytest.mark.postgres]
CORPUS = corpus()
DIAG = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): error: \S")
ACCEPTED: dict[str, str] = {}
OUTCOME: Counter = Counter()


def _project(root: Path, files: list[tuple[str, str | bytes]]) -> Path:
    for sub in ("features", "sources", "data"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "skewless_project.yml").write_text(PROJECT)
    (root / "sources" / "tx.yml").write_text(SOURCES)
    for name, content in files:
        path = root / "features" / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return root


def test_corpus_is_large_enough():
    assert len(CORPUS) >= 100


@pytest.mark.parametrize("name,content", CORPUS, ids=[f"{i}" for i in range(len(CORPUS))])
def test_hostile_view_is_refused_with_a_position_or_accepted(tmp_path, pg_dsn, name, content):
    root = _project(tmp_path / "p", [(name, content)])
    try:
        compiled = build_project(load_project(root))
    except SkewlessError as exc:  # project-level refusal: still diagnostics
        diags = exc.diagnostics
        compiled = None
    else:
        diags = compiled.diagnostics
    for d in diags:
        assert DIAG.match(d.format()), d.format()
        assert "internal compiler error" not in d.message, d.format()
    if compiled is not None and compiled.views:
        (view_name,) = compiled.views
        sql = compiled.views[view_name].sql
        if any(a.func == "count_distinct" for a in compiled.views[view_name].aggregates):
            # Postgres cannot run COUNT(DISTINCT) OVER at all: DuckDB is the oracle for it
            duck = duckdb.connect()
            duck.execute("CREATE TABLE tx (" + ", ".join(
                f'"{c}" {t.replace("double precision", "DOUBLE")}' for c, t in COLUMNS.items()) + ")")
            duck.execute(sql).fetchall()
            duck.close()
        else:
            with psycopg.connect(pg_dsn, autocommit=True) as conn:
                conn.execute("CREATE TEMP TABLE tx (" + ", ".join(f'"{c}" {t}' for c, t in COLUMNS.items()) + ")")
                try:
                    conn.execute(sql).fetchall()
                except psycopg.Error as exc:
                    pytest.fail(f"{name!r} was accepted but Postgres refuses it: {exc}\n{sql}")
        ACCEPTED[name] = content.decode("utf-8-sig") if isinstance(content, bytes) else content
        OUTCOME["accepted (Postgres runs it)"] += 1
    else:
        assert diags, f"{name!r}: neither accepted nor refused"
        OUTCOME["refused with path:line:col"] += 1


def _events() -> list[dict]:
    base = datetime(2026, 3, 1, tzinfo=timezone.utc)
    rows = []
    for i in range(40):
        rows.append({"txn_id": f"t{i:03d}", "user_id": ["u1", "u2", None][i % 3], "merchant_id": ["m1", None][i % 2],
                     "amount": [1.5, -2.5, None, 100.0, float("nan")][i % 5], "n": [3, None, -7, 0][i % 4],
                     "q": [Decimal("1.25"), None, Decimal("-0.05")][i % 3], "status": ["ok", "bad", None, "Straße"][i % 4],
                     "flag": [True, False, None][i % 3], "ts": base + timedelta(minutes=7 * i + (i % 2))})
    return rows


def test_zz_accepted_hostile_views_equal_postgres(tmp_path, pg_dsn):
    """Every accepted view of the corpus, through the stream and the batch SQL, against Postgres."""
    if not ACCEPTED:
        pytest.skip("run with the corpus test")
    with psycopg.connect(pg_dsn, autocommit=True) as pg:
        problems = check(tmp_path / "accepted", pg, _events(), list(ACCEPTED.values()))
    print(f"\nhostile views: {len(CORPUS)} inputs, {dict(OUTCOME)}")
    assert not problems, "\n\n".join(problems[:5])


def test_the_cli_never_shows_a_traceback_on_the_whole_corpus(tmp_path):
    root = _project(tmp_path / "all", CORPUS)
    for command in ("validate", "compile"):
        proc = subprocess.run([sys.executable, "-m", "skewless.runtime.cli", "--project", str(root), command],
                              capture_output=True, text=True, timeout=600, env={"COLUMNS": "10000", "PATH": "/usr/bin:/bin"})
        assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
        assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr[-3000:]
        errors = [line for line in proc.stderr.splitlines() if ": error: " in line]
        assert errors and all(DIAG.match(line) for line in errors), [e for e in errors if not DIAG.match(e)][:5]
    assert not Path("/tmp/skewless_pwned").exists()


HOSTILE_YAML = {
    "deep": "sources: " + "[" * 50_000 + "]" * 50_000 + "\n",
    "deep_columns": "sources:\n  - name: x\n    columns: " + "[" * 500 + "]" * 500 + "\n",
    "laughs": "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
              "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
              "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\nsources: [*f]\n",
    "python_tag": "sources:\n  - name: !!python/object/apply:os.system ['touch /tmp/skewless_pwned']\n",
    "tabs": "sources:\n\t- name: x\n",
    "jinja_escape": "{{ cycler.__init__.__globals__.os.system('touch /tmp/skewless_pwned') }}\nsources: []\n",
    "latin1": "sources:\n  - name: caf\xe9\n",
    "nul": "sources:\n\x00",
    "not_a_mapping": "- 1\n- 2\n",
    "huge_duration": "sources:\n  - name: y\n    timestamp: ts\n    allowed_lateness: 99999999999999999999999d\n"
                     "    columns: [{name: ts, type: timestamptz}]\n",
}


@pytest.mark.parametrize("name", sorted(HOSTILE_YAML))
def test_hostile_source_files_are_diagnostics(tmp_path, name):
    root = _project(tmp_path / "p", [("v.sql", "SELECT txn_id, ts, COUNT(*) " + "OVER (PARTITION BY user_id ORDER BY ts)"
                                                 " AS c FROM {{ source('tx') }}\n")])
    text = HOSTILE_YAML[name]
    (root / "sources" / "bad.yml").write_bytes(text.encode("latin-1") if name == "latin1" else text.encode())
    proc = subprocess.run([sys.executable, "-m", "skewless.runtime.cli", "--project", str(root), "validate"],
                          capture_output=True, text=True, timeout=120, env={"COLUMNS": "10000", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    assert any(DIAG.match(line) and "bad.yml" in line for line in proc.stderr.splitlines()), proc.stderr
    assert not Path("/tmp/skewless_pwned").exists()


@pytest.mark.parametrize("vars_", ["{a: [", "[1, 2]", "a: *unknown", "{a: !!python/name:os.system}", "\t"])
def test_malformed_vars_are_diagnostics(tmp_path, vars_):
    root = _project(tmp_path / "p", [])
    proc = subprocess.run([sys.executable, "-m", "skewless.runtime.cli", "--project", str(root), "--vars", vars_,
                           "validate"], capture_output=True, text=True, timeout=120,
                          env={"COLUMNS": "10000", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith("--vars:"), proc.stderr
