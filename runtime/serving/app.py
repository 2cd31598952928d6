"""``skewless serve``: the scoring service as an ASGI app (run by uvicorn): ``POST /score/{model}``
answered straight from the ASGI scope, every other route by Starlette (`ServingApp`).

Hostile input never reaches a 500: bodies are read as a stream with a size limit and a per-chunk
timeout, must be UTF-8 JSON objects at most 32 levels deep; every value problem is a 400. Bearer
tokens are compared in constant time. ``/healthz`` says only whether the service is up; model
versions are on the authenticated ``/models``; ``/openapi.json`` describes every route with each
model's request fields and each view's columns.

Store reads never block the event loop: Redis is read with its asyncio client, Postgres in the
threadpool, SQLite (a local file, tens of µs) directly. Decoding states and LightGBM (CPU work,
~0.1–0.5 ms a request) run on the loop: a thread would only add GIL hand-offs — the server scales
with worker processes (``serve --workers N``)."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import math
import time
from datetime import datetime, timezone
from typing import Any
from decimal import Decimal
from urllib.parse import parse_qsl

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import log
from ..retry import Unavailable
from ..sources.decode import JsonNumber, _too_deep
from ..stream.codec import StateFormatError
from ..stream.online import StaleRead, lookups, parse_key, rows_as_of
from .openapi import openapi
from ..experiments.feedback import parse_feedback
from ..experiments.store import DuplicateRequest
from .scorer import RequestError, Scorer

MAX_BODY = 1024 * 1024       # bytes: one request or a batch of up to MAX_ROWS rows
MAX_ROWS = 1000
MAX_KEYS = 1000              # keys per GET /features/{view}
BODY_CHUNK_TIMEOUT = 5.0     # seconds between two chunks of a request body
BODY_TIMEOUT = 10.0          # seconds for the whole body
MAX_DEPTH = 32
UNAUTHORIZED = "missing or wrong bearer token"


class BodyError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


async def read_body(declared: str | None, receive) -> bytes:
    """The body from the ASGI ``receive`` channel: refused (413) as soon as it passes MAX_BODY,
    whatever the Content-Length (``declared``) says, and (408) when the client sends it too slowly
    (BODY_CHUNK_TIMEOUT between chunks, BODY_TIMEOUT in all)."""
    if declared is not None:
        if not declared.isdigit():
            raise BodyError(400, "invalid Content-Length")
        if int(declared) > MAX_BODY:
            raise BodyError(413, f"request body over {MAX_BODY} bytes")
    chunks, size = [], 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BODY_TIMEOUT
    try:
        async with asyncio.timeout(min(BODY_CHUNK_TIMEOUT, BODY_TIMEOUT)) as timer:
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    raise BodyError(400, "the client disconnected before sending the body")
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > MAX_BODY:
                    raise BodyError(413, f"request body over {MAX_BODY} bytes")
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
                timer.reschedule(min(loop.time() + BODY_CHUNK_TIMEOUT, deadline))
    except TimeoutError:
        raise BodyError(408, "request body not received in time") from None
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


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


async def read_many(store, keys: list[tuple[str, str]]) -> dict:
    """One store round trip without blocking the event loop (see the module docstring)."""
    if hasattr(store, "aread_many"):
        return await store.aread_many(keys)
    if getattr(store, "local", False):
        return store.read_many(keys)
    return await run_in_threadpool(store.read_many, keys)


def failure(endpoint: str, exc: Exception) -> tuple[int, str]:
    """The status and message a handler's exception answers with (one mapping for every route)."""
    if isinstance(exc, BodyError):
        return exc.status, str(exc)
    if isinstance(exc, (StaleRead, DuplicateRequest)):
        return 409, str(exc)
    if isinstance(exc, StateFormatError):  # the store must be rebuilt: the operator's problem, named
        log.error("serve.state_format", endpoint=endpoint, error=str(exc))
        return 503, str(exc)
    if isinstance(exc, (RequestError, ValueError, TypeError, ArithmeticError, OverflowError, RecursionError)):
        return 400, f"invalid request: {exc}"
    if isinstance(exc, Unavailable):
        log.error("serve.unavailable", endpoint=endpoint, error=str(exc))
        return 503, str(exc)
    # a bug of ours: logged, answered without internals
    log.error("serve.failed", endpoint=endpoint, error=f"{type(exc).__name__}: {exc}")
    return 500, "internal error"


