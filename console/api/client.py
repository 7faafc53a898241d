"""The asyncio PowerStore REST client: one session per array, safe re-login, queries and submits.

Runs on any asyncio loop (the Qt loop through qasync included): every wait is an ``await``, it
starts no threads, and files (the catalog, a CA bundle) are read only when a client is built.

Sessions follow the reference (§2): Basic credentials only on ``login_session``, then the cookie and
``DELL-EMC-TOKEN``. A 401 means the session is gone: one login (shared by every request that saw it,
under a lock) and the request is replayed. A 403 gets one fresh login and one replay too, as a
stale session may show as 403; a second 403 is a permission error. Reads are retried with backoff
on 503 and lost connections; changes are retried only when the connection failed before the
request was sent, otherwise they raise ``ConnectionLost`` and the caller resolves the outcome.
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import json
import logging
import os
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from types import TracebackType
from typing import Any
from urllib.parse import unquote

import httpx

import console
from console.api import expressions
from console.api.curl import render_curl
from console.api.errors import (
    ApiError,
    ApiMessage,
    AuthenticationFailed,
    ClientClosed,
    CompletedWithoutJob,
    ConnectionLost,
    TlsTrustError,
    error_from_response,
)
from console.api.expressions import Expression, F, OrderLike
from console.api.paging import MAX_PAGE, Page, page_total
from console.api.params import (
    SelectLike,
    api_root,
    id_batches,
    list_params,
    needed_fields,
    resource_path,
    select_text,
    stable_order,
    top_level_names,
)
from console.api.redaction import body_for_log, install_log_redaction, redact_headers
from console.api.session import COOKIE_NAME, LOGIN_FIELDS, TOKEN_HEADER, LoginInfo, SessionState
from console.api.transport import TrustingBackend, build_transport
from console.api.trust import PresentedCertificate, Trust, public_key_pin
from console.catalog import Catalog, ResourceType, load_catalog

log = logging.getLogger(__name__)

WRITE_METHODS = frozenset({"POST", "PATCH", "DELETE"})
DEFAULT_TIMEOUT = 60.0
DEFAULT_CONCURRENCY = 20
DEFAULT_RETRIES = 3
DEFAULT_BACKOFF = 0.5
MAX_BACKOFF = 8.0
# Longest Retry-After (seconds) honoured on a 503 before retrying a read.
MAX_RETRY_AFTER = 30.0
LOGOUT_TIMEOUT = 5.0

JOB_FIELDS = (
    "id,resource_type,resource_action,resource_id,resource_name,description_l10n,phase,state,"
    "progress_percentage,start_time,end_time,user,parent_id,root_id,response_status,response_body"
)
STEP_FIELDS = (
    "id,parent_id,root_id,description_l10n,phase,state,progress_percentage,step_order,start_time,end_time"
)


class PowerStoreClient:
    """An async client for one array. Use as ``async with PowerStoreClient(...) as client:``.

    ``base_url``: ``https://array`` or ``https://array/api/rest`` (a bare host name means HTTPS).
    ``verify``: ``True`` (system trust store), a CA bundle path, or a ``Trust``
    (``Trust.pinned(fingerprint)``...). ``timeout``: seconds per request. ``max_concurrency``:
    requests in flight at once. ``retries``/``backoff``: how often and how patiently reads are
    retried. ``catalog``: resource metadata (default: the shipped catalog). ``transport`` replaces
    the network (tests); ``clock`` replaces the monotonic clock behind the idle timer (tests).
    """

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        *,
        verify: bool | str | os.PathLike[str] | Trust = True,
        timeout: float = DEFAULT_TIMEOUT,
        max_concurrency: int = DEFAULT_CONCURRENCY,
        retries: int = DEFAULT_RETRIES,
        backoff: float = DEFAULT_BACKOFF,
        application_type: str | None = None,
        catalog: Catalog | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self._root = api_root(base_url)
        self._username = username
        self._password = password
        self._trust = Trust.from_verify(verify)
        self._retries = max(0, retries)
        self._backoff = max(0.0, backoff)
        self._catalog = catalog if catalog is not None else load_catalog()
        self._clock = clock if clock is not None else time.monotonic
        self._backend: TrustingBackend | None = None
        if transport is None:
            transport, self._backend = build_transport(self._trust, max_connections=max_concurrency)
        install_log_redaction()
        self._http = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 15.0)),
            headers={
                "Accept": "application/json",
                "Accept-Language": "en-US",
                "Application-Type": application_type or f"PowerStoreConsole/{console.__version__}",
                "User-Agent": f"powerstore-console/{console.__version__}",
            },
            # The session cookie is sent by hand, so that it goes exactly where and when intended.
            cookies=http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(allowed_domains=[])),
            follow_redirects=False,
            trust_env=False,
        )
        self._session = SessionState()
        self._login_lock = asyncio.Lock()
        self._slots = asyncio.Semaphore(max_concurrency)
        self._rejected: list[ApiMessage] | None = None
        self._closed = False

    # -- lifecycle -------------------------------------------------------------------------------

    async def __aenter__(self) -> PowerStoreClient:
        try:
            await self.login()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def login(self) -> LoginInfo:
        """Log in (again) with the stored credentials. Raises ``AuthenticationFailed`` on a refusal."""
        self._check_open()
        async with self._login_lock:
            self._rejected = None
            await self._login_locked()
        assert self._session.info is not None
        return self._session.info

    def set_credentials(self, username: str, password: str) -> None:
        """New credentials (after a refused login, e.g. from a password prompt); used at the next login."""
        self._username = username
        self._password = password
        self._rejected = None

    async def aclose(self) -> None:
        """Log out (``POST /logout``) and close the connections. Closing twice is harmless."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._session.active:
                await self._logout()
        finally:
            self._session.end()
            await self._http.aclose()

    @property
    def base_url(self) -> str:
        return self._root

    @property
    def session(self) -> LoginInfo | None:
        """What the array said at the current login (None when not logged in)."""
        return self._session.info if self._session.active else None

    @property
    def trust(self) -> Trust:
        return self._trust

    @property
    def certificate(self) -> PresentedCertificate | None:
        """The array certificate of the most recent accepted connection."""
        return self._backend.last_certificate if self._backend is not None else None

    @property
    def catalog(self) -> Catalog:
        return self._catalog

    # -- reading ---------------------------------------------------------------------------------

    async def query(
        self,
        resource_type: str,
        *,
        select: SelectLike | None = None,
        where: Expression | None = None,
        order: OrderLike | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> Page:
        """One page of a collection. ``where`` is an expression (``F("size") >= 1 << 30``); ``limit``
        None gives the array's default page (100), larger than 2000 is capped. Collections without
        server-side querying (``x-simple_get``) are fetched whole and filtered here, the same way."""
        if offset < 0:
            raise ValueError("offset must not be negative")
        if limit is not None:
            if limit < 1:
                raise ValueError("limit must be at least 1")
            limit = min(limit, MAX_PAGE)
        rtype = self._catalog.types.get(resource_type)
        if rtype is not None and rtype.simple_get:
            return await self._query_simple(rtype, select, where, order, limit, offset)
        params = list_params(select, where, order, limit, offset)
        try:
            response = await self._send("GET", resource_type, params=params, idempotent=True)
        except ApiError as exc:
            # An empty result may answer 416 even at offset 0 on a real array (unconfirmed).
            if exc.status == 416 and offset == 0:
                return Page([], 0, offset, limit)
            raise
        items = _items(response, resource_type)
        total = page_total(
            response.headers.get("content-range"),
            offset,
            len(items),
            partial=response.status_code == 206,
            limit=limit,
        )
        return Page(items, total, offset, limit)

    async def iterate(
        self,
        resource_type: str,
        *,
        select: SelectLike | None = None,
        where: Expression | None = None,
        order: OrderLike | None = None,
        page_size: int = MAX_PAGE,
    ) -> AsyncIterator[dict[str, Any]]:
        """Every matching item, page by page (the next page is fetched while this one is consumed).

        The order is made unique by adding ``id`` last, so pages neither overlap nor skip rows that
        stay put; rows that vanish mid-walk end it cleanly (416), an item seen twice is yielded once.
        """
        page_size = max(1, min(page_size, MAX_PAGE))
        rtype = self._catalog.types.get(resource_type)
        if rtype is not None and rtype.simple_get:
            whole = await self._query_simple(rtype, select, where, order, None, 0)
            for item in whole.items:
                yield item
            return
        stable = stable_order(order, rtype, self._catalog)
        seen: set[Any] = set()

        async def fetch(offset: int) -> Page | None:
            try:
                return await self.query(
                    resource_type, select=select, where=where, order=stable, limit=page_size, offset=offset
                )
            except ApiError as exc:
                if exc.status == 416 and offset > 0:
                    return None
                raise

        page = await fetch(0)
        ahead: asyncio.Task[Page | None] | None = None
        try:
            while page is not None:
                offset = page.offset + len(page.items)
                more = bool(page.items) and offset < page.total
                ahead = asyncio.ensure_future(fetch(offset)) if more else None
                for item in page.items:
                    key = item.get("id")
                    if key is not None:
                        if key in seen:
                            continue
                        seen.add(key)
                    yield item
                if ahead is None:
                    return
                page = await ahead
                ahead = None
        finally:
            if ahead is not None:
                _discard(ahead)

    async def get(self, resource_type: str, id: str, *, select: SelectLike | None = None) -> dict[str, Any]:
        """One resource by id (or ``name:<name>`` where the type allows it)."""
        text = select_text(select)
        path = resource_path(resource_type, id)
        response = await self._send("GET", path, params=[("select", text)] if text else None, idempotent=True)
        data = _decode(response, "GET", path)
        if isinstance(data, list) and len(data) == 1:
            data = data[0]
        if not isinstance(data, dict):
            raise _unexpected(response, "GET", path, "a JSON object")
        return data

    async def jobs(self, ids: Iterable[str], *, select: SelectLike = JOB_FIELDS) -> list[dict[str, Any]]:
        """The given jobs, in the order given (unknown ids are left out), in as few requests as the
        URL length allows (``id=in.(…)`` batches of about a hundred UUIDs, fetched concurrently)."""
        wanted = list(dict.fromkeys(str(i) for i in ids))
        if not wanted:
            return []
        text = select_text(select)
        if "id" not in top_level_names(text):
            text = f"id,{text}"
        fixed = [("select", text), ("order", "id"), ("limit", str(MAX_PAGE))]
        batches = id_batches(self._url("job"), fixed, wanted)

        async def fetch(batch: list[str]) -> list[dict[str, Any]]:
            where = F("id").is_in(batch)
            return [job async for job in self.iterate("job", select=text, where=where, page_size=len(batch))]

        found = await _gather(fetch(batch) for batch in batches)
        by_id = {str(job.get("id")): job for batch in found for job in batch}
        return [by_id[i] for i in wanted if i in by_id]

    async def job(self, id: str, *, steps: bool = False, select: SelectLike = JOB_FIELDS) -> dict[str, Any]:
        """One job; with ``steps=True`` also its child steps (all levels) under ``"steps"``, in order."""
        found = await self.get("job", id, select=select)
        if steps:
            found["steps"] = [
                step
                async for step in self.iterate(
                    "job", select=STEP_FIELDS, where=F("root_id") == id, order="step_order"
                )
                if step.get("id") != id
            ]
        return found

    # -- changing --------------------------------------------------------------------------------

    async def submit(self, method: str, path: str, body: Any = None) -> str:
        """Send a change (POST/PATCH/DELETE, ``type``, ``type/id`` or ``type/id/action``) as an
        asynchronous request; returns the job id of the 202. A refusal raises at once.

        Never retried once it may have reached the array: a lost connection raises
        ``ConnectionLost`` (outcome unknown), a 503 ``ServerBusy``. Raises ``CompletedWithoutJob``
        if the array carried the change out at once instead.
        """
        method = _write_method(method)
        path = path.strip("/")
        response = await self._send(method, path, params=[("is_async", "true")], body=body, idempotent=False)
        try:
            data = _decode(response, method, path)
        except ApiError:
            data = None  # the change was accepted all the same; what it answered is unreadable
        if response.status_code != 202:
            raise CompletedWithoutJob(response.status_code, data, method, path)
        job_id = data.get("id") if isinstance(data, dict) else None
        if job_id in (None, ""):
            # The array took the change (202) but its job cannot be named: as with a lost answer,
            # the job is to be found, never the change sent again.
            snippet = response.text.strip()[:200] or "an empty body"
            raise ConnectionLost(
                f"the array accepted the change (202) but named no job: {snippet}",
                may_have_reached_server=True,
                method=method,
                path=path,
            )
        log.info("%s %s started job %s", method, path, job_id)
        return str(job_id)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Sequence[tuple[str, str]] | None = None,
        body: Any = None,
    ) -> Any:
        """Any request, answered synchronously: the decoded JSON answer, or None for no body.

        GETs are retried like queries; changes are not (as ``submit``).
        """
        method = method.upper()
        if method != "GET":
            method = _write_method(method)
        path = path.strip("/")
        response = await self._send(method, path, params=params, body=body, idempotent=method == "GET")
        return _decode(response, method, path)

    def as_curl(
        self, method: str, path: str, body: Any = None, *, params: Sequence[tuple[str, str]] | None = None
    ) -> str:
        """The equivalent curl command; cookie, token and passwords appear as shell variables."""
        url = str(httpx.URL(self._url(path.strip("/")), params=list(params or ())))
        certificate = self.certificate
        pin = public_key_pin(certificate.der) if certificate is not None else None
        return render_curl(method, url, body, trust=self._trust, pinned_public_key=pin)

    # -- sessions --------------------------------------------------------------------------------

    async def _ensure_session(self) -> None:
        session = self._session
        if not session.active:
            await self._renew(session.generation, "no session yet")
        elif session.stale(self._clock()):
            await self._renew(session.generation, "the session's idle timeout is near")

    async def _renew(self, generation: int, reason: str) -> None:
        """Log in again unless another request already did since ``generation`` was current."""
        async with self._login_lock:
            if self._session.active and self._session.generation != generation:
                return
            log.info("logging in to %s as %s: %s", self._host, self._username, reason)
            await self._login_locked()

    async def _login_locked(self) -> None:
        if self._rejected is not None:
            # Retrying refused credentials could lock the account; wait for set_credentials/login.
            raise AuthenticationFailed(401, self._rejected, "GET", "login_session")
        path = "login_session"
        attempt = 0
        while True:
            try:
                response, _ = await self._exchange(
                    "GET", path, [("select", LOGIN_FIELDS)], None, auth=(self._username, self._password)
                )
            except ConnectionLost:
                if attempt >= self._retries:
                    raise
                attempt += 1
                await self._pause(attempt, None)
                continue
            if response.status_code == 503 and attempt < self._retries:
                attempt += 1
                await self._pause(attempt, response)
                continue
            break
        if response.status_code >= 400:
            error = error_from_response(response.status_code, response.content, "GET", path)
            if response.status_code == 401:
                self._rejected = error.messages
                self._session.end()
            raise error
        cookie = response.cookies.get(COOKIE_NAME)
        if not cookie:
            text = "The array answered the login without a session cookie."
            raise ApiError(response.status_code, [ApiMessage("", "Error", text)], "GET", path)
        token = response.headers.get(TOKEN_HEADER)
        if not token:
            log.warning("the login answer of %s carries no %s; changes need one", self._host, TOKEN_HEADER)
        try:
            body = response.json()
        except ValueError:
            body = None
        info = LoginInfo.from_body(body, self._username)
        self._session.start(cookie, token, info, self._clock())
        log.info(
            "logged in to %s as %s (roles %s, idle timeout %s s)",
            self._host,
            info.user,
            ",".join(info.role_ids) or "?",
            info.idle_timeout if info.idle_timeout is not None else "unknown",
        )

    async def _logout(self) -> None:
        headers = self._session.headers()
        started = time.perf_counter()
        try:
            response = await self._http.post(self._url("logout"), headers=headers, timeout=LOGOUT_TIMEOUT)
        except (httpx.HTTPError, ApiError) as exc:
            log.info("logging out of %s failed: %s", self._host, exc or type(exc).__name__)
            return
        _log_exchange("POST", "logout", response, started, None)

    # -- sending ---------------------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Sequence[tuple[str, str]] | None = None,
        body: Any = None,
        idempotent: bool,
    ) -> httpx.Response:
        """Send with the session: log in when needed, replay once after a fresh login on 401/403,
        retry what may be retried. Returns a 2xx answer or raises ``ApiError``."""
        self._check_open(method, path)
        content = None if body is None else json.dumps(body).encode("utf-8")
        attempt = 0
        renewed = False
        while True:
            await self._logged_in(method, path, self._ensure_session())
            try:
                response, generation = await self._exchange(method, path, params, content)
            except ClientClosed:
                raise
            except ConnectionLost as lost:
                if attempt < self._retries and (idempotent or not lost.may_have_reached_server):
                    attempt += 1
                    log.info("%s %s: %s; retry %d of %d", method, path, lost.reason, attempt, self._retries)
                    await self._pause(attempt, None)
                    continue
                raise
            status = response.status_code
            if status in (401, 403) and not renewed:
                renewed = True
                why = "the session expired" if status == 401 else "403, perhaps a stale session"
                await self._logged_in(method, path, self._renew(generation, why))
                continue
            if status == 503 and idempotent and attempt < self._retries:
                attempt += 1
                log.info("%s %s: the array is busy; retry %d of %d", method, path, attempt, self._retries)
                await self._pause(attempt, response)
                continue
            if status >= 400:
                raise error_from_response(status, response.content, method, path)
            return response

    @staticmethod
    async def _logged_in(method: str, path: str, login: Awaitable[None]) -> None:
        """Await a login made for the request ``method path``. The login's own lost answer says
        nothing of that request, which was not sent: it fails as not sent."""
        try:
            await login
        except ClientClosed:
            raise
        except ConnectionLost as lost:
            raise ConnectionLost(
                f"not sent, logging in failed: {lost.reason}",
                may_have_reached_server=False,
                method=method,
                path=path,
            ) from lost

    async def _exchange(
        self,
        method: str,
        path: str,
        params: Sequence[tuple[str, str]] | None,
        content: bytes | None,
        *,
        auth: tuple[str, str] | None = None,
    ) -> tuple[httpx.Response, int]:
        """One HTTP exchange within the concurrency cap: the answer and the login it was sent with.
        Transport failures become ``ConnectionLost``."""
        self._check_open(method, path)
        async with self._slots:
            self._check_open(method, path)  # closed while this request waited for a slot
            # Taken once a slot is free, so a request that waited goes out with the newest login.
            generation = self._session.generation
            headers = {} if auth is not None else self._session.headers()
            if content is not None:
                headers["Content-Type"] = "application/json"
            sent_at = self._clock()
            started = time.perf_counter()
            try:
                response = await self._http.request(
                    method,
                    self._url(path),
                    params=list(params) if params else None,
                    content=content,
                    headers=headers,
                    auth=auth if auth is not None else httpx.USE_CLIENT_DEFAULT,
                )
            except TlsTrustError as exc:
                exc.method, exc.path = method, path
                raise
            except httpx.TransportError as exc:
                raise _lost(exc, method, path) from exc
            except RuntimeError:
                if self._closed or self._http.is_closed:  # closed while the request was going out
                    raise ClientClosed(method, path) from None
                raise
        if auth is None:
            self._session.used(sent_at)
            self._session.absorb(response, generation)
        _log_exchange(method, path, response, started, content)
        return response, generation

    async def _pause(self, attempt: int, response: httpx.Response | None) -> None:
        delay = min(MAX_BACKOFF, self._backoff * 2 ** (attempt - 1)) * random.uniform(0.75, 1.25)
        retry_after = response.headers.get("retry-after") if response is not None else None
        if retry_after is not None and retry_after.strip().isdigit():
            delay = max(delay, min(float(retry_after), MAX_RETRY_AFTER))
        await asyncio.sleep(delay)

    def _check_open(self, method: str = "", path: str = "") -> None:
        if self._closed:
            raise ClientClosed(method, path)

    def _url(self, path: str) -> str:
        return f"{self._root}/{path.lstrip('/')}"

    @property
    def _host(self) -> str:
        return httpx.URL(self._root).host

    # -- collections without server-side queries ---------------------------------------------------

    async def _query_simple(
        self,
        rtype: ResourceType,
        select: SelectLike | None,
        where: Expression | None,
        order: OrderLike | None,
        limit: int | None,
        offset: int,
    ) -> Page:
        text = select_text(select) or "id"
        present = top_level_names(text)
        needed = needed_fields(where, order, rtype, self._catalog)
        extra = {name: item for name, item in needed.items() if name not in present}
        fetch_select = ",".join([text, *sorted(extra.values())]) if extra else text
        response = await self._send("GET", rtype.name, params=[("select", fetch_select)], idempotent=True)
        records = _items(response, rtype.name)
        page, total = expressions.apply(
            records,
            where=where,
            order=order,
            offset=offset,
            limit=limit,
            fields=self._catalog.instance_fields(rtype.name),
            catalog=self._catalog,
        )
        if extra:
            page = [{k: v for k, v in item.items() if k not in extra} for item in page]
        return Page(page, total, offset, limit)


