"""The online store interface.

Layout: one row per (view, entity key) holding the key's state record (docs/state-format.md), the
window rows past the record's horizon (the *tail*, fetched only by the stream and by reads far
past the key's latest event), the time of its latest event and the view's fingerprint. A read for
(view, key, t) is one primary-key lookup; the as-of value is computed from the state at read time,
so rows that expired from a frame never count even if the key saw no new event. Writes are
upserts of whole states: replaying after a recovery cannot double-count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class StoredState:
    view: str
    entity: str          # JSON array of the key values
    state: bytes
    last_event_us: int   # µs since the epoch of the key's latest event
    fingerprint: str
    tail: bytes | None = None  # window rows past the record's horizon (read only with full=True)


class OnlineStore(Protocol):
    def write(self, states: list[StoredState]) -> None: ...

    def read(self, view: str, entity: str, full: bool = False) -> StoredState | None: ...

    def read_many(self, keys: list[tuple[str, str]], full: bool = False) -> dict[tuple[str, str], StoredState]: ...

    def fingerprints(self) -> dict[str, set[str]]: ...

    def close(self) -> None: ...