def batch_problem(rows, rest: dict, shape: str) -> tuple[int, str] | None:
    """Why a body's ``rows`` cannot be a batch (status, message), if it cannot: fields beside it
    (``rest``), not a non-empty list of objects, or more than MAX_ROWS."""
    if rest:
        return 400, f"a batch is {shape}; unexpected: {', '.join(rest)}"
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        return 400, "'rows' must be a non-empty list of JSON objects"
    if len(rows) > MAX_ROWS:
        return 413, f"at most {MAX_ROWS} rows per batch"
    return None


def render(payload) -> bytes:
    """JSON as Starlette's JSONResponse writes it (NaN refused: a ValueError, hence a 400)."""
    return json.dumps(payload, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


class ServingApp:
    """The ASGI app. ``POST /score/{model}`` — the hot path — is answered here directly from the
    ASGI scope (no router, request or response objects: about a third of a request's CPU under
    Starlette); every other request goes to the Starlette app. Both share the handlers, the error
    mapping and the metrics."""

    JSON = [(b"content-type", b"application/json")]

    def __init__(self, app: Starlette, score, authorized, observe):
        self.app, self.score, self.authorized, self.observe = app, score, authorized, observe

    async def __call__(self, scope, receive, send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or scope["method"] != "POST" or not path.startswith("/score/") \
                or "/" in path[7:] or len(path) == 7:
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        auth = length = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                auth = value
            elif name == b"content-length":
                length = value.decode("latin-1")
        try:
            if not self.authorized(auth or b""):
                status, data = 401, render({"error": UNAUTHORIZED})
            else:
                query = scope.get("query_string", b"")
                explain = bool(query) and dict(parse_qsl(query.decode("latin-1"))).get("explain") in ("1", "true")
                body = await read_body(length, receive)
                status, payload = await self.score(path[7:], body, explain)
                data = render(payload)
        except Exception as exc:  # noqa: BLE001 - mapped like every route's
            status, message = failure("score", exc)
            data = render({"error": message})
        await send({"type": "http.response.start", "status": status,
                    "headers": [*self.JSON, (b"content-length", str(len(data)).encode())]})
        await send({"type": "http.response.body", "body": data})
        self.observe("score", status, started)


def create_app(scorers: dict[str, Scorer], compiled, store, token: str | None = None,
               experiments: dict | None = None, reload=None, feature_logs: dict | None = None) -> ServingApp:
    """``experiments``: model -> `ServedExperiment` (runtime/experiments): those models' requests are
    routed among their arms, decisions logged; ``POST /feedback`` joins rewards to them."""
    experiments = experiments or {}
    feature_logs = feature_logs or {}  # model -> FeatureLog (runtime/serving/feature_log.py)

    def log_vector(scorer, request_id: str, request: dict, at: datetime, score: float, features: dict) -> None:
        flog = feature_logs.get(scorer.meta["model"])
        if flog is not None:
            fields = {c: request.get(c) for c in scorer.request_fields}
            flog.log(request_id, scorer.meta["version"], at, scorer._time(at), score, fields,
                     scorer.spec.vector(features))
    registry = CollectorRegistry()
    requests = Counter("skewless_requests_total", "Requests", ["endpoint", "status"], registry=registry)
    latency = Histogram("skewless_request_seconds", "Request latency", ["endpoint"], registry=registry,
                        buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0))

    decided = Counter("skewless_experiment_decisions_total", "Requests routed by experiments", ["model", "arm"],
                      registry=registry)
    fed = Counter("skewless_feedback_total", "Feedback received, by outcome", ["status"], registry=registry)

    def observe(endpoint: str, status: int, started: float) -> None:
        requests.labels(endpoint, str(status)).inc()
        latency.labels(endpoint).observe(time.perf_counter() - started)

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    expected = f"Bearer {token}".encode() if token else None

    def authorized(given: bytes) -> bool:
        return expected is None or hmac.compare_digest(given, expected)

    def guarded(endpoint: str, handler, auth: bool = True):
        async def wrapped(request: Request):
            started = time.perf_counter()
            if auth and not authorized(request.headers.get("authorization", "").encode("latin-1", "replace")):
                resp = error(401, UNAUTHORIZED)
            else:
                try:
                    resp = await handler(request)
                except Exception as exc:  # noqa: BLE001 - mapped by `failure`
                    resp = error(*failure(endpoint, exc))
            observe(endpoint, resp.status_code, started)
            return resp
        return wrapped

    def parse_at(raw) -> datetime | None:
        if raw is None:
            return None
        try:
            if not isinstance(raw, str):
                raise ValueError
            at = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise BodyError(400, "'at' must be an ISO-8601 time") from None
        return at if at.tzinfo else at.replace(tzinfo=timezone.utc)

    async def score_body(model: str, body: bytes, explain: bool) -> tuple[int, dict]:
        """(status, JSON payload) of a score request's body: one row or a batch."""
        if reload is not None:
            reload()  # a promoted champion replaces the served version (checked every few seconds)
        if model in experiments:
            return await routed(experiments[model], parse_json_object(body), explain)
        if model not in scorers:
            return 404, {"error": f"unknown model {model!r}; serving: {', '.join([*scorers, *experiments])}"}
        payload = parse_json_object(body)
        at = parse_at(payload.pop("at", None))
        scorer = scorers[model]
        logging = scorer.meta["model"] in feature_logs
        logged_at = at or datetime.now(timezone.utc)  # the logged time is the one the features were read at
        if logging:
            at = logged_at
        if "rows" in payload:  # a batch: one store round trip, one LightGBM call
            rows = payload.pop("rows")
            problem = batch_problem(rows, payload, '{"rows": [...], "at": ...}')
            if problem is not None:
                return problem[0], {"error": problem[1]}
            ids = [request_id(r) for r in rows] if logging else None
            parsed = scorer.prepare_many(rows)
            records = await read_many(store, scorer.store_keys_many(parsed))
            scores, many = scorer.finish_many(parsed, records, at)
            out: dict[str, Any] = {"model": model, "version": scorer.meta["version"], "scores": scores}
            if ids is not None:
                for row_id, row, score, feats in zip(ids, rows, scores, many):
                    log_vector(scorer, row_id, row, logged_at, score, feats)
                out["request_ids"] = ids
            if explain:
                out["features"] = [{k: _json_value(v) for k, v in f.items()} for f in many]
            return 200, out
        rid = request_id(payload) if logging else None
        prepared = scorer.prepare(payload)
        value, features = scorer.finish(prepared, await read_many(store, scorer.store_keys(prepared)), at)
        single: dict[str, Any] = {"model": model, "version": scorer.meta["version"], "score": value}
        if rid is not None:
            log_vector(scorer, rid, payload, logged_at, value, features)
            single["request_id"] = rid
        if explain:
            single["features"] = {k: _json_value(v) for k, v in features.items()}
        return 200, single

    async def routed(exp, payload: dict, explain: bool) -> tuple[int, dict]:
        """A request of a model under an experiment: routed, scored by its arm(s), logged."""
        at = parse_at(payload.pop("at", None)) or datetime.now(timezone.utc)
        rows = payload.pop("rows", None)
        problem = None if rows is None else batch_problem(rows, payload, '{"rows": [...], "at": ...}')
        if problem is not None:
            return problem[0], {"error": problem[1]}
        prepared = []
        for i, row in enumerate(rows if rows is not None else [payload]):
            try:
                prepared.append(exp.prepare(row))
            except RequestError as exc:
                raise RequestError(f"row {i}: {exc}" if rows is not None else str(exc)) from None
        keys = list(dict.fromkeys(k for p in prepared for k in exp.store_keys(p)))
        records = await read_many(store, keys)
        done = [exp.finish(p, records, at) for p in prepared]
        if len({d.request_id for d, _ in done}) < len(done):
            return 400, {"error": "request_id repeated within the batch"}
        await state_call(exp.store, exp.log, [d for d, _ in done])  # committed before the answer: feedback finds it
        for (d, r), row in zip(done, rows if rows is not None else [payload]):
            decided.labels(exp.model, d.arm).inc()
            log_vector(exp.arms[d.arm], d.request_id, row, at, r.score, r.features)
        answers = []
        for _, r in done:
            a = {"score": r.score, "request_id": r.request_id, "arm": r.arm, "version": r.version}
            if explain:
                a["features"] = {k: _json_value(v) for k, v in r.features.items()}
            answers.append(a)
        if rows is None:
            return 200, {"model": exp.model, "experiment": exp.id, **answers[0]}
        return 200, {"model": exp.model, "experiment": exp.id, "rows": answers}

    async def state_call(state_store, fn, *args):
        """The experiments' store: SQLite (a local file) on the loop; Postgres in the threadpool."""
        if state_store.db.pg:
            return await run_in_threadpool(fn, *args)
        return fn(*args)

    def request_id(row: dict) -> str:
        from ..experiments.router import ServedExperiment

        return ServedExperiment.request_id(row)

    async def feedback(request: Request):
        payload = parse_json_object(await read_body(request.headers.get("content-length"), request.receive))
        rows = payload.pop("rows", None)
        problem = None if rows is None else batch_problem(rows, payload, '{"rows": [...]}')
        if problem is not None:
            return error(*problem)
        if feedback_store is None:
            return error(404, "no experiment is served: feedback joins the decisions of models with an experiment")
        store_ = feedback_store

        def parse_all() -> list:
            items = []
            for i, row in enumerate(rows if rows is not None else [payload]):
                try:
                    items.append(parse_feedback(store_, row))
                except RequestError as exc:
                    raise RequestError(f"row {i}: {exc}" if rows is not None else str(exc)) from None
            return items

        try:
            items = await state_call(feedback_store, parse_all)
        except RequestError as exc:
            return error(400, str(exc))
        statuses = await state_call(feedback_store, feedback_store.feedback, items)
        for st in statuses:
            fed.labels(st).inc()
        for exp in experiments.values():
            exp.refresh()  # every `refresh` (default 1 s): not a store read per feedback
        if rows is None:
            code = {"applied": 200, "unknown": 404, "duplicate": 409, "expired": 410}[statuses[0]]
            message = {"applied": None, "unknown": "no decision was logged with this request_id",
                       "duplicate": "feedback for this request_id was received already",
                       "expired": "the decision is older than its experiment's feedback_window"}[statuses[0]]
            body = {"request_id": items[0].request_id, "status": statuses[0]}
            if message:
                body["error"] = message
            return JSONResponse(body, status_code=code)
        return JSONResponse({"results": [{"request_id": f.request_id, "status": st} for f, st in zip(items, statuses)],
                             "applied": statuses.count("applied")})

    async def experiment_status(request: Request):
        name = request.path_params["model"]
        if name not in experiments:
            return error(404, f"model {name!r} has no experiment; experiments: {', '.join(experiments) or 'none'}")
        return JSONResponse(experiments[name].summary())

    async def score(request: Request):  # ServingApp answers POST /score/{model}; the route keeps 405s
        status, out = await score_body(request.path_params["model"],
                                       await read_body(request.headers.get("content-length"), request.receive),
                                       request.query_params.get("explain") in ("1", "true"))
        return JSONResponse(out, status_code=status)

    def view_of(request: Request):
        name = request.path_params["view"]
        view = compiled.views.get(name)
        if view is None:
            raise BodyError(404, f"unknown view {name!r}")
        return view

    async def read_keys(view, keys: list[str], at: datetime | None) -> list[dict]:
        parsed = [parse_key(view, k) for k in keys]  # ValueError: a 400
        found = await read_many(store, lookups(view, parsed))
        return rows_as_of(view, parsed, found, at or datetime.now(timezone.utc), store)

    async def features(request: Request):
        view = view_of(request)
        at = parse_at(request.query_params.get("at"))
        row = (await read_keys(view, [request.path_params["key"]], at))[0]
        return JSONResponse({k: _json_value(v) for k, v in row.items()})

    async def features_many(request: Request):
        view = view_of(request)
        keys = request.query_params.getlist("key")
        if not keys:
            return error(400, "pass one or more key=... parameters (comma-separated values for compound keys)")
        if len(keys) > MAX_KEYS:
            return error(413, f"at most {MAX_KEYS} keys per call")
        at = parse_at(request.query_params.get("at"))
        rows = await read_keys(view, keys, at)
        return JSONResponse({"rows": [{k: _json_value(v) for k, v in r.items()} for r in rows]})

    feedback_store = next((e.store for e in experiments.values()), None)
    spec = openapi(scorers, compiled, experiments)

    async def openapi_json(request: Request):
        return JSONResponse(spec)

    async def healthz(request: Request):
        return JSONResponse({"status": "ok"})

    async def models(request: Request):
        return JSONResponse({"models": {m: s.meta["version"] for m, s in scorers.items()},
                             "experiments": {m: {"id": e.id, "mode": e.exp.mode,
                                                 "arms": {a: f"{v[0]}@{v[1]}" for a, v in e.versions.items()}}
                                             for m, e in experiments.items()}})

    async def metrics(request: Request):
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        for flog in feature_logs.values():  # the rows still buffered: written at shutdown
            flog.flush()

    return ServingApp(Starlette(lifespan=lifespan, routes=[
        Route("/score/{model}", guarded("score", score), methods=["POST"]),
        Route("/features/{view}/{key}", guarded("features", features), methods=["GET"]),
        Route("/features/{view}", guarded("features", features_many), methods=["GET"]),
        Route("/feedback", guarded("feedback", feedback), methods=["POST"]),
        Route("/experiments/{model}", guarded("experiments", experiment_status), methods=["GET"]),
        Route("/openapi.json", guarded("openapi", openapi_json), methods=["GET"]),
        Route("/models", guarded("models", models), methods=["GET"]),
        Route("/healthz", guarded("healthz", healthz, auth=False), methods=["GET"]),
        Route("/metrics", guarded("metrics", metrics, auth=False), methods=["GET"]),
    ]), score_body, authorized, observe)
