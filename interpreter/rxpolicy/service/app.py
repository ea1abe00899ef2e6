"""The decision service and the workbench: one Starlette application.

Every request takes the catalogue (the compiled policies) once, at its start, so a reload never changes the
rules under a request in flight. Bad requests are refused with the command line's located RX messages as
data (never a stack trace); request bodies and the time a request may compute are bounded; no request
writes anything on the server. Every response names the engine version and the fingerprint of the rules
that answered it, and one JSON access-log line per request records what happened without personal data
(case fields are logged only when the operator names them).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import logging
import os
import sys
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

import attrs
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rxpolicy.api import PolicyStore
from rxpolicy.diagnostics import Diagnostic, RxError
from rxpolicy.engine.case import Case, parse_case
from rxpolicy.engine.compile import ENGINE_VERSION, CompiledPolicy, compile_policy
from rxpolicy.engine.evaluate import evaluate
from rxpolicy.explain.diff import diff_dict
from rxpolicy.language.source import SourceFile
from rxpolicy.service.catalogue import Catalogue, CatalogueHolder, load_catalogue, rules_stamp
from rxpolicy.service.shared import SharedRules
from rxpolicy.service.schemas import case_json_schema, decision_json_schema, openapi_document
from rxpolicy.service.wire import (BODY, bad_request, case_from_body, case_from_data, decision_data,
                                   diagnostic_data, edited_sources, has_errors, json_document, standalone_sources)
from rxpolicy.tools.diff import diff
from rxpolicy.tools.diff_sides import parse_side
from rxpolicy.tools.whatif import what_if

__all__ = ["ServiceConfig", "app_from_environment", "configure_access_log", "create_app"]

T = TypeVar("T")
STATIC = Path(__file__).parent / "static"
ACCESS_LOG = logging.getLogger("rxpolicy.service.access")


@attrs.frozen(kw_only=True)
class ServiceConfig:
    """How a service runs; every limit has a safe default."""

    #: A directory with one directory per policy and layer (default: the built-in rules).
    policies: Path | None = None
    #: The policy used when a request names none.
    default_policy: str = "hollandzorg"
    #: The largest request body accepted (bytes), batches excepted.
    max_body_bytes: int = 1_000_000
    #: The largest batch body accepted (bytes).
    max_batch_bytes: int = 64_000_000
    #: The longest a request may compute (seconds) before it is answered with RX904.
    timeout_seconds: float = 10.0
    #: Poll the rule files every so many seconds and reload on a change (None: only POST /v1/reload).
    watch_seconds: float | None = None
    #: Case fields written to the access log (dotted paths); none by default, as they may be personal data.
    log_case_fields: tuple[str, ...] = ()
    #: Write one JSON access-log line per request (to the ``rxpolicy.service.access`` logger).
    access_log: bool = True
    #: A private directory the worker processes of one service share (:mod:`rxpolicy.service.shared`), so that a
    #: reload in one reaches all; None for a service in one process. ``rxpolicy serve --workers N`` makes it.
    shared_dir: Path | None = None

    def to_json(self) -> str:
        """The configuration as JSON, to hand to worker processes."""
        return json.dumps({**attrs.asdict(self), "policies": str(self.policies) if self.policies else None,
                           "shared_dir": str(self.shared_dir) if self.shared_dir else None})

    @classmethod
    def from_json(cls, text: str) -> ServiceConfig:
        """The configuration :meth:`to_json` wrote."""
        data = json.loads(text)
        data["policies"] = Path(data["policies"]) if data["policies"] else None
        data["shared_dir"] = Path(data["shared_dir"]) if data.get("shared_dir") else None
        data["log_case_fields"] = tuple(data["log_case_fields"])
        return cls(**data)


# --------------------------------------------------------------------------------------------- state

class _Metrics:
    """The Prometheus metrics of one application (its own registry: no process-global state)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("rxpolicy_http_requests", "HTTP requests answered", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("rxpolicy_http_request_seconds", "Time to answer a request", ["route"],
                                 registry=self.registry,
                                 buckets=(.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))
        self.evaluations = Counter("rxpolicy_evaluations", "Cases evaluated", ["policy", "outcome"],
                                   registry=self.registry)
        self.reloads = Counter("rxpolicy_reloads", "Rule reloads", ["result"], registry=self.registry)
        self.generation = Gauge("rxpolicy_rules_generation", "How many times the rules were reloaded",
                                registry=self.registry)


class _Cache:
    """A small least-recently-used cache of computed answers (in memory only), shared by worker threads."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


@attrs.define
class _Service:
    config: ServiceConfig
    holder: CatalogueHolder
    metrics: _Metrics = attrs.field(factory=_Metrics)
    diffs: _Cache = attrs.field(factory=lambda: _Cache(32))
    edited: _Cache = attrs.field(factory=lambda: _Cache(16))

    async def bounded(self, work: Callable[[], T]) -> T:
        """Run CPU work in a worker thread, answering RX904 when it takes longer than allowed.

        A thread cannot be stopped: work that overruns finishes in the background and its result is dropped.
        """
        try:
            return await asyncio.wait_for(run_in_threadpool(work), self.config.timeout_seconds)
        except TimeoutError:
            raise bad_request("RX904", f"the request took longer than the {self.config.timeout_seconds:g} seconds "
                              "this service allows", "send a smaller request, or ask the operator to raise "
                              "--timeout") from None


def _service(request: Request) -> _Service:
    return cast(_Service, request.app.state.service)


# --------------------------------------------------------------------------------------------- helpers

async def _body(request: Request, limit: int) -> bytes:
    """The request body, refused with RX901 as soon as it is larger than ``limit``."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> RxError:
    return bad_request("RX901", f"the request body is larger than the {limit:,} bytes this service accepts",
                       "send one case per request (or use /v1/batch for many), or ask the operator to raise "
                       "--max-body")


def _lang(request: Request) -> str:
    lang = request.query_params.get("lang", "en")
    if lang not in ("en", "nl"):
        raise bad_request("RX902", f"`lang={lang}` is not a language of the explanations", "write lang=en or lang=nl",
                          field="lang")
    return lang


def _flag(request: Request, name: str, default: bool) -> bool:
    text = request.query_params.get(name)
    if text is None:
        return default
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise bad_request("RX902", f"`{name}={text}` is not true or false", f"write {name}=true or {name}=false",
                      field=name)


def _year_matches(policy: CompiledPolicy, name: str, year: int | None, case: Case) -> None:
    """A policy named with a year (``hollandzorg-2025``) is only used for cases of that year (RX602)."""
    if year is not None and case.dispensed_on.year != year:
        raise RxError(Diagnostic(
            code="RX602", field="dispensed_on",
            message=f"the case is dispensed on {case.dispensed_on}, but `{name}` asks for the rules of {year}",
            help=f"use `policy={policy.name}` (the dispensing date picks the year), or check the case's date"))


def _error_response(error: RxError) -> JSONResponse:
    """An RxError as the 4xx answer: every diagnostic as data and as the CLI's text."""
    codes = {d.code for d in error.diagnostics}
    status = (413 if "RX901" in codes else 503 if "RX904" in codes or "RX906" in codes else
              422 if any(c.startswith("RX5") for c in codes) else 404 if "RX905" in codes else 400)
    diagnostics = [diagnostic_data(d, error.sources) for d in error.diagnostics]
    first = diagnostics[0] if diagnostics else {"text": str(error)}
    return JSONResponse({"error": first["text"], "diagnostics": diagnostics}, status_code=status)


def _note(request: Request, **facts: Any) -> None:
    """Facts about the request for the access log and the response headers."""
    request.scope.setdefault("rxpolicy", {}).update(facts)


# --------------------------------------------------------------------------------------------- endpoints

async def evaluate_endpoint(request: Request) -> Response:
    """POST /v1/evaluate: one case in, its decision out."""
    service = _service(request)
    catalogue = service.holder.current
    name = request.query_params.get("policy", service.config.default_policy)
    lang, explain = _lang(request), _flag(request, "explain", True)
    why_not = _flag(request, "why_not", False)
    policy, year = catalogue.resolve(name)
    raw = await _body(request, service.config.max_body_bytes)
    content_type = request.headers.get("content-type", "application/json")

    def work() -> tuple[dict[str, Any], Case]:
        case = case_from_body(raw, content_type, policy)
        _year_matches(policy, name, year, case)
        evaluation = evaluate(policy, case, trace=explain)
        found = what_if(evaluation) if why_not and explain and evaluation.outcome == "not_covered" else None
        return decision_data(evaluation, lang, explain, found, catalogue.references[policy.name]), case

    _note(request, policy=policy.name, fingerprint=policy.fingerprint)
    # Without the explanation the work is the compiled rules' straight-line code on a case of bounded
    # size (well under a millisecond): it runs on the event loop, as a hop to a worker thread would
    # cost more than the evaluation. The explanation (and "what would change it", a search) runs in a
    # worker thread under the time limit.
    data, case = await service.bounded(work) if explain else work()
    outcome = data.get("outcome", "none")
    service.metrics.evaluations.labels(policy.name, outcome).inc()
    _note(request, outcome=outcome, case={path: _logged(case, path) for path in service.config.log_case_fields})
    return JSONResponse(data)


def _logged(case: Case, path: str) -> Any:
    value = case.get(path)
    return value.isoformat() if isinstance(value, dt.date) else value if isinstance(value, (int, str, bool)) \
        else None if value is None else str(value)


class _BatchEndpoint:
    """POST /v1/batch: JSON Lines in, one result or error row per input line out, streamed.

    A plain ASGI endpoint: the answer starts while the request is still being read, which Starlette's
    streaming response does not allow (it listens for the client's disconnect on the same channel).
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        service = _service(request)
        catalogue = service.holder.current
        name = request.query_params.get("policy", service.config.default_policy)
        lang, explain = _lang(request), _flag(request, "explain", False)
        policy, year = catalogue.resolve(name)
        limit = service.config.max_batch_bytes
        _note(request, policy=policy.name, fingerprint=policy.fingerprint)

        def rows(first: int, lines: Sequence[bytes]) -> bytes:
            return b"".join(_row(_batch_row(policy, name, year, number, raw, lang, explain,
                                            catalogue.references[policy.name]))
                            for number, raw in enumerate(lines, start=first) if raw.strip())

        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/x-ndjson; charset=utf-8")]})
        pending, size, number = b"", 0, 1
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk, more = message.get("body", b""), message.get("more_body", False)
            size += len(chunk)
            if size > limit:
                await send({"type": "http.response.body", "more_body": False, "body": _row({
                    "line": number, "code": "RX901", "field": None,
                    "message": f"the batch is larger than the {limit:,} bytes this service accepts; lines from "
                               f"{number} on were not read (split the batch)"})})
                return
            pending += chunk
            *complete, pending = pending.split(b"\n")
            if complete:
                out = await run_in_threadpool(rows, number, complete)
                number += len(complete)
                if out:
                    await send({"type": "http.response.body", "body": out, "more_body": True})
        tail = await run_in_threadpool(rows, number, [pending]) if pending.strip() else b""
        await send({"type": "http.response.body", "body": tail, "more_body": False})


def _row(data: Mapping[str, Any]) -> bytes:
    return (json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def _batch_row(policy: CompiledPolicy, name: str, year: int | None, number: int, raw: bytes, lang: str,
               explain: bool, references: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One batch line's result, or its error row ``{line, code, field, message}`` (with every problem)."""
    try:
        case = case_from_data(json_document(raw, f"line {number}"), policy, where=f"line {number}")
        _year_matches(policy, name, year, case)
        return {"line": number, **decision_data(evaluate(policy, case, trace=explain), lang, explain,
                                                references=references)}
    except RxError as error:
        first = error.diagnostics[0]
        return {"line": number, "code": first.code, "field": first.field, "message": first.message,
                "diagnostics": [diagnostic_data(d, error.sources) for d in error.diagnostics]}


async def check_endpoint(request: Request) -> Response:
    """POST /v1/check: edited rule files in, diagnostics as data out (and a decision, when a case is sent)."""
    service = _service(request)
    catalogue = service.holder.current
    body = json_document(await _body(request, service.config.max_body_bytes), f"the {BODY}")
    if not isinstance(body, dict) or not isinstance(body.get("files"), dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in body["files"].items()):
        raise bad_request("RX902", "the request body holds no `files` object of rule-file texts",
                          'send {"policy": "hollandzorg", "files": {"rules/hollandzorg/coverage.rxp": "…"}}, '
                          "with the policy's files as GET /v1/policies/NAME/files names them", field="files")
    lang = body.get("lang", "en") if body.get("lang") in ("en", "nl") else "en"
    name = body.get("policy")
    files: dict[str, str] = body["files"]
    if name is not None:
        policy, _ = catalogue.resolve(str(name))
        base = catalogue.sources[policy.name]
    else:
        base = None

    def work() -> dict[str, Any]:
        result = edited_sources(base, files) if base is not None else standalone_sources(files)
        answer: dict[str, Any] = {"ok": not has_errors(result.diagnostics),
                                  "diagnostics": [diagnostic_data(d, result.sources) for d in result.diagnostics]}
        if answer["ok"] and result.checked is not None and (body.get("case") is not None
                                                             or isinstance(body.get("case_yaml"), str)):
            key = hashlib.sha256(json.dumps([base.name if base else None, sorted(files.items())]).encode()).digest()
            compiled = service.edited.get(key)
            if compiled is None:
                compiled = compile_policy(result.checked)
                service.edited.put(key, compiled)
            try:
                case = (parse_case(body["case_yaml"], path="case", policy=compiled) if body.get("case") is None
                        else case_from_data(body["case"], compiled, where="the case"))
                evaluation = evaluate(compiled, case)
                found = what_if(evaluation) if evaluation.outcome == "not_covered" else None
                answer["decision"] = decision_data(evaluation, lang, True, found)
            except RxError as error:
                answer["case_diagnostics"] = [diagnostic_data(d, error.sources) for d in error.diagnostics]
        return answer

    _note(request, policy=base.name if base else None)
    return JSONResponse(await service.bounded(work))


def _policy_data(policy: CompiledPolicy) -> dict[str, Any]:
    return {"name": policy.name, "title": policy.title,
            "validity": str(policy.validity) if policy.validity else None,
            "layers": [{"name": layer.name, "kind": layer.kind.value} for layer in policy.layers],
            "periods": [{"start": e.start.isoformat(), "end": e.end.isoformat() if e.end else None,
                         "rules_in_force": len(e.rules_in_force)} for e in policy.epochs],
            "plans": list(policy.plans), "fingerprint": policy.fingerprint}


async def policies_endpoint(request: Request) -> Response:
    """GET /v1/policies: the served policies."""
    catalogue = _service(request).holder.current
    return JSONResponse({"policies": [_policy_data(p) for p in catalogue.policies.values()],
                         "default": _service(request).config.default_policy,
                         "engine_version": ENGINE_VERSION, "rules_fingerprint": catalogue.fingerprint,
                         "generation": catalogue.generation})


async def policy_files_endpoint(request: Request) -> Response:
    """GET /v1/policies/{name}/files: the rule files of a policy and its layers (to edit a copy)."""
    catalogue = _service(request).holder.current
    policy, _ = catalogue.resolve(request.path_params["name"])
    return JSONResponse({"policy": policy.name, "files": catalogue.files(policy.name)})


class _CatalogueStore:
    """Looks up diff sides in the served catalogue instead of on disk (what the service serves is what it compares)."""

    def __init__(self, catalogue: Catalogue) -> None:
        self._catalogue = catalogue

    def load(self, name_or_path: str = "hollandzorg") -> CompiledPolicy:
        return self._catalogue.resolve(name_or_path)[0]


async def diff_endpoint(request: Request) -> Response:
    """GET /v1/diff?old=…&new=…: what changes between two policies or dates; POST: the same on the case sent."""
    service = _service(request)
    catalogue = service.holder.current
    specs = []
    for side in ("old", "new"):
        spec = request.query_params.get(side)
        if not spec:
            raise bad_request("RX902", f"the `{side}` side of the comparison is missing",
                              "write e.g. /v1/diff?old=hollandzorg@2023-06-01&new=hollandzorg@2024-06-01",
                              field=side)
        specs.append(spec)
    raw = await _body(request, service.config.max_body_bytes) if request.method == "POST" else None
    store = cast(PolicyStore, _CatalogueStore(catalogue))
    key = (specs[0], specs[1], catalogue.fingerprint)

    def work() -> dict[str, Any]:
        old, new = parse_side(specs[0], store), parse_side(specs[1], store)
        if raw is None:
            found = service.diffs.get(key)
            if found is None:
                found = diff_dict(diff(old, new))
                service.diffs.put(key, found)
            return cast(dict[str, Any], found)
        case = case_from_body(raw, request.headers.get("content-type", "application/json"), old.policy)
        return diff_dict(diff(old, new, [(case, BODY)]))

    _note(request, fingerprint=catalogue.fingerprint)
    return JSONResponse(await service.bounded(work))


async def reload_endpoint(request: Request) -> Response:
    """POST /v1/reload: read, check and compile the rules again; keep the old ones when the new do not check."""
    service = _service(request)
    return await _reload(service, "request")


async def _reload(service: _Service, trigger: str) -> JSONResponse:
    result = await run_in_threadpool(service.holder.reload)
    catalogue = result.catalogue
    body: dict[str, Any] = {"reloaded": result.changed, "generation": catalogue.generation,
                            "rules_fingerprint": catalogue.fingerprint,
                            "policies": {name: p.fingerprint for name, p in catalogue.policies.items()}}
    outcome = "changed" if result.changed else "refused" if result.problems else "unchanged"
    service.metrics.reloads.labels(outcome).inc()
    _log({"event": "reload", "trigger": trigger, "worker": os.getpid(), "result": outcome,
          "generation": catalogue.generation,
          "rules_fingerprint": catalogue.fingerprint, "problems": [d.code for d in result.problems]})
    if result.problems:
        sources: dict[str, SourceFile] = {}
        body["error"] = ("the new rules do not check, so the rules loaded before keep serving: "
                         + "; ".join(f"{d.span or ''} {d.code}: {d.message}".strip() for d in result.problems[:3]))
        body["diagnostics"] = [diagnostic_data(d, sources) for d in result.problems]
        return JSONResponse(body, status_code=409)
    return JSONResponse(body)


async def healthz(request: Request) -> Response:
    """GET /healthz: the process answers."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """GET /readyz: policies are loaded and serving."""
    catalogue = _service(request).holder.current
    return JSONResponse({"status": "ready", "policies": list(catalogue.policies),
                         "generation": catalogue.generation, "rules_fingerprint": catalogue.fingerprint})


async def metrics_endpoint(request: Request) -> Response:
    """GET /metrics: Prometheus text."""
    return Response(generate_latest(_service(request).metrics.registry), media_type=CONTENT_TYPE_LATEST)


async def openapi_endpoint(request: Request) -> Response:
    """GET /openapi.json (its case schema is the default policy's)."""
    service = _service(request)
    return JSONResponse(openapi_document(service.holder.current.resolve(service.config.default_policy)[0]))


async def case_schema_endpoint(request: Request) -> Response:
    """GET /v1/schemas/case?policy=…: the JSON Schema of a case of a served policy (its declared facts and plans)."""
    service = _service(request)
    policy, _ = service.holder.current.resolve(request.query_params.get("policy", service.config.default_policy))
    return JSONResponse(case_json_schema(policy))


async def decision_schema_endpoint(request: Request) -> Response:
    """GET /v1/schemas/decision."""
    return JSONResponse(decision_json_schema())


async def workbench(request: Request) -> Response:
    """GET /: the workbench page."""
    return FileResponse(STATIC / "index.html", media_type="text/html")


# --------------------------------------------------------------------------------------------- errors, logging

async def _rx_error(request: Request, error: Exception) -> Response:
    return _error_response(cast(RxError, error))


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    if error.status_code == 405:
        message, fix, code = f"{request.method} is not allowed on {request.url.path}", \
            "see /openapi.json for the methods of each endpoint", "RX905"
    else:
        message, fix, code = f"there is no endpoint {request.url.path}", \
            "see /openapi.json for the endpoints, or open / for the workbench", "RX905"
    response = _error_response(RxError(Diagnostic(code=code, message=message, help=fix)))
    response.status_code = error.status_code
    return response


async def _internal_error(request: Request, error: Exception) -> Response:
    # A bug in rxpolicy, not in the request: no traceback leaves the server; the log names the error class.
    _log({"event": "internal_error", "path": request.url.path, "error": type(error).__name__})
    return JSONResponse({"error": "internal error: this is a bug in rxpolicy, not in your request; report it with "
                                  "the request that caused it", "diagnostics": []}, status_code=500)


def _log(record: Mapping[str, Any]) -> None:
    if not ACCESS_LOG.isEnabledFor(logging.INFO):
        return
    ACCESS_LOG.info(json.dumps({"time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"),
                                **record}, ensure_ascii=False, default=str))


_ROUTES = ("/v1/evaluate", "/v1/batch", "/v1/check", "/v1/policies", "/v1/diff", "/v1/reload", "/healthz",
           "/readyz", "/metrics", "/openapi.json", "/v1/schemas/case", "/v1/schemas/decision", "/")


class _Envelope:
    """ASGI middleware: receipt headers on every response, metrics, and the JSON access-log line."""

    def __init__(self, app: ASGIApp, service: _Service) -> None:
        self.app = app
        self.service = service
        #: The worker process (its id): with ``--workers N``, which of them answered.
        self.pid = os.getpid()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        if self.service.holder.stale():  # another worker reloaded: its rules answer this request, not the old
            try:
                await _follow(self.service, "request")
            except Exception as error:  # noqa: BLE001 - answered, not raised: the old rules must not answer
                _log({"event": "follow_failed", "trigger": "request", "worker": self.pid,
                      "error": type(error).__name__})
                response = _error_response(RxError(Diagnostic(
                    code="RX906", message="this worker could not take up the rules another worker reloaded",
                    help="send the request again in a moment; the server log says why (event follow_failed)")))
                response.status_code = 503
                response.headers["Retry-After"] = "1"
                await response(scope, receive, send)
                return
        catalogue = self.service.holder.current
        request_id = uuid.uuid4().hex[:16]
        facts: dict[str, Any] = scope.setdefault("rxpolicy", {})
        status, sent = 500, 0

        async def send_wrapper(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                fingerprint = facts.get("fingerprint") or catalogue.fingerprint
                headers += [(b"rxpolicy-engine-version", ENGINE_VERSION.encode()),
                            (b"rxpolicy-rules-fingerprint", fingerprint.encode()),
                            (b"x-request-id", request_id.encode())]
                message = {**message, "headers": headers}
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            path = scope["path"]
            route = path if path in _ROUTES else "/v1/policies/{name}/files" if path.startswith("/v1/policies/") \
                else "/static" if path.startswith("/static/") else "other"
            elapsed = time.perf_counter() - started
            self.service.metrics.requests.labels(scope["method"], route, str(status)).inc()
            self.service.metrics.latency.labels(route).observe(elapsed)
            record: dict[str, Any] = {"event": "request", "request_id": request_id, "worker": self.pid,
                                      "method": scope["method"],
                                      "path": path, "status": status, "ms": round(elapsed * 1000, 3),
                                      "bytes_out": sent}
            for key in ("policy", "outcome", "fingerprint", "case"):
                if facts.get(key):
                    record[key] = facts[key]
            record.setdefault("fingerprint", catalogue.fingerprint)
            _log(record)


# --------------------------------------------------------------------------------------------- the application

#: How long a worker process that starts and finds the shared directory gone waits for another worker to publish
#: the rules it serves again (CatalogueHolder.open_shared), so that it does not number them from 0.
_WORKER_WAIT_SECONDS = 2.0


def create_app(config: ServiceConfig | None = None, *, worker: bool = False) -> Starlette:
    """The service with its workbench; loads and checks every policy first (RxError when they do not check).

    ``worker``: this is one of the processes of ``serve --workers N``, started after the command published the rules.
    """
    config = config or ServiceConfig()
    holder = (CatalogueHolder(load_catalogue(config.policies)) if config.shared_dir is None
              else CatalogueHolder.open_shared(config.policies, SharedRules(config.shared_dir),
                                               wait=_WORKER_WAIT_SECONDS if worker else 0.0))
    service = _Service(config=config, holder=holder)
    # Read when scraped, so that it is the generation serving even when another worker reloaded.
    service.metrics.generation.set_function(lambda: holder.current.generation)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(_watch(service))] if config.watch_seconds else []
        if config.shared_dir is not None:
            tasks.append(asyncio.create_task(_follower(service)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()

    routes = [
        Route("/", workbench),
        Route("/v1/evaluate", evaluate_endpoint, methods=["POST"]),
        Route("/v1/batch", _BatchEndpoint(), methods=["POST"]),
        Route("/v1/check", check_endpoint, methods=["POST"]),
        Route("/v1/policies", policies_endpoint),
        Route("/v1/policies/{name}/files", policy_files_endpoint),
        Route("/v1/diff", diff_endpoint, methods=["GET", "POST"]),
        Route("/v1/reload", reload_endpoint, methods=["POST"]),
        Route("/v1/schemas/case", case_schema_endpoint),
        Route("/v1/schemas/decision", decision_schema_endpoint),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics_endpoint),
        Route("/openapi.json", openapi_endpoint),
        Mount("/static", StaticFiles(directory=STATIC)),
    ]
    handlers: Mapping[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
        RxError: _rx_error, HTTPException: _http_error, Exception: _internal_error}
    app = Starlette(routes=routes, exception_handlers=dict(handlers), lifespan=lifespan)
    app.state.service = service
    app.add_middleware(_Envelope, service=service)
    return app


async def _watch(service: _Service) -> None:
    """Poll the rule files; reload when one changes (a reload that does not check keeps the old rules)."""
    root = service.holder.current.root
    seconds = service.config.watch_seconds or 1.0
    # With workers, from the files as they were copied for the rules serving (a change while workers start counts).
    last = service.holder.files_read
    if last is None:
        last = await run_in_threadpool(rules_stamp, root)
    failure: str | None = None  # the last reload failure logged, so that a retry failing alike is not logged again
    while True:
        await asyncio.sleep(seconds)
        stamp = await run_in_threadpool(rules_stamp, root)
        if stamp != last:
            previous, last = last, stamp
            # With workers, every one's watcher sees the edit: the first to reload publishes it, the others follow
            # those rules (one compile) rather than compile the same files again to find them unchanged.
            if service.holder.stale():
                try:
                    await _follow(service, "watch")
                except Exception as error:  # noqa: BLE001 - the reload below compiles the files itself
                    _log({"event": "follow_failed", "trigger": "watch", "worker": os.getpid(),
                          "error": type(error).__name__})
                if stamp == service.holder.files_read:
                    continue
            try:
                await _reload(service, "watch")
                failure = None
            except Exception as error:  # noqa: BLE001 - RX906, an OSError: say so and keep watching
                # Ending here would stop this worker's --watch for good, silently. The edit is not taken up yet:
                # the next poll tries again (a reload whose rules do not check is not a failure: it answered).
                last = previous
                said = f"{type(error).__name__}: {error}"
                if said != failure:
                    failure = said
                    _log({"event": "reload_failed", "trigger": "watch", "worker": os.getpid(),
                          "error": type(error).__name__, "message": str(error)})


#: How often an idle worker looks whether another one reloaded (a request looks anyway, before it is answered).
_FOLLOW_SECONDS = 0.25


async def _follow(service: _Service, trigger: str) -> None:
    """Serve the rules another worker published (compiled in a thread; requests that arrive meanwhile wait)."""
    new = await run_in_threadpool(service.holder.follow)
    if new is not None:
        _log({"event": "follow", "trigger": trigger, "worker": os.getpid(), "generation": new.generation,
              "rules_fingerprint": new.fingerprint})


async def _follower(service: _Service) -> None:
    """Follow another worker's reload while idle too, so that the next request need not wait for the compile."""
    while True:
        await asyncio.sleep(_FOLLOW_SECONDS)
        if service.holder.stale():
            try:
                await _follow(service, "idle")
            except Exception as error:  # noqa: BLE001 - the next request tries again, and fails visibly
                _log({"event": "follow_failed", "worker": os.getpid(), "error": type(error).__name__})


def configure_access_log(enabled: bool) -> None:
    """Send the access log, one JSON object a line, to standard error (or nowhere)."""
    ACCESS_LOG.handlers.clear()
    ACCESS_LOG.propagate = False
    if enabled:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        ACCESS_LOG.addHandler(handler)
        ACCESS_LOG.setLevel(logging.INFO)
    else:
        ACCESS_LOG.setLevel(logging.CRITICAL)


def app_from_environment() -> Starlette:
    """The application for a worker process (``--workers N``): its configuration comes from the environment."""
    config = ServiceConfig.from_json(os.environ["RXPOLICY_SERVICE_CONFIG"])
    configure_access_log(config.access_log)
    return create_app(config, worker=True)
