"""``LEFT JOIN {{ ref('v') }}`` of another view's row of the same event (`ViewJoin`): what validate
accepts, and each refusal at its place with a hint."""

from __future__ import annotations

import pytest

MERCHANT = """SELECT txn_id, merchant_id, ts,
  COUNT(*) OVER (PARTITION BY merchant_id ORDER BY ts RANGE BETWEEN INTERVAL '1 hour' PRECEDING AND CURRENT ROW) AS mc
FROM {{ source('tx') }}
WHERE amount > 0"""
NO_KEY = """SELECT merchant_id, ts, COUNT(*) OVER (PARTITION BY merchant_id ORDER BY ts) AS mc
FROM {{ source('tx') }}"""
OTHER_SOURCE = """SELECT user_id, ts, SUM(v) OVER (PARTITION BY user_id ORDER BY ts) AS sv
FROM {{ source('nokey') }}"""
OVER_VIEW = """SELECT txn_id, merchant_id, ts, SUM(mc) OVER (PARTITION BY merchant_id ORDER BY ts) AS smc
FROM {{ ref('merchant') }}"""


def joining(on: str = "m.txn_id = e.txn_id", target: str = "merchant", extra: str = "") -> str:
    return f"""SELECT e.txn_id, e.user_id, e.ts, m.mc,
  AVG(m.mc) OVER (PARTITION BY e.user_id ORDER BY e.ts RANGE BETWEEN INTERVAL '1 day' PRECEDING AND CURRENT ROW) AS a
FROM {{{{ source('tx') }}}} AS e
LEFT JOIN {{{{ ref('{target}') }}}} AS m ON {on}{extra}"""


def test_a_view_joins_another_views_row_of_the_same_event(compile_views):
    compiled = compile_views({"merchant": MERCHANT, "user_view": joining()})
    assert compiled.diagnostics == []
    view = compiled.views["user_view"]
    (vj,) = view.view_joins
    assert (vj.view, vj.alias, [(k.dimension_column, k.input_column) for k in vj.on]) == ("merchant", "m",
                                                                                          [("txn_id", "txn_id")])
    assert [c.name for c in vj.columns] == ["m__mc"] and view.joins == []
    assert view.depends_on == ["merchant"] and view.input.kind == "source"
    # the joined view's definition is in the joining view's fingerprint
    changed = compile_views({"merchant": MERCHANT.replace("amount > 0", "amount > 1"), "user_view": joining()})
    assert changed.views["user_view"].fingerprint != view.fingerprint


@pytest.mark.parametrize("views, message, at", [
    ({"merchant": MERCHANT, "user_view": joining("m.txn_id = e.merchant_id")},
     "m.txn_id is tx.txn_id, joined to merchant_id", "m.txn_id = e.merchant_id"),
    ({"merchant": MERCHANT, "user_view": joining("m.merchant_id = e.merchant_id")},
     "m.merchant_id does not pass the unique key of 'tx' through", "m.merchant_id = e.merchant_id"),
    ({"merchant": MERCHANT, "user_view": joining("m.txn_id = e.txn_id AND m.mc > 1")},
     "unsupported join condition", "m.mc > 1"),
    ({"merchant": NO_KEY, "user_view": joining()},
     "view 'merchant' does not output the unique key of source 'tx' (txn_id)", "{{ ref('merchant') }}"),
    ({"other": OTHER_SOURCE, "user_view": joining("m.user_id = e.user_id", "other")},
     "ref('other') is over source 'nokey'", "{{ ref('other') }}"),
    ({"merchant": MERCHANT, "merchant2": OVER_VIEW, "user_view": joining(target="merchant2")},
     "view 'merchant2' does not output the unique key of source 'tx'", "{{ ref('merchant2') }}"),
    ({"merchant": MERCHANT, "user_view": joining(extra="\nLEFT JOIN {{ ref('merchant') }} AS m2 ON m2.txn_id = e.txn_id")},
     "a view joins at most one other view", "{{ ref('merchant') }} AS m ON"),
])
def test_refused_view_joins_name_their_place(compile_views, views, message, at):
    compiled = compile_views(views)
    mine = [d for d in compiled.diagnostics if d.path.endswith("user_view.sql")]
    assert mine, [d.format() for d in compiled.diagnostics]
    assert message in mine[0].message, mine[0].format()
    text = views["user_view"]
    index = text.index(at)
    assert (mine[0].line, mine[0].col) == (text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1), \
        mine[0].format()
    assert mine[0].hint


def test_request_event_features_of_a_view_joining_a_view_are_refused(compile_views):
    model = """models:
  - name: m
    label: {source: tx, column: flag}
    features:
      - view: user_view
        at: request_event
"""
    compiled = compile_views({"merchant": MERCHANT, "user_view": joining()}, {"models/m.yml": model})
    assert any("joins view 'merchant', which has no row for an event not recorded yet" in d.message
               for d in compiled.diagnostics), [d.format() for d in compiled.diagnostics]
