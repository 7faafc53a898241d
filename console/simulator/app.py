"""The simulator's ASGI app: routing, sessions, content negotiation, and dispatch to the handlers."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import email.policy
import json
import logging
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator
from email.parser import BytesParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from console.catalog import Catalog, Operation, ResourceType, load_catalog
from console.simulator import control, errors, query, seed
from console.simulator.auth import COOKIE_NAME, TOKEN_HEADER, Session, Sessions
from console.simulator.config import SimulatorConfig
from console.simulator.faults import FaultMiddleware, build_fault_settings
from console.simulator.handlers import nas_files
from console.simulator.jobs import JobRunner
from console.simulator.operations import REGISTRY, OpRequest, OpResult, Sim
from console.simulator.relations import Resolver
from console.simulator.validation import check_body

log = logging.getLogger(__name__)

API_PREFIX = "/api/rest"
WRITE_METHODS = frozenset({"POST", "PATCH", "DELETE"})
TICK_SECONDS = 0.1
PERSIST_SECONDS = 0.5
PAGE_PARAMS = frozenset({"select", "limit", "offset", "is_async"})
ROW_CACHE_SIZE = 16


class Simulator:
    """One simulated array: its resources, sessions and jobs, and the request pipeline."""

    def __init__(self, config: SimulatorConfig, catalog: Catalog | None = None) -> None:
        self.config = config
        self.catalog = catalog if catalog is not None else load_catalog()
        self.sim = Sim(config, self.catalog)
        self.sessions = Sessions(self.sim)
        self.resolver = Resolver(self.sim)
        self.faults = build_fault_settings(config)
        self.requests: Counter[str] = Counter()
        self._rows: OrderedDict[tuple[Any, ...], list[dict[str, Any]]] = OrderedDict()
        self._saved_generation = -1
        if config.state_file is not None and config.state_file.exists():
            self.load_state(config.state_file)
        else:
            seed.seed(self.sim)
            if config.state_file is not None:
                self.save_state(config.state_file)
        self.runner = JobRunner(self.sim, self._execute)

    # -- state ---------------------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to fresh seed data, no sessions, no jobs (the control endpoint's reset)."""
        self.sim = Sim(self.config, self.catalog)
        self.sessions = Sessions(self.sim)
        self.resolver = Resolver(self.sim)
        seed.seed(self.sim)
        self.runner = JobRunner(self.sim, self._execute)
        self.requests.clear()
        self._rows.clear()

    def save_state(self, path: Path) -> None:
        meta = self.sim.store.meta
        meta["rng"] = _jsonable_state(self.sim.rng.getstate())
        meta["ids"] = _jsonable_state(self.sim.ids.getstate())
        self.sim.store.save(path)
        self._saved_generation = self.sim.store.generation

    def load_state(self, path: Path) -> None:
        try:
            self.sim.store.load(path)
        except (OSError, ValueError) as exc:
            raise SystemExit(f"cannot read the simulator state file {path}: {exc}") from exc
        meta = self.sim.store.meta
        if "rng" in meta and "ids" in meta:
            self.sim.rng.setstate(_random_state(meta["rng"]))
            self.sim.ids.setstate(_random_state(meta["ids"]))
        self._saved_generation = self.sim.store.generation

    def save_if_changed(self) -> None:
        path = self.config.state_file
        if path is not None and self.sim.store.generation != self._saved_generation:
            self.save_state(path)

    # -- background work -------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(self._tick_forever()), asyncio.create_task(self._persist_forever())]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.runner.advance()
            self.save_if_changed()

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            try:
                self.runner.advance()
            except Exception:
                log.exception("advancing jobs failed")

    async def _persist_forever(self) -> None:
        while True:
            await asyncio.sleep(PERSIST_SECONDS)
            try:
                self.save_if_changed()
            except OSError:
                log.exception("saving the state file failed")

    # -- the request pipeline --------------------------------------------------------------------------

    async def handle(self, request: Request) -> Response:
        try:
            return await self._handle(request)
        except errors.ApiFault as refusal:
            return error_response(refusal)

    async def _handle(self, request: Request) -> Response:
        method = request.method
        parts = _path_parts(request)
        self.requests[f"{method} {'/'.join(parts[:1])}"] += 1
        self.runner.advance()
        _check_accept(request, text=len(parts) == 4 and method == "GET")
        if parts == ["login_session"]:
            if method != "GET":
                raise _method_not_allowed(method, parts)
            return self._login(request)
        if parts == ["logout"]:
            if method != "POST":
                raise _method_not_allowed(method, parts)
            session = self._session(request)
            self.sessions.logout(session)
            return Response(status_code=204)
        if not parts or parts[0] not in self.catalog.types or len(parts) > 4:
            raise errors.not_found(f"The URL {request.url.path} was not found.", request.url.path)
        rtype = self.catalog.type(parts[0])
        # Four parts are files: nas_server/{id}/upload/hosts (POST), nas_server/{id}/download/hosts (GET).
        if len(parts) == 4 and "/".join(parts[2:]) not in (*rtype.downloads, *rtype.actions):
            raise errors.not_found(f"The URL {request.url.path} was not found.", request.url.path)
        session = self._session(request)
        if len(parts) == 1:
            if method == "GET" and rtype.can_list:
                return self._list(request, rtype)
            if method == "POST":
                return await self._change(request, session, rtype, "create", None)
        elif len(parts) == 2:
            if method == "GET" and rtype.can_get:
                return self._get(request, rtype, parts[1])
            if method == "PATCH":
                return await self._change(request, session, rtype, "modify", parts[1])
            if method == "DELETE":
                return await self._change(request, session, rtype, "delete", parts[1])
        elif len(parts) == 3:
            if method == "POST":
                return await self._change(request, session, rtype, parts[2], parts[1])
        else:
            path = "/".join(parts[2:])
            if method == "POST" and path in rtype.actions:
                return await self._change(request, session, rtype, path, parts[1])
            if method == "GET" and path in rtype.downloads:
                return self._download(rtype, parts[1], parts[3])
        raise _method_not_allowed(method, parts)

    def _session(self, request: Request) -> Session:
        session = self.sessions.authenticate(request.cookies.get(COOKIE_NAME))
        if request.method in WRITE_METHODS and request.headers.get(TOKEN_HEADER) != session.token:
            raise errors.fault(403, errors.CODE_CSRF, "The request lacks a valid DELL-EMC-TOKEN header.")
        return session

    def _login(self, request: Request) -> Response:
        authorization = request.headers.get("authorization")
        if authorization is None and request.cookies.get(COOKIE_NAME):
            session = self.sessions.authenticate(request.cookies.get(COOKIE_NAME))
        else:
            session = self.sessions.login(authorization)
        body = self.sessions.describe(session)
        select_text = request.query_params.get("select")
        if select_text:
            selection = query.parse_select(self.catalog, "login_session", select_text)
            body = query.project(self.catalog, "login_session", body, selection, self.resolver)
        response = JSONResponse([body])
        response.set_cookie(
            COOKIE_NAME,
            session.cookie,
            httponly=True,
            secure=request.url.scheme == "https",
            samesite="strict",
            path="/",
        )
        response.headers[TOKEN_HEADER] = session.token
        return response

    def _list(self, request: Request, rtype: ResourceType) -> Response:
        params = list(request.query_params.multi_items())
        spec = query.parse_query(self.catalog, rtype.name, params, request.headers.get("range"))
        # Scrolling asks for page after page of one filter and order: sort once per data version.
        key = (
            rtype.name,
            self.sim.store.versions.get(rtype.name, 0),
            tuple(p for p in params if p[0] not in PAGE_PARAMS),
        )
        rows = self._cached(key)
        if rows is None:
            ordered = self._ordered(rtype.name, spec, dict(params).get("order"))
            unordered = dataclasses.replace(spec, order=[])
            rows = query.matching_rows(self.catalog, rtype.name, unordered, ordered, self.resolver)
            self._cache(key, rows)
        page = query.page_of(self.catalog, rtype.name, spec, rows, self.resolver)
        if page.partial:
            return JSONResponse(
                page.items,
                status_code=206,
                headers={"Content-Range": f"{page.first}-{page.last}/{page.total}"},
            )
        return JSONResponse(page.items)

    def _ordered(self, type_name: str, spec: query.Query, order_text: str | None) -> list[dict[str, Any]]:
        """The whole table in the query's order; shared by every filter with that order."""
        records = self.sim.store.all(type_name)
        if not spec.order:
            return records
        key = (type_name, self.sim.store.versions.get(type_name, 0), ("order", order_text))
        rows = self._cached(key)
        if rows is None:
            rows = query.sort_rows(self.catalog, type_name, records, spec.order, self.resolver)
            self._cache(key, rows)
        return rows

    def _cached(self, key: tuple[Any, ...]) -> list[dict[str, Any]] | None:
        rows = self._rows.get(key)
        if rows is not None:
            self._rows.move_to_end(key)
        return rows

    def _cache(self, key: tuple[Any, ...], rows: list[dict[str, Any]]) -> None:
        self._rows[key] = rows
        while len(self._rows) > ROW_CACHE_SIZE:
            self._rows.popitem(last=False)

    def _get(self, request: Request, rtype: ResourceType, ref: str) -> Response:
        record = self.sim.store.require(rtype.name, ref, allow_name=rtype.name_addressing)
        selection = query.parse_select(self.catalog, rtype.name, request.query_params.get("select"))
        return JSONResponse(query.project(self.catalog, rtype.name, record, selection, self.resolver))

    async def _change(
        self, request: Request, session: Session, rtype: ResourceType, action: str, ref: str | None
    ) -> Response:
        operation = _operation(rtype, action)
        spec = REGISTRY.get(rtype.name, action)
        if operation is None or spec is None:
            what = "this simulator" if operation is not None else "the API"
            raise errors.fault(
                405,
                errors.CODE_METHOD_NOT_ALLOWED,
                f"{request.method} {request.url.path} is not supported by {what}.",
                request.url.path,
            )
        if session.role_id not in spec.roles:
            raise errors.fault(
                403,
                errors.CODE_FORBIDDEN,
                f"The role of user {session.user} may not {action} a {rtype.name}.",
            )
        target = None
        if ref is not None:
            target = self.sim.store.require(rtype.name, ref, allow_name=rtype.name_addressing)
        if operation.upload is not None:
            body = {"content": await _read_upload(request, operation.upload, self.config.max_body_bytes)}
        else:
            body = check_body(self.catalog, operation, await _read_body(request, self.config.max_body_bytes))
        op_request = OpRequest(rtype.name, action, target["id"] if target else None, body, session.caller)
        if _is_async(request):
            with self.sim.store.transaction(commit=False):
                trial = spec.handler(self.sim, op_request)
            steps = spec.steps(self.sim, op_request) if spec.steps is not None else None
            name = trial.resource_name or (target.get("name") if target else None)
            job_id = self.runner.submit(op_request, resource_name=name, steps=steps)
            return JSONResponse({"id": job_id}, status_code=202)
        result = self._execute(op_request)
        self._after_change(session, op_request)
        return _result_response(result)

    def _download(self, rtype: ResourceType, ref: str, name: str) -> Response:
        record = self.sim.store.require(rtype.name, ref, allow_name=rtype.name_addressing)
        return PlainTextResponse(nas_files.download(record, name))

    def _execute(self, op_request: OpRequest) -> OpResult:
        spec = REGISTRY.get(op_request.resource_type, op_request.action)
        assert spec is not None
        with self.sim.store.transaction():
            return spec.handler(self.sim, op_request)

    def _after_change(self, session: Session, op_request: OpRequest) -> None:
        """A new password, a lock or a deleted account ends that user's other sessions."""
        if op_request.resource_type != "local_user" or op_request.target_id is None:
            return
        body = op_request.body
        if op_request.action == "delete" or "password" in body or body.get("is_locked"):
            self.sessions.end_sessions_of(op_request.target_id, keep=session)


