"""Nothing we run drops or rewrites a table it did not create: batch jobs against a Postgres that
holds the user's own tables (same names as the project's sources and views) leave every one of
them byte-for-byte as it was, read the user's table where the source is bound to it, and create
nothing outside their temporary schema."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pyarrow.parquet as pq
import pytest

from skewless.runtime.datagen import GenConfig, generate, write_all

pytestmark = [pytest.mark.postgres, pytest.mark.faults]
EXAMPLE = Path(__file__).parents[2] / "features"
TX_COLUMNS = ("txn_id text, user_id text, merchant_id text, card_id text, amount double precision, currency text, "
              "status text, country text, ts timestamptz")


def _run(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "skewless.runtime.cli", "--project", str(project), *args],
                          capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"}, timeout=600)


def _fingerprint(conn) -> dict:
    """Every relation outside temporary schemas with a digest of its contents."""
    rels = conn.execute("""SELECT n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                           WHERE n.nspname NOT LIKE 'pg_%' AND n.nspname <> 'information_schema' AND c.relkind IN ('r', 'v', 'm')
                           ORDER BY 1, 2""").fetchall()
    out = {}
    for schema, name, kind in rels:
        q = psycopg.sql.SQL("SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {}.{} t").format(
            psycopg.sql.Identifier(schema), psycopg.sql.Identifier(name))
        out[(schema, name, kind)] = conn.execute(q).fetchone()
    return out


@pytest.fixture
def user_db(pg_dsn):
    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS userdata")  # our own scratch database in the test cluster
        admin.execute("CREATE DATABASE userdata")
    dsn = pg_dsn.rsplit("/", 1)[0] + "/userdata"
    yield dsn
    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS userdata WITH (FORCE)")


def test_batch_jobs_read_user_tables_and_never_write_them(tmp_path, user_db):
    root = tmp_path / "features"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("target", "data"))
    write_all(generate(GenConfig(events=3000, days=2, seed=5, late_rate=0.0)), root / "data")
    events = pq.read_table(root / "data" / "transactions.parquet").slice(0, 700).to_pylist()
    with psycopg.connect(user_db, autocommit=True) as conn:
        # the user's own tables: the source's table (700 rows, not the 3,000 of the local file), a
        # table named like a view, and one named like the labels source but with another schema
        conn.execute(f"CREATE TABLE transactions ({TX_COLUMNS})")
        with conn.cursor() as cur, cur.copy("COPY transactions FROM STDIN") as copy:
            for r in events:
                copy.write_row([r[c] for c in ("txn_id", "user_id", "merchant_id", "card_id", "amount", "currency",
                                               "status", "country", "ts")])
        conn.execute("CREATE TABLE user_velocity (note text)")
        conn.execute("INSERT INTO user_velocity VALUES ('keep me')")
        conn.execute("CREATE SCHEMA analytics")
        conn.execute("CREATE TABLE analytics.labels (note text)")
        conn.execute("INSERT INTO analytics.labels VALUES ('mine')")
        before = _fingerprint(conn)

    out = tmp_path / "bf"
    proc = _run(root, "backfill", "--engine", "postgres", "--dsn", user_db, "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # transactions: the user's table was read (700 rows), not replaced by the file (3,000)
    assert pq.read_table(out / "user_velocity.parquet").num_rows == 700

    # labels has no table in the database: its file is loaded into a temporary table
    ts = tmp_path / "ts.parquet"
    proc = _run(root, "training-set", "fraud", "--engine", "postgres", "--dsn", user_db, "--out", str(ts))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert pq.read_table(ts).num_rows == 3000

    proc = _run(root, "parity", "--engine", "postgres", "--dsn", user_db)
    assert "Traceback" not in proc.stderr

    with psycopg.connect(user_db, autocommit=True) as conn:
        assert _fingerprint(conn) == before


def test_a_bound_table_without_the_declared_columns_is_refused_by_name(tmp_path, user_db):
    root = tmp_path / "features"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("target", "data"))
    write_all(generate(GenConfig(events=500, days=1, seed=6, late_rate=0.0)), root / "data")
    with psycopg.connect(user_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE transactions (note text)")
        conn.execute("INSERT INTO transactions VALUES ('precious')")
        before = _fingerprint(conn)
    proc = _run(root, "backfill", "--engine", "postgres", "--dsn", user_db, "--out", str(tmp_path / "bf"))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "table 'transactions' does not have the declared columns" in proc.stderr
    assert "Traceback" not in proc.stderr
    with psycopg.connect(user_db, autocommit=True) as conn:
        assert _fingerprint(conn) == before


def test_the_profile_schema_is_the_search_path_and_files_go_to_temporary_tables(user_db):
    import pyarrow as pa

    from skewless.runtime.engines import PostgresEngine

    with psycopg.connect(user_db, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA analytics")
        conn.execute("CREATE TABLE analytics.events (x int)")
        conn.execute("INSERT INTO analytics.events VALUES (1), (2)")
        conn.execute("CREATE TABLE public.events (x int)")
        before = _fingerprint(conn)
    engine = PostgresEngine(user_db, schema="analytics")
    try:
        assert engine.has_table("events")
        assert engine.query("SELECT count(*) AS n FROM events").to_pylist() == [{"n": 2}]
        engine.register("events", pa.table({"x": [7]}), {"x": "integer"})   # shadows, for this session only
        assert engine.query("SELECT x FROM events").to_pylist() == [{"x": 7}]
        assert not engine.has_table("events")   # ours now: never to be read as the user's
        engine.register("events", pa.table({"x": [8, 9]}), {"x": "integer"})  # replaces only our temp table
        assert engine.query("SELECT count(*) AS n FROM events").to_pylist() == [{"n": 2}]
    finally:
        engine.close()
    with psycopg.connect(user_db, autocommit=True) as conn:
        assert _fingerprint(conn) == before
