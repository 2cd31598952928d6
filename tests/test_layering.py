"""The packages' one rule each way: compiler/ never imports the runtime; the runtime reaches the
compiler only through `skewless.compiler.contract` (the artifact loader, the IR, plans, functions)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


def _imports(path: Path) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            out.extend((node.lineno, a.name) for a in node.names)
    return out


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", _modules("compiler"), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_compiler_never_imports_the_runtime(path):
    bad = [(line, m) for line, m in _imports(path) if m.startswith("skewless.runtime")]
    assert not bad, f"{path.relative_to(ROOT)} imports the runtime: {bad}"


@pytest.mark.parametrize("path", _modules("runtime"), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_runtime_reaches_the_compiler_only_through_its_contract(path):
    bad = [(line, m) for line, m in _imports(path)
           if m.startswith("skewless.compiler") and m != "skewless.compiler.contract"]
    assert not bad, (f"{path.relative_to(ROOT)} imports compiler internals {bad}: "
                     "export what it needs from compiler/contract.py")


def test_the_contract_exports_what_it_lists():
    import skewless.compiler.contract as contract

    missing = [n for n in contract.__all__ if not hasattr(contract, n)]
    assert not missing
    assert len(set(contract.__all__)) == len(contract.__all__)
    # the names type checkers see (its TYPE_CHECKING imports) are the ones it resolves at run time
    tree = ast.parse((ROOT / "compiler" / "contract.py").read_text())
    checked = next(n for n in tree.body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING")
    typed = {(a.asname or a.name): (node.module, a.name) for node in checked.body if isinstance(node, ast.ImportFrom)
             for a in node.names}
    assert typed == dict(contract._EXPORTS)
    # the runtime uses every name it lets through (a door, not a second copy of the compiler's API)
    used = set()
    for path in _modules("runtime"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "skewless.compiler.contract":
                used.update(a.name for a in node.names)
    assert set(contract.__all__) - used == set()
