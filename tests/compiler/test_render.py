"""Jinja rendering and the map from rendered SQL back to template positions."""

from __future__ import annotations

from skewless.compiler.render.context import RenderContext
from skewless.compiler.render.jinja import Renderer
from skewless.compiler.render.linemap import LineMap


def render(text: str, vars_=None):
    ctx = RenderContext(sources={"tx"}, views={"up"}, vars=vars_ or {})
    return Renderer(vars_ or {}).render("v.sql", text, ctx)


def test_source_and_ref_render_to_quoted_names_and_are_recorded():
    r = render("SELECT a FROM {{ source('tx') }} JOIN {{ ref('up') }}")
    assert r.sql == 'SELECT a FROM "tx" JOIN "up"'
    assert r.context.used_sources == ["tx"] and r.context.used_refs == ["up"]


def test_positions_after_a_jinja_call_on_the_same_line():
    text = "SELECT a\nFROM {{ source('tx') }} WHERE zz > 1\n"
    r = render(text)
    offset = r.sql.index("zz")
    assert r.linemap.original(offset) == (2, text.split("\n")[1].index("zz") + 1)


def test_positions_after_removed_block_lines():
    text = "{% if true %}\n{% endif %}\n{{ config(description='x') }}\nSELECT\n  bad_col\nFROM t\n"
    r = render(text)
    assert r.linemap.original(r.sql.index("bad_col")) == (5, 3)


def test_multiline_macro_output_maps_to_the_call_line():
    lm = LineMap("SELECT\n  {{ m() }} AS x\nFROM t", "SELECT\n  SUM(a)\n  OVER (w) AS x\nFROM t")
    assert lm.original(lm.rendered.index("OVER"))[0] == 2
    assert lm.original(lm.rendered.index("FROM")) == (3, 1)


def test_var_default_and_config_merge():
    r = render("{{ config(tags=['a']) }}{{ config(online=false) }}SELECT {{ var('k', 5) }} + {{ var('j') }}", {"j": 2})
    assert r.sql == "SELECT 5 + 2"
    assert r.context.config == {"tags": ["a"], "online": False}


def test_errors_carry_template_line():
    diag = render("SELECT 1\n\nFROM {{ source('missing') }}")
    assert (diag.line, diag.col, diag.message) == (3, 6, "unknown source 'missing'")
    diag = render("SELECT {{ undefined_thing }}\n")
    assert diag.line == 1 and "undefined_thing" in diag.message
