"""Dimension changes from Kafka (``stream: {topic: ...}`` on a dimension).

The dimension's batch table (file or Postgres table) is its state at start; its topic carries the
changes since — one JSON object per message with the dimension's columns, upserted by key
(versioned: by key and ``valid_from``; re-sending a version with its ``valid_to`` set closes it).
Before a job starts, the topic is read to its end (every partition, from the beginning: the topic
is the changelog, ideally compacted), so a restart sees every change made before it; afterwards a
thread follows the topic and applies each change to the index the job's lookups read — events
processed after a change see it (docs/semantics.md, dimension joins). A message that cannot be
decoded or would break the dimension's key is logged and written to the dead letters with the
reason; the index stays as it was (a dimension never stops the stream).
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any
from decimal import Decimal

from skewless.compiler.contract import DimensionDef

from .. import log
from .decode import _coerce

_FEEDS: dict[str, "DimensionFeed"] = {}
_LOCK = threading.RLock()  # start_feeds stops the feeds it started when a later one fails


class DimensionFeed:
    """Follows one dimension's topic into ``index`` (a `DimensionIndex`)."""

    def __init__(self, dim: DimensionDef, index, brokers: list[str], add_config: dict | None = None,
                 dead_letters=None):
        self.dim, self.index = dim, index
        self.brokers, self.add_config = brokers, dict(add_config or {})
        self.dead_letters = dead_letters  # callable(raw, reason) or None (logged only)
        self.types = dim.column_types()
        self.applied = self.refused = 0
        self.error: str | None = None
        self._stop = threading.Event()
        self._consumer: Any = None  # confluent_kafka.Consumer while connected
        self._thread: threading.Thread | None = None

    def _connect(self):
        from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

        from .kafka import KafkaUnavailable, check_topic

        topic = self.dim.stream.topic
        try:
            parts = list(range(check_topic(self.brokers, topic, self.add_config)))
        except KafkaUnavailable as exc:
            raise KafkaUnavailable(f"dimension {self.dim.name!r}: {exc}") from None
        consumer = Consumer({"bootstrap.servers": ",".join(self.brokers), "group.id": f"skewless-dim-{self.dim.name}",
                             "enable.auto.commit": "false", "enable.partition.eof": "true", "log_level": "4",
                             "fetch.wait.max.ms": "10", **self.add_config})
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
        return consumer, parts

    def catch_up(self, timeout: float = 60.0) -> None:
        """Read every partition to its current end (before the job starts)."""
        from confluent_kafka import KafkaError

        self._consumer, parts = self._connect()
        ended: set[int] = set()
        deadline = time.monotonic() + timeout
        while len(ended) < len(parts):
            if time.monotonic() > deadline:
                from .kafka import KafkaUnavailable

                raise KafkaUnavailable(f"dimension {self.dim.name!r}: topic {self.dim.stream.topic!r} not read to "
                                       f"its end within {timeout:.0f} s")
            msg = self._consumer.poll(0.2)
            if msg is None:
                continue
            if msg.error() is not None:
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    ended.add(msg.partition())
                continue
            self._apply(msg.value())

    def start(self) -> None:
        """Follow the topic on a thread of its own (after `catch_up`)."""
        self._thread = threading.Thread(target=self._run, name=f"skewless-dim-{self.dim.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                msg = self._consumer.poll(0.1)
            except Exception as exc:  # noqa: BLE001 - a closed consumer at shutdown, a broker error
                if not self._stop.is_set():
                    self.error = str(exc)
                    log.warning("dimension.feed_error", dimension=self.dim.name, error=str(exc))
                    time.sleep(1.0)
                continue
            if msg is None or msg.error() is not None:
                continue
            self._apply(msg.value())

    def _apply(self, value: bytes | None) -> None:
        raw = "" if value is None else value.decode("utf-8", "replace")[:1000]
        why = None
        try:
            obj = json.loads(raw, parse_float=Decimal)
            if not isinstance(obj, dict):
                why = "not a JSON object"
            else:
                row = {name: _coerce(obj.get(name), t) for name, t in self.types.items()}
                why = self.index.apply(row)
        except Exception as exc:  # noqa: BLE001 - whatever a message holds, it is this message's dead letter
            why = f"cannot decode: {exc}"
        if why is None:
            self.applied += 1
            return
        self.refused += 1
        log.warning("dimension.change_refused", dimension=self.dim.name, reason=why, message=raw[:200])
        if self.dead_letters is not None:
            self.dead_letters(raw, f"dimension {self.dim.name}: {why}")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None


def fed(name: str):
    """The running feed of dimension ``name`` in this process, if any (its index replaces the
    batch table's: `dimension.load_indexes`)."""
    return _FEEDS.get(name)


def start_feeds(project, indexes: dict, brokers: list[str], add_config: dict | None = None,
                dead_letters=None) -> list[DimensionFeed]:
    """Follow the topics of the dimensions in ``indexes`` that have one: each read to its end
    first, then followed. Returns the feeds started (stop them with `stop_feeds`)."""
    started: list[DimensionFeed] = []
    with _LOCK:
        for name, index in indexes.items():
            dim = project.dimensions[name]
            if not dim.stream.topic or name in _FEEDS:
                continue
            feed = DimensionFeed(dim, index.copy(), brokers, add_config, dead_letters)
            try:
                feed.catch_up()
            except BaseException:
                feed.stop()
                stop_feeds(started)
                raise
            feed.start()
            _FEEDS[name] = feed
            started.append(feed)
            log.info("dimension.feed_started", dimension=name, topic=dim.stream.topic, applied=feed.applied,
                     refused=feed.refused)
    return started


def stop_feeds(feeds: list[DimensionFeed]) -> None:
    with _LOCK:
        for feed in feeds:
            feed.stop()
            if _FEEDS.get(feed.dim.name) is feed:
                del _FEEDS[feed.dim.name]
