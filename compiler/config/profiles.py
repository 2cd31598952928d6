"""``profiles.yml``: which batch engine, online store and stream source each target uses.

Rendered with Jinja first, so secrets come from ``{{ env_var('PGPASSWORD') }}``.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, model_validator

from .base import Frozen


class DuckDBBatch(Frozen):
    engine: Literal["duckdb"] = "duckdb"
    path: str = ":memory:"
    threads: int | None = None


class PostgresBatch(Frozen):
    engine: Literal["postgres"]
    dsn: str
    schema_: str = Field("public", alias="schema")
    # memory per sort / window partition for skewless's own session (Postgres's default, 4MB,
    # spills a dense key's window partition to disk, where every frame move re-reads it: a
    # 300k-label training set ran > 10 minutes, 4.6 s for that view with 256MB)
    work_mem: str = Field("256MB", pattern=r"^[0-9]+\s*(kB|MB|GB)$")


class SparkBatch(Frozen):
    engine: Literal["spark"]
    master: str = "local[2]"
    conf: dict[str, str] = {}


BatchTarget = Annotated[Union[DuckDBBatch, PostgresBatch, SparkBatch], Field(discriminator="engine")]


class SQLiteStore(Frozen):
    store: Literal["sqlite"] = "sqlite"
    path: str = "target/online.sqlite"


class PostgresStore(Frozen):
    store: Literal["postgres"]
    dsn: str
    table_prefix: str = "skewless_"


class RedisStore(Frozen):
    store: Literal["redis"]
    url: str = "redis://127.0.0.1:6379/0"   # redis:// or rediss:// (TLS), with user:password@ if needed
    prefix: str = "skewless:"               # every key skewless reads or writes starts with it


OnlineTarget = Annotated[Union[SQLiteStore, PostgresStore, RedisStore], Field(discriminator="store")]


class FileStream(Frozen):
    kind: Literal["file"] = "file"
    follow: bool = True   # `skewless run` keeps reading JSONL files as they grow (False: stop at the end)


class KafkaStream(Frozen):
    kind: Literal["kafka"]
    brokers: list[str]
    dead_letter_topic: str | None = None
    add_config: dict[str, str] = {}


StreamTarget = Annotated[Union[FileStream, KafkaStream], Field(discriminator="kind")]


class Target(Frozen):
    batch: BatchTarget = DuckDBBatch()
    online: OnlineTarget = SQLiteStore()
    stream: StreamTarget = FileStream()
    workers: int = Field(1, ge=1)
    # the model registry's and the experiments' database: a postgresql:// DSN (shared by every host of a
    # team) — default: SQLite files under target/ (registry.sqlite, experiments.sqlite)
    registry_dsn: str | None = None
    recovery_dir: str | None = None
    serve_token: str | None = None


class Profile(Frozen):
    target: str = "dev"
    targets: dict[str, Target] = {"dev": Target()}

    @model_validator(mode="after")
    def _target_exists(self) -> "Profile":
        if self.target not in self.targets:
            raise ValueError(f"default target {self.target!r} is not among targets: {', '.join(self.targets)}")
        return self


class ProfilesFile(Frozen):
    profiles: dict[str, Profile]