# -- helpers ---------------------------------------------------------------------------------------


def _write_method(method: str) -> str:
    method = method.upper()
    if method not in WRITE_METHODS:
        raise ValueError(f"a change is POST, PATCH or DELETE, not {method}")
    return method


async def _gather(coroutines: Iterable[Any]) -> list[Any]:
    """Run concurrently; on the first failure cancel the rest and raise that failure itself."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(c) for c in coroutines]
    except BaseExceptionGroup as failures:
        raise failures.exceptions[0] from None
    return [task.result() for task in tasks]


def _discard(task: asyncio.Task[Any]) -> None:
    """Cancel a look-ahead task nobody needs any more; its outcome, whatever it is, is dropped."""
    task.cancel()
    task.add_done_callback(lambda t: t.cancelled() or t.exception())


def _decode(response: httpx.Response, method: str, path: str) -> Any:
    if not response.content.strip():
        return None
    try:
        return response.json()
    except ValueError:
        raise _unexpected(response, method, path, "JSON") from None


def _items(response: httpx.Response, path: str) -> list[dict[str, Any]]:
    data = _decode(response, "GET", path)
    if data is None:
        return []
    if not isinstance(data, list):
        raise _unexpected(response, "GET", path, "a JSON list")
    return data


def _unexpected(response: httpx.Response, method: str, path: str, wanted: str) -> ApiError:
    snippet = response.text.strip()[:200] or "an empty body"
    text = f"The array answered {response.status_code} without {wanted}: {snippet}"
    return ApiError(response.status_code, [ApiMessage("", "Error", text)], method, path)


def _lost(exc: httpx.TransportError, method: str, path: str) -> ConnectionLost:
    # Only a failure to connect (or to get a pooled connection) proves nothing was sent.
    before = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    if isinstance(exc, httpx.TimeoutException):
        what = "timed out connecting" if before else "timed out waiting for the answer"
    elif before:
        what = "could not connect"
    else:
        what = "lost the connection before the answer was complete"
    detail = str(exc).strip()
    reason = f"{what} ({detail})" if detail else what
    return ConnectionLost(reason, may_have_reached_server=not before, method=method, path=path)


def _log_exchange(
    method: str, path: str, response: httpx.Response, started: float, content: bytes | None
) -> None:
    if not log.isEnabledFor(logging.INFO):
        return
    elapsed = (time.perf_counter() - started) * 1000
    query = unquote(response.request.url.query.decode("ascii", errors="replace"))
    shown = f"{path}?{query}" if query else path
    log.info("%s %s -> %d (%.0f ms)", method, shown, response.status_code, elapsed)
    if log.isEnabledFor(logging.DEBUG):
        if content is not None:
            log.debug("request body: %s", body_for_log(content))
        log.debug("response headers: %s", redact_headers(response.headers.items()))
        log.debug("response body: %s", body_for_log(response.content))
