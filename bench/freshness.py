"""Freshness benchmark (issue 3): produce → online-store-visible latency of `skewless run`.

A tansu broker (Kafka protocol) on loopback; the example project's views; `skewless run` as a
subprocess reading the topic. After a warm-up history, a producer sends background events at
``--rate`` per second and, among them, probe events of fresh users. A poller reads the online store
(one SQLite query for every outstanding probe, every 2 ms) and records when each probe's state
appears. Reported: p50/p95/p99/max of produce→visible, and the same for a bare Kafka
produce→consume round trip measured in the same run (the floor the broker and client set).

Workloads: ``--keys hot`` (the default, the issue's figures) — 500 users all paying one merchant,
100 ms of event time per event whatever the rate (a hot-key stress: at 1k events/s event time runs
100x faster than the wall clock, so windows fill 100x faster); ``--keys population --speed 1`` —
the history's own users, cards and merchants as often as they occur there, event time at wall
speed (a real-time stream: events stay pending for the allowed lateness; ``--lateness 10s``
overrides the project's 5m for a steady state within a short run).

Usage: python bench/freshness.py [--history 20000] [--rates 1000,5000] [--search] [--probes 300]
       [--keys hot|population] [--speed 1] [--lateness 10s]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def summary(name: str, lat_ms: list[float]) -> str:
    return (f"{name:<34} n={len(lat_ms):>4}  p50 {pct(lat_ms, .5):7.1f} ms  p95 {pct(lat_ms, .95):7.1f} ms  "
            f"p99 {pct(lat_ms, .99):7.1f} ms  max {max(lat_ms):7.1f} ms")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` and its threads so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pids_named(name: str) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if (d / "comm").read_text().strip() == name:
                    out.append(int(d.name))
            except OSError:
                pass
    return out


def kafka_round_trip(address: str, n: int) -> list[float]:
    """Produce one message and consume it back, n times: the broker + client floor."""
    from confluent_kafka import Consumer, Producer, TopicPartition

    from skewless.runtime.kafka_local import create_topic

    create_topic(address, "rtt", 1)
    producer = Producer({"bootstrap.servers": address, "linger.ms": 0})
    consumer = Consumer({"bootstrap.servers": address, "group.id": "rtt", "enable.auto.commit": "false",
                         "fetch.wait.max.ms": "10"})  # what `skewless run` uses by default
    consumer.assign([TopicPartition("rtt", 0, 0)])
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        producer.produce("rtt", value=str(i).encode())
        producer.flush(10)
        while True:
            msg = consumer.poll(1.0)
            if msg is not None and not msg.error():
                break
        out.append((time.perf_counter() - t0) * 1000)
    consumer.close()
    return out


def measure(args: argparse.Namespace, rate: float) -> dict:
    """One run at ``rate`` background events/s: a new broker, project and `skewless run`."""
    from confluent_kafka import Producer

    from skewless.runtime.datagen import GenConfig, generate, write_all
    from skewless.runtime.kafka_local import create_topic, local_broker, produce

    with tempfile.TemporaryDirectory() as tmp, local_broker() as broker:
        project = Path(tmp) / "p"
        shutil.copytree(ROOT / "features", project, ignore=shutil.ignore_patterns("target", "data"))
        if args.lateness:  # the project's allowed lateness, for this run
            yml = project / "skewless_project.yml"
            yml.write_text(re.sub(r"(?m)^allowed_lateness:.*$", f"allowed_lateness: {args.lateness}", yml.read_text()))
        tables = generate(GenConfig(events=args.history, days=3, seed=9))
        write_all(tables, project / "data")
        create_topic(broker, "transactions", 1)
        history = (project / "data" / "transactions.jsonl").read_bytes().splitlines()
        produce(broker, "transactions", history)
        last_ts = max(tables["transactions"]["ts"].to_pylist())
        floor = kafka_round_trip(broker, 200)

        store_path = project / "target" / "online.sqlite"
        job = subprocess.Popen([sys.executable, "-m", "skewless.runtime.cli", "--project", str(project), "run",
                                "--source", "kafka", "--brokers", broker, "--no-progress", "--flush-ms",
                                str(args.flush_ms), "--snapshot-every", str(args.snapshot_every)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            t0 = time.monotonic()
            while True:  # wait until the history is in the store (caught up)
                time.sleep(0.2)
                if job.poll() is not None:
                    raise SystemExit(f"run exited: {job.communicate()}")
                try:
                    with sqlite3.connect(store_path) as conn:
                        row = conn.execute("SELECT max(last_event_us) FROM skewless_online").fetchone()
                except sqlite3.Error:
                    continue
                if row[0] and row[0] >= int((last_ts - timedelta(minutes=30)).timestamp() * 1e6):
                    break
            time.sleep(2)
            print(f"history of {len(history):,} events caught up in {time.monotonic() - t0:.1f} s")

            # librdkafka's default batching (linger.ms 5): one produce request per message (linger 0)
            # costs the broker a core at 1k events/s, the setting no high-rate producer runs with; the
            # probes' latency is timed from their produce() call, so the linger is part of it
            producer = Producer({"bootstrap.servers": broker, "linger.ms": args.linger_ms})
            sent: dict[str, float] = {}
            seen: dict[str, float] = {}
            done = threading.Event()

            def poll_store():
                conn = sqlite3.connect(store_path)
                while not done.is_set() or len(seen) < len(sent):
                    waiting = [k for k in list(sent) if k not in seen]
                    if waiting:
                        marks = ",".join("?" * len(waiting))
                        for (entity,) in conn.execute(
                                f"SELECT entity FROM skewless_online WHERE view = 'user_velocity' AND entity IN ({marks})",
                                [json.dumps([k]) for k in waiting]):
                            seen.setdefault(json.loads(entity)[0], time.monotonic())
                    elif done.is_set():
                        break
                    time.sleep(0.002)
                conn.close()

            poller = threading.Thread(target=poll_store, daemon=True)
            poller.start()
            brokers = pids_named("tansu")

            def cpus() -> tuple[float, float, float]:  # the job, the broker, this process
                return cpu_seconds(job.pid), sum(cpu_seconds(b) for b in brokers), cpu_seconds(os.getpid())

            cpu0 = cpus()
            wall0 = time.monotonic()
            interval = 1.0 / rate
            every = max(1, int(rate * 0.05))  # a probe about every 50 ms
            ts = last_ts
            population = None
            if args.keys == "population":  # the history's own users, cards and merchants, as often as there
                import random

                rng = random.Random(7)
                tx = tables["transactions"].select(["user_id", "card_id", "merchant_id"]).to_pylist()
                population = [tx[rng.randrange(len(tx))] for _ in range(100_000)]
            start = time.monotonic()
            i = probes = 0
            while probes < args.probes:
                target_t = start + i * interval
                delay = target_t - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                if args.speed:  # event time runs at --speed event seconds per wall second
                    ts = last_ts + timedelta(seconds=(time.monotonic() - start) * args.speed)
                else:  # 100 ms of event time per event, whatever the rate
                    ts = ts + timedelta(milliseconds=100)
                merchant, card = "m00001", None
                if i % every == 0:
                    user = f"probe{probes:05d}"
                    probes += 1
                elif population is not None:
                    keys = population[i % len(population)]
                    user, merchant, card = keys["user_id"], keys["merchant_id"], keys["card_id"]
                else:
                    user = f"u{i % 500:06d}"
                event = {"txn_id": f"f{i}", "user_id": user, "merchant_id": merchant, "card_id": card or f"c_{user}",
                         "amount": 10.0, "currency": "EUR", "status": "approved", "country": "FR",
                         "ts": ts.astimezone(timezone.utc).isoformat()}
                if user.startswith("probe"):
                    sent[user] = time.monotonic()
                producer.produce("transactions", value=json.dumps(event).encode())
                producer.poll(0)
                i += 1
            producer.flush(10)
            wall = time.monotonic() - wall0
            use = [(b - a) / wall for a, b in zip(cpu0, cpus())]
            done.set()
            poller.join(30)
            lat = [(seen[k] - sent[k]) * 1000 for k in sent if k in seen]
            print(f"background {rate:.0f} events/s (linger {args.linger_ms:g} ms), {i:,} events, flush interval {args.flush_ms:.0f} ms, "
                  f"snapshot every {args.snapshot_every} s")
            print(f"achieved {i / wall:,.0f} events/s; CPU cores used: skewless run {use[0]:.2f}, "
                  f"broker {use[1]:.2f}, producer + poller {use[2]:.2f} (of {os.cpu_count()})")
            print(summary("produce → online store visible", lat))
            print(summary("kafka produce → consume (floor)", floor))
            missing = len(sent) - len(lat)
            if missing:
                print(f"{missing} probes never became visible")
            print(f"goal p99 <= 250 ms: {'met' if pct(lat, .99) <= 250 and not missing else 'NOT met'}")
            return {"rate": rate, "achieved": i / wall, "p50": pct(lat, .5) if lat else None,
                    "p99": pct(lat, .99) if lat else None, "missing": missing, "cpu": use}
        finally:
            job.terminate()
            try:
                out, errs = job.communicate(timeout=30)
                print(out.strip().splitlines()[-1] if out.strip() else errs[-500:])
            except subprocess.TimeoutExpired:
                job.kill()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--history", type=int, default=20_000, help="events before measuring (warm state)")
    parser.add_argument("--rates", default="1000,5000", help="background events per second, one run each")
    parser.add_argument("--rate", type=float, help="one rate (overrides --rates)")
    parser.add_argument("--probes", type=int, default=300)
    parser.add_argument("--flush-ms", type=float, default=50.0)
    parser.add_argument("--linger-ms", type=float, default=5.0, help="the background producer's linger.ms")
    parser.add_argument("--snapshot-every", type=float, default=1.0)
    parser.add_argument("--keys", choices=("hot", "population"), default="hot",
                        help="background keys: 500 users all paying one merchant (hot), or drawn from the "
                             "history's users, cards and merchants as often as they occur there (population)")
    parser.add_argument("--speed", type=float, default=0.0,
                        help="event seconds per wall second (1: a real-time stream); 0: 100 ms per event")
    parser.add_argument("--lateness", default=None, help="override the project's allowed_lateness (e.g. 10s)")
    parser.add_argument("--search", action="store_true",
                        help="also search (bisection on 100 events/s) the highest rate meeting p99 <= 250 ms")
    args = parser.parse_args()
    rates = [args.rate] if args.rate else [float(r) for r in args.rates.split(",")]
    results = []
    for rate in rates:
        print(f"--- {rate:,.0f} events/s")
        results.append(measure(args, rate))

    def ok(r: dict) -> bool:
        return r["p99"] is not None and r["p99"] <= 250 and not r["missing"] and r["achieved"] >= 0.95 * r["rate"]

    if args.search:
        lo = max([r["rate"] for r in results if ok(r)], default=100.0)
        hi = min([r["rate"] for r in results if not ok(r)], default=lo * 4)
        while hi - lo > 100:
            mid = round((lo + hi) / 200) * 100
            print(f"--- {mid:,.0f} events/s (search)")
            r = measure(args, mid)
            results.append(r)
            lo, hi = (mid, hi) if ok(r) else (lo, mid)
    print("\nrate      achieved   p50 ms   p99 ms   skewless CPU  broker CPU  p99 <= 250 ms")
    for r in sorted(results, key=lambda r: r["rate"]):
        p50 = "-" if r["p50"] is None else f"{r['p50']:.0f}"
        p99 = "-" if r["p99"] is None else f"{r['p99']:.0f}"
        print(f"{r['rate']:>6,.0f} {r['achieved']:>10,.0f} {p50:>8} {p99:>8} {r['cpu'][0]:>14.2f} {r['cpu'][1]:>11.2f}  "
              f"{'met' if ok(r) else 'NOT met'}")
    best = max([r["rate"] for r in results if ok(r)], default=None)
    print(f"maximum sustainable rate measured with p99 <= 250 ms: {'none' if best is None else f'{best:,.0f} events/s'}")


if __name__ == "__main__":
    sys.exit(main())
