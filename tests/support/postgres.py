"""Tests use the runtime's throwaway cluster helper."""

from skewless.runtime.pg_local import available, free_port, throwaway_cluster  # noqa: F401


def fresh_database(dsn: str) -> str:
    """A new, empty database in the cluster of ``dsn``: its DSN (tables of fixed names, no sharing)."""
    import uuid

    import psycopg
    from psycopg.conninfo import make_conninfo

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return make_conninfo(dsn, dbname=name)
