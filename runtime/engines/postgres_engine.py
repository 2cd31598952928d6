"""Postgres through psycopg: results come back as Arrow.

Nothing here writes to the user's schemas: file sources are loaded into *temporary* tables
(session-private, dropped when the connection closes), and a source bound to an existing table
(``batch.table``) is only read. The profile's ``schema`` is the search path for those tables."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq

from .base import arrow_to_pg_type


class PostgresEngine:
    dialect = "postgres"

    def __init__(self, dsn: str, schema: str = "public", work_mem: str = "256MB"):
        self.conn = psycopg.connect(dsn, autocommit=True)
        self.conn.execute("SET TimeZone = 'UTC'")
        # dense keys' window partitions in memory (see PostgresBatch.work_mem); a parameter, never SQL text
        self.conn.execute("SELECT set_config('work_mem', %s, false)", [work_mem])
        # this session's generated queries are large (hundreds of expressions) and run once: JIT
        # compiling them took 3.4 s of a 13 s training set, more than it saved
        self.conn.execute("SET jit = off")
        self.dsn, self.schema, self.work_mem = dsn, schema, work_mem
        self.conn.execute(psycopg.sql.SQL("SET search_path TO {}").format(psycopg.sql.Identifier(schema)))
        self.owned: set[str] = set()   # temporary tables this session created

    def has_table(self, name: str) -> bool:
        """A table or view the user has, visible on the search path (read-only to us)."""
        row = self.conn.execute("SELECT to_regclass(%s)", [psycopg.sql.Identifier(name).as_string(self.conn)]).fetchone()
        return row is not None and row[0] is not None and name not in self.owned

    def alias(self, name: str, target: str) -> None:
        """``name`` reads ``target`` (a temporary view: the view's own SQL names the source)."""
        ident = psycopg.sql.Identifier
        self.conn.execute(psycopg.sql.SQL("CREATE OR REPLACE TEMP VIEW {} AS SELECT * FROM {}").format(ident(name), ident(target)))

    def register(self, name: str, table: pa.Table, types: dict[str, str] | None = None) -> None:
        """Load ``table`` into a temporary table ``name`` (shadowing any user table of that name for
        this session only; the user's table is never touched)."""
        cols = [(f.name, (types or {}).get(f.name) or arrow_to_pg_type(f.type)) for f in table.schema]
        ident = psycopg.sql.Identifier
        with self.conn.cursor() as cur:
            if name in self.owned:  # ours, from an earlier register in this session; with the temp views
                # over it (a temp table's dependents are temp objects of this session: ours too)
                cur.execute(psycopg.sql.SQL("DROP TABLE pg_temp.{} CASCADE").format(ident(name)))
            cur.execute(psycopg.sql.SQL("CREATE TEMP TABLE {} ({})").format(
                ident(name), psycopg.sql.SQL(", ").join(
                    psycopg.sql.SQL("{} {}").format(ident(c), psycopg.sql.SQL(t)) for c, t in cols)))
            if _csv_safe(table.schema):  # Arrow writes CSV Postgres reads exactly (no Python rows)
                import pyarrow.csv as csv

                with cur.copy(psycopg.sql.SQL("COPY {} FROM STDIN WITH (FORMAT csv, HEADER true)").format(
                        ident(name))) as copy:
                    sink = _CopySink(copy)
                    csv.write_csv(table, sink, csv.WriteOptions(batch_size=50_000))
            else:
                with cur.copy(psycopg.sql.SQL("COPY {} FROM STDIN").format(ident(name))) as copy:
                    for batch in table.to_batches(max_chunksize=50_000):
                        columns = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
                        for row in zip(*columns):
                            copy.write_row(row)
            cur.execute(psycopg.sql.SQL("ANALYZE pg_temp.{}").format(ident(name)))
        self.owned.add(name)

    def execute(self, sql: str) -> None:
        self.conn.execute(sql)

    def query(self, sql: str) -> pa.Table:
        with self.conn.cursor() as cur:
            cur.execute(sql)
            names = [d.name for d in cur.description or []]
            rows = cur.fetchall()
        columns: list = list(zip(*rows)) if rows else [[] for _ in names]
        return pa.table({n: pa.array([_plain(v) for v in col]) for n, col in zip(names, columns)})

    def fork(self) -> "PostgresEngine":
        """Another session with the same settings (its own temporary tables), for parallel work."""
        return PostgresEngine(self.dsn, schema=self.schema, work_mem=self.work_mem)

    def to_parquet(self, sql: str, path: Path, metadata: dict[str, str] | None = None) -> int:
        rows, writer = 0, None
        with self._batches(sql, metadata, path.parent) as (schema, batches):
            for batch in batches:
                writer = writer or pq.ParquetWriter(path, batch.schema)
                writer.write_batch(batch)
                rows += batch.num_rows
        if writer:
            writer.close()
        else:  # no rows: the file still says so (with the columns' names and types)
            pq.write_table(schema.empty_table(), path)
        return rows

    def to_arrow(self, sql: str, spool_dir: Path | None = None) -> pa.Table:
        """The whole result as one Arrow table, typed as `to_parquet` types it."""
        with self._batches(sql, None, spool_dir) as (schema, batches):
            collected = list(batches)
        return pa.Table.from_batches(collected, schema=collected[0].schema if collected else schema)

    @contextlib.contextmanager
    def _batches(self, sql: str, metadata: dict[str, str] | None, spool_dir: Path | None):
        """(schema, record batches) of the result: through COPY ... (FORMAT csv) parsed by Arrow
        when every column's type has an exact text form Arrow reads (15 s → 1 s of a 300k-row
        training set), else row by row. COPY is planned for all rows (no cursor: a cursor is
        planned for its first 10% — nested loops over the materialised CTEs, 50 minutes)."""
        with self.conn.cursor() as cur:  # the result's names and types, without running it
            cur.execute(f"SELECT * FROM ({sql}) AS __q LIMIT 0")
            described = [(d.name, d.type_code) for d in cur.description or []]
        schema = pa.schema([(n, _OID_TYPES.get(oid, pa.null())) for n, oid in described], metadata=metadata)
        if all(oid in _OID_TYPES and oid != 1186 for _, oid in described) and len(set(schema.names)) == len(schema):
            with tempfile.NamedTemporaryFile(prefix="skewless-export-", suffix=".csv", dir=spool_dir) as spool:
                with self.conn.cursor() as cur, cur.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER true)") as copy:
                    for block in copy:
                        spool.write(block)
                spool.flush()
                yield schema, self._csv_batches(spool.name, schema)
            return
        with self.conn.transaction():
            self.conn.execute("SET LOCAL cursor_tuple_fraction = 1.0")
            yield schema, self._row_batches(sql, schema)

    @staticmethod
    def _csv_batches(path: str, schema: pa.Schema):
        import pyarrow.csv as csv

        reader = csv.open_csv(
            path, read_options=csv.ReadOptions(block_size=16 << 20),
            parse_options=csv.ParseOptions(newlines_in_values=True),
            convert_options=csv.ConvertOptions(
                column_types=schema, null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=False,
                true_values=["t"], false_values=["f"], timestamp_parsers=[csv.ISO8601]))
        for batch in reader:
            yield pa.RecordBatch.from_arrays(batch.columns, schema=schema)

    def _row_batches(self, sql: str, schema: pa.Schema):
        """Chunks of rows, typed by the result's OIDs, not by each chunk's values (a chunk of NULLs
        or of whole numerics would otherwise get another type than the next chunk's)."""
        with self.conn.cursor(name="skewless_export") as cur:
            cur.itersize = 50_000
            cur.execute(sql)
            while chunk := cur.fetchmany(50_000):
                columns = []
                for field, col in zip(schema, zip(*chunk)):
                    values = [_plain(v) for v in col]
                    columns.append(pa.array(values) if pa.types.is_null(field.type) else pa.array(values, field.type))
                table = pa.Table.from_arrays(columns, names=schema.names)
                if any(pa.types.is_null(f.type) for f in schema):  # types the OIDs did not give: the first chunk's
                    schema = pa.schema([f if not pa.types.is_null(f.type) else table.schema.field(f.name)
                                        for f in schema], metadata=schema.metadata)
                yield from table.cast(schema).to_batches()

    def close(self) -> None:
        self.conn.close()


