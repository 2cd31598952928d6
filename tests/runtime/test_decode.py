"""Decoding events: every malformed value is a dead letter with its reason, never an exception;
values are read as Postgres reads their text for the declared type."""

import math
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from skewless.compiler.config.sources import SourceDef
from skewless.runtime.sources.decode import MAX_DEPTH, DeadLetter, Decoder


def _source(**kw) -> SourceDef:
    return SourceDef(name="s", timestamp="ts", columns=[
        {"name": "id", "type": "text"}, {"name": "ts", "type": "timestamptz"},
        {"name": "f", "type": "double precision"}, {"name": "n", "type": "numeric(12,2)"},
        {"name": "i", "type": "integer"}, {"name": "b", "type": "boolean"}], **kw)


DEC = Decoder(_source())
TS = '"ts": "2026-01-01T00:00:00Z"'


def _one(body: str):
    return DEC.decode_json(("{" + TS + ", " + body + "}").encode())


@pytest.mark.parametrize("body,column,value", [
    ('"f": NaN', "f", math.nan),
    ('"f": Infinity', "f", math.inf),
    ('"f": -Infinity', "f", -math.inf),
    ('"f": "inf"', "f", math.inf),
    ('"f": "-Infinity"', "f", -math.inf),
    ('"f": 1.5e308', "f", 1.5e308),
    ('"n": 1e3', "n", Decimal("1000.00")),
    ('"n": 0.125', "n", Decimal("0.13")),          # numeric(12,2) rounds half away from zero
    ('"n": NaN', "n", "nan"),
    ('"i": 2.0', "i", 2),
    ('"i": 2147483647', "i", 2147483647),
    ('"b": "yes"', "b", True),
])
def test_values_read_as_postgres_reads_their_text(body, column, value):
    row = _one(body)
    assert isinstance(row, dict), row
    got = row[column]
    if value == "nan":
        assert got.is_nan()
    elif isinstance(value, float) and math.isnan(value):
        assert math.isnan(got)
    else:
        assert got == value and type(got) is type(value)


@pytest.mark.parametrize("line,reason", [
    ('{' + TS + ', "f": 1e999}', "out of range for type double precision"),
    ('{' + TS + ', "f": 1e-400}', "out of range for type double precision"),
    ('{' + TS + ', "n": 1e999}', "numeric field overflow"),
    ('{' + TS + ', "i": 2147483648}', "integer out of range"),
    ('{' + TS + ', "i": 1.5}', "not an integer"),
    ('{' + TS + ', "i": NaN}', "not an integer"),
    ('{' + TS + ', "b": 1.5}', "boolean"),
    ('{"ts": 1e18}', "timestamp out of range"),
    ('{"ts": -1e300}', "timestamp out of range"),
    ('{"ts": NaN}', "timestamp out of range"),
    ('{"ts": "2026-13-45"}', "month"),
    ('{"ts": "0001-01-01T00:00:00+14:00"}', "out of range"),
    ('{"f": 1}', "missing timestamp"),
    ("[" * 100_000 + "]" * 100_000, f"nested deeper than {MAX_DEPTH}"),
    ('{"id": "' + "[" * 100_000 + '", ' + TS + ', "f": []}', "double precision"),
    ('{"id": ' + "9" * 5000 + ", " + TS + "}", "invalid JSON"),
    ("not json", "invalid JSON"),
    ("[1, 2]", "not a JSON object"),
])
def test_bad_values_are_dead_letters_with_the_reason(line, reason):
    got = DEC.decode_json(line.encode())
    assert isinstance(got, DeadLetter), got
    assert reason in got.reason
    assert len(got.raw) <= 1000


def test_invalid_utf8_is_a_dead_letter():
    got = DEC.decode_json(b'{"ts": "2026-01-01T00:00:00Z", "id": "\xff\xfe"}')
    assert isinstance(got, DeadLetter) and "invalid UTF-8 at byte 38" in got.reason


def test_brackets_inside_strings_do_not_count_as_nesting():
    row = DEC.decode_json(('{"id": "' + "[{" * 200 + '", ' + TS + "}").encode())
    assert isinstance(row, dict) and row["id"] == "[{" * 200


