"""A corpus of hostile view files: what an attacker, a typo or an unlucky tool writes. Each entry is
(file name, content). The fault suite requires: no traceback and no internal error for any of them,
every refusal a ``path:line:col`` diagnostic, and every *accepted* view one that Postgres runs (and
whose stream and batch results equal Postgres's) — zero accepted views that Postgres refuses."""

from __future__ import annotations

W = "OVER (PARTITION BY user_id ORDER BY ts RANGE BETWEEN INTERVAL '1 hour' PRECEDING AND CURRENT ROW)"
WT = "OVER (PARTITION BY user_id ORDER BY ts, txn_id ROWS BETWEEN 3 PRECEDING AND CURRENT ROW)"
SRC = "{{ source('tx') }}"


def select(expr: str, extra: str = "") -> str:
    return f"SELECT txn_id, ts, {expr} AS x, COUNT(*) {W} AS c FROM {SRC}{extra}\n"


def frame(spec: str, func: str = "SUM(amount)", order: str = "ts, txn_id") -> str:
    return f"SELECT txn_id, ts, {func} OVER (PARTITION BY user_id ORDER BY {order} {spec}) AS x FROM {SRC}\n"


SCALARS = {
    # Postgres refuses these types
    "text_plus_int": "status + 1", "ts_gt_int": "ts > 5", "float_like": "amount LIKE '1%'",
    "extract_text": "EXTRACT(EPOCH FROM status)", "unknown_type": "CAST(amount AS frobnicate)",
    "bool_plus": "flag + 1", "text_times": "status * 2", "neg_text": "-status", "not_float": "NOT amount",
    "float_and_bool": "amount AND flag", "ts_plus_int": "ts + 1", "interval_gt_int": "ts - ts > 5",
    "coalesce_mixed": "COALESCE(amount, 'x')", "case_float_cond": "CASE WHEN amount THEN 1 END",
    "in_mixed": "amount IN ('a')", "text_eq_int": "status = 1", "int_concat_int": "n || 5",
    "between_mixed": "amount BETWEEN 'a' AND 'b'", "upper_int": "UPPER(n)", "length_bool": "LENGTH(flag)",
    "round_text": "ROUND(status)", "abs_text": "ABS(status)", "sign_ts": "SIGN(ts)", "date_trunc_bad_unit":
    "DATE_TRUNC('fortnight', ts)", "date_trunc_int": "DATE_TRUNC('hour', n)", "substr_float": "SUBSTRING(status FROM amount)",
    "regclass": "'tx'::regclass", "regproc_cast": "CAST(status AS regproc)",
    # constant expressions Postgres folds (and refuses) while planning
    "div_zero": "1 / 0", "int8_overflow": "9223372036854775807 + 1", "int4_cast_overflow": "CAST(2147483648 AS INTEGER)",
    "sqrt_negative": "SQRT(-1)", "ln_zero": "LN(0)", "float_overflow_cast": "1e400::float8", "power_overflow":
    "POWER(10.0::float8, 400)", "bad_int_literal": "'abc'::integer", "bad_bool_literal": "CAST('x' AS boolean)",
    "float_text_overflow": "'1e400'::float8", "int4_plus": "2147483647::int4 + 1", "mod_zero": "10 % 0",
    "mod_fn_zero": "MOD(1, 0)", "bad_ts_literal": "'2026-13-01'::timestamptz", "empty_int": "CAST('' AS integer)",
    "log_negative": "LOG(-1)", "exp_overflow": "EXP(1000.0::float8)", "numeric_div_zero": "1.0 / 0.0",
    "nested_const_in_case": "CASE WHEN amount > 0 THEN 1 ELSE 1 / 0 END",
    # calendar / ISO / absurd intervals
    "iso_month": "ts + INTERVAL 'P1M'", "iso_year": "ts + INTERVAL 'P1Y'", "iso_hour": "ts + INTERVAL 'PT1H'",
    "month": "ts + INTERVAL '1 month'", "mon": "ts + INTERVAL '1 mon'", "years": "ts - INTERVAL '2 years'",
    "decade": "ts + INTERVAL '1 decade'", "century": "ts + INTERVAL '1 century'", "millennium":
    "ts + INTERVAL '1 millennium'", "unit_month": "ts + INTERVAL '1' MONTH", "unit_year": "ts + INTERVAL '1' YEAR",
    "yr": "ts + INTERVAL '1 yr'", "huge_interval": "ts + INTERVAL '100000000 days'", "cast_month":
    "ts + CAST('1 month' AS INTERVAL)", "cast_iso": "ts + '1 month'::interval", "bad_interval": "ts + INTERVAL 'soon'",
    # functions that reach outside the query
    "pg_sleep": "pg_sleep(10)", "read_file": "pg_read_file('/etc/passwd')", "set_config":
    "set_config('search_path', 'evil', false)", "current_setting": "current_setting('data_directory')",
    "nextval": "nextval('s')", "txid": "txid_current()", "now": "now()", "random": "random()",
    "clock": "clock_timestamp()", "gen_series": "generate_series(1, 3)", "lo_import": "lo_import('/etc/passwd')",
    "dblink": "dblink('host=10.0.0.1', 'SELECT 1')", "version": "version()", "user": "current_user",
    # accepted by Postgres: must be accepted-and-exact or refused, never accepted-and-wrong
    "text_concat_int": "status || 5", "ts_interval_ok": "ts - INTERVAL '90 minutes'", "case_true_div":
    "CASE WHEN true THEN 1 ELSE 1 / 0 END", "coalesce_ok": "COALESCE(amount, 0)", "nullif_ok": "NULLIF(n, 0)",
    "upper_ok": "UPPER(status)", "round_ok": "ROUND(q, 1)", "extract_ok": "EXTRACT(EPOCH FROM ts)",
}