_OID_TYPES = {16: pa.bool_(), 20: pa.int64(), 21: pa.int16(), 23: pa.int32(), 25: pa.string(), 1043: pa.string(),
              700: pa.float32(), 701: pa.float64(), 1700: pa.float64(), 1082: pa.date32(),
              1114: pa.timestamp("us"), 1184: pa.timestamp("us", tz="UTC"), 1186: pa.duration("us")}


def _csv_safe(schema: pa.Schema) -> bool:
    """Types whose Arrow CSV text Postgres reads back exactly: strings always quoted (an unquoted
    empty field is NULL), shortest round-trip doubles, nan/inf, ISO timestamps with Z, true/false."""
    t = pa.types
    return all(t.is_integer(f.type) or t.is_floating(f.type) or t.is_string(f.type) or t.is_large_string(f.type)
               or t.is_boolean(f.type) or t.is_date32(f.type) or t.is_decimal(f.type)
               or (t.is_timestamp(f.type) and f.type.tz in (None, "UTC", "+00:00"))
               for f in schema)


class _CopySink:
    """A file-like writer into a psycopg COPY (what pyarrow's CSV writer writes to)."""

    def __init__(self, copy):
        self.copy, self.closed = copy, False

    def write(self, data) -> int:
        self.copy.write(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass


def _plain(value):
    from datetime import timedelta
    from decimal import Decimal

    if isinstance(value, Decimal):
        return float(value) if value != value.to_integral_value() or abs(value) > 2**62 else int(value)
    if isinstance(value, timedelta):
        return value
    return value
