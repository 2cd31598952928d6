"""YAML loading that remembers where every mapping key and sequence item came from.

Pydantic validation errors carry a ``loc`` path; `locate` turns it back into ``line, col`` so
that config errors name the exact place in the YAML file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..errors import Diagnostic, SkewlessError


class PosDict(dict):
    positions: dict[Any, tuple[int, int]]
    start: tuple[int, int] = (1, 1)


class PosList(list):
    positions: list[tuple[int, int]]
    start: tuple[int, int] = (1, 1)


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> PosDict:
    loader.flatten_mapping(node)
    out = PosDict()
    out.positions = {}
    out.start = (node.start_mark.line + 1, node.start_mark.column + 1)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        out[key] = loader.construct_object(value_node, deep=True)
        out.positions[key] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
    return out


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> PosList:
    out = PosList(loader.construct_object(child, deep=True) for child in node.value)
    out.positions = [(c.start_mark.line + 1, c.start_mark.column + 1) for c in node.value]
    out.start = (node.start_mark.line + 1, node.start_mark.column + 1)
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load_yaml_text(text: str, path: str | Path) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise SkewlessError(
            Diagnostic(str(path), line, col, f"invalid YAML: {exc.problem or exc}", "check indentation and quoting")
        ) from None
    except yaml.YAMLError as exc:
        raise SkewlessError(Diagnostic(str(path), 1, 1, f"invalid YAML: {exc}", "check indentation and quoting")) from None
    except RecursionError:
        raise SkewlessError(Diagnostic(str(path), 1, 1, "invalid YAML: nested too deeply",
                                       "a project file is a few levels of mappings and lists")) from None


def locate(data: Any, loc: tuple[Any, ...]) -> tuple[int, int]:
    """Best position for a pydantic ``loc`` path inside data loaded by `load_yaml_text`."""
    pos = getattr(data, "start", (1, 1))
    node = data
    for part in loc:
        if isinstance(node, PosDict) and part in node:
            pos = node.positions.get(part, pos)
            node = node[part]
        elif isinstance(node, PosList) and isinstance(part, int) and 0 <= part < len(node):
            pos = node.positions[part]
            node = node[part]
        else:
            break
    return pos
