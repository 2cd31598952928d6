"""Feedback from a Kafka topic: JSON messages ``{"request_id": ..., "reward": ...}`` (the body of
``POST /feedback``), applied to the experiment store in batches.

Partitions are assigned (no consumer group: nothing to join or rebalance); the next offset of every
partition is committed in the store, in the same transaction as the feedback it consumed — after a
crash or a restart each message counts exactly once. A message that cannot be applied (not JSON,
no such decision, a second feedback, past the feedback window, a reward of the wrong kind) is a
dead letter with its reason; consumption goes on."""

from __future__ import annotations

import json
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..serving.scorer import RequestError
from ..stream.sinks import open_append, write_all
from .feedback import parse_feedback
from .store import APPLIED, ExperimentStore


@dataclass
class ConsumeStats:
    messages: int = 0
    applied: int = 0
    dead: int = 0
    reasons: dict = field(default_factory=dict)


def consume(store: ExperimentStore, brokers: str, topic: str, dead_letters: Path, idle_exit: float | None = None,
            max_messages: int | None = None, batch: int = 500, on_batch=None) -> ConsumeStats:
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

    consumer = Consumer({"bootstrap.servers": brokers, "group.id": "skewless-feedback", "enable.auto.commit": "false",
                         "enable.partition.eof": "false", "auto.offset.reset": "earliest"})
    stats, stop = ConsumeStats(), []
    previous = {s: signal.signal(s, lambda *_, s=s: stop.append(s)) for s in (signal.SIGINT, signal.SIGTERM)}
    fd = open_append(dead_letters)
    try:
        meta = consumer.list_topics(topic, timeout=30).topics[topic]
        if meta.error is not None:
            raise RuntimeError(f"topic {topic!r}: {meta.error.str()}")
        done = store.offsets(topic)
        consumer.assign([TopicPartition(topic, p, done.get(p, OFFSET_BEGINNING)) for p in meta.partitions])
        last = time.monotonic()
        while not stop and (max_messages is None or stats.messages < max_messages):
            want = batch if max_messages is None else min(batch, max_messages - stats.messages)
            msgs = [m for m in consumer.consume(want, timeout=0.5) if m is not None]
            real = [m for m in msgs if not m.error()]
            for m in msgs:
                problem = m.error()
                if problem is not None and problem.code() != KafkaError._PARTITION_EOF:
                    raise RuntimeError(f"kafka: {problem.str()}")
            if not real:
                if idle_exit is not None and time.monotonic() - last >= idle_exit:
                    break
                continue
            last = time.monotonic()
            items, dead, offsets = [], [], {}
            for m in real:
                offsets[(topic, int(m.partition() or 0))] = int(m.offset() or 0) + 1
                raw = m.value() or b""
                try:
                    row = json.loads(raw)
                    if not isinstance(row, dict):
                        raise RequestError("feedback must be a JSON object")
                    items.append((parse_feedback(store, row), raw))
                except (ValueError, RequestError) as exc:  # JSONDecodeError is a ValueError
                    dead.append((raw, f"invalid feedback: {exc}"))
            statuses = store.feedback([f for f, _ in items], offsets)
            dead.extend((raw, f"not applied: {st}") for (_, raw), st in zip(items, statuses) if st != APPLIED)
            if dead:
                write_all(fd, "".join(json.dumps({"source": f"kafka:{topic}", "reason": why,
                                                  "raw": raw.decode("utf-8", "replace")[:1000]}) + "\n"
                                      for raw, why in dead).encode())
            stats.messages += len(real)
            stats.applied += statuses.count(APPLIED)
            stats.dead += len(dead)
            for _, why in dead:
                stats.reasons[why.split(":")[0] if why.startswith("invalid") else why] = \
                    stats.reasons.get(why.split(":")[0] if why.startswith("invalid") else why, 0) + 1
            if on_batch is not None:
                on_batch(stats)
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        consumer.close()
        import os

        os.close(fd)
    return stats
