"""The model registry (aliases, history, rollback chains, lineage) and the feature log's files
(rotation, bound, whole files only)."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pyarrow.parquet as pq
import pytest

from skewless.compiler.config.models import FeatureLogDef
from skewless.runtime.registry.store import Registry, RegistryError
from skewless.runtime.serving.feature_log import FeatureLog, read_log


def record(version: str, parent: str | None = None, t: int = 0) -> dict:
    return {"model": "m", "version": version, "parent": parent, "kind": "continue" if parent else "full",
            "created_us": t, "trigger": "manual", "reason": "", "artifact": f"/a/{version}", "view_fingerprints": {},
            "features_as_of_us": 1, "data_from": None, "data_to": None, "rows": 10, "rows_read": 5,
            "training_set": None, "training_set_digest": "d", "params": {}, "metrics": {}}


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_aliases_promote_rollback_and_lineage(tmp_path, db, request):
    where = tmp_path / "r.sqlite"
    if db == "postgres":
        from tests.support.postgres import fresh_database

        where = fresh_database(request.getfixturevalue("pg_dsn"))
    reg = Registry(where)
    reg.register(record("v1", t=1), alias="challenger")  # the first version is champion whatever the alias
    assert reg.alias("m", "champion") == "v1" and reg.alias("m", "challenger") == "v1"
    reg.register(record("v2", "v1", t=2), alias="challenger")
    reg.register(record("v3", "v2", t=3), alias="challenger")
    assert reg.alias("m", "champion") == "v1"
    assert reg.promote("m", "v2") == "v1"
    assert reg.promote("m", "v3") == "v2"
    assert reg.rollback("m") == ("v3", "v2")
    assert reg.rollback("m") == ("v2", "v1")
    with pytest.raises(RegistryError, match="no earlier version"):
        reg.rollback("m")
    with pytest.raises(RegistryError, match="no registered version 'v9'"):
        reg.promote("m", "v9")
    assert [r["version"] for r in reg.lineage("m", "v3")] == ["v3", "v2", "v1"]
    assert [r["version"] for r in reg.versions("m")] == ["v1", "v2", "v3"]
    reg.close()
    assert Registry(where).alias("m", "champion") == "v1"  # it is a database: it survives


def test_feature_log_rotates_bounds_and_reads_back(tmp_path):
    log = FeatureLog(tmp_path / "feature_log", "m", FeatureLogDef(rotate_rows=10, keep_files=3))
    at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for i in range(55):
        log.log(f"r{i}", "v1", at, at, 0.5, {"user_id": f"u{i}"}, np.array([[float(i), np.nan]]))
    log.flush()
    files = sorted((tmp_path / "feature_log" / "m" / "v1").iterdir())
    assert len(files) == 3 and all(f.name.startswith("part-") for f in files)  # 6 written, the 3 oldest deleted
    table = read_log(tmp_path, "m", "v1")
    assert table.num_rows == 25 and table["request_id"].to_pylist()[0] == "r30"
    vec = table["vector"].to_pylist()[-1]
    assert vec[0] == 54.0 and np.isnan(vec[1])
    assert pq.read_table(files[-1]).num_rows == 5


def test_training_set_fingerprint_tolerates_summation_order_only():
    import pyarrow as pa

    from skewless.runtime.training.trainer import same_training_set, table_digest

    rng = np.random.default_rng(1)
    x = rng.normal(100, 30, 5000)
    base = pa.table({"__spine_id": np.arange(5000), "label": rng.random(5000) < 0.1, "f": x,
                     "g": pa.array(x, mask=rng.random(5000) < 0.1)})
    d = table_digest(base)
    last_bit = base.set_column(2, "f", pa.array(np.nextafter(x, np.inf)))
    assert same_training_set(d, table_digest(last_bit))
    changed = x.copy()
    changed[17] *= 1.001
    assert not same_training_set(d, table_digest(base.set_column(2, "f", pa.array(changed))))
    labels = base["label"].to_numpy(zero_copy_only=False).copy()
    labels[3] = not labels[3]
    assert not same_training_set(d, table_digest(base.set_column(1, "label", pa.array(labels))))
    assert not same_training_set(d, table_digest(base.slice(1)))


@pytest.mark.kafka
def test_feature_log_rows_also_go_to_kafka(tmp_path, kafka_broker):
    import json

    from skewless.runtime.kafka_local import consume_all, create_topic

    create_topic(kafka_broker, "served")
    log = FeatureLog(tmp_path / "feature_log", "m", FeatureLogDef(kafka_topic="served", kafka_brokers=[kafka_broker]))
    at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for i in range(7):
        log.log(f"r{i}", "v1", at, at, 0.25, {"user_id": f"u{i}"}, np.array([[float(i), np.nan]]))
    log.flush()
    rows = [json.loads(m) for m in consume_all(kafka_broker, "served")]
    assert [r["request_id"] for r in rows] == [f"r{i}" for i in range(7)]
    assert rows[3]["vector"] == [3.0, None] and rows[3]["request"] == {"user_id": "u3"} and rows[3]["version"] == "v1"
    assert read_log(tmp_path, "m").num_rows == 7  # and the Parquet log as usual
