"""One connected array: its connection settings, its ``PowerStoreClient``, and what the status bar
shows about it (state, user and role, API version).

States: connecting → connected; a lost connection → reconnecting (a countdown, then a probe; the
pause grows from 3 s to a minute) → connected again (``recovered``: the views reload, keeping
their state). A password the array refuses, at connect or later (changed by someone), asks for a
new one (``passwordNeeded``) on the same client, so open views keep everything. A certificate that
is not trusted, or that differs from the pinned one, stops the session (``trustNeeded``) until the
user decides; nothing is sent to that array meanwhile.

No periodic keep-alive: an idle session is allowed to expire (STIG rule, reference §2); the
client logs in again by itself when it is next used.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from console.api import (
    ApiError,
    AuthenticationFailed,
    ConnectionLost,
    F,
    NotFound,
    PermissionDenied,
    PowerStoreClient,
    PresentedCertificate,
    ServerBusy,
    TlsTrustError,
    ValidationRefused,
    fetch_certificate,
)
from console.connections import TRUST_CA_FILE, TRUST_PINNED, Connection
from console.secrets import SecretStore
from console.ui import qt_async

log = logging.getLogger(__name__)

# Pauses before successive reconnection attempts, in seconds (the last one repeats).
RETRY_DELAYS = (3, 5, 10, 20, 30, 60)
ROLE_NAMES = {
    "1": "Administrator",
    "2": "Storage Administrator",
    "3": "Operator",
    "4": "VM Administrator",
    "5": "Security Administrator",
}


class State(enum.Enum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    PASSWORD_NEEDED = "password needed"
    TRUST_NEEDED = "certificate not trusted"
    OFFLINE = "offline"


class TrustChoice(enum.Enum):
    PIN = "pin"
    CA_FILE = "ca_file"
    CANCEL = "cancel"


@dataclass(frozen=True)
class TrustRequest:
    """An array presented a certificate the connection does not trust."""

    connection: Connection
    certificate: PresentedCertificate
    expected_fingerprint: str | None
    """The pinned fingerprint when the certificate CHANGED; None on first use."""
    reason: str

    @property
    def changed(self) -> bool:
        return self.expected_fingerprint is not None


class ArraySession(QObject):
    """A connection to one array and its client. Create, then ``start()``; ``close()`` to end."""

    stateChanged = Signal()
    countdownChanged = Signal(int)
    infoChanged = Signal()
    recovered = Signal()
    """The array is reachable again, or accepts the new password: views should reload."""
    clientReplaced = Signal()
    """A new client (new certificate trust): views of the old one must be rebuilt."""
    passwordNeeded = Signal(str)
    trustNeeded = Signal(object)
    connectionChanged = Signal(object)
    """The connection's settings changed (a pinned certificate, a CA file): save them."""

    def __init__(
        self,
        connection: Connection,
        secrets: SecretStore,
        *,
        password: str | None = None,
        client_factory: Callable[..., PowerStoreClient] = PowerStoreClient,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.connection = connection
        self.secrets = secrets
        self.client: PowerStoreClient | None = None
        self.state = State.OFFLINE
        self.detail = ""
        """Why the state is what it is (the last error, the keyring's situation...)."""
        self.user = ""
        self.roles: list[str] = []
        self.api_version = ""
        self.countdown = 0
        self.ever_connected = False
        self._fixed_password = password
        self._typed_password: tuple[str, bool] | None = None
        self._client_factory = client_factory
        self._attempt = 0
        self._fresh_client = False
        self._stale_client = False
        self._task: Any = None
        self._closed = False
        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self._tick)

    # -- public ------------------------------------------------------------------------------------

    @property
    def id(self) -> str:
        return self.connection.id

    @property
    def name(self) -> str:
        return self.connection.name

    @property
    def role_text(self) -> str:
        return ", ".join(self.roles)

    def state_text(self) -> str:
        if self.state is State.RECONNECTING:
            return f"Reconnecting in {self.countdown} s" if self.countdown > 0 else "Reconnecting…"
        if self.state is State.CONNECTING:
            return "Connecting…"
        return {
            State.CONNECTED: "Connected",
            State.PASSWORD_NEEDED: "Password needed",
            State.TRUST_NEEDED: "Certificate not trusted",
            State.OFFLINE: "Offline",
        }[self.state]

    def short_state(self) -> str:
        """A few words for the navigation tree (empty when connected)."""
        if self.state is State.RECONNECTING:
            return f"retry in {self.countdown} s" if self.countdown > 0 else "reconnecting…"
        return {
            State.CONNECTED: "",
            State.CONNECTING: "connecting…",
            State.PASSWORD_NEEDED: "login needed",
            State.TRUST_NEEDED: "untrusted",
            State.OFFLINE: "offline",
        }[self.state]

    def start(self) -> None:
        """Connect (again): with the saved or given password, or ask for one."""
        if self._closed:
            return
        self._run(self._connect())

    def update_connection(self, connection: Connection) -> bool:
        """New settings from the connection manager. Name and colour apply at once; returns True
        when host, user or certificate trust changed, which apply at the next (re)connect."""
        old, self.connection = self.connection, connection
        changed = (old.base_url, old.user, old.trust()) != (
            connection.base_url,
            connection.user,
            connection.trust(),
        )
        if changed and self.client is not None:
            self._stale_client = True
        return changed

    @property
    def busy(self) -> bool:
        """An attempt (connecting, logging in, probing) is under way."""
        return self._task is not None and not self._task.done()

    def reconnect_now(self) -> None:
        """Skip the countdown, retry an offline session, or apply changed connection settings."""
        if self._stale_client:
            self._stale_client = False
            self._timer.stop()
            self._run(self._reconnect_with_new_trust())
            return
        if self.busy:
            return  # an attempt is under way already; cancelling it mid-handshake gains nothing
        if self.state in (State.RECONNECTING, State.OFFLINE):
            self._timer.stop()
            self.countdown = 0
            self._run(self._probe() if self.client is not None else self._connect())

    def report(self, exc: BaseException) -> bool:
        """A request of this session failed (a view's load, say). Returns True when the session
        takes care of it (connection, password, certificate), False for other errors."""
        if isinstance(exc, TlsTrustError):
            if self.state not in (State.TRUST_NEEDED, State.OFFLINE):
                self._run(self._trust_problem(exc))
            return True
        if isinstance(exc, AuthenticationFailed):
            if self.state is State.CONNECTED:
                self._ask_password(
                    f"The array no longer accepts the password of {self.connection.user} "
                    "(it may have been changed). Enter the current password; open views keep their state."
                )
            return True
        if isinstance(exc, ConnectionLost | ServerBusy):
            if self.state is State.CONNECTED:
                self._lost(exc)
            return self.state is not State.CONNECTED
        return False

    def password_cancelled(self) -> None:
        """The user closed the password prompt: stay offline until asked to reconnect."""
        if self.state is State.PASSWORD_NEEDED:
            self._set_state(State.OFFLINE, "Not connected: no password was given.")

    def submit_password(self, password: str, remember: bool) -> None:
        """The user's answer to ``passwordNeeded``."""
        if self._closed:
            return
        self._run(self._use_password(password, remember))

    def decide_trust(self, request: TrustRequest, choice: TrustChoice, ca_file: str | None = None) -> None:
        """The user's answer to ``trustNeeded``."""
        if self._closed:
            return
        if choice is TrustChoice.CANCEL:
            self._set_state(State.OFFLINE, "Not connected: the certificate was not trusted.")
            return
        self._stale_client = False
        if choice is TrustChoice.PIN:
            changed = self.connection.replace(
                trust_mode=TRUST_PINNED, fingerprint=request.certificate.fingerprint
            )
        else:
            changed = self.connection.replace(trust_mode=TRUST_CA_FILE, ca_file=ca_file)
        self.connection = changed
        self.connectionChanged.emit(changed)
        self._run(self._reconnect_with_new_trust())

    async def close(self) -> None:
        """Log out and stop; the session cannot be used afterwards."""
        self._closed = True
        self._timer.stop()
        self._cancel_task()
        client, self.client = self.client, None
        if client is not None:
            await client.aclose()
        self._set_state(State.OFFLINE, "Disconnected.")

    @property
    def stale_client(self) -> bool:
        """The connection's host, user or trust changed since the client was made."""
        return self._stale_client

    @property
    def closed(self) -> bool:
        return self._closed

    # -- flows -------------------------------------------------------------------------------------

    def _run(self, coro: Any) -> None:
        self._cancel_task()
        self._task = qt_async.start(coro, name=f"ArraySession[{self.connection.name}]")

    def _cancel_task(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()

    def _password(self) -> str | None:
        if self._fixed_password is not None:
            return self._fixed_password
        return self.secrets.get(self.connection.id)

    async def _connect(self) -> None:
        self._timer.stop()
        password = self._password()
        if password is None:
            reason = "No password is saved for this connection."
            if not self.secrets.persistent:
                reason += " " + self.secrets.status.reason
            self._ask_password(reason)
            return
        self._set_state(State.CONNECTING)
        if self.client is None:
            try:
                self.client = self._client_factory(
                    self.connection.base_url, self.connection.user, password, verify=self.connection.trust()
                )
            except ValueError as exc:  # an unreadable CA file, say
                self._set_state(State.OFFLINE, f"Cannot connect: {exc}")
                return
            self._fresh_client = True
        else:
            self.client.set_credentials(self.connection.user, password)
        await self._login_and_describe()

    async def _login_and_describe(self) -> None:
        client = self.client
        assert client is not None
        try:
            info = await client.login()
            self.user = info.user
            self.roles = await self._role_names(client, info.role_ids)
            self.api_version = await self._api_version(client)
        except TlsTrustError as exc:
            await self._trust_problem(exc)
            return
        except AuthenticationFailed:
            self.secrets.forget_session(self.connection.id)
            self._ask_password(
                f"The array refused the password of {self.connection.user}. Enter the right password."
            )
            return
        except (ConnectionLost, ServerBusy) as exc:
            self._lost(exc)
            return
        except ApiError as exc:
            self._set_state(State.OFFLINE, f"The array refused the login: {exc}")
            return
        self._connected()

    def _connected(self) -> None:
        if self._typed_password is not None:
            password, remember = self._typed_password
            self._typed_password = None
            self.secrets.remember(self.connection.id, password, persist=remember and self.secrets.persistent)
        was_connected_before = self.ever_connected
        fresh, self._fresh_client = self._fresh_client, False
        self._attempt = 0
        self.ever_connected = True
        self._set_state(State.CONNECTED)
        self.infoChanged.emit()
        if was_connected_before:
            # Views built on an earlier client (closed since) are rebuilt; the others reload.
            (self.clientReplaced if fresh else self.recovered).emit()

    async def _use_password(self, password: str, remember: bool) -> None:
        self._fixed_password = None
        self.secrets.hold(self.connection.id, password)
        # Kept (in the keyring if asked) once the array accepted it, which may be after a retry.
        self._typed_password = (password, remember)
        if self.client is None:
            await self._connect()
        else:
            self._set_state(State.CONNECTING)
            self.client.set_credentials(self.connection.user, password)
            await self._login_and_describe()

    async def _probe(self) -> None:
        client = self.client
        if client is None:
            await self._connect()
            return
        self._set_state(State.RECONNECTING)
        if not self.user:
            # No login has got through yet (the array was down from the start): log in now, which
            # also learns who we are and with what role. Counted, so that the retries space out.
            self._attempt += 1
            await self._login_and_describe()
            return
        try:
            self.api_version = await self._api_version(client)
        except TlsTrustError as exc:
            await self._trust_problem(exc)
            return
        except AuthenticationFailed:
            self._ask_password(
                f"The array no longer accepts the password of {self.connection.user} "
                "(it may have been changed). Enter the current password; open views keep their state."
            )
            return
        except (ConnectionLost, ServerBusy) as exc:
            self._attempt += 1
            self._lost(exc)
            return
        log.info("%s is reachable again", self.connection.name)
        self._connected()

    async def _trust_problem(self, exc: TlsTrustError) -> None:
        address = self.connection.address
        # Not connected from here on: views that still hold the old client stop using it.
        self._set_state(State.CONNECTING, "Checking the array's certificate…")
        client, self.client = self.client, None
        if client is not None:
            await client.aclose()
        self._timer.stop()
        try:
            presented = await fetch_certificate(address.host, address.port)
        except ApiError as lost:
            self._set_state(
                State.OFFLINE, f"The certificate is not trusted, and re-reading it failed: {lost}"
            )
            return
        expected = exc.expected_fingerprint
        if expected is not None and presented.fingerprint == expected:
            # The array went back to the pinned certificate meanwhile.
            await self._connect()
            return
        request = TrustRequest(self.connection, presented, expected, exc.reason)
        if request.changed:
            log.warning(
                "the certificate of %s (%s) CHANGED: pinned %s, presented %s; not connecting",
                self.connection.name,
                self.connection.host,
                expected,
                presented.fingerprint,
            )
            detail = "The array's certificate has changed. Not connected until you decide."
        else:
            detail = "The array's certificate is not trusted yet."
        self._set_state(State.TRUST_NEEDED, detail)
        self.trustNeeded.emit(request)

    async def _reconnect_with_new_trust(self) -> None:
        self._set_state(State.CONNECTING)
        client, self.client = self.client, None
        if client is not None:
            await client.aclose()
        await self._connect()

    def _ask_password(self, reason: str) -> None:
        self._typed_password = None  # refused, or another one is needed
        self._timer.stop()
        self._set_state(State.PASSWORD_NEEDED, reason)
        self.passwordNeeded.emit(reason)

    def _lost(self, exc: BaseException) -> None:
        delay = RETRY_DELAYS[min(self._attempt, len(RETRY_DELAYS) - 1)]
        log.warning("%s: connection problem (%s); retrying in %d s", self.connection.name, exc, delay)
        self.countdown = delay
        self._set_state(State.RECONNECTING, str(exc))
        self.countdownChanged.emit(self.countdown)
        self._timer.start()

    def _tick(self) -> None:
        self.countdown = max(0, self.countdown - 1)
        self.countdownChanged.emit(self.countdown)
        self.stateChanged.emit()
        if self.countdown == 0:
            self._timer.stop()
            self._run(self._probe())

    def _set_state(self, state: State, detail: str = "") -> None:
        self.state = state
        self.detail = detail
        self.stateChanged.emit()

    @staticmethod
    async def _role_names(client: PowerStoreClient, role_ids: tuple[str, ...]) -> list[str]:
        names = dict(ROLE_NAMES)
        try:
            page = await client.query("role", select="id,name")
            names.update({str(r.get("id")): str(r.get("name")) for r in page.items if r.get("name")})
        except (PermissionDenied, NotFound, ValidationRefused) as exc:
            # The built-in ids have names we know; others show as ids.
            log.info("role names not available: %s", exc)
        return [names.get(r, f"role {r}") for r in role_ids]

    @staticmethod
    async def _api_version(client: PowerStoreClient) -> str:
        try:
            page = await client.query(
                "software_installed", select="release_version", where=F("is_cluster").is_true(), limit=1
            )
        except (PermissionDenied, NotFound, ValidationRefused) as exc:
            log.info("software version not available: %s", exc)
            return ""
        return str(page.items[0].get("release_version") or "") if page.items else ""
