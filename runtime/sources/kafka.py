"""Kafka source for the stream: JSON message values decoded against the source's schema.

Wraps Bytewax's `KafkaSource` (one input partition per Kafka partition; the resume state is the
next offset, kept by Bytewax recovery, so no consumer group is needed). Consumer errors and
undecodable messages become dead letters with the reason; they never stop the job."""

from __future__ import annotations

import time
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, TopicPartition
from bytewax.connectors.kafka import KafkaSource, KafkaSourceMessage
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from skewless.compiler.contract import SourceDef

from .. import log
from .control import STOP
from .decode import PART, DeadLetter, Decoder, Idle


LOW_LATENCY = {"fetch.wait.max.ms": "10",
               "log_level": "4"}  # librdkafka's info lines (a disconnect every 50 ms in an outage) stay quiet


def _raw(value) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", "replace")[:1000] if isinstance(value, bytes) else str(value)[:1000]


class _DecodingPartition(StatefulSourcePartition):
    """Decodes one Kafka partition's messages; rows carry the partition (per-partition watermarks).
    After ``idle_after`` seconds without messages (3 x idle_after once the broker is reachable again
    after an outage), if the broker confirms the partition is at its
    end (or at the end of a bounded read), it emits `Idle` once."""

    def __init__(self, inner: StatefulSourcePartition, decoder: Decoder, where: str, part: str, idle_after: float):
        # Bytewax's KafkaSource partition: its consumer, topic, partition and offset are read here
        self.inner: Any = inner
        self.decoder, self.where, self.part, self.idle_after = decoder, where, part, idle_after
        self.last_data, self.idle_sent = time.monotonic(), False
        self.unreachable = False

    def _caught_up(self) -> bool:
        """Whether this partition is really at its end, asked of the broker now. A partition that is
        quiet only because the broker cannot be reached (an outage) is *not* idle: it keeps holding
        the watermark, or its backlog would arrive late once the other partitions ran ahead."""
        consumer = getattr(self.inner, "_consumer", None)
        if consumer is None:
            return True
        try:
            low, high = consumer.get_watermark_offsets(TopicPartition(self.inner._topic, self.inner._part_idx),
                                                       timeout=1.0, cached=False)
        except Exception as exc:  # noqa: BLE001 - KafkaException: the broker did not answer
            if not self.unreachable:
                log.warning("component.unavailable", component=f"kafka {self.where}", error=str(exc))
                self.unreachable = True
            return False
        if self.unreachable:
            log.info("component.recovered", component=f"kafka {self.where}")
            self.unreachable = False
            # producers cut off by the same outage have not delivered their backlog yet (Kafka
            # clients back off up to 10 s between reconnects): "at the end" means nothing until the
            # partition stays quiet for 3 x idle_after with the broker up again
            self.last_data = time.monotonic() + 2 * self.idle_after
            return False
        offset = self.inner._offset
        if offset == OFFSET_END:
            return True
        return high <= low if offset < 0 else offset >= high

    def next_batch(self):
        if STOP.is_set():
            raise StopIteration()
        out = []
        msgs = self.inner.next_batch()
        now = time.monotonic()
        if msgs:
            self.last_data, self.idle_sent = now, False
        for msg in msgs:
            if isinstance(msg, KafkaSourceMessage):
                if msg.value is None:
                    out.append(DeadLetter(self.decoder.source.name, "", f"{self.where}@{msg.offset}: message without a value"))
                else:
                    row = self.decoder.decode_json(msg.value)
                    if isinstance(row, dict):
                        row[PART] = self.part
                    out.append(row)
            else:  # bytewax.connectors.kafka.KafkaError: the consumer reported an error for this message
                out.append(DeadLetter(self.decoder.source.name, _raw(getattr(msg.msg, "value", None)),
                                      f"kafka error on {self.where}: {msg.err}"))
        ended = getattr(self.inner, "_eof", False)
        if not self.idle_sent and (ended or now - self.last_data >= self.idle_after):
            if ended or self._caught_up():
                out.append(Idle(self.part))
                self.idle_sent = True
            else:
                self.last_data = now  # ask again after another idle_after
        return out

    def next_awake(self):
        return self.inner.next_awake()

    def snapshot(self):
        return self.inner.snapshot()

    def close(self):
        self.inner.close()


class KafkaEventSource(FixedPartitionedSource):
    """``tail=False`` stops at the end of each partition as it was when the job reached it."""

    def __init__(self, source: SourceDef, brokers: list[str], topic: str, tail: bool = True,
                 from_beginning: bool = True, add_config: dict[str, str] | None = None, batch_size: int = 1000,
                 idle_after: float = 5.0):
        self.source, self.topic, self.idle_after = source, topic, idle_after
        # Freshness: without new data a fetch returns after fetch.wait.max.ms (librdkafka's default
        # 500 ms; a broker that does not answer early makes that the latency floor)
        config = {**LOW_LATENCY, **(add_config or {})}
        self.inner = KafkaSource(brokers, [topic], tail=tail,
                                 starting_offset=OFFSET_BEGINNING if from_beginning else OFFSET_END,
                                 add_config=config, batch_size=batch_size, raise_on_errors=False)

    def list_parts(self):
        return self.inner.list_parts()

    def partitions(self) -> list[str]:
        """Names of the input partitions (what rows carry under PART), for the watermark."""
        return self.list_parts()

    def build_part(self, step_id, for_part, resume_state):
        return _DecodingPartition(self.inner.build_part(step_id, for_part, resume_state), Decoder(self.source),
                                  f"{self.topic}[{for_part.split('-', 1)[0]}]", for_part, self.idle_after)


class KafkaUnavailable(RuntimeError):
    pass


def check_topic(brokers: list[str], topic: str, add_config: dict[str, str] | None = None,
                timeout: float = 10.0) -> int:
    """The topic's partition count; a clear error when the brokers or the topic are not there."""
    from confluent_kafka.admin import AdminClient

    client = AdminClient({"bootstrap.servers": ",".join(brokers), "log_level": 0, **(add_config or {})})
    try:
        meta = client.list_topics(topic=topic, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - librdkafka raises KafkaException with a code
        raise KafkaUnavailable(f"cannot reach Kafka brokers {','.join(brokers)}: {exc}") from None
    info = meta.topics.get(topic)
    if info is None or info.error is not None or not info.partitions:
        raise KafkaUnavailable(f"topic {topic!r} does not exist on {','.join(brokers)}"
                               + (f" ({info.error})" if info is not None and info.error else ""))
    return len(info.partitions)
