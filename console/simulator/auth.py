"""Login sessions: Basic auth on ``login_session`` only, then the ``auth_cookie`` and the CSRF token."""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass
from typing import Any

from console.simulator import errors
from console.simulator.handlers.users import check_password
from console.simulator.operations import Caller, Sim

COOKIE_NAME = "auth_cookie"
TOKEN_HEADER = "DELL-EMC-TOKEN"


@dataclass
class Session:
    id: str
    cookie: str
    token: str
    user_id: str
    user: str
    role_id: str
    last_used: float

    @property
    def caller(self) -> Caller:
        return Caller(self.user, self.role_id)


class Sessions:
    def __init__(self, sim: Sim) -> None:
        self.sim = sim
        self._by_cookie: dict[str, Session] = {}
        self.logins = 0
        """Successful logins since start (the control endpoint reports it)."""

    def __len__(self) -> int:
        return len(self._by_cookie)

    def login(self, authorization: str | None) -> Session:
        name, password = _basic_credentials(authorization)
        user = next((u for u in self.sim.store.all("local_user") if u.get("name") == name), None)
        if user is None or not check_password(self.sim, user, password):
            raise errors.fault(
                401, errors.CODE_UNAUTHENTICATED, "Authentication failed: wrong user name or password."
            )
        if user.get("is_locked"):
            raise errors.fault(401, errors.CODE_UNAUTHENTICATED, f"The account {name} is locked.", name)
        session = Session(
            id=self.sim.new_id(),
            cookie=secrets.token_urlsafe(32),
            token=secrets.token_urlsafe(24),
            user_id=user["id"],
            user=name,
            role_id=user["role_id"],
            last_used=self.sim.now(),
        )
        self._by_cookie[session.cookie] = session
        self.logins += 1
        return session

    def authenticate(self, cookie: str | None) -> Session:
        """The session a cookie belongs to; refreshes its idle timer. Expired or unknown: 401."""
        session = self._by_cookie.get(cookie) if cookie else None
        if session is None:
            raise errors.fault(401, errors.CODE_UNAUTHENTICATED, "Not authenticated: log in first.")
        now = self.sim.now()
        if now - session.last_used > self.sim.config.idle_timeout:
            del self._by_cookie[session.cookie]
            raise errors.fault(401, errors.CODE_SESSION_EXPIRED, "The session has expired: log in again.")
        user = self.sim.store.get("local_user", session.user_id)
        if user is None or user.get("is_locked"):
            del self._by_cookie[session.cookie]
            raise errors.fault(401, errors.CODE_UNAUTHENTICATED, "The session's account is no longer valid.")
        session.role_id = user["role_id"]
        session.last_used = now
        return session

    def logout(self, session: Session) -> None:
        self._by_cookie.pop(session.cookie, None)

    def expire_all(self) -> int:
        count = len(self._by_cookie)
        self._by_cookie.clear()
        return count

    def end_sessions_of(self, user_id: str, *, keep: Session | None = None) -> None:
        """A changed password or a deleted account ends that user's other sessions."""
        for cookie, session in list(self._by_cookie.items()):
            if session.user_id == user_id and session is not keep:
                del self._by_cookie[cookie]

    def describe(self, session: Session) -> dict[str, Any]:
        """The ``login_session_instance`` of a session."""
        user = self.sim.store.get("local_user", session.user_id) or {}
        remaining = self.sim.config.idle_timeout - int(self.sim.now() - session.last_used)
        return {
            "id": session.id,
            "user": session.user,
            "role_ids": [session.role_id],
            "idle_timeout": max(0, remaining),
            "is_password_change_required": bool(user.get("is_default_password")),
            "is_built_in_user": bool(user.get("is_built_in")),
        }


def _basic_credentials(authorization: str | None) -> tuple[str, str]:
    if not authorization or not authorization.lower().startswith("basic "):
        raise errors.fault(401, errors.CODE_UNAUTHENTICATED, "Log in with HTTP Basic authentication.")
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise errors.fault(401, errors.CODE_UNAUTHENTICATED, "Malformed Basic credentials.") from None
    name, sep, password = decoded.partition(":")
    if not sep:
        raise errors.fault(401, errors.CODE_UNAUTHENTICATED, "Malformed Basic credentials.")
    return name, password
