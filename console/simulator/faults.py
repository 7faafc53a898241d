"""Injected trouble for API requests: delays, 503 "busy" answers and dropped connections.

Only paths under ``/api/rest`` are affected, never the control endpoint that sets these knobs.
A dropped connection is a response cut short: the status line and headers go out, then the
connection closes before the body is complete, so an HTTP client reports a transport error rather
than a response. "Drop before" never lets the app see the request; "drop after" lets the app carry
it out completely first, which is the case where a change happened but its caller cannot know.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import math
import random
from dataclasses import dataclass, field, fields
from typing import Any

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from console.simulator.config import SimulatorConfig
from console.simulator.errors import CODE_BUSY, fault

API_PREFIX = "/api/rest"
BUSY_TEXT = "The system is busy. Try the request again later."

# The server's own log of unhandled app errors; an injected drop is deliberate, not one of those.
_SERVER_ERROR_LOGGERS = ("uvicorn.error",)


class Fault(enum.Enum):
    NONE = "none"
    BUSY = "busy"
    DROP_BEFORE = "drop_before"
    DROP_AFTER = "drop_after"


class InjectedDisconnect(httpx.RemoteProtocolError):
    """Raised to make the server cut a response short.

    A real server closes the connection on it. In-process (``httpx.ASGITransport``) it reaches the
    client as is, and being an ``httpx.RemoteProtocolError`` it looks like the real thing there too.
    """

    def __init__(self, message: str = "connection dropped by fault injection") -> None:
        super().__init__(message)


@dataclass
class FaultSettings:
    """Fault knobs of one simulator; the control endpoint may change them while it runs."""

    fault_rate: float = 0.0
    """Share of API requests that fail at random (0..1)."""
    latency_ms: float = 0.0
    """Delay added to every API request, before anything else happens to it."""
    drop_share: float = 0.5
    """Share of random faults that drop the connection instead of answering 503 (0..1)."""
    fail_next: int = 0
    """The next N API requests are answered 503."""
    drop_next_before: int = 0
    """The next N API requests lose their connection before the app sees them."""
    drop_next_after: int = 0
    """The next N API requests are carried out, then lose their connection mid-response."""
    seed: int | str | None = None
    rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)
    injected: dict[str, int] = field(default_factory=dict, compare=False)
    """How many faults of each kind (``Fault.value``) were injected so far."""

    def __post_init__(self) -> None:
        if self.seed is not None:
            self.rng.seed(self.seed)
        self.validate()

    def validate(self) -> None:
        for name in ("fault_rate", "drop_share"):
            value = getattr(self, name)
            if not _is_number(value) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a number from 0 to 1, not {value!r}")
        if not _is_number(self.latency_ms) or self.latency_ms < 0:
            raise ValueError(f"latency_ms must be a number of at least 0, not {self.latency_ms!r}")
        for name in ("fail_next", "drop_next_before", "drop_next_after"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a whole number of at least 0, not {value!r}")

    def update(self, **changes: Any) -> None:
        """Change several knobs at once, all or nothing; ``seed`` also restarts the random sequence."""
        allowed = set(KNOBS) | {"seed"}
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(sorted(unknown))}")
        trial = FaultSettings(**{**self.to_json(), **changes})
        for name in allowed:
            setattr(self, name, getattr(trial, name))
        if "seed" in changes:
            self.rng.seed(self.seed)

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in (*KNOBS, "seed")}

    def decide(self, *, droppable: bool = True) -> Fault:
        """What happens to the next API request; one-shot counters come before the random rate.

        A request whose answer has no body (HEAD) cannot be visibly cut short: it gets a 503 instead.
        """
        kind = self._pick()
        if kind in (Fault.DROP_BEFORE, Fault.DROP_AFTER) and not droppable:
            kind = Fault.BUSY
        if kind is not Fault.NONE:
            self.injected[kind.value] = self.injected.get(kind.value, 0) + 1
        return kind

    def _pick(self) -> Fault:
        if self.fail_next:
            self.fail_next -= 1
            return Fault.BUSY
        if self.drop_next_before:
            self.drop_next_before -= 1
            return Fault.DROP_BEFORE
        if self.drop_next_after:
            self.drop_next_after -= 1
            return Fault.DROP_AFTER
        if self.fault_rate <= 0 or self.rng.random() >= self.fault_rate:
            return Fault.NONE
        if self.rng.random() >= self.drop_share:
            return Fault.BUSY
        # Random drops split evenly: both happen on real networks, and only "after" leaves an orphan.
        return Fault.DROP_BEFORE if self.rng.random() < 0.5 else Fault.DROP_AFTER


KNOBS = tuple(f.name for f in fields(FaultSettings) if f.name not in ("seed", "rng", "injected"))


def build_fault_settings(config: SimulatorConfig) -> FaultSettings:
    # A seed of its own, so turning faults on does not shift the seed data's random sequence.
    return FaultSettings(
        fault_rate=config.fault_rate, latency_ms=config.latency_ms, seed=f"faults:{config.seed}"
    )


def is_api_path(path: str) -> bool:
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


class FaultMiddleware:
    """Pure ASGI middleware applying ``FaultSettings`` to API requests.

    Put it outside any middleware that buffers or rewrites responses, so a cut-short response
    reaches the server as such.
    """

    def __init__(self, app: ASGIApp, settings: FaultSettings) -> None:
        self.app = app
        self.settings = settings
        quiet_injected_disconnects()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_api_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        settings = self.settings
        if settings.latency_ms > 0:
            await asyncio.sleep(settings.latency_ms / 1000)
        kind = settings.decide(droppable=scope["method"] != "HEAD")
        if kind is Fault.NONE:
            await self.app(scope, receive, send)
        elif kind is Fault.BUSY:
            await _send_busy(send)
        elif kind is Fault.DROP_BEFORE:
            await _send_cut_short(send, 200, [(b"content-type", b"application/json")], b"")
        else:
            await self._run_then_drop(scope, receive, send)

    async def _run_then_drop(self, scope: Scope, receive: Receive, send: Send) -> None:
        start: Message | None = None
        body = bytearray()

        async def hold(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                body.extend(message.get("body", b""))

        await self.app(scope, receive, hold)
        status = start["status"] if start else 200
        headers = list(start.get("headers", [])) if start else []
        await _send_cut_short(send, status, headers, bytes(body))


async def _send_busy(send: Send) -> None:
    body = json.dumps(fault(503, CODE_BUSY, BUSY_TEXT).to_json()).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _send_cut_short(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    """Announce more body than is sent, send part of it, then make the server close the connection."""
    if status < 200 or status in (204, 304):
        # These carry no body, so nothing could be missing from one; the client never sees the status.
        status = 200
    kept = [(k, v) for k, v in headers if k.lower() not in (b"content-length", b"transfer-encoding")]
    kept.append((b"content-length", str(len(body) + 1).encode()))
    await send({"type": "http.response.start", "status": status, "headers": kept})
    await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
    raise InjectedDisconnect()


class _DropInjectedDisconnects(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], InjectedDisconnect))


def quiet_injected_disconnects() -> None:
    """Keep the server from logging an injected drop as an application error with a traceback."""
    for name in _SERVER_ERROR_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropInjectedDisconnects) for f in logger.filters):
            logger.addFilter(_DropInjectedDisconnects())


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
