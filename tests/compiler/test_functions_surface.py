from pathlib import Path

from skewless.compiler.functions.surface import markdown


def test_docs_function_table_is_generated_from_the_registry():
    doc = Path(__file__).parent.parent.parent / "docs" / "sql-functions.md"
    assert doc.read_text().strip() == markdown().strip(), "run python -m skewless.compiler.functions.surface"
