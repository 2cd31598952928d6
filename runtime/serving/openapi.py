"""The service's OpenAPI 3.1 document, generated from the project: each served model's request
fields (entity keys and request features, typed from the label source), each view's columns."""

from __future__ import annotations

from typing import Any

from skewless.compiler.contract import BOOL, FLOAT8, INTEGERS, INTERVAL, NUMERIC, TSTZ, base_type as base

ERROR = {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}
STATUS = {"400": "invalid request", "401": "missing or wrong bearer token", "404": "unknown model or view",
          "408": "request body not received in time", "409": "time before the key's latest event",
          "413": "request too large", "503": "the online store is unavailable or must be rebuilt"}


def json_type(sql_type: str) -> dict[str, Any]:
    b = base(sql_type)
    if b == BOOL:
        return {"type": ["boolean", "null"]}
    if b in INTEGERS:
        return {"type": ["integer", "null"]}
    if b in (FLOAT8, NUMERIC):
        return {"type": ["number", "null"]}
    if b == INTERVAL:
        return {"type": ["number", "null"], "description": "seconds"}
    if b == TSTZ:
        return {"type": ["string", "null"], "format": "date-time"}
    return {"type": ["string", "null"]}


def _errors(*codes: str) -> dict:
    return {c: {"description": STATUS[c], "content": {"application/json": {"schema": ERROR}}} for c in codes}


def openapi(scorers: dict, compiled, experiments: dict | None = None) -> dict:
    """``experiments``: model -> `ServedExperiment`; their requests take every arm's fields and an
    optional request_id, their answers name the arm."""
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {"Error": ERROR}
    at = {"type": "string", "format": "date-time", "description": "as-of time (default: now, UTC)"}
    experiments = experiments or {}
    served = {**{m: [s] for m, s in scorers.items()}, **{m: list(e.arms.values()) for m, e in experiments.items()}}
    routed = {"request_id": {"type": "string"}, "arm": {"type": "string"}, "experiment": {"type": "string"}}
    for name, arm_scorers in sorted(served.items()):
        scorer = arm_scorers[0]
        label_types = compiled.project.sources[scorer.model.label.source].column_types()
        fields = {c: json_type(s.event_types.get(c) or label_types[c]) for s in arm_scorers for c in s.request_fields}
        extra = {"request_id": {"type": "string", "maxLength": 128, "description": "your id for the feedback "
                                "(default: a generated UUID)"}} if name in experiments else {}
        schemas[f"{name}_request"] = {"type": "object", "properties": {**fields, **extra, "at": at},
                                      "required": sorted(fields)}
        schemas[f"{name}_batch"] = {"type": "object", "required": ["rows"], "properties": {
            "rows": {"type": "array", "maxItems": 1000, "items": {"$ref": f"#/components/schemas/{name}_request"}},
            "at": at}}
        paths[f"/score/{name}"] = {"post": {
            "summary": f"score model {name} (one request, or a batch of rows)",
            "parameters": [{"name": "explain", "in": "query", "schema": {"type": "boolean"},
                            "description": "also return the feature values used"}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {"oneOf": [
                {"$ref": f"#/components/schemas/{name}_request"}, {"$ref": f"#/components/schemas/{name}_batch"}]}}}},
            "responses": {"200": {"description": "score(s)", "content": {"application/json": {"schema": {
                "type": "object", "properties": {"model": {"type": "string"}, "version": {"type": "string"},
                                                 "score": {"type": "number"},
                                                 "scores": {"type": "array", "items": {"type": "number"}},
                                                 **(routed if name in experiments else {})}}}}},
                          **_errors("400", "401", "404", "408", "409", "413", "503")}}}
    for name, view in sorted(compiled.views.items()):
        if view.input.kind != "source":
            continue
        types = {c.name: c.type for c in view.columns}
        row = {"type": "object", "properties": {c: json_type(t) for c, t in types.items()}}
        schemas[f"view_{name}"] = row
        key_desc = f"{', '.join(view.entity)} (comma-separated)"
        at_param = {"name": "at", "in": "query", "schema": at}
        paths[f"/features/{name}/{{key}}"] = {"get": {
            "summary": f"view {name} for one key as of a time",
            "parameters": [{"name": "key", "in": "path", "required": True, "schema": {"type": "string"},
                            "description": key_desc}, at_param],
            "responses": {"200": {"description": "the view's columns", "content": {"application/json": {
                "schema": {"$ref": f"#/components/schemas/view_{name}"}}}}, **_errors("400", "401", "404", "409", "503")}}}
        paths[f"/features/{name}"] = {"get": {
            "summary": f"view {name} for many keys as of a time",
            "parameters": [{"name": "key", "in": "query", "required": True, "style": "form", "explode": True,
                            "schema": {"type": "array", "items": {"type": "string"}, "maxItems": 1000},
                            "description": key_desc}, at_param],
            "responses": {"200": {"description": "one row per key, in order", "content": {"application/json": {
                "schema": {"type": "object", "properties": {"rows": {"type": "array", "items": {
                    "$ref": f"#/components/schemas/view_{name}"}}}}}}}, **_errors("400", "401", "404", "409", "413", "503")}}}
    paths["/models"] = {"get": {"summary": "served models and versions", "responses": {"200": {"description": "ok"}}}}
    if experiments:
        feedback = {"type": "object", "required": ["request_id"], "properties": {
            "request_id": {"type": "string"}, "reward": {"type": ["number", "boolean"]},
            "label": {"type": ["number", "boolean"]}, "time": {"type": "string", "format": "date-time"}}}
        paths["/feedback"] = {"post": {
            "summary": "a decision's reward (or label), joined by request_id; or {rows: [...]}",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {"oneOf": [feedback, {
                "type": "object", "required": ["rows"], "properties": {"rows": {"type": "array", "items": feedback,
                                                                                "maxItems": 1000}}}]}}}},
            "responses": {"200": {"description": "applied"}, "404": {"description": "no decision with this request_id"},
                          "409": {"description": "feedback received already"},
                          "410": {"description": "past the experiment's feedback_window"}, **_errors("400", "401", "413")}}}
        paths["/experiments/{model}"] = {"get": {
            "summary": "the experiment's arms: traffic, feedback, posterior, 95% interval, P(best), IPS, over time",
            "parameters": [{"name": "model", "in": "path", "required": True, "schema": {"type": "string",
                                                                                       "enum": sorted(experiments)}}],
            "responses": {"200": {"description": "summary"}, **_errors("401", "404")}}}
    paths["/healthz"] = {"get": {"summary": "liveness", "security": [], "responses": {"200": {"description": "up"}}}}
    paths["/metrics"] = {"get": {"summary": "Prometheus metrics", "security": [],
                                 "responses": {"200": {"description": "text exposition format"}}}}
    return {"openapi": "3.1.0",
            "info": {"title": f"skewless: {compiled.project.config.name}", "version": "1"},
            "paths": paths,
            "components": {"schemas": schemas, "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearer": []}]}
