"""Postgres online store (psycopg): batched upserts, one indexed lookup per read."""

from __future__ import annotations

import psycopg
from psycopg import sql

from .base import StoredState


class PostgresStore:
    def __init__(self, dsn: str, table_prefix: str = "skewless_"):
        self.conn = psycopg.connect(dsn, autocommit=True)
        self.table = sql.Identifier(f"{table_prefix}online")
        self.conn.execute(sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} (view TEXT NOT NULL, entity TEXT NOT NULL, state BYTEA NOT NULL, "
            "last_event_us BIGINT NOT NULL, fingerprint TEXT NOT NULL, PRIMARY KEY (view, entity))").format(self.table))

    def write(self, states: list[StoredState]) -> None:
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.executemany(sql.SQL(
                "INSERT INTO {} (view, entity, state, last_event_us, fingerprint) VALUES (%s, %s, %s, %s, %s) "
                "ON CONFLICT (view, entity) DO UPDATE SET state = EXCLUDED.state, "
                "last_event_us = EXCLUDED.last_event_us, fingerprint = EXCLUDED.fingerprint").format(self.table),
                [(s.view, s.entity, s.state, s.last_event_us, s.fingerprint) for s in states])

    def read(self, view: str, entity: str) -> StoredState | None:
        row = self.conn.execute(sql.SQL("SELECT state, last_event_us, fingerprint FROM {} WHERE view = %s AND "
                                        "entity = %s").format(self.table), (view, entity)).fetchone()
        return None if row is None else StoredState(view, entity, bytes(row[0]), row[1], row[2])

    def read_many(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], StoredState]:
        if not keys:
            return {}
        views, entities = zip(*keys)
        rows = self.conn.execute(sql.SQL(
            "SELECT view, entity, state, last_event_us, fingerprint FROM {} "
            "WHERE (view, entity) IN (SELECT * FROM unnest(%s::text[], %s::text[]))").format(self.table),
            (list(views), list(entities))).fetchall()
        return {(r[0], r[1]): StoredState(r[0], r[1], bytes(r[2]), r[3], r[4]) for r in rows}

    def fingerprints(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for view, fp in self.conn.execute(sql.SQL("SELECT DISTINCT view, fingerprint FROM {}").format(self.table)):
            out.setdefault(view, set()).add(fp)
        return out

    def close(self) -> None:
        self.conn.close()
