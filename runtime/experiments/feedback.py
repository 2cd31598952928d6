"""A feedback message — ``{"request_id": ..., "reward": ...}`` (``label`` is accepted for
``reward``: a shadow experiment scores its arms against labels) — checked against the reward kind
of the experiment that logged the decision: binary rewards are 0/1/true/false, continuous ones
finite numbers. The same parsing for ``POST /feedback`` and the Kafka topic."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

from ..serving.scorer import RequestError
from ..sources.decode import JsonNumber
from .store import ExperimentStore, Feedback, now_us


def parse_feedback(store: ExperimentStore, row: dict) -> Feedback:
    if not isinstance(row, dict):
        raise RequestError("feedback must be a JSON object with request_id and reward")
    extra = set(row) - {"request_id", "reward", "label", "time"}
    if extra:
        raise RequestError(f"unexpected field(s): {', '.join(sorted(extra))} (feedback is request_id, reward, time)")
    rid = row.get("request_id")
    if not isinstance(rid, str) or not rid:
        raise RequestError("request_id (a string) is required")
    if ("reward" in row) == ("label" in row):
        raise RequestError("give exactly one of reward and label")
    value = row.get("reward", row.get("label"))
    kind = store.reward_kind(rid)
    if isinstance(value, bool):
        value = int(value)
    try:  # JSON numbers with a fraction arrive as their text (JsonNumber); other strings are refused
        reward = float(value) if isinstance(value, (int, float, JsonNumber)) else None
    except (TypeError, ValueError):
        reward = None
    if reward is None or not math.isfinite(reward):
        raise RequestError(f"reward must be a finite number, got {value!r}")
    if kind == "binary" and reward not in (0.0, 1.0):
        raise RequestError(f"this experiment's rewards are binary: 0, 1, true or false, got {value!r}")
    received = now_us()
    if row.get("time") is not None:  # when the outcome was observed (replays of a feedback log)
        try:
            t = datetime.fromisoformat(str(row["time"]).replace("Z", "+00:00"))
        except ValueError:
            raise RequestError("time must be an ISO-8601 time") from None
        t = t if t.tzinfo else t.replace(tzinfo=timezone.utc)
        received = (t - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1)
    return Feedback(rid, reward, received)
