"""Find where a sqlglot node came from in the rendered SQL (character offsets)."""

from __future__ import annotations

import re

from sqlglot import exp


class Locator:
    def __init__(self, sql: str):
        self.sql = sql

    def offset(self, node: exp.Expression | None) -> int | None:
        """Start offset of ``node``: its own token, else its earliest positioned descendant,
        else its nearest positioned ancestor."""
        if node is None:
            return None
        own = node.meta.get("start") if node._meta else None
        if own is not None:
            start = own
            if isinstance(node, exp.Func):
                # function tokens are recorded at the name; keep it
                return start
            return start
        starts = [n.meta["start"] for n in node.walk() if n._meta and "start" in n.meta]
        if starts:
            first = min(starts)
            name = _func_name(node)
            if name:
                found = self.search_back(name, first)
                if found is not None:
                    return found
            return first
        parent = node.parent
        while parent is not None:
            starts = [n.meta["start"] for n in parent.walk() if n._meta and "start" in n.meta]
            if starts:
                name = _func_name(node)
                found = self.search(re.escape(name), min(starts)) if name else None
                return found if found is not None else min(starts)
            parent = parent.parent
        return None

    def keyword_before(self, node: exp.Expression, word: str) -> int | None:
        """Offset of the last ``word`` (e.g. SELECT) at or before where ``node`` starts."""
        base = self.offset(node)
        if base is None:
            return self.search(word, 0)
        found = self.search_back(word, base)
        return found if found is not None else base

    def word_at(self, offset: int | None) -> str:
        m = re.compile(r"\w+").match(self.sql, offset or 0)
        return m.group(0) if m else ""

    def search_back(self, word: str, before: int) -> int | None:
        best = None
        for m in re.finditer(rf"(?i)\b{re.escape(word)}\b", self.sql[: before + 1]):
            best = m.start()
        return best

    def search(self, word: str, after: int | None, limit: int | None = None) -> int | None:
        start = after or 0
        m = re.compile(rf"(?i)\b{word}\b").search(self.sql, start, limit if limit is not None else len(self.sql))
        return m.start() if m else None

    def keyword_in(self, node: exp.Expression, word: str) -> int | None:
        """Offset of a keyword (regex) at or after where ``node`` starts; falls back to the node."""
        base = self.offset(node)
        found = self.search(word, base)
        return found if found is not None else base


def _func_name(node: exp.Expression) -> str | None:
    if isinstance(node, exp.Interval):
        return "INTERVAL"
    if isinstance(node, exp.Window):
        return None
    if isinstance(node, exp.Func):
        names = node.sql_names() if hasattr(node, "sql_names") else []
        return names[0] if names else None
    return None
