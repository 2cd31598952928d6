"""Spark (pyspark): ``local[2]`` in tests, any master in production. Optional extra ``spark``."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from .base import write_batches


class SparkEngine:
    dialect = "spark"

    def __init__(self, master: str = "local[2]", conf: dict[str, str] | None = None):
        try:
            from pyspark.sql import SparkSession
        except ImportError as exc:  # pragma: no cover - depends on the extra
            raise RuntimeError("the Spark engine needs pyspark: pip install 'skewless[spark]'") from exc
        builder = (SparkSession.builder.master(master).appName("skewless")
                   .config("spark.sql.session.timeZone", "UTC")
                   .config("spark.sql.execution.arrow.pyspark.enabled", "true")
                   .config("spark.ui.enabled", "false")
                   .config("spark.sql.shuffle.partitions", "4")
                   .config("spark.driver.bindAddress", "127.0.0.1")
                   .config("spark.driver.host", "127.0.0.1"))
        for key, value in (conf or {}).items():
            builder = builder.config(key, value)
        self.spark = builder.getOrCreate()
        self.spark.sparkContext.setLogLevel("ERROR")
        self.owned: set[str] = set()

    def register(self, name: str, table: pa.Table, types: dict[str, str] | None = None) -> None:
        """A session temporary view (never a catalog table), with the declared column types."""
        df = self.spark.createDataFrame(table)
        if types:
            df = df.selectExpr(*[f"CAST({_q(c)} AS {_spark_type(types[c])}) AS {_q(c)}" if c in types else _q(c)
                                 for c in table.column_names])
        df.createOrReplaceTempView(name)
        self.owned.add(name)

    def has_table(self, name: str) -> bool:
        return name not in self.owned and self.spark.catalog.tableExists(name)

    def alias(self, name: str, target: str) -> None:
        self.spark.table(target).createOrReplaceTempView(name)

    def execute(self, sql: str) -> None:
        self.spark.sql(sql)

    def query(self, sql: str) -> pa.Table:
        return self.spark.sql(sql).toArrow()

    def to_parquet(self, sql: str, path: Path, metadata: dict[str, str] | None = None) -> int:
        table = self.query(sql)
        return write_batches(pa.RecordBatchReader.from_batches(table.schema, table.to_batches()), path, metadata)

    def close(self) -> None:
        self.spark.stop()


def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _spark_type(pg_type: str) -> str:
    """A declared Postgres type in Spark SQL (numeric(p,s) -> DECIMAL(p,s), timestamptz -> TIMESTAMP)."""
    from sqlglot import exp

    return exp.DataType.build(pg_type, dialect="postgres").sql("spark")
