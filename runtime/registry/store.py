"""The model registry (``target/registry.sqlite``): every trained version and where it came from.

Per version: its parent (the version a fine-tune continued from), how it was trained (``full``,
``continue`` — LightGBM continuation from the parent's trees —, ``refit`` — the parent's trees with
new leaf values), what triggered it and why, the views' fingerprints, the features' as-of rule, the
training data's label-time range and row counts, the training set's digest, params and metrics.
Aliases (``champion``, ``challenger``, any name) point at versions; each move is kept, so a rollback
is the alias's previous version. Serving loads a model by its ``champion`` alias (LATEST when the
model has none) and follows it without a restart. Retrain runs (``skewless retrain``) are recorded
with the triggers they evaluated, whether they retrained and what.

Tables are prefixed ``skewless_`` and created here; nothing else is touched. The database is the
target's ``registry_dsn`` (Postgres: shared by every host) or ``target/registry.sqlite``."""

from __future__ import annotations

import json
import time
from pathlib import Path

from ..sqldb import Db

SCHEMA_VERSION = 1
CHAMPION, CHALLENGER = "champion", "challenger"

_DDL = [
    "CREATE TABLE IF NOT EXISTS skewless_registry_schema (version INTEGER NOT NULL)",
    """CREATE TABLE IF NOT EXISTS skewless_model_versions (
        model TEXT NOT NULL, version TEXT NOT NULL, parent TEXT, kind TEXT NOT NULL, created_us BIGINT NOT NULL,
        trigger TEXT NOT NULL, reason TEXT NOT NULL, artifact TEXT NOT NULL, view_fingerprints TEXT NOT NULL,
        features_as_of_us BIGINT NOT NULL, data_from TEXT, data_to TEXT, rows BIGINT NOT NULL,
        rows_read BIGINT NOT NULL, training_set TEXT, training_set_digest TEXT, params TEXT NOT NULL,
        metrics TEXT NOT NULL, PRIMARY KEY (model, version))""",
    """CREATE TABLE IF NOT EXISTS skewless_aliases (
        model TEXT NOT NULL, alias TEXT NOT NULL, version TEXT NOT NULL, set_us BIGINT NOT NULL,
        PRIMARY KEY (model, alias))""",
    """CREATE TABLE IF NOT EXISTS skewless_alias_history (
        seq BIGINT NOT NULL, model TEXT NOT NULL, alias TEXT NOT NULL, version TEXT, previous TEXT,
        set_us BIGINT NOT NULL, action TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS skewless_retrain_runs (
        model TEXT NOT NULL, started_us BIGINT NOT NULL, fired TEXT NOT NULL, checks TEXT NOT NULL,
        new_version TEXT, promoted INTEGER NOT NULL DEFAULT 0)""",
]

VERSION_COLUMNS = ["model", "version", "parent", "kind", "created_us", "trigger", "reason", "artifact",
                   "view_fingerprints", "features_as_of_us", "data_from", "data_to", "rows", "rows_read",
                   "training_set", "training_set_digest", "params", "metrics"]
_JSON = {"view_fingerprints", "params", "metrics"}


def now_us() -> int:
    return time.time_ns() // 1000


def registry_alias(target_dir: Path, model: str, alias: str, dsn: str | None = None) -> str | None:
    """The version ``alias`` names, or None (no such alias, or no registry yet)."""
    if not Registry.exists(target_dir, dsn):
        return None
    registry = Registry.of(target_dir, dsn)
    try:
        return registry.alias(model, alias)
    finally:
        registry.close()


class RegistryError(ValueError):
    pass


