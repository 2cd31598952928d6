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
from .base import StoredState

COMPONENT = "online store (postgres)"
RETRYABLE = (psycopg.OperationalError, psycopg.InterfaceError)


class PostgresStore:
    def __init__(self, dsn: str, table_prefix: str = "skewless_", connect_timeout: float = 30.0,
                 read_timeout: float = 5.0):
        self.dsn, self.read_timeout = dsn, read_timeout
        self.table = sql.Identifier(f"{table_prefix}online")
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
        rows = [(s.view, s.entity, s.state, s.tail, s.last_event_us, s.fingerprint) for s in states]
        query = sql.SQL(
            "INSERT INTO {} (view, entity, state, tail, last_event_us, fingerprint) VALUES (%s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (view, entity) DO UPDATE SET state = EXCLUDED.state, tail = EXCLUDED.tail, "
            "last_event_us = EXCLUDED.last_event_us, fingerprint = EXCLUDED.fingerprint").format(self.table)

        def upsert():
            with self.conn.transaction(), self.conn.cursor() as cur:
                cur.executemany(query, rows)
        self._run(upsert, None)  # idempotent: a retried batch upserts the same states

    def read(self, view: str, entity: str, full: bool = False) -> StoredState | None:
        return self.read_many([(view, entity)], full).get((view, entity))

    def read_many(self, keys: list[tuple[str, str]], full: bool = False) -> dict[tuple[str, str], StoredState]:
        if not keys:
            return {}
        views, entities = zip(*keys)
        query = sql.SQL("SELECT view, entity, state, last_event_us, fingerprint, {} FROM {} "
                        "WHERE (view, entity) IN (SELECT * FROM unnest(%s::text[], %s::text[]))").format(
            sql.SQL("tail" if full else "NULL::bytea"), self.table)
        rows = self._run(lambda: self.conn.execute(query, (list(views), list(entities))).fetchall(), self.read_timeout)
        return {(r[0], r[1]): StoredState(r[0], r[1], bytes(r[2]), r[3], r[4], None if r[5] is None else bytes(r[5]))
                for r in rows}

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
