"""``skewless serve``: the scoring service as a Starlette ASGI app (run by uvicorn)."""

from __future__ import annotations

import json
from decimal import Decimal
import math
import time
from datetime import datetime, timezone

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..stream.online import StaleRead, read_as_of
from .scorer import RequestError, Scorer

MAX_BODY = 64 * 1024


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

    def guarded(endpoint: str, handler, auth: bool = True):
        async def wrapped(request: Request):
            started = time.perf_counter()
            if auth and token and request.headers.get("authorization") != f"Bearer {token}":
                resp = error(401, "missing or wrong bearer token")
            else:
                try:
                    resp = await handler(request)
                except RequestError as exc:
                    resp = error(400, str(exc))
            requests.labels(endpoint, str(resp.status_code)).inc()
            latency.labels(endpoint).observe(time.perf_counter() - started)
            return resp
        return wrapped

    async def score(request: Request):
        model = request.path_params["model"]
        if model not in scorers:
            return error(404, f"unknown model {model!r}; serving: {', '.join(scorers)}")
        size = int(request.headers.get("content-length") or 0)
        if size > MAX_BODY:
            return error(413, f"request body over {MAX_BODY} bytes")
        body = await request.body()
        if len(body) > MAX_BODY:
            return error(413, f"request body over {MAX_BODY} bytes")
        try:
            payload = json.loads(body or b"null")
        except json.JSONDecodeError as exc:
            return error(400, f"invalid JSON: {exc.msg}")
        if not isinstance(payload, dict):
            return error(400, "the body must be a JSON object of entity keys and request fields")
        at = None
        if "at" in payload:
            try:
                at = datetime.fromisoformat(str(payload.pop("at")).replace("Z", "+00:00"))
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
        return JSONResponse({"status": "ok", "models": {m: s.meta["version"] for m, s in scorers.items()}})

    async def metrics(request: Request):
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return Starlette(routes=[
        Route("/score/{model}", guarded("score", score), methods=["POST"]),
        Route("/features/{view}/{key}", guarded("features", features), methods=["GET"]),
        Route("/healthz", guarded("healthz", healthz, auth=False), methods=["GET"]),
        Route("/metrics", guarded("metrics", metrics, auth=False), methods=["GET"]),
    ])
