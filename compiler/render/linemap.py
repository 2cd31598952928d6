"""Map positions in Jinja-rendered SQL back to the original ``.sql`` file.

Lines that rendering left untouched map one to one; lines that a ``{{ source() }}``, a macro or a
``{% if %}`` changed map to the template line they came from, with the column aligned by a
character diff so that a column name after ``{{ source('x') }}`` still points at the right place.
"""

from __future__ import annotations

import bisect
from difflib import SequenceMatcher


class LineMap:
    def __init__(self, original: str, rendered: str):
        self.original_lines = original.splitlines() or [""]
        self.rendered = rendered
        self.rendered_lines = rendered.splitlines() or [""]
        self._line_starts = [0]
        for i, ch in enumerate(rendered):
            if ch == "\n":
                self._line_starts.append(i + 1)
        self._line_map: list[int] = [0] * len(self.rendered_lines)
        self._exact: list[bool] = [False] * len(self.rendered_lines)
        matcher = SequenceMatcher(None, self.rendered_lines, self.original_lines, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            for i in range(i1, i2):
                if tag == "equal":
                    self._line_map[i] = j1 + (i - i1)
                    self._exact[i] = True
                elif tag == "replace":
                    self._line_map[i] = j1 + min(i - i1, j2 - j1 - 1)
                else:  # insert: rendered lines with no template line (macro bodies)
                    self._line_map[i] = max(j1 - 1, 0) if j1 >= len(self.original_lines) else j1

    def rendered_line_col(self, offset: int) -> tuple[int, int]:
        """0-based rendered (line, col) for a character offset."""
        offset = max(0, min(offset, max(len(self.rendered) - 1, 0)))
        line = bisect.bisect_right(self._line_starts, offset) - 1
        return line, offset - self._line_starts[line]

    def original(self, offset: int | None) -> tuple[int, int]:
        """1-based (line, col) in the original file for an offset into the rendered SQL."""
        if offset is None:
            return 1, 1
        rline, rcol = self.rendered_line_col(offset)
        rline = min(rline, len(self._line_map) - 1)
        oline = self._line_map[rline]
        if self._exact[rline]:
            return oline + 1, rcol + 1
        return oline + 1, self._column(self.rendered_lines[rline], self.original_lines[oline], rcol) + 1

    @staticmethod
    def _column(rendered_line: str, original_line: str, rcol: int) -> int:
        matcher = SequenceMatcher(None, rendered_line, original_line, autojunk=False)
        best = 0
        for a, b, size in matcher.get_matching_blocks():
            if size == 0:
                continue
            if a <= rcol < a + size:
                return b + (rcol - a)
            if a > rcol:
                return b if best == 0 else best
            best = b + size
        # inside text that only the rendering produced: point at the start of the Jinja call
        stripped = len(original_line) - len(original_line.lstrip())
        return max(min(best, len(original_line)), stripped)