FRAMES = {
    "range_negative": "RANGE BETWEEN INTERVAL '-1 hour' PRECEDING AND CURRENT ROW",
    "rows_negative": "ROWS BETWEEN -1 PRECEDING AND CURRENT ROW",
    "rows_2_63": "ROWS BETWEEN 9223372036854775808 PRECEDING AND CURRENT ROW",
    "rows_max": "ROWS BETWEEN 9223372036854775807 PRECEDING AND CURRENT ROW",
    "rows_zero": "ROWS BETWEEN 0 PRECEDING AND CURRENT ROW",
    "rows_current_preceding": "ROWS BETWEEN CURRENT ROW AND 1 PRECEDING",
    "range_current_current": "RANGE BETWEEN CURRENT ROW AND CURRENT ROW",
    "range_zero_seconds": "RANGE BETWEEN INTERVAL '0 seconds' PRECEDING AND CURRENT ROW",
    "range_following_start": "RANGE BETWEEN INTERVAL '1 hour' FOLLOWING AND CURRENT ROW",
    "unbounded_following": "ROWS BETWEEN UNBOUNDED FOLLOWING AND CURRENT ROW",
    "rows_following_end": "ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING",
    "range_int_offset_ts": "RANGE BETWEEN 5 PRECEDING AND CURRENT ROW",
    "rows_float_offset": "ROWS BETWEEN 1.5 PRECEDING AND CURRENT ROW",
    "rows_text_offset": "ROWS BETWEEN 'a' PRECEDING AND CURRENT ROW",
    "rows_expr_offset": "ROWS BETWEEN amount PRECEDING AND CURRENT ROW",
    "groups": "GROUPS BETWEEN 1 PRECEDING AND CURRENT ROW",
    "range_calendar": "RANGE BETWEEN INTERVAL '1 month' PRECEDING AND CURRENT ROW",
    "range_iso": "RANGE BETWEEN INTERVAL 'P1D' PRECEDING AND CURRENT ROW",
    "range_huge": "RANGE BETWEEN INTERVAL '1000000 days' PRECEDING AND CURRENT ROW",
    "exclude_bad": "ROWS BETWEEN 1 PRECEDING AND CURRENT ROW EXCLUDE EVERYTHING",
}