def create_app(config: SimulatorConfig | None = None) -> Starlette:
    """The simulator as an ASGI app, seeded (or loaded from ``config.state_file``) and ready."""
    simulator = Simulator(config if config is not None else SimulatorConfig())

    async def api(request: Request) -> Response:
        return await simulator.handle(request)

    async def unknown(request: Request) -> Response:
        return error_response(
            errors.not_found(f"The URL {request.url.path} was not found.", request.url.path)
        )

    methods = ["GET", "POST", "PATCH", "DELETE", "PUT", "HEAD", "OPTIONS"]
    routes = [Route(API_PREFIX + "/{path:path}", api, methods=methods)]
    if simulator.config.control:
        routes += control.routes(simulator)
    routes.append(Route("/{path:path}", unknown, methods=methods))
    app = Starlette(
        routes=routes,
        lifespan=simulator.lifespan,
        middleware=[Middleware(FaultMiddleware, settings=simulator.faults)],
    )
    app.state.simulator = simulator
    return app


def error_response(refusal: errors.ApiFault) -> JSONResponse:
    return JSONResponse(refusal.to_json(), status_code=refusal.status)


def _result_response(result: OpResult) -> Response:
    if result.status == 204:
        return Response(status_code=204)
    return JSONResponse(result.body if result.body is not None else {}, status_code=result.status)


