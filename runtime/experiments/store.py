"""The experiments' shared, durable state: the target's ``registry_dsn`` (Postgres: shared by every
host) or a SQLite database (``target/experiments.sqlite``, WAL) that every serving worker, the Kafka
feedback consumer and the report open.

Tables (all created here, all prefixed ``skewless_``; nothing else is touched):
  skewless_experiments   one row per experiment: id, model, mode, reward kind, config (JSON), start
  skewless_decisions     one row per routed request: request id, experiment, arm, model, version,
                         propensity, score returned, every arm's score (shadow), sticky key, time;
                         the feedback joins it in place (reward, time, outcome)
  skewless_arms          per (experiment, arm): n, Σreward, Σreward² of the decisions with feedback —
                         the posteriors' sufficient statistics, updated in the feedback's transaction
  skewless_feedback_offsets  Kafka feedback: the next offset per (topic, partition), committed in
                         the transaction that applied the messages (each message counts once)

A feedback applies to a decision at most once — one UPDATE matches the decision only while it has
no feedback and is inside its window (a concurrent second one waits for the row and then matches
nothing) — so the arm statistics equal the closed form over the feedback received, whatever the
workers or hosts."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from ..sqldb import Db
from .posterior import ArmStats

SCHEMA_VERSION = 1

_DDL = [
    "CREATE TABLE IF NOT EXISTS skewless_experiments_schema (version INTEGER NOT NULL)",
    """CREATE TABLE IF NOT EXISTS skewless_experiments (
        id TEXT PRIMARY KEY, model TEXT NOT NULL, mode TEXT NOT NULL, reward TEXT NOT NULL,
        window_us BIGINT NOT NULL, config TEXT NOT NULL, started_us BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS skewless_decisions (
        request_id TEXT PRIMARY KEY, experiment TEXT NOT NULL, arm TEXT NOT NULL, model TEXT NOT NULL,
        version TEXT NOT NULL, propensity DOUBLE PRECISION NOT NULL, score DOUBLE PRECISION, scores TEXT NOT NULL,
        sticky_key TEXT NOT NULL, decided_us BIGINT NOT NULL,
        reward DOUBLE PRECISION, feedback_us BIGINT, outcome TEXT)""",
    "CREATE INDEX IF NOT EXISTS skewless_decisions_open ON skewless_decisions (experiment, feedback_us, decided_us)",
    """CREATE TABLE IF NOT EXISTS skewless_arms (
        experiment TEXT NOT NULL, arm TEXT NOT NULL, n BIGINT NOT NULL DEFAULT 0,
        total DOUBLE PRECISION NOT NULL DEFAULT 0, total_sq DOUBLE PRECISION NOT NULL DEFAULT 0,
        PRIMARY KEY (experiment, arm))""",
    """CREATE TABLE IF NOT EXISTS skewless_feedback_offsets (
        topic TEXT NOT NULL, part INTEGER NOT NULL, next_offset BIGINT NOT NULL, PRIMARY KEY (topic, part))""",
]


def now_us() -> int:
    return time.time_ns() // 1000


class DuplicateRequest(ValueError):
    """A decision with this request id is logged already."""


@dataclass(frozen=True)
class Decision:
    request_id: str
    experiment: str
    arm: str
    model: str
    version: str
    propensity: float
    score: float
    scores: dict[str, float]
    sticky_key: str
    decided_us: int


@dataclass(frozen=True)
class Feedback:
    request_id: str
    reward: float
    received_us: int


# what applying one feedback did
APPLIED, UNKNOWN, DUPLICATE, EXPIRED = "applied", "unknown", "duplicate", "expired"


class ExperimentStore:
    def __init__(self, location: Path | str, timeout: float = 30.0):
        """``location``: a SQLite file (`Path`), or a Postgres DSN (`str`)."""
        self.path = location
        self.db = Db(location, timeout)
        found = self.db.create(_DDL, "skewless_experiments_schema", SCHEMA_VERSION)
        if found != SCHEMA_VERSION:
            raise RuntimeError(f"{location}: experiments schema version {found}, this skewless reads "
                               f"{SCHEMA_VERSION}: move the file away to start afresh")

    @staticmethod
    def location(target_dir: Path, dsn: str | None = None) -> Path | str:
        """The target's registry_dsn (Postgres), else target/experiments.sqlite."""
        return dsn if dsn else Path(target_dir) / "experiments.sqlite"

    def _tx(self):
        return self.db.tx()

    def close(self) -> None:
        self.db.close()

    # -- experiments -------------------------------------------------------------------------
    def register(self, exp_id: str, model: str, mode: str, reward: str, window_us: int, config: dict,
                 arms: list[str]) -> None:
        with self._tx():
            self.db.execute("INSERT INTO skewless_experiments VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                             (exp_id, model, mode, reward, window_us, json.dumps(config, sort_keys=True), now_us()))
            self.db.executemany("INSERT INTO skewless_arms (experiment, arm) VALUES (?, ?) ON CONFLICT DO NOTHING",
                                 [(exp_id, a) for a in arms])

    def experiments(self, model: str | None = None) -> list[dict]:
        sql = "SELECT id, model, mode, reward, window_us, config, started_us FROM skewless_experiments"
        rows = self.db.execute(sql + (" WHERE model = ?" if model else "") + " ORDER BY started_us",
                                (model,) if model else ()).fetchall()
        return [{"id": r[0], "model": r[1], "mode": r[2], "reward": r[3], "window_us": r[4],
                 "config": json.loads(r[5]), "started_us": r[6]} for r in rows]

    def stats(self, exp_id: str) -> dict[str, ArmStats]:
        rows = self.db.execute("SELECT arm, n, total, total_sq FROM skewless_arms WHERE experiment = ?", (exp_id,))
        return {arm: ArmStats(n, total, total_sq) for arm, n, total, total_sq in rows}

    # -- decisions ---------------------------------------------------------------------------
    def log(self, decisions: list[Decision]) -> None:
        try:
            with self._tx():
                self.db.executemany(
                    "INSERT INTO skewless_decisions (request_id, experiment, arm, model, version, propensity, score, "
                    "scores, sticky_key, decided_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(d.request_id, d.experiment, d.arm, d.model, d.version, d.propensity, d.score,
                      json.dumps(d.scores), d.sticky_key, d.decided_us) for d in decisions])
        except Exception as exc:  # sqlite3.IntegrityError, psycopg.errors.UniqueViolation
            if not _duplicate(exc):
                raise
            raise DuplicateRequest("a decision with this request_id is logged already: request ids must be "
                                   "unique") from None

    def decision(self, request_id: str) -> dict | None:
        cur = self.db.execute("SELECT * FROM skewless_decisions WHERE request_id = ?", (request_id,))
        row = cur.fetchone()
        return None if row is None else dict(zip([c[0] for c in cur.description], row))

    def reward_kind(self, request_id: str) -> str | None:
        row = self.db.execute("SELECT e.reward FROM skewless_decisions d JOIN skewless_experiments e "
                               "ON e.id = d.experiment WHERE d.request_id = ?", (request_id,)).fetchone()
        return None if row is None else row[0]

    # -- feedback ----------------------------------------------------------------------------
    def _claim(self, fb: Feedback) -> tuple[str, str | None, str | None]:
        """Inside a transaction: join ``fb`` to its decision; (status, experiment, arm). One UPDATE
        claims the decision (open, inside its window): concurrent feedback for it cannot both win."""
        row = self.db.execute(
            "UPDATE skewless_decisions SET reward = ?, feedback_us = ?, outcome = 'feedback' WHERE request_id = ? "
            "AND feedback_us IS NULL AND ? - decided_us <= (SELECT e.window_us FROM skewless_experiments e "
            "WHERE e.id = skewless_decisions.experiment) RETURNING experiment, arm",
            (fb.reward, fb.received_us, fb.request_id, fb.received_us)).fetchone()
        if row is not None:
            return APPLIED, row[0], row[1]
        row = self.db.execute("SELECT experiment, feedback_us FROM skewless_decisions WHERE request_id = ?",
                              (fb.request_id,)).fetchone()
        if row is None:
            return UNKNOWN, None, None
        return (DUPLICATE if row[1] is not None else EXPIRED), row[0], None

    def _add_to_arms(self, increments: dict[tuple[str, str], list]) -> None:
        """Arm statistics += (n, Σr, Σr²), arms in one order for every writer (Postgres row locks
        taken in different orders by two transactions deadlock)."""
        for (exp_id, arm), (n, total, total_sq) in sorted(increments.items()):
            self.db.execute("UPDATE skewless_arms SET n = n + ?, total = total + ?, total_sq = total_sq + ? "
                            "WHERE experiment = ? AND arm = ?", (n, total, total_sq, exp_id, arm))

    def feedback(self, items: list[Feedback], offsets: dict[tuple[str, int], int] | None = None) -> list[str]:
        """Apply feedback (one transaction, with the Kafka offsets it consumed); a status per item.
        Decisions are claimed in request-id order — one lock order for every writer — the first of
        a request id repeated in ``items`` wins."""
        out = [UNKNOWN] * len(items)
        increments: dict[tuple[str, str], list] = {}
        with self._tx():
            for i in sorted(range(len(items)), key=lambda k: items[k].request_id):
                fb = items[i]
                out[i], exp_id, arm = self._claim(fb)
                if out[i] == APPLIED:
                    assert exp_id is not None and arm is not None  # a claimed decision names both
                    acc = increments.setdefault((exp_id, arm), [0, 0.0, 0.0])
                    acc[0] += 1
                    acc[1] += fb.reward
                    acc[2] += fb.reward * fb.reward
            self._add_to_arms(increments)
            for (topic, part), nxt in sorted((offsets or {}).items()):
                self.db.execute("INSERT INTO skewless_feedback_offsets VALUES (?, ?, ?) ON CONFLICT (topic, part) "
                                "DO UPDATE SET next_offset = excluded.next_offset", (topic, part, nxt))
        return out

    def offsets(self, topic: str) -> dict[int, int]:
        return dict(self.db.execute("SELECT part, next_offset FROM skewless_feedback_offsets WHERE topic = ?",
                                     (topic,)).fetchall())

    def expire(self, exp_id: str, window_us: int, at_us: int | None = None) -> int:
        """``missing_feedback: zero``: decisions whose window has passed without feedback get reward
        0 (outcome 'missing'), counted in their arm once. Returns how many."""
        at = now_us() if at_us is None else at_us
        with self._tx():
            arms = self.db.execute(
                "UPDATE skewless_decisions SET reward = 0, feedback_us = ?, outcome = 'missing' WHERE experiment = ? "
                "AND feedback_us IS NULL AND decided_us < ? RETURNING arm", (at, exp_id, at - window_us)).fetchall()
            increments: dict[tuple[str, str], list] = {}
            for (arm,) in arms:
                increments.setdefault((exp_id, arm), [0, 0.0, 0.0])[0] += 1  # reward 0: the sums do not move
            self._add_to_arms(increments)
        return len(arms)

    def decisions_table(self, exp_id: str) -> pa.Table:
        cur = self.db.execute("SELECT request_id, arm, model, version, propensity, score, scores, decided_us, reward, "
                               "feedback_us, outcome FROM skewless_decisions WHERE experiment = ? ORDER BY decided_us",
                               (exp_id,))
        names = [c[0] for c in cur.description]
        rows = cur.fetchall()
        return pa.table({n: pa.array([r[i] for r in rows]) for i, n in enumerate(names)}) if rows else \
            pa.table({n: pa.array([], pa.string() if n in ("request_id", "arm", "model", "version", "scores", "outcome")
                                  else pa.float64()) for n in names})


def _duplicate(exc: Exception) -> bool:
    if isinstance(exc, sqlite3.IntegrityError):
        return True
    return type(exc).__name__ == "UniqueViolation"
