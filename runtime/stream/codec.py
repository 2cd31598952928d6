"""Values in the state format (docs/state-format.md): msgpack plus a few extension types.

Loading runs no code: msgpack builds only None/bool/int/float/str/bytes/tuples/dicts, and each
extension type below decodes to one plain value type. Arrays decode as tuples (hashable, so a
COUNT(DISTINCT) key that is an array stays a key); loaders convert where they need lists.

Extension types (code: payload):

=====  ==========================  =====================================================
code   Python value                payload
=====  ==========================  =====================================================
1      int outside int64           signed big-endian two's complement
2      decimal.Decimal (numeric)   its text (``str(d)``: sign, digits, exponent, NaN)
3      datetime with a time zone   int64 big-endian µs since 1970-01-01 UTC
4      datetime without time zone  int64 big-endian µs since 1970-01-01
5      date                        int32 big-endian days since 0001-01-01 (ordinal - 1)
6      timedelta                   µs, signed big-endian two's complement
7      Failed (an error value)     the reason, UTF-8
=====  ==========================  =====================================================
"""

from __future__ import annotations

import struct
import threading
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import msgpack

from .accumulators import Failed

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
EPOCH_NAIVE = datetime(1970, 1, 1)
ONE_US = timedelta(microseconds=1)
_Q = struct.Struct(">q")
_I = struct.Struct(">i")

BIGINT, DECIMAL, TSTZ, TS, DATE, INTERVAL, FAILED = 1, 2, 3, 4, 5, 6, 7


class StateFormatError(ValueError):
    """Bytes that are not a state of this format (another version, a foreign or damaged record)."""


def _default(obj):
    if isinstance(obj, int):  # outside int64 (msgpack packs the rest natively)
        n = (obj.bit_length() + 8) // 8
        return msgpack.ExtType(BIGINT, obj.to_bytes(n, "big", signed=True))
    if isinstance(obj, Decimal):
        return msgpack.ExtType(DECIMAL, str(obj).encode())
    if isinstance(obj, datetime):
        if obj.tzinfo is None:
            return msgpack.ExtType(TS, _Q.pack((obj - EPOCH_NAIVE) // ONE_US))
        return msgpack.ExtType(TSTZ, _Q.pack((obj - EPOCH) // ONE_US))
    if isinstance(obj, date):
        return msgpack.ExtType(DATE, _I.pack(obj.toordinal() - 1))
    if isinstance(obj, timedelta):
        us = obj // ONE_US
        return msgpack.ExtType(INTERVAL, us.to_bytes((us.bit_length() + 8) // 8, "big", signed=True))
    if isinstance(obj, Failed):
        return msgpack.ExtType(FAILED, obj.reason.encode("utf-8", "replace"))
    if isinstance(obj, (set, frozenset)):
        raise TypeError("sets have no place in the state format")
    raise TypeError(f"the state format has no encoding for {type(obj).__name__}")


def _ext(code: int, data: bytes):
    if code == BIGINT:
        return int.from_bytes(data, "big", signed=True)
    if code == DECIMAL:
        return Decimal(data.decode())
    if code == TSTZ:
        return EPOCH + _Q.unpack(data)[0] * ONE_US
    if code == TS:
        return EPOCH_NAIVE + _Q.unpack(data)[0] * ONE_US
    if code == DATE:
        return date.fromordinal(_I.unpack(data)[0] + 1)
    if code == INTERVAL:
        return int.from_bytes(data, "big", signed=True) * ONE_US
    if code == FAILED:
        return Failed(data.decode("utf-8", "replace"))
    raise StateFormatError(f"unknown extension type {code}")


_LOCAL = threading.local()  # a Packer per thread (Bytewax workers are threads)


def pack(obj) -> bytes:
    packer = getattr(_LOCAL, "packer", None)
    if packer is None:
        packer = _LOCAL.packer = msgpack.Packer(default=_default, use_bin_type=True, datetime=False)
    try:
        return packer.pack(obj)
    except Exception:
        packer.reset()  # a failed pack may leave a partial buffer behind
        raise


def time_us(ts: datetime) -> int:
    """µs since 1970-01-01 (UTC for a time with a zone)."""
    return (ts - (EPOCH_NAIVE if ts.tzinfo is None else EPOCH)) // ONE_US


def unpack_prefix(data: bytes, k: int) -> list:
    """The first ``k`` items of the msgpack array ``data``, without decoding the rest."""
    try:
        unpacker = msgpack.Unpacker(ext_hook=_ext, use_list=False, strict_map_key=False, raw=False,
                                    max_buffer_size=max(len(data), 1024))
        unpacker.feed(data)
        n = unpacker.read_array_header()
        return [unpacker.unpack() for _ in range(min(k, n))]
    except StateFormatError:
        raise
    except Exception as exc:  # noqa: BLE001 - truncated, damaged or foreign bytes
        raise StateFormatError(f"not a skewless state ({type(exc).__name__}: {exc})") from None


def unpack(data: bytes):
    """Decode ``data``; anything that is not well-formed msgpack of our types is a `StateFormatError`."""
    try:
        return msgpack.unpackb(data, ext_hook=_ext, use_list=False, strict_map_key=False, raw=False)
    except StateFormatError:
        raise
    except Exception as exc:  # noqa: BLE001 - truncated, damaged or foreign bytes
        raise StateFormatError(f"not a skewless state ({type(exc).__name__}: {exc})") from None