def _operation(rtype: ResourceType, action: str) -> Operation | None:
    if action == "create":
        return rtype.create
    if action == "modify":
        return rtype.modify
    if action == "delete":
        return rtype.delete
    return rtype.actions.get(action)


def _path_parts(request: Request) -> list[str]:
    # Split the raw path so that an encoded "/" inside a name (name:a%2Fb) stays inside its segment.
    raw = request.scope.get("raw_path") or request.url.path.encode()
    path = raw.decode("latin-1").split("?", 1)[0]
    rest = path[len(API_PREFIX) :] if path.startswith(API_PREFIX) else path
    return [unquote(p) for p in rest.strip("/").split("/") if p != ""]


def _method_not_allowed(method: str, parts: list[str]) -> errors.ApiFault:
    path = "/".join(parts)
    return errors.fault(
        405, errors.CODE_METHOD_NOT_ALLOWED, f"The method {method} is not allowed on /{path}.", path
    )


def _check_accept(request: Request, *, text: bool = False) -> None:
    """Answers are JSON; a file download is text (or a JSON error)."""
    accept = request.headers.get("accept")
    if accept is None:
        return
    media = {part.split(";", 1)[0].strip().lower() for part in accept.split(",")}
    if media & {"*/*", "application/*", "application/json", ""}:
        return
    if text and media & {"text/*", "text/plain", "document/text"}:
        return
    raise errors.fault(406, errors.CODE_NOT_ACCEPTABLE, "Only application/json responses are available.")


