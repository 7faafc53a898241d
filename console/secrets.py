"""Passwords in the OS keyring (``keyring``), or for this session only when there is no usable one.

One service name for the whole console, one entry per connection (keyed by the connection's id,
so renaming a connection keeps its password). A keyring that would keep passwords in plain text
(``keyrings.alt``'s file backends) or that fails (no Secret Service on a headless box, a locked
collection) counts as unusable: the console then asks for the password once per session, keeps it
in memory only, and says why. Nothing here logs a password, and nothing writes one to a file.

Keyring calls are short local IPC; they run on the caller's thread.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import keyring
import keyring.backend
import keyring.errors

log = logging.getLogger(__name__)

SERVICE = "powerstore-console"

# Backends that "store" passwords in a readable file or not at all.
_UNSAFE_BACKENDS = {
    "keyrings.alt.file.PlaintextKeyring": "it would keep passwords in a plain-text file",
    "keyrings.alt.file.EncryptedKeyring": "it would ask for its own master password on the console",
    "keyring.backends.null.Keyring": "it is the null backend, which never keeps anything",
}


@dataclass(frozen=True)
class KeyringStatus:
    usable: bool
    backend: str
    reason: str
    """Why the keyring cannot be used (empty when it can)."""


def account(connection_id: str) -> str:
    """The keyring entry name of a connection."""
    return f"connection:{connection_id}"


def backend_name(backend: keyring.backend.KeyringBackend) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def probe(backend: keyring.backend.KeyringBackend | None = None) -> KeyringStatus:
    """Whether ``backend`` (default: the one ``keyring`` chose) can hold the console's passwords."""
    backend = backend if backend is not None else keyring.get_keyring()
    name = backend_name(backend)
    if name in _UNSAFE_BACKENDS:
        return KeyringStatus(
            False, name, f"The keyring backend {name} is not used: {_UNSAFE_BACKENDS[name]}."
        )
    if name == "keyring.backends.fail.Keyring":
        return KeyringStatus(
            False,
            name,
            "No usable OS keyring was found (no Secret Service, KWallet, macOS Keychain or Windows "
            "Credential Manager is reachable), so passwords are asked for once per session and kept "
            "in memory only.",
        )
    try:
        priority = float(backend.priority)
    except Exception as exc:  # a backend that cannot even tell its priority is not usable
        return KeyringStatus(False, name, f"The keyring backend {name} is not available: {exc}.")
    if priority <= 0:
        return KeyringStatus(False, name, f"The keyring backend {name} is not available on this system.")
    return KeyringStatus(True, name, "")


class SecretStore:
    """Passwords per connection: the OS keyring when usable, else memory for this session only.

    ``status`` tells which, and why. A keyring that fails while in use (locked, D-Bus gone) turns
    the store into session-only mode from then on, with the reason."""

    def __init__(self, backend: keyring.backend.KeyringBackend | None = None) -> None:
        self._backend = backend
        self.status = probe(backend)
        self._session: dict[str, str] = {}

    @property
    def persistent(self) -> bool:
        return self.status.usable

    def _keyring(self) -> keyring.backend.KeyringBackend:
        return self._backend if self._backend is not None else keyring.get_keyring()

    def get(self, connection_id: str) -> str | None:
        """The password of a connection: this session's, else the keyring's, else None."""
        if connection_id in self._session:
            return self._session[connection_id]
        if not self.status.usable:
            return None
        try:
            return self._keyring().get_password(SERVICE, account(connection_id))
        except keyring.errors.KeyringError as exc:
            self._fail(exc, "reading")
            return None

    def remember(self, connection_id: str, password: str, *, persist: bool) -> bool:
        """Keep ``password`` for this session, and in the keyring when ``persist`` and usable.

        Returns True when the keyring now holds it."""
        self._session[connection_id] = password
        if not persist:
            self._delete_from_keyring(connection_id)
            return False
        if not self.status.usable:
            return False
        try:
            self._keyring().set_password(SERVICE, account(connection_id), password)
        except keyring.errors.KeyringError as exc:
            self._fail(exc, "saving")
            return False
        return True

    def forget(self, connection_id: str) -> None:
        """Drop the password from this session and from the keyring."""
        self._session.pop(connection_id, None)
        self._delete_from_keyring(connection_id)

    def hold(self, connection_id: str, password: str) -> None:
        """Keep ``password`` for this session only (not yet known to be right); the keyring's
        entry, if any, stays as it is."""
        self._session[connection_id] = password

    def forget_session(self, connection_id: str) -> None:
        """Drop only this session's copy (a password the array refused)."""
        self._session.pop(connection_id, None)

    def _delete_from_keyring(self, connection_id: str) -> None:
        if not self.status.usable:
            return
        try:
            self._keyring().delete_password(SERVICE, account(connection_id))
        except keyring.errors.PasswordDeleteError:
            pass  # nothing was stored
        except keyring.errors.KeyringError as exc:
            self._fail(exc, "deleting")

    def _fail(self, exc: Exception, doing: str) -> None:
        name = self.status.backend
        reason = (
            f"The OS keyring ({name}) failed while {doing} a password ({type(exc).__name__}: {exc}); "
            "passwords are asked for once per session and kept in memory only."
        )
        log.warning("%s", reason)
        self.status = KeyringStatus(False, name, reason)
