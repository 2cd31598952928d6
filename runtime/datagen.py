"""Realistic payment events for the example project.

Power-law users, merchants and cards; a diurnal rhythm; second-resolution timestamps (so ties
happen); NULL amounts now and then; compromised cards that burst through risky foreign merchants
with large amounts (the fraud the example features are built to catch); and arrival order that
differs from event time within the source's allowed lateness (optionally a few events later than
that, which the stream must send to its late output).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

COUNTRIES = np.array(["US", "GB", "DE", "FR", "NL", "ES", "IT", "BR", "MX", "IN", "NG", "RU", "CN", "JP"])
HOME_WEIGHTS = np.array([40, 12, 10, 8, 5, 5, 5, 4, 3, 3, 1, 1, 2, 1], dtype=float)
CURRENCY = {"US": "USD", "GB": "GBP", "BR": "BRL", "MX": "MXN", "IN": "INR", "NG": "NGN", "RU": "RUB", "CN": "CNY",
            "JP": "JPY"}


@dataclass(frozen=True)
class GenConfig:
    events: int = 200_000
    users: int | None = None
    merchants: int | None = None
    days: float = 14.0
    start: str = "2026-10-01T00:00:00"
    fraud_user_rate: float = 0.01
    null_amount_rate: float = 0.005
    max_disorder_s: int = 90
    late_rate: float = 0.0
    late_by_s: int = 600
    seed: int = 7
    # concept drift: from this fraction of the time span on, normal spending is higher and more of it
    # abroad (the features' distributions shift) and fraud changes its pattern — slow card testing of
    # small amounts at home at ordinary merchants instead of fast bursts of large foreign purchases at
    # risky ones (what a model learned before stops working)
    drift_at: float | None = None


def _powerlaw_ids(rng: np.random.Generator, n_ids: int, size: int, alpha: float) -> np.ndarray:
    weights = 1.0 / np.arange(1, n_ids + 1) ** alpha
    weights /= weights.sum()
    return rng.choice(n_ids, size=size, p=weights)


def generate(cfg: GenConfig) -> dict[str, pa.Table]:
    rng = np.random.default_rng(cfg.seed)
    n = cfg.events
    n_users = cfg.users or max(50, n // 40)
    n_merchants = cfg.merchants or max(20, n // 400)
    start = np.datetime64(cfg.start, "s").astype(np.int64)
    span = int(cfg.days * 86_400)

    home = rng.choice(len(COUNTRIES), size=n_users, p=HOME_WEIGHTS / HOME_WEIGHTS.sum())
    cards_per_user = rng.integers(1, 4, size=n_users)
    merchant_risky = rng.random(n_merchants) < 0.05

    # Normal traffic: diurnal rhythm via rejection sampling, power-law users/merchants.
    normal_n = int(n * 0.97)
    t = rng.integers(0, span, size=normal_n * 2)
    hour = (t // 3600) % 24
    keep = rng.random(t.size) < (0.35 + 0.65 * np.sin(np.pi * ((hour - 6) % 24) / 24) ** 2)
    t = t[keep][:normal_n]
    normal_n = t.size
    user = _powerlaw_ids(rng, n_users, normal_n, 1.1)
    merchant = _powerlaw_ids(rng, n_merchants, normal_n, 1.2)
    card = rng.integers(0, 3, size=normal_n) % cards_per_user[user]
    country = home[user].copy()
    travel = rng.random(normal_n) < 0.03
    country[travel] = rng.integers(0, len(COUNTRIES), size=travel.sum())
    drifted = (t >= cfg.drift_at * span) if cfg.drift_at is not None else np.zeros(normal_n, dtype=bool)
    amount = np.round(rng.lognormal(np.where(drifted, 3.9, 3.3), 1.0, size=normal_n), 2)
    if cfg.drift_at is not None:  # (only then: the same seed gives the same data without drift)
        abroad_now = drifted & (rng.random(normal_n) < 0.12)
        country[abroad_now] = rng.integers(0, len(COUNTRIES), size=abroad_now.sum())
    shoppers = rng.random(normal_n) < 0.05  # legitimate sprees: the next purchase within minutes
    t[shoppers] = np.clip(t[np.maximum(np.flatnonzero(shoppers) - 1, 0)] + rng.integers(0, 600, size=shoppers.sum()),
                          0, span - 1)
    user[shoppers] = user[np.maximum(np.flatnonzero(shoppers) - 1, 0)]
    fraud = np.zeros(normal_n, dtype=bool)

    # Fraud bursts: a compromised card makes many large foreign purchases at risky merchants.
    risky = np.flatnonzero(merchant_risky) if merchant_risky.any() else np.arange(n_merchants)
    bursts_t, bursts_u, bursts_m, bursts_c, bursts_country, bursts_amt = [], [], [], [], [], []
    remaining = n - normal_n
    victims = rng.choice(n_users, size=max(1, int(n_users * cfg.fraud_user_rate)), replace=False)
    while remaining > 0:
        v = int(rng.choice(victims))
        size = int(min(remaining, rng.integers(4, 20)))
        t0 = int(rng.integers(0, span - 3600))
        if cfg.drift_at is not None and t0 >= cfg.drift_at * span:  # the new pattern: slow, small, at home
            t0 = min(t0, span - 6 * 3600 - 1)
            offsets = np.sort(rng.integers(0, int(rng.integers(2 * 3600, 6 * 3600)), size=size))
            bursts_t.append(t0 + offsets)
            bursts_u.append(np.full(size, v))
            bursts_m.append(_powerlaw_ids(rng, n_merchants, size, 1.2))
            bursts_c.append(np.full(size, rng.integers(0, cards_per_user[v])))
            bursts_country.append(np.full(size, home[v]))
            bursts_amt.append(np.round(rng.lognormal(1.2, 0.5, size=size), 2))
            remaining -= size
            continue
        offsets = np.sort(rng.integers(0, int(rng.integers(300, 1800)), size=size))
        offsets[rng.random(size) < 0.15] = offsets[0]  # same-second ties inside bursts
        bursts_t.append(t0 + offsets)
        bursts_u.append(np.full(size, v))
        # fraud hides among normal traffic: only some merchants are risky, some bursts stay at home,
        # amounts overlap the normal range
        at_risky = rng.random(size) < 0.5
        bursts_m.append(np.where(at_risky, rng.choice(risky, size=size), _powerlaw_ids(rng, n_merchants, size, 1.2)))
        bursts_c.append(np.full(size, rng.integers(0, cards_per_user[v])))
        abroad = rng.random() < 0.6
        bursts_country.append(np.full(size, rng.integers(0, len(COUNTRIES)) if abroad else home[v]))
        bursts_amt.append(np.round(rng.lognormal(3.9, 1.1, size=size), 2))
        remaining -= size
    if bursts_t:
        t = np.concatenate([t, *bursts_t])
        user = np.concatenate([user, *bursts_u])
        merchant = np.concatenate([merchant, *bursts_m])
        card = np.concatenate([card, *bursts_c])
        country = np.concatenate([country, *bursts_country])
        amount = np.concatenate([amount, *bursts_amt])
        fraud = np.concatenate([fraud, np.ones(t.size - fraud.size, dtype=bool)])

    size = t.size
    declined_p = np.where(fraud, 0.35, 0.04) + np.where(merchant_risky[merchant], 0.05, 0.0)
    declined = rng.random(size) < declined_p
    amount_null = rng.random(size) < cfg.null_amount_rate
    order = np.argsort(t, kind="stable")
    t, user, merchant, card, country, amount, fraud, declined, amount_null = (
        a[order] for a in (t, user, merchant, card, country, amount, fraud, declined, amount_null))

    ts = start + t
    delay = np.minimum(rng.exponential(cfg.max_disorder_s / 6, size=size), cfg.max_disorder_s).astype(np.int64)
    late = rng.random(size) < cfg.late_rate
    delay[late] = cfg.late_by_s + rng.integers(0, cfg.late_by_s, size=late.sum())
    arrival = np.argsort(ts + delay, kind="stable")

    txn_id = np.char.add("t", np.char.zfill(np.arange(size).astype(str), 9))
    user_s = np.char.add("u", np.char.zfill(user.astype(str), 6))
    merchant_s = np.char.add("m", np.char.zfill(merchant.astype(str), 5))
    card_s = np.char.add(np.char.add("c", np.char.zfill(user.astype(str), 6)), np.char.add("_", card.astype(str)))
    country_s = COUNTRIES[country]
    currency = np.array([CURRENCY.get(c, "EUR") for c in COUNTRIES])[country]
    ts_arrow = pa.array(ts * 1_000_000, type=pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    amount_arr = pa.array(amount, mask=amount_null)
    transactions = pa.table({
        "txn_id": txn_id, "user_id": user_s, "merchant_id": merchant_s, "card_id": card_s,
        "amount": amount_arr, "currency": currency, "status": np.where(declined, "declined", "approved"),
        "country": country_s, "ts": ts_arrow,
    }).take(pa.array(arrival))
    labels = pa.table({
        "txn_id": txn_id, "user_id": user_s, "merchant_id": merchant_s, "card_id": card_s,
        "amount": amount_arr, "country": country_s, "ts": ts_arrow, "is_fraud": fraud,
    })
    return {"transactions": transactions, "labels": labels, "merchants": _merchants(cfg, merchant_risky)}


CATEGORIES = np.array(["grocery", "restaurants", "fuel", "fashion", "travel", "electronics", "gift_cards", "crypto"])


def _merchants(cfg: GenConfig, risky: np.ndarray) -> pa.Table:
    """The merchant dimension: a category and a risk tier per merchant, related to (not equal to)
    the hidden risky flag the fraud bursts favour. Its own random stream: the events are unchanged."""
    rng = np.random.default_rng([cfg.seed, 1])
    n = len(risky)
    ordinary = rng.choice(6, size=n, p=[0.3, 0.25, 0.15, 0.15, 0.1, 0.05])
    shady = rng.choice([5, 6, 7], size=n, p=[0.4, 0.35, 0.25])
    category = np.where(risky & (rng.random(n) < 0.7), shady, ordinary)
    tier = np.where(risky, np.where(rng.random(n) < 0.6, 3, 2), np.where(rng.random(n) < 0.85, 1, 2))
    return pa.table({"merchant_id": np.char.add("m", np.char.zfill(np.arange(n).astype(str), 5)),
                     "category": CATEGORIES[category], "risk_tier": tier.astype(np.int32)})


def write_jsonl(table: pa.Table, path: Path) -> None:
    """Newline-delimited JSON with ISO-8601 UTC timestamps, in the table's (arrival) order."""
    import duckdb

    con = duckdb.connect()
    con.register("t", table)
    cols = ", ".join(
        f"strftime({f.name}, '%Y-%m-%dT%H:%M:%S.%fZ') AS {f.name}" if pa.types.is_timestamp(f.type) else f.name
        for f in table.schema
    )
    con.execute(f"COPY (SELECT {cols} FROM t) TO '{path}' (FORMAT JSON)")
    con.close()


def write_all(tables: dict[str, pa.Table], out_dir: Path) -> dict[str, int]:
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        pq.write_table(table, out_dir / f"{name}.parquet")
        write_jsonl(table, out_dir / f"{name}.jsonl")
    return {name: t.num_rows for name, t in tables.items()}
