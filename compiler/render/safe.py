"""Reading project files and running templates safely: strict UTF-8 with positions, sandboxed Jinja."""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from pathlib import Path

import jinja2
import jinja2.sandbox

from ..errors import DiagnosticBag

MAX_FILE = 1_000_000     # bytes; a view or YAML file beyond this is refused rather than parsed


def read_text(path: Path, display: str, bag: DiagnosticBag) -> str | None:
    """A project file as text: UTF-8 (a byte-order mark is skipped); anything else is a diagnostic
    at the offending byte's line and column."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        bag.add(display, 1, 1, f"cannot read the file: {exc.strerror or exc}", "")
        return None
    if len(data) > MAX_FILE:
        bag.add(display, 1, 1, f"file is {len(data):,} bytes; the limit is {MAX_FILE:,}", "split it")
        return None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    nul = data.find(b"\x00")
    if nul >= 0:  # Postgres cannot receive a NUL in query text; no text format has one
        before = data[:nul]
        bag.add(display, before.count(b"\n") + 1, len(before) - (before.rfind(b"\n") + 1) + 1,
                "the file contains a NUL byte", "remove it (is this a binary or UTF-16 file?)")
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[:exc.start]
        line = before.count(b"\n") + 1
        col = len(before) - (before.rfind(b"\n") + 1) + 1
        bag.add(display, line, col, f"not valid UTF-8 (byte 0x{data[exc.start]:02x})", "save the file as UTF-8")
        return None




MAX_POWER_BITS = 4096        # {{ 9 ** 9 ** 9 }} would take minutes and gigabytes
MAX_RENDERED = 1_000_000     # characters a template may produce
RENDER_SECONDS = 10          # wall-clock budget of one template (main thread only: SIGALRM)


class TemplateLimit(Exception):
    """A template went beyond the rendering limits."""


class _Sandbox(jinja2.sandbox.ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset(["*", "**"])

    def call_binop(self, context, operator, left, right):
        if operator == "**" and isinstance(left, (int, float)) and isinstance(right, (int, float)):
            if abs(right) > 1 and abs(left) > 1 and abs(right) * max(abs(left), 2).bit_length() > MAX_POWER_BITS:
                raise TemplateLimit(f"{left!r} ** {right!r} is too large")
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and len(seq) * n > MAX_RENDERED:
                    raise TemplateLimit(f"repeating a {type(seq).__name__} {n:,} times is too large")
        return super().call_binop(context, operator, left, right)


def sandbox(**kw) -> jinja2.sandbox.ImmutableSandboxedEnvironment:
    """The one way templates run: sandboxed (no attribute access to Python internals, no mutation
    of passed-in objects, bounded arithmetic)."""
    return _Sandbox(undefined=jinja2.StrictUndefined, **kw)


@contextmanager
def time_limit(seconds: float = RENDER_SECONDS):
    """Raise TemplateLimit in the main thread if the block runs longer than ``seconds``."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum, frame):
        raise TemplateLimit(f"rendering took longer than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def render_limited(template: jinja2.Template, **kw) -> str:
    with time_limit():
        out = template.render(**kw)
    if len(out) > MAX_RENDERED:
        raise TemplateLimit(f"the template produced {len(out):,} characters; the limit is {MAX_RENDERED:,}")
    return out
