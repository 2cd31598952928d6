"""Postgres online store (psycopg): batched upserts, one indexed lookup per read.

The connection is re-established with bounded exponential backoff (`runtime.retry`): a write
during an outage blocks its worker — the job holds its position, nothing is dropped — and goes
through once Postgres is back; a stop requested meanwhile ends the job with an error naming the
store (the next start rewrites the resumed states, so nothing is lost either). Reads retry for a
few seconds, then fail with the same message (serving answers 503)."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from ..retry import with_retry
from .base import StoredState, read_rows

COMPONENT = "online store (postgres)"
RETRYABLE = (psycopg.OperationalError, psycopg.InterfaceError)


class PostgresStore:
    def __init__(self, dsn: str, table_prefix: str = "skewless_", connect_timeout: float = 30.0,
                 read_timeout: float = 5.0):
        self.dsn, self.read_timeout = dsn, read_timeout
        self.table = sql.Identifier(f"{table_prefix}online")
        self.log = sql.Identifier(f"{table_prefix}pending")  # the keys' pending logs (stores/base.py)
        self.conn: Any = None  # psycopg.Connection once connected (reconnected after a drop)
        with_retry(self._connect, component=COMPONENT, retryable=RETRYABLE, give_up_after=connect_timeout)

    def _connect(self) -> None:
        if self.conn is not None and not self.conn.closed:
            return
        self.conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=5)
        self.conn.execute(sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} (view TEXT NOT NULL, entity TEXT NOT NULL, state BYTEA NOT NULL, "
            "tail BYTEA, last_event_us BIGINT NOT NULL, fingerprint TEXT NOT NULL, PRIMARY KEY (view, entity))"
        ).format(self.table))
        self.conn.execute(sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS tail BYTEA").format(self.table))
        self.conn.execute(sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} (view TEXT NOT NULL, entity TEXT NOT NULL, ts_us BIGINT NOT NULL, "
            "pos INTEGER NOT NULL, entry BYTEA NOT NULL, PRIMARY KEY (view, entity, ts_us, pos))").format(self.log))

    def _reconnect(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:  # noqa: BLE001 - the connection is already broken
                pass
            self.conn = None
        self._connect()

    def _run(self, fn, give_up_after: float | None):
        return with_retry(fn, component=COMPONENT, retryable=RETRYABLE, reconnect=self._reconnect,
                          give_up_after=give_up_after)

    def write(self, states: list[StoredState]) -> None:
        """One transaction: the records, then the logs emptied (whole states) or their final entries
        dropped, then the new entries."""
        rows = [(s.view, s.entity, s.state, s.tail, s.last_event_us, s.fingerprint) for s in states
                if s.state is not None]
        resets = [(s.view, s.entity) for s in states if not s.log_keep]
        drops = [(s.view, s.entity, s.log_upto) for s in states if s.log_keep and s.log_upto is not None]
        entries = [(s.view, s.entity, *e) for s in states for e in s.log]
        query = sql.SQL(
            "INSERT INTO {} (view, entity, state, tail, last_event_us, fingerprint) VALUES (%s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (view, entity) DO UPDATE SET state = EXCLUDED.state, tail = EXCLUDED.tail, "
            "last_event_us = EXCLUDED.last_event_us, fingerprint = EXCLUDED.fingerprint").format(self.table)
        reset = sql.SQL("DELETE FROM {} WHERE (view, entity) IN (SELECT * FROM unnest(%s::text[], %s::text[]))").format(
            self.log)
        drop = sql.SQL("DELETE FROM {} WHERE view = %s AND entity = %s AND ts_us <= %s").format(self.log)
        add = sql.SQL("INSERT INTO {} (view, entity, ts_us, pos, entry) VALUES (%s, %s, %s, %s, %s) "
                      "ON CONFLICT (view, entity, ts_us, pos) DO UPDATE SET entry = EXCLUDED.entry").format(self.log)

        def upsert():
            with self.conn.transaction(), self.conn.cursor() as cur:
                if rows:
                    cur.executemany(query, rows)
                if resets:
                    cur.execute(reset, ([v for v, _ in resets], [e for _, e in resets]))
                if drops:
                    cur.executemany(drop, drops)
                if entries:
                    cur.executemany(add, entries)
        self._run(upsert, None)  # idempotent: a retried batch upserts the same states and entries

    def read(self, view: str, entity: str, full: bool = False) -> StoredState | None:
        return self.read_many([(view, entity)], full).get((view, entity))

    def read_many(self, keys: list[tuple[str, str]], full: bool = False) -> dict[tuple[str, str], StoredState]:
        if not keys:
            return {}
        views, entities = list(zip(*keys))
        # the records and their log entries in one statement: one snapshot of both
        query = sql.SQL("SELECT 0, view, entity, state, last_event_us, fingerprint, {} FROM {} "
                        "WHERE (view, entity) IN (SELECT * FROM unnest(%s::text[], %s::text[])) UNION ALL "
                        "SELECT 1, view, entity, entry, ts_us, pos::text, NULL FROM {} "
                        "WHERE (view, entity) IN (SELECT * FROM unnest(%s::text[], %s::text[]))").format(
            sql.SQL("tail" if full else "NULL::bytea"), self.table, self.log)
        params = (list(views), list(entities)) * 2
        rows = self._run(lambda: self.conn.execute(query, params).fetchall(), self.read_timeout)
        return read_rows((r if r[0] == 0 else (*r[:5], int(r[5]), r[6])) for r in rows)

    def fingerprints(self) -> dict[str, set[str]]:
        query = sql.SQL("SELECT DISTINCT view, fingerprint FROM {}").format(self.table)
        out: dict[str, set[str]] = {}
        for view, fp in self._run(lambda: self.conn.execute(query).fetchall(), self.read_timeout):
            out.setdefault(view, set()).add(fp)
        return out

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:  # noqa: BLE001
                pass
