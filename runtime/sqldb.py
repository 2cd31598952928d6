"""One small adapter for the databases that hold skewless's own bookkeeping (the model registry,
the experiments' state): a SQLite file by default, Postgres (``postgresql://`` DSN) for teams —
every serving host, trainer and consumer then shares it.

Statements are written once with ``?`` placeholders and ``ON CONFLICT``/``RETURNING`` (both
databases have them); `tx` is a write transaction (SQLite: BEGIN IMMEDIATE, the write lock up
front; Postgres: a transaction block, row locks taken by the statements)."""

from __future__ import annotations

import contextlib
import re
import sqlite3
from pathlib import Path
from typing import Any, Iterator

_PLACEHOLDER = re.compile(r"\?")


class Db:
    def __init__(self, location: str | Path, timeout: float = 30.0):
        """``location``: a `Path` is a SQLite file; a string is a Postgres DSN (a ``postgresql://``
        URL or ``key=value`` conninfo) — never guessed from the text, so no DSN becomes a file."""
        self.location = str(location)
        self.pg = not isinstance(location, Path)
        self.con: Any  # psycopg.Connection or sqlite3.Connection
        if self.pg:
            import psycopg

            self.con = psycopg.connect(self.location, autocommit=True, connect_timeout=int(timeout))
        else:
            path = Path(location)
            path.parent.mkdir(parents=True, exist_ok=True)
            self.con = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
            self.con.execute("PRAGMA journal_mode=WAL")
            self.con.execute("PRAGMA synchronous=NORMAL")
        self._depth = 0

    def _sql(self, sql: str) -> str:
        return _PLACEHOLDER.sub("%s", sql) if self.pg else sql

    def execute(self, sql: str, params: tuple | list = ()) -> Any:
        return self.con.execute(self._sql(sql), params)

    def executemany(self, sql: str, rows: list) -> None:
        if self.pg:
            with self.con.cursor() as cur:
                cur.executemany(self._sql(sql), rows)
        else:
            self.con.executemany(sql, rows)

    @contextlib.contextmanager
    def tx(self) -> Iterator[None]:
        if self._depth:  # nested: part of the enclosing transaction
            yield
            return
        self._depth += 1
        try:
            if self.pg:
                with self.con.transaction():
                    yield
            else:
                self.con.execute("BEGIN IMMEDIATE")
                try:
                    yield
                except BaseException:
                    self.con.execute("ROLLBACK")
                    raise
                self.con.execute("COMMIT")
        finally:
            self._depth -= 1

    def create(self, ddl: list[str], schema_table: str, version: int) -> int:
        """Create the tables (``ddl``: CREATE ... IF NOT EXISTS) and record ``version`` in
        ``schema_table`` if it holds none; returns the version the database holds."""
        with self.tx():
            for statement in ddl:
                self.execute(statement)
            row = self.execute(f"SELECT version FROM {schema_table}").fetchone()
            if row is None:
                self.execute(f"INSERT INTO {schema_table} VALUES (?)", (version,))
                return version
            return row[0]

    def close(self) -> None:
        self.con.close()