def test_events_beyond_max_future_are_dead_letters():
    now = datetime.now(timezone.utc)
    near = (now + timedelta(minutes=30)).isoformat()
    far = (now + timedelta(hours=2)).isoformat()
    assert isinstance(DEC.decode_json(f'{{"ts": "{near}"}}'), dict)
    got = DEC.decode_json(f'{{"ts": "{far}"}}')
    assert isinstance(got, DeadLetter) and got.reason.startswith("future: ")
    assert isinstance(Decoder(_source(max_future="1d")).decode_json(f'{{"ts": "{far}"}}'), dict)
    assert isinstance(Decoder(_source(max_future=None)).decode_json('{"ts": "2999-01-01T00:00:00Z"}'), dict)


def test_batch_file_reads_follow_the_stream_decoder(tmp_path):
    """One set of rules: a JSONL/CSV file read for batch holds exactly the rows the stream decodes
    (epoch and ISO timestamps, NaN/Infinity, empty CSV fields), without the records it refuses."""
    from skewless.runtime.sources.files import read_batch_source

    src = _source(stream={"file": "ev.jsonl"})
    lines = ['{"id": "a", "ts": 1767225600, "f": NaN, "n": 1e3, "i": 2.0}',
             '{"id": "b", "ts": "2026-01-01T00:00:01Z", "f": "-inf", "n": "12.345", "b": "yes"}',
             '{"id": "c", "ts": 1767225602.5, "f": 1e999}',          # refused: out of range for double
             "not json", "",
             '{"id": "d", "ts": "2026-01-01 00:00:03+01", "f": 1e-300, "i": null}']
    (tmp_path / "ev.jsonl").write_text("\n".join(lines) + "\n")
    decoded = [r for r in (Decoder(_source()).decode_json(x) for x in lines if x) if isinstance(r, dict)]
    got = read_batch_source(src, tmp_path).to_pylist()
    assert [r["id"] for r in got] == ["a", "b", "d"] == [r["id"] for r in decoded]
    for g, d in zip(got, decoded):
        for k, v in d.items():
            if isinstance(v, float) and math.isnan(v):
                assert math.isnan(g[k])
            else:
                assert g[k] == v, (k, g[k], v)
    csv_src = _source(stream={"file": "ev.csv"})
    (tmp_path / "ev.csv").write_text("id,ts,f,n,i,b\nx,2026-01-01T00:00:00Z,,1.005,,\ny,2026-01-01T00:00:00Z,NaN,,7,no\n")
    rows = read_batch_source(csv_src, tmp_path).to_pylist()
    assert rows[0]["f"] is None and rows[0]["n"] == Decimal("1.01") and rows[0]["i"] is None
    assert math.isnan(rows[1]["f"]) and rows[1]["i"] == 7 and rows[1]["b"] is False


def test_sources_without_numeric_columns_read_numbers_the_same_way():
    """Without numeric columns the decoder parses floats natively and re-reads only the lossy
    cases (overflow to inf, underflow to 0, NaN): same results."""
    src = SourceDef(name="s", timestamp="ts", columns=[{"name": "ts", "type": "timestamptz"},
                                                        {"name": "f", "type": "double precision"},
                                                        {"name": "t", "type": "text"}])
    dec = Decoder(src)
    assert not dec.exact_text and DEC.exact_text
    ok = dec.decode_json('{"ts": "2026-01-01T00:00:00Z", "f": 0.0, "t": {"x": [1.5, 2]}}')
    assert ok["f"] == 0.0 and ok["t"] == '{"x": [1.5, 2]}'
    assert math.isnan(dec.decode_json('{"ts": "2026-01-01T00:00:00Z", "f": NaN}')["f"])
    assert dec.decode_json('{"ts": "2026-01-01T00:00:00Z", "f": Infinity}')["f"] == math.inf
    for bad in ("1e999", "1e-400", "-1e999"):
        got = dec.decode_json('{"ts": "2026-01-01T00:00:00Z", "f": ' + bad + "}")
        assert isinstance(got, DeadLetter) and "out of range for type double precision" in got.reason
