"""Online stores: the latest window state per (view, entity), read as of a time in one lookup."""

from .base import OnlineStore, StoredState
from .sqlite_store import SQLiteStore

__all__ = ["OnlineStore", "SQLiteStore", "StoredState", "open_store"]


def open_store(target_online, root=None) -> OnlineStore:
    from pathlib import Path

    if target_online.store == "sqlite":
        path = Path(target_online.path)
        if root is not None and not path.is_absolute():
            path = root / path
        return SQLiteStore(path)
    if target_online.store == "redis":
        from .redis_store import RedisStore

        return RedisStore(target_online.url, target_online.prefix)
    from .postgres_store import PostgresStore

    return PostgresStore(target_online.dsn, target_online.table_prefix)
