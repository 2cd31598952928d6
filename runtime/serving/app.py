"""``skewless serve``: the scoring service as a Starlette ASGI app (run by uvicorn).

Hostile input never reaches a 500: bodies are read as a stream with a size limit and a per-chunk
timeout, must be UTF-8 JSON objects at most 32 levels deep; every value problem is a 400. Bearer
tokens are compared in constant time. ``/healthz`` says only whether the service is up; model
versions are on the authenticated ``/models``."""

from __future__ import annotations

import asyncio
import hmac
import json
import math
import time
from datetime import datetime, timezone
from decimal import Decimal

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import log
from ..retry import Unavailable
from ..sources.decode import JsonNumber, _too_deep
from ..stream.online import StaleRead, read_as_of
from .scorer import RequestError, Scorer

MAX_BODY = 64 * 1024
BODY_CHUNK_TIMEOUT = 5.0     # seconds between two chunks of a request body
BODY_TIMEOUT = 10.0          # seconds for the whole body
MAX_DEPTH = 32


class BodyError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


async def read_body(request: Request) -> bytes:
    """The body, streamed: refused (413) as soon as it passes MAX_BODY, whatever Content-Length says,
    and (408) when the client sends it too slowly."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BodyError(400, "invalid Content-Length")
        if int(declared) > MAX_BODY:
            raise BodyError(413, f"request body over {MAX_BODY} bytes")
    chunks, size = [], 0
    deadline = time.monotonic() + BODY_TIMEOUT
    stream = request.stream().__aiter__()
    while True:
        left = min(BODY_CHUNK_TIMEOUT, deadline - time.monotonic())
        try:
            chunk = await asyncio.wait_for(stream.__anext__(), timeout=max(left, 0.001))
        except StopAsyncIteration:
            break
        except asyncio.TimeoutError:
            raise BodyError(408, "request body not received in time") from None
        size += len(chunk)
        if size > MAX_BODY:
            raise BodyError(413, f"request body over {MAX_BODY} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json_object(body: bytes) -> dict:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyError(400, f"the body is not UTF-8 (byte {exc.start})") from None
    if _too_deep(text, MAX_DEPTH):
        raise BodyError(400, f"JSON nested deeper than {MAX_DEPTH} levels")
    try:
        payload = json.loads(text or "null", parse_float=JsonNumber, parse_constant=JsonNumber)
    except json.JSONDecodeError as exc:
        raise BodyError(400, f"invalid JSON: {exc.msg} at column {exc.colno}") from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise BodyError(400, f"invalid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise BodyError(400, "the body must be a JSON object of entity keys and request fields")
    return payload


def _json_value(v):
    if isinstance(v, Decimal):
        v = float(v)  # numeric features: JSON numbers are doubles
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    if isinstance(v, datetime):
        return v.isoformat()
    if hasattr(v, "total_seconds"):
        return v.total_seconds()
    return v


def create_app(scorers: dict[str, Scorer], compiled, store, token: str | None = None) -> Starlette:
    registry = CollectorRegistry()
    requests = Counter("skewless_requests_total", "Requests", ["endpoint", "status"], registry=registry)
    latency = Histogram("skewless_request_seconds", "Request latency", ["endpoint"], registry=registry,
                        buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0))

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    expected = f"Bearer {token}".encode() if token else None

    def authorized(request: Request) -> bool:
        given = request.headers.get("authorization", "").encode("latin-1", "replace")
        return expected is None or hmac.compare_digest(given, expected)

    def guarded(endpoint: str, handler, auth: bool = True):
        async def wrapped(request: Request):
            started = time.perf_counter()
            if auth and not authorized(request):
                resp = error(401, "missing or wrong bearer token")
            else:
                try:
                    resp = await handler(request)
                except BodyError as exc:
                    resp = error(exc.status, str(exc))
                except (RequestError, ValueError, TypeError, ArithmeticError, OverflowError, RecursionError) as exc:
                    resp = error(400, f"invalid request: {exc}")
                except Unavailable as exc:
                    log.error("serve.unavailable", endpoint=endpoint, error=str(exc))
                    resp = error(503, str(exc))
                except Exception as exc:  # noqa: BLE001 - a bug of ours: logged, answered without internals
                    log.error("serve.failed", endpoint=endpoint, error=f"{type(exc).__name__}: {exc}")
                    resp = error(500, "internal error")
            requests.labels(endpoint, str(resp.status_code)).inc()
            latency.labels(endpoint).observe(time.perf_counter() - started)
            return resp
        return wrapped

    async def score(request: Request):
        model = request.path_params["model"]
        if model not in scorers:
            return error(404, f"unknown model {model!r}; serving: {', '.join(scorers)}")
        payload = parse_json_object(await read_body(request))
        at = None
        if "at" in payload:
            raw = payload.pop("at")
            try:
                if not isinstance(raw, str):
                    raise ValueError
                at = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            except ValueError:
                return error(400, "'at' must be an ISO-8601 time")
        try:
            value, features = scorers[model].score(payload, at)
        except StaleRead as exc:
            return error(409, str(exc))
        out = {"model": model, "version": scorers[model].meta["version"], "score": value}
        if request.query_params.get("explain") in ("1", "true"):
            out["features"] = {k: _json_value(v) for k, v in features.items()}
        return JSONResponse(out)

    async def features(request: Request):
        name = request.path_params["view"]
        view = compiled.views.get(name)
        if view is None:
            return error(404, f"unknown view {name!r}")
        key = request.path_params["key"].split(",")
        if len(key) != len(view.entity):
            return error(400, f"{name} is keyed by ({', '.join(view.entity)}): pass {len(view.entity)} "
                              "comma-separated value(s)")
        from ..sources.decode import _coerce

        types = {c.name: c.type for c in view.input_columns}
        try:
            values = [_coerce(k, types[c]) for k, c in zip(key, view.entity)]
            row = read_as_of(store, view, values, datetime.now(timezone.utc))
        except StaleRead as exc:
            return error(409, str(exc))
        except (ValueError, TypeError) as exc:
            return error(400, str(exc))
        return JSONResponse({k: _json_value(v) for k, v in row.items()})

    async def healthz(request: Request):
        return JSONResponse({"status": "ok"})

    async def models(request: Request):
        return JSONResponse({"models": {m: s.meta["version"] for m, s in scorers.items()}})

    async def metrics(request: Request):
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return Starlette(routes=[
        Route("/score/{model}", guarded("score", score), methods=["POST"]),
        Route("/features/{view}/{key}", guarded("features", features), methods=["GET"]),
        Route("/models", guarded("models", models), methods=["GET"]),
        Route("/healthz", guarded("healthz", healthz, auth=False), methods=["GET"]),
        Route("/metrics", guarded("metrics", metrics, auth=False), methods=["GET"]),
    ])
