"""What can go wrong talking to an array, as exceptions a caller can tell apart.

Every failure is an ``ApiError``; the subclasses are the cases the UI and the job engine treat
differently (ask for a password, show a permission problem, offer a retry, resolve an unknown
outcome, ask whether to trust a certificate). Error bodies are parsed leniently: the array's
``error_response`` shape when it is there, otherwise whatever readable text the body holds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

# Long HTML error pages and the like are cut to this many characters in a message.
MAX_TEXT = 500

_TAGS = re.compile(r"<[^>]*>")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class ApiMessage:
    """One entry of an error body's ``messages``: the array's code, severity and localized text."""

    code: str
    severity: str
    text: str
    arguments: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.text} ({self.code})" if self.code else self.text


class ApiError(Exception):
    """A request failed. ``status`` is the HTTP status, or None when no answer arrived.

    ``method`` and ``path`` name the request (``path`` relative to ``/api/rest``, without the query).
    """

    def __init__(
        self,
        status: int | None,
        messages: Sequence[ApiMessage] = (),
        method: str = "",
        path: str = "",
    ) -> None:
        self.status = status
        self.messages = list(messages)
        self.method = method
        self.path = path
        super().__init__(status, self.messages, method, path)

    @property
    def text(self) -> str:
        """All messages' texts, for display."""
        return " ".join(m.text for m in self.messages)

    @property
    def codes(self) -> list[str]:
        return [m.code for m in self.messages if m.code]

    def __str__(self) -> str:
        where = f"{self.method} {self.path}".strip()
        status = _status_label(self.status)
        detail = "; ".join(str(m) for m in self.messages)
        head = f"{where}: {status}" if where else status
        return f"{head}: {detail}" if detail else head


class AuthenticationFailed(ApiError):
    """The array refused the user name and password (or a new login after the session expired)."""


class PermissionDenied(ApiError):
    """The user's role may not do this (403 that a fresh login did not cure)."""


class NotFound(ApiError):
    """The resource (or URL) does not exist."""


class ValidationRefused(ApiError):
    """The array refused the request as invalid (400) or against its rules (422); nothing changed."""


class ServerBusy(ApiError):
    """The array answered 503. Reads were already retried; a change may be offered again by hand."""


class CompletedWithoutJob(ApiError):
    """An asynchronous submit was carried out at once instead of starting a job.

    Not a failure of the change: ``result`` holds what the array answered (None for no body). Some
    requests may not accept ``is_async`` on a real array; this keeps that case from looking like
    an error in the job engine, which catches it and records the change as done.
    """

    def __init__(self, status: int, result: Any, method: str = "", path: str = "") -> None:
        text = "The array carried out the request at once instead of starting a job."
        super().__init__(status, [ApiMessage("", "Info", text)], method, path)
        self.result = result


class ConnectionLost(ApiError):
    """No complete answer arrived (network error or timeout): the request's outcome is unknown.

    ``may_have_reached_server`` is False only when the connection failed before the request was
    sent (so nothing can have happened); otherwise a change may have been carried out.
    """

    def __init__(
        self,
        reason: str,
        *,
        may_have_reached_server: bool,
        method: str = "",
        path: str = "",
    ) -> None:
        super().__init__(None, [ApiMessage("", "Error", reason)], method, path)
        self.reason = reason
        self.may_have_reached_server = may_have_reached_server


class ClientClosed(ConnectionLost):
    """The client was closed (``aclose()``) before this request: nothing was sent. Whoever owns the
    client (a session replacing it) makes a new one."""

    def __init__(self, method: str = "", path: str = "") -> None:
        super().__init__(
            "the PowerStore client is closed", may_have_reached_server=False, method=method, path=path
        )


class TlsTrustError(ApiError):
    """The array's certificate is not trusted: not signed by a trusted CA, wrong host name, or not
    the pinned certificate. ``fingerprint`` (SHA-256, ``AB:CD:…``) and ``subject`` describe the
    certificate the array presented (empty when it could not be read), for a trust prompt.
    """

    def __init__(
        self,
        reason: str,
        *,
        fingerprint: str,
        subject: str,
        expected_fingerprint: str | None = None,
        host: str = "",
        method: str = "",
        path: str = "",
    ) -> None:
        super().__init__(None, [ApiMessage("", "Error", reason)], method, path)
        self.reason = reason
        self.fingerprint = fingerprint
        self.subject = subject
        self.expected_fingerprint = expected_fingerprint
        self.host = host


_BY_STATUS: dict[int, type[ApiError]] = {
    400: ValidationRefused,
    401: AuthenticationFailed,
    403: PermissionDenied,
    404: NotFound,
    422: ValidationRefused,
    503: ServerBusy,
}


def error_class(status: int) -> type[ApiError]:
    return _BY_STATUS.get(status, ApiError)


def error_from_response(status: int, content: bytes, method: str, path: str) -> ApiError:
    """The exception for an error answer, whatever its body looks like."""
    return error_class(status)(status, parse_messages(status, content), method, path)


def parse_messages(status: int, content: bytes) -> list[ApiMessage]:
    """The messages of an error body: ``{"messages": [...]}`` as the array sends it, a ``messages``
    string, a single message object, plain text or HTML; an empty body gives the status phrase."""
    text = content.decode("utf-8", errors="replace")
    try:
        data = json.loads(text) if text.strip() else None
    except ValueError:
        data = None
        readable = _readable(text)
        if readable:
            return [ApiMessage("", "Error", readable)]
    messages = _from_json(data)
    if messages:
        return messages
    if data is not None:
        raw = _readable(text)
        return [ApiMessage("", "Error", raw)] if raw else [ApiMessage("", "Error", _status_label(status))]
    return [ApiMessage("", "Error", _status_label(status))]


def _from_json(data: Any) -> list[ApiMessage]:
    if isinstance(data, dict):
        entries = data.get("messages")
        if entries is None and ("message_l10n" in data or "code" in data):
            entries = [data]
    elif isinstance(data, list):
        entries = data
    else:
        return []
    if isinstance(entries, str):
        return [ApiMessage("", "Error", _readable(entries) or entries)]
    if isinstance(entries, dict):
        entries = [entries]
    if not isinstance(entries, list):
        return []
    return [_message(entry) for entry in entries if entry not in (None, "", {})]


def _message(entry: Any) -> ApiMessage:
    if not isinstance(entry, dict):
        return ApiMessage("", "Error", _readable(str(entry)))
    text = entry.get("message_l10n") or entry.get("message") or entry.get("text")
    arguments = entry.get("arguments") or ()
    if not isinstance(arguments, list | tuple):
        arguments = (arguments,)
    return ApiMessage(
        code=str(entry.get("code") or ""),
        severity=str(entry.get("severity") or "Error"),
        text=_readable(str(text)) if text else json.dumps(entry, sort_keys=True)[:MAX_TEXT],
        arguments=tuple(str(a) for a in arguments),
    )


def _readable(text: str) -> str:
    """Plain, single-line text of a body that may be HTML, cut to a sensible length."""
    plain = _SPACES.sub(" ", _TAGS.sub(" ", text)).strip()
    return plain if len(plain) <= MAX_TEXT else plain[: MAX_TEXT - 1] + "…"


def _status_label(status: int | None) -> str:
    if status is None:
        return "no answer"
    try:
        return f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"