SHAPES = {
    "trailing_comma": f"SELECT txn_id, ts, COUNT(*) {W} AS c, FROM {SRC}\n",
    "no_from": f"SELECT txn_id, ts, COUNT(*) {W} AS c\n",
    "unterminated_string": f"SELECT txn_id, ts, 'abc AS x, COUNT(*) {W} AS c FROM {SRC}\n",
    "unterminated_ident": f'SELECT txn_id, ts, "abc AS x, COUNT(*) {W} AS c FROM {SRC}\n',
    "just_semicolon": "SELECT ;\n",
    "two_statements": f"SELECT txn_id, ts, COUNT(*) {W} AS c FROM {SRC}; DROP TABLE tx\n",
    "copy_program": f"SELECT txn_id, ts, COUNT(*) {W} AS c FROM {SRC}; COPY tx TO PROGRAM 'id'\n",
    "comment_only": "-- nothing here\n",
    "empty": "",
    "whitespace": "   \n\t\n",
    "jinja_comment_only": "{# nothing #}\n",
    "nul_byte": f"SELECT txn_id, ts, COUNT(*) {W} AS c\x00 FROM {SRC}\n",
    "nested_parens_5000": select("(" * 5000 + "amount" + ")" * 5000),
    "nested_parens_150": select("(" * 150 + "amount" + ")" * 150),
    "not_chain": select("NOT " * 3000 + "flag"),
    "long_sum": select(" + ".join(["amount"] * 3000)),
    "deep_case": select("CASE WHEN flag THEN " * 200 + "1" + " END" * 200),
    "columns_1700": "SELECT txn_id, ts,\n" + ",\n".join(f"COUNT(*) {W} AS c{i}" for i in range(1700)) + f"\nFROM {SRC}\n",
    "columns_180000": "SELECT txn_id, ts,\n" + ",\n".join(f"n AS c{i}" for i in range(180_000)) + f"\nFROM {SRC}\n",
    "huge_literal": select("'" + "a" * 900_000 + "'"),
    "long_identifier": select('"' + "x" * 10_000 + '"'),
    "quoted_quotes": f'SELECT txn_id, ts, COUNT(*) {W} AS "a""b" FROM {SRC}\n',
    "alias_injection": f'SELECT txn_id, ts, COUNT(*) {W} AS "x; DROP TABLE tx; --" FROM {SRC}\n',
    "alias_newline": f'SELECT txn_id, ts, COUNT(*) {W} AS "a\nb" FROM {SRC}\n',
    "description_injection": "{{ config(description=\"*/ DROP TABLE tx; /* \\n-- x\") }}\n" + select("amount"),
    "subquery": select("(SELECT 1)"),
    "join": f"SELECT a.txn_id, a.ts, COUNT(*) OVER (PARTITION BY a.user_id ORDER BY a.ts) AS c FROM {SRC} a JOIN {SRC} b ON true\n",
    "union": f"SELECT txn_id, ts, COUNT(*) {W} AS c FROM {SRC} UNION SELECT txn_id, ts, 1 FROM {SRC}\n",
    "group_by": f"SELECT user_id, COUNT(*) AS c FROM {SRC} GROUP BY user_id\n",
    "no_partition": f"SELECT txn_id, ts, COUNT(*) OVER (ORDER BY ts) AS c FROM {SRC}\n",
    "desc": f"SELECT txn_id, ts, COUNT(*) OVER (PARTITION BY user_id ORDER BY ts DESC) AS c FROM {SRC}\n",
    "lead": select("LEAD(amount) OVER (PARTITION BY user_id ORDER BY ts, txn_id)"),
    "row_number": select("ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY ts, txn_id)"),
    "star": f"SELECT *, COUNT(*) {W} AS c FROM {SRC}\n",
    "distinct": f"SELECT DISTINCT txn_id, ts, COUNT(*) {W} AS c FROM {SRC}\n",
    "limit": f"SELECT txn_id, ts, COUNT(*) {W} AS c FROM {SRC} LIMIT 5\n",
    "window_in_where": f"SELECT txn_id, ts, COUNT(*) {W} AS c FROM {SRC} WHERE COUNT(*) {W} > 1\n",
    "agg_in_where": f"SELECT txn_id, ts, COUNT(*) {W} AS c FROM {SRC} WHERE SUM(amount) > 1\n",
    "raw_table": f"SELECT txn_id, ts, COUNT(*) {W} AS c FROM tx\n",
    "catalog_table": "SELECT usename AS txn_id, now() AS ts, COUNT(*) OVER () AS c FROM pg_catalog.pg_user\n",
    "cte": f"WITH t AS (SELECT * FROM {SRC}) SELECT txn_id, ts, COUNT(*) {W} AS c FROM t\n",
    "recursive_cte": "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT n FROM r\n",
    "insert": "INSERT INTO tx VALUES ('a')\n",
    "drop": "DROP TABLE tx\n",
    "nested_window": select(f"SUM(COUNT(*) {W}) {W}"),
    "lag_no_tiebreak": select("LAG(amount) OVER (PARTITION BY user_id ORDER BY ts)"),
    "lag_bad_default": select("LAG(amount, 1, 'none') OVER (PARTITION BY user_id ORDER BY ts, txn_id)"),
    "lag_huge_offset": select("LAG(amount, 9223372036854775807) OVER (PARTITION BY user_id ORDER BY ts, txn_id)"),
    "lag_negative": select("LAG(amount, -1) OVER (PARTITION BY user_id ORDER BY ts, txn_id)"),
    "sum_text": select(f"SUM(status) {W}"), "avg_bool": select(f"AVG(flag) {W}"),
    "filter_float": select(f"MAX(amount) FILTER (WHERE amount) {W}"),
    "filter_window": select(f"COUNT(*) FILTER (WHERE COUNT(*) {W} > 1) {W}"),
    "count_distinct_rows": select(f"COUNT(DISTINCT status) {WT}"),
    "ignore_nulls": select("FIRST_VALUE(amount) IGNORE NULLS OVER (PARTITION BY user_id ORDER BY ts, txn_id)"),
    "unknown_function": select("frobnicate(amount)"),
    "unknown_column": select("nope + 1"),
    "ambiguous_alias": f"SELECT txn_id, ts, n AS x, amount AS x, COUNT(*) {W} AS c FROM {SRC}\n",
}

