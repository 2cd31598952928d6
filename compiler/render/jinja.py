"""Render view templates with Jinja; errors come back with their template line."""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import jinja2.sandbox

from ..errors import Diagnostic, DiagnosticBag
from .context import RenderContext, TemplateCallError, env_var_value, var_value
from .linemap import LineMap
from .safe import TemplateLimit, read_text, render_limited, sandbox, time_limit


@dataclass(frozen=True)
class Rendered:
    path: str
    original: str
    sql: str
    linemap: LineMap
    context: RenderContext


class Renderer:
    """One Jinja environment per project: project macros plus the skewless functions."""

    def __init__(self, vars_: dict[str, Any], macro_files: list[Path] | None = None):
        self.vars = vars_
        self.env = sandbox(keep_trailing_newline=True, autoescape=False)
        self._ctx: RenderContext | None = None
        # Globals delegate to the view being rendered, so project macros can call them too.
        self.env.globals.update(
            source=lambda *a: self._current().source(*a),
            ref=lambda *a: self._current().ref(*a),
            config=lambda **kw: self._current().set_config(**kw),
            var=lambda *a: var_value(self.vars, *a),
            env_var=env_var_value,
        )
        self.macro_errors: list[Diagnostic] = []
        for path in macro_files or []:
            self._load_macros(path)

    def _load_macros(self, path: Path) -> None:
        bag = DiagnosticBag()
        text = read_text(path, str(path), bag)
        if text is None:
            self.macro_errors.extend(bag.items)
            return
        try:
            with time_limit():
                module = self.env.from_string(text, globals={}).module
        except Exception as exc:  # noqa: BLE001 - reported as a diagnostic
            self.macro_errors.append(_diagnostic(exc, str(path), text))
            return
        for name in dir(module):
            if not name.startswith("_"):
                self.env.globals[name] = getattr(module, name)

    def render(self, path: str, text: str, ctx: RenderContext) -> Rendered | Diagnostic:
        try:
            template = self.env.from_string(text)
            template.filename = path
            self._ctx = ctx
            sql = render_limited(template)
        except Exception as exc:  # noqa: BLE001 - every template failure becomes a diagnostic
            return _diagnostic(exc, path, text)
        finally:
            self._ctx = None
        return Rendered(path, text, sql, LineMap(text, sql), ctx)


    def _current(self) -> RenderContext:
        if self._ctx is None:
            raise TemplateCallError("source(), ref() and config() can only be used inside a view")
        return self._ctx


def _template_line(exc: BaseException, path: str) -> int:
    line = getattr(exc, "lineno", None)
    if line:
        return line
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename in (path, "<template>") and frame.lineno:
            return frame.lineno
    return 1


def _column_of_call(text: str, line: int) -> int:
    lines = text.splitlines()
    if 1 <= line <= len(lines):
        src = lines[line - 1]
        for marker in ("{{", "{%"):
            if marker in src:
                return src.index(marker) + 1
        return len(src) - len(src.lstrip()) + 1
    return 1


def _diagnostic(exc: BaseException, path: str, text: str) -> Diagnostic:
    line = _template_line(exc, path)
    col = _column_of_call(text, line)
    if isinstance(exc, TemplateCallError):
        return Diagnostic(path, line, col, exc.message, exc.hint)
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return Diagnostic(path, line, col, f"Jinja syntax error: {exc.message}", "check {{ }} and {% %} pairs")
    if isinstance(exc, jinja2.sandbox.SecurityError):
        return Diagnostic(path, line, col, f"Jinja: not allowed in a template: {exc}",
                          "templates run sandboxed: no access to Python internals")
    if isinstance(exc, TemplateLimit):
        return Diagnostic(path, line, col, f"Jinja: {exc}", "templates run with time and size limits")
    if isinstance(exc, RecursionError):
        return Diagnostic(path, line, col, "Jinja: template recursion too deep", "")
    if isinstance(exc, jinja2.UndefinedError):
        return Diagnostic(path, line, col, f"Jinja: {exc.message}",
                          "available: source(), ref(), config(), var(), env_var() and project macros")
    return Diagnostic(path, line, col, f"template error: {type(exc).__name__}: {exc}", "")