class Registry:
    def __init__(self, location: Path | str):
        """``location``: a SQLite file (`Path`), or a Postgres DSN (`str`)."""
        self.db = Db(location)
        found = self.db.create(_DDL, "skewless_registry_schema", SCHEMA_VERSION)
        if found != SCHEMA_VERSION:
            raise RegistryError(f"{location}: registry schema version {found}, this skewless reads {SCHEMA_VERSION}")

    @staticmethod
    def location(target_dir: Path, dsn: str | None = None) -> Path | str:
        """The target's registry_dsn (Postgres), else target/registry.sqlite."""
        return dsn if dsn else Path(target_dir) / "registry.sqlite"

    @classmethod
    def of(cls, target_dir: Path, dsn: str | None = None) -> "Registry":
        return cls(cls.location(target_dir, dsn))

    @classmethod
    def exists(cls, target_dir: Path, dsn: str | None = None) -> bool:
        """Whether there is a registry to read (a Postgres one always: opening it creates its tables)."""
        return bool(dsn) or (Path(target_dir) / "registry.sqlite").exists()

    def close(self) -> None:
        self.db.close()

    # -- versions ----------------------------------------------------------------------------
    def register(self, record: dict, alias: str | None = CHAMPION) -> None:
        """Record a version; point ``alias`` at it (a model's first version is champion whatever
        the alias)."""
        values = [json.dumps(record[c], sort_keys=True, default=str) if c in _JSON else record.get(c)
                  for c in VERSION_COLUMNS]
        with self.db.tx():
            self.db.execute(f"INSERT INTO skewless_model_versions ({', '.join(VERSION_COLUMNS)}) VALUES "
                            f"({', '.join('?' * len(VERSION_COLUMNS))})", values)
            if alias is not None:
                self._set_alias(record["model"], alias, record["version"], "trained")
            if self._alias(record["model"], CHAMPION) is None:  # a model's first version is its champion
                self._set_alias(record["model"], CHAMPION, record["version"], "first version")

    def versions(self, model: str) -> list[dict]:
        cur = self.db.execute(f"SELECT {', '.join(VERSION_COLUMNS)} FROM skewless_model_versions WHERE model = ? "
                               "ORDER BY created_us", (model,))
        return [self._row(r) for r in cur.fetchall()]

    def version(self, model: str, version: str) -> dict | None:
        row = self.db.execute(f"SELECT {', '.join(VERSION_COLUMNS)} FROM skewless_model_versions WHERE model = ? "
                               "AND version = ?", (model, version)).fetchone()
        return None if row is None else self._row(row)

    @staticmethod
    def _row(row) -> dict:
        return {c: json.loads(v) if c in _JSON and v is not None else v for c, v in zip(VERSION_COLUMNS, row)}

    def lineage(self, model: str, version: str) -> list[dict]:
        """The version and its ancestors, newest first."""
        out, seen = [], set()
        current: str | None = version
        while current is not None and current not in seen:
            seen.add(current)
            rec = self.version(model, current)
            if rec is None:
                break
            out.append(rec)
            current = rec["parent"]
        return out

    # -- aliases -----------------------------------------------------------------------------
    def _alias(self, model: str, alias: str) -> str | None:
        row = self.db.execute("SELECT version FROM skewless_aliases WHERE model = ? AND alias = ?",
                               (model, alias)).fetchone()
        return None if row is None else row[0]

    def alias(self, model: str, alias: str) -> str | None:
        return self._alias(model, alias)

    def aliases(self, model: str | None = None) -> dict[tuple[str, str], str]:
        rows = self.db.execute("SELECT model, alias, version FROM skewless_aliases" +
                                (" WHERE model = ?" if model else ""), (model,) if model else ())
        return {(m, a): v for m, a, v in rows}

    def _set_alias(self, model: str, alias: str, version: str, action: str) -> None:
        previous = self._alias(model, alias)
        self.db.execute("INSERT INTO skewless_aliases VALUES (?, ?, ?, ?) ON CONFLICT (model, alias) DO UPDATE "
                        "SET version = excluded.version, set_us = excluded.set_us", (model, alias, version, now_us()))
        (seq,) = self.db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM skewless_alias_history").fetchone()
        self.db.execute("INSERT INTO skewless_alias_history VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (seq, model, alias, version, previous, now_us(), action))

    def promote(self, model: str, version: str, alias: str = CHAMPION) -> str | None:
        """Point ``alias`` at ``version``; returns the version it pointed at before."""
        if self.version(model, version) is None:
            known = ", ".join(v["version"] for v in self.versions(model)) or "none"
            raise RegistryError(f"model {model!r} has no registered version {version!r}; registered: {known}")
        with self.db.tx():
            previous = self._alias(model, alias)
            self._set_alias(model, alias, version, "promote")
        return previous

    def rollback(self, model: str, alias: str = CHAMPION) -> tuple[str, str]:
        """Point ``alias`` back at the version it named before its last promotion: (from, to)."""
        with self.db.tx():
            current = self._alias(model, alias)
            # the versions the alias named, newest first, without the ones rolled back from
            history = self.db.execute("SELECT version, previous, action FROM skewless_alias_history WHERE model = ? "
                                      "AND alias = ? ORDER BY seq DESC", (model, alias)).fetchall()
            target = None
            for version, previous, action in history:
                if version == current and previous is not None and action != "rollback":
                    target = previous
                    break
                if version == current and action == "rollback":
                    continue
            if current is None or target is None:
                raise RegistryError(f"model {model!r}: alias {alias!r} has no earlier version to roll back to")
            self._set_alias(model, alias, target, "rollback")
        return current, target

    # -- retrain runs ------------------------------------------------------------------------
    def record_run(self, model: str, fired: list[str], checks: dict, new_version: str | None, promoted: bool) -> None:
        self.db.execute("INSERT INTO skewless_retrain_runs VALUES (?, ?, ?, ?, ?, ?)",
                         (model, now_us(), json.dumps(fired), json.dumps(checks, default=str), new_version,
                          int(promoted)))

    def runs(self, model: str) -> list[dict]:
        rows = self.db.execute("SELECT started_us, fired, checks, new_version, promoted FROM skewless_retrain_runs "
                                "WHERE model = ? ORDER BY started_us", (model,)).fetchall()
        return [{"started_us": s, "fired": json.loads(f), "checks": json.loads(c), "new_version": v,
                 "promoted": bool(p)} for s, f, c, v, p in rows]
