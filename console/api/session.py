"""The state of one login session: cookie, CSRF token, idle timer, and which login it belongs to."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

COOKIE_NAME = "auth_cookie"
TOKEN_HEADER = "DELL-EMC-TOKEN"
LOGIN_FIELDS = "id,user,role_ids,idle_timeout,is_password_change_required,is_built_in_user"
DEFAULT_IDLE_TIMEOUT = 3600.0
# Log in again this long before the idle timeout would end a session (at most a tenth of it).
REFRESH_MARGIN = 30.0


@dataclass(frozen=True)
class LoginInfo:
    """What the array said about the session at login."""

    id: str
    user: str
    role_ids: tuple[str, ...]
    idle_timeout: int | None
    is_password_change_required: bool
    is_built_in_user: bool

    @classmethod
    def from_body(cls, body: Any, fallback_user: str) -> LoginInfo:
        """From the login answer, a one-item list (a bare object is taken too)."""
        item = body[0] if isinstance(body, list) and body else body
        data: Mapping[str, Any] = item if isinstance(item, dict) else {}
        idle = data.get("idle_timeout")
        roles = data.get("role_ids") or ()
        return cls(
            id=str(data.get("id") or ""),
            user=str(data.get("user") or fallback_user),
            role_ids=tuple(str(r) for r in (roles if isinstance(roles, list | tuple) else [roles])),
            idle_timeout=idle if isinstance(idle, int) and not isinstance(idle, bool) and idle > 0 else None,
            is_password_change_required=bool(data.get("is_password_change_required")),
            is_built_in_user=bool(data.get("is_built_in_user")),
        )


class SessionState:
    """Cookie and token of the current login, numbered so that a request can tell whether a newer
    login happened since it was sent (then it replays instead of logging in again)."""

    def __init__(self) -> None:
        self.cookie: str | None = None
        self.token: str | None = None
        self.info: LoginInfo | None = None
        self.generation = 0
        self.idle_timeout = DEFAULT_IDLE_TIMEOUT
        self.last_used = 0.0

    @property
    def active(self) -> bool:
        return self.cookie is not None

    def start(self, cookie: str, token: str | None, info: LoginInfo, now: float) -> None:
        self.cookie = cookie
        self.token = token
        self.info = info
        self.generation += 1
        self.idle_timeout = float(info.idle_timeout) if info.idle_timeout else DEFAULT_IDLE_TIMEOUT
        self.last_used = now

    def end(self) -> None:
        self.cookie = None
        self.token = None
        self.info = None

    def stale(self, now: float) -> bool:
        """True when the idle timer has (nearly) run out: log in again before the next request."""
        margin = min(REFRESH_MARGIN, self.idle_timeout / 10)
        return now - self.last_used >= self.idle_timeout - margin

    def used(self, sent_at: float) -> None:
        # The array restarts its idle timer when it receives a request; sending time is the earlier
        # and so the safer estimate.
        self.last_used = max(self.last_used, sent_at)

    def absorb(self, response: httpx.Response, generation: int) -> None:
        """Keep a newer token or cookie from any answer to a request of the current login."""
        if generation != self.generation or self.cookie is None:
            return
        token = response.headers.get(TOKEN_HEADER)
        if token:
            self.token = token
        if "set-cookie" in response.headers:
            cookie = response.cookies.get(COOKIE_NAME)
            if cookie:
                self.cookie = cookie

    def headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        if self.cookie is not None:
            headers["Cookie"] = f"{COOKIE_NAME}={self.cookie}"
        # The token is required on changes and harmless on reads; sent on both, as Dell's SDKs do.
        if self.token is not None:
            headers[TOKEN_HEADER] = self.token
        return headers
