"""Structured logging for the runtime: one event per line on stderr, ``key=value`` pairs (or JSON
objects with ``SKEWLESS_LOG_FORMAT=json``), level from ``SKEWLESS_LOG_LEVEL`` (default INFO).

    log.warning("store.retry", component="online store (postgres)", attempt=3, wait_s=0.8, error="...")
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time

_LOGGER = logging.getLogger("skewless")


class _Formatter(logging.Formatter):
    def __init__(self, as_json: bool):
        super().__init__()
        self.as_json = as_json

    def format(self, record: logging.LogRecord) -> str:
        fields = {"ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
                  "level": record.levelname.lower(), "event": record.getMessage(), **getattr(record, "fields", {})}
        if self.as_json:
            return json.dumps(fields, default=str)
        return " ".join(f"{k}={_value(v)}" for k, v in fields.items())


def _value(v) -> str:
    s = str(v)
    return json.dumps(s) if (not s or any(c in s for c in ' "=\n\t')) else s


def setup() -> None:
    if _LOGGER.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter(os.environ.get("SKEWLESS_LOG_FORMAT", "").lower() == "json"))
    _LOGGER.addHandler(handler)
    _LOGGER.setLevel(os.environ.get("SKEWLESS_LOG_LEVEL", "INFO").upper())
    _LOGGER.propagate = False


def _log(level: int, event: str, **fields) -> None:
    setup()
    if _LOGGER.isEnabledFor(level):
        _LOGGER.log(level, event, extra={"fields": fields})


def debug(event: str, **fields) -> None:
    _log(logging.DEBUG, event, **fields)


def info(event: str, **fields) -> None:
    _log(logging.INFO, event, **fields)


def warning(event: str, **fields) -> None:
    _log(logging.WARNING, event, **fields)


def error(event: str, **fields) -> None:
    _log(logging.ERROR, event, **fields)
