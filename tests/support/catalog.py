"""A catalog of views covering every aggregate family × frame kind × EXCLUDE mode of the contract,
over the fixture project's ``tx`` source. Shared by the batch and stream oracle tests."""

from __future__ import annotations

ORDER_INDEPENDENT = {
    "c_star": "COUNT(*)",
    "c_amount": "COUNT(amount)",
    "s_n": "SUM(n)",
    "s_amount": "SUM(amount)",
    "avg_amount": "AVG(amount)",
    "avg_n": "AVG(n)",
    "min_amount": "MIN(amount)",
    "max_status": "MAX(status)",
    "vs_amount": "VAR_SAMP(amount)",
    "vp_n": "VAR_POP(n)",
    "sd_amount": "STDDEV_SAMP(amount)",
    "sdp_amount": "STDDEV_POP(amount)",
    "bor_flag": "BOOL_OR(flag)",
    "band_big": "BOOL_AND(amount > 5)",
    "c_ok": "COUNT(*) FILTER (WHERE status = 'ok')",
    "s_flag": "SUM(amount) FILTER (WHERE flag)",
}
DISTINCT = {"cd_merchant": "COUNT(DISTINCT merchant_id)", "cd_ok": "COUNT(DISTINCT merchant_id) FILTER (WHERE status = 'ok')"}
ORDER_DEPENDENT = {"fv_amount": "FIRST_VALUE(amount)", "lv_n": "LAST_VALUE(n)"}

RANGE_FRAMES = {
    "r1h": "RANGE BETWEEN INTERVAL '1 hour' PRECEDING AND CURRENT ROW",
    "rlife": "RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW",
}
# frames ending before the current time (last week excluding today), with an EXCLUDE that has
# nothing left to exclude
DELAYED_FRAMES = {
    "rd2h_30m": "RANGE BETWEEN INTERVAL '2 hours' PRECEDING AND INTERVAL '30 minutes' PRECEDING",
    "rdlife_1h": "RANGE BETWEEN UNBOUNDED PRECEDING AND INTERVAL '1 hour' PRECEDING",
    "rd1h_1h_xgrp": "RANGE BETWEEN INTERVAL '1 hour' PRECEDING AND INTERVAL '1 hour' PRECEDING EXCLUDE GROUP",
}
ROWS_FRAMES = {
    "rows3": "ROWS BETWEEN 3 PRECEDING AND CURRENT ROW",
    "rows4_1": "ROWS BETWEEN 4 PRECEDING AND 1 PRECEDING",
    "rowslife": "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW",
}
EXCLUDES = {"": "", "xcur": " EXCLUDE CURRENT ROW", "xgrp": " EXCLUDE GROUP", "xties": " EXCLUDE TIES"}


def _view(aggs: dict[str, str], window: str, extra: str = "") -> str:
    cols = ",\n  ".join(f"{expr} OVER w AS {name}" for name, expr in aggs.items())
    return (f"SELECT txn_id, user_id, ts,\n  {cols}{extra}\nFROM {{{{ source('tx') }}}}\n"
            f"WINDOW w AS (PARTITION BY user_id ORDER BY {window})")


def views(distinct: bool) -> dict[str, str]:
    """name -> view SQL. ``distinct`` selects the COUNT(DISTINCT) views (Postgres cannot run those
    as written, so their oracle is DuckDB running the same SQL)."""
    out = {}
    for fname, frame in RANGE_FRAMES.items():
        for xname, exclude in EXCLUDES.items():
            aggs = DISTINCT if distinct else ORDER_INDEPENDENT
            out[f"{fname}{'_' + xname if xname else ''}{'_cd' if distinct else ''}"] = _view(aggs, f"ts {frame}{exclude}")
    for fname, frame in DELAYED_FRAMES.items():
        aggs = DISTINCT if distinct else ORDER_INDEPENDENT
        out[f"{fname}{'_cd' if distinct else ''}"] = _view(aggs, f"ts {frame}")
    for fname, frame in ROWS_FRAMES.items():
        for xname, exclude in EXCLUDES.items():
            aggs = DISTINCT if distinct else {**ORDER_INDEPENDENT, **ORDER_DEPENDENT}
            out[f"{fname}{'_' + xname if xname else ''}{'_cd' if distinct else ''}"] = _view(aggs, f"ts, txn_id {frame}{exclude}")
    if not distinct:
        out["lag"] = _view({"lag1": "LAG(amount)", "lag2": "LAG(n, 2, -1)", "lag_ts": "LAG(ts)"}, "ts, txn_id",
                           extra=",\n  EXTRACT(EPOCH FROM ts - LAG(ts) OVER w) AS gap_s")
        out["fvlife"] = _view({"fv_life": "FIRST_VALUE(amount)", "lv_life": "LAST_VALUE(amount)"}, "ts, txn_id")
        out["where_default"] = (
            "SELECT txn_id, user_id, ts, amount * 2 AS double_amount,\n"
            "  COUNT(*) OVER (PARTITION BY user_id ORDER BY ts) AS c_default,\n"
            "  COALESCE(SUM(amount) OVER (PARTITION BY user_id ORDER BY ts RANGE BETWEEN INTERVAL '30 minutes' "
            "PRECEDING AND CURRENT ROW), 0) / NULLIF(COUNT(*) OVER (PARTITION BY user_id ORDER BY ts), 0) AS ratio\n"
            "FROM {{ source('tx') }}\nWHERE status IS DISTINCT FROM 'bad'")
    return out


def compile_catalog(root):
    """Copy the fixture project to ``root``, add every catalog view, compile. Returns
    (compiled project, names of the COUNT(DISTINCT) views)."""
    import shutil
    from pathlib import Path

    from skewless.compiler.project.build import build_project
    from skewless.compiler.project.loader import load_project

    shutil.copytree(Path(__file__).parents[1] / "compiler" / "fixture_project", root)
    for name, sql in {**views(False), **views(True)}.items():
        (root / "features" / f"{name}.sql").write_text(sql)
    compiled = build_project(load_project(root))
    assert not compiled.diagnostics, compiled.diagnostics[:3]
    return compiled, set(views(True))