JINJA = {
    "cycler_globals": "{{ cycler.__init__.__globals__.os.system('touch /tmp/skewless_pwned') }}\n" + select("1"),
    "mro": "{{ ''.__class__.__mro__[1].__subclasses__() }}\n" + select("1"),
    "function_globals": "{{ source.__globals__ }}\n" + select("1"),
    "joiner": "{{ joiner.__init__.__globals__ }}\n" + select("1"),
    "namespace": "{{ namespace.__init__.__globals__ }}\n" + select("1"),
    "lipsum": "{{ lipsum.__globals__['os'].popen('id').read() }}\n" + select("1"),
    "format_attr": "{{ '{0.__class__}'.format(1) }}\n" + select("1"),
    "string_bomb": "{{ 'a' * 10**9 }}\n" + select("1"),
    "list_bomb": "{{ [1] * 10**9 }}\n" + select("1"),
    "power_bomb": "{{ 10 ** 10 ** 6 }}\n" + select("1"),
    "loop_bomb": "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}\n" + select("1"),
    "range_huge": "{% for i in range(10**12) %}{% endfor %}\n" + select("1"),
    "recursive_macro": "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}\n" + select("1"),
    "include_file": "{% include '/etc/passwd' %}\n" + select("1"),
    "import": "{% import 'os' as os %}\n" + select("1"),
    "undefined": "{{ nothing_here }}\n" + select("1"),
    "unknown_source": "SELECT txn_id, ts, COUNT(*) " + W + " AS c FROM {{ source('nope') }}\n",
    "unknown_ref": "SELECT txn_id, ts, COUNT(*) " + W + " AS c FROM {{ ref('nope') }}\n",
    "missing_var": select("{{ var('missing') }}"),
    "bad_config": "{{ config(materialized='table') }}\n" + select("1"),
    "unclosed_block": "{% if true %}\n" + select("1"),
    "syntax": "{{ 1 + }}\n" + select("1"),
    "mutate_globals": "{% do config.update({}) %}\n" + select("1"),
    "self_attr": "{{ self.__init__ }}\n" + select("1"),
    "env_var_missing": select("{{ env_var('SKEWLESS_SURELY_UNSET_VAR') }}"),
}

NAMES = {  # file name -> content (a valid view body)
    "evil\nDROP TABLE tx; --.sql": select("amount"),
    "a.b.sql": select("amount"),
    "with space.sql": select("amount"),
    "dash-name.sql": select("amount"),
    "1leading_digit.sql": select("amount"),
    ("x" * 64) + ".sql": select("amount"),
    "vüe.sql": select("amount"),
    "...sql": select("amount"),
    "tx.sql": select("amount"),                # same name as the source
    "select.sql": select("amount"),            # a reserved word: accepted, always quoted
    "quote'name.sql": select("amount"),
    'dq"name.sql': select("amount"),
}

ENCODINGS = {
    "latin1.sql": select("'café'").encode("latin-1"),
    "utf16.sql": select("'x'").encode("utf-16"),
    "utf8_bom.sql": b"\xef\xbb\xbf" + select("amount").encode(),   # accepted: the BOM is skipped
    "bad_continuation.sql": select("'a\x80b'").encode("utf-8").replace(b"\xc2\x80", b"\x80"),
    "overlong.sql": select("'x'").encode().replace(b"'x'", b"'\xc0\xaf'"),
    "lone_surrogate.sql": select("'x'").encode().replace(b"'x'", b"'\xed\xa0\x80'"),
}


def corpus() -> list[tuple[str, str | bytes]]:
    out: list[tuple[str, str | bytes]] = []
    out += [(f"s_{k}.sql", select(v)) for k, v in SCALARS.items()]
    out += [(f"f_{k}.sql", frame(v)) for k, v in FRAMES.items()]
    out += [(f"x_{k}.sql", v) for k, v in SHAPES.items()]
    out += [(f"j_{k}.sql", v) for k, v in JINJA.items()]
    out += list(NAMES.items())
    out += [(f"e_{k}", v) for k, v in ENCODINGS.items()]
    return out