async def _read_raw(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_body(request: Request, limit: int) -> Any:
    raw = await _read_raw(request, limit)
    if not raw.strip():
        return None
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != "application/json":
        raise errors.fault(415, errors.CODE_UNSUPPORTED_MEDIA, "The request body must be application/json.")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.bad_request(
            f"The request body is not valid JSON: {exc}.", code=errors.CODE_BAD_JSON
        ) from None


async def _read_upload(request: Request, field_name: str, limit: int) -> str:
    """The text of the file in form field ``field_name`` of a multipart/form-data body."""
    media = request.headers.get("content-type", "")
    if media.split(";", 1)[0].strip().lower() != "multipart/form-data":
        raise errors.fault(
            415, errors.CODE_UNSUPPORTED_MEDIA, "The request body must be multipart/form-data."
        )
    raw = await _read_raw(request, limit)
    message = BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + media.encode("latin-1") + b"\r\n\r\n" + raw
    )
    if not message.is_multipart():
        raise errors.bad_request("The multipart body could not be read.", code=errors.CODE_BAD_REQUEST)
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") != field_name:
            continue
        payload = part.get_payload(decode=True)
        content = payload if isinstance(payload, bytes) else b""
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            raise errors.bad_request(
                f"The file in {field_name} is not UTF-8 text.", field_name, code=errors.CODE_INVALID_VALUE
            ) from None
        if "\x00" in text:
            raise errors.bad_request(
                f"The file in {field_name} is not a text file.", field_name, code=errors.CODE_INVALID_VALUE
            )
        return text
    raise errors.bad_request(
        f"The form field {field_name} (the file) is missing.", field_name, code=errors.CODE_MISSING_REQUIRED
    )


def _too_large(limit: int) -> errors.ApiFault:
    return errors.fault(413, errors.CODE_BODY_TOO_LARGE, f"The request body exceeds {limit} bytes.", limit)


def _is_async(request: Request) -> bool:
    value = request.query_params.get("is_async")
    if value is None:
        return False
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise errors.bad_request(
        f"is_async must be true or false, not {value!r}.", value, code=errors.CODE_INVALID_VALUE
    )


def _jsonable_state(state: tuple[Any, ...]) -> list[Any]:
    version, internal, gauss = state
    return [version, list(internal), gauss]


def _random_state(data: list[Any]) -> tuple[Any, ...]:
    version, internal, gauss = data
    return (version, tuple(internal), gauss)
