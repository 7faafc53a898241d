"""Saved array connections: name, host, user, certificate trust and colour, never a password.

Connections persist in the per-user config directory (``connections.json``) and move between
machines as JSON exports of the same shape. Passwords are not part of a connection at all: they
live in the OS keyring (``console.secrets``), keyed by the connection's id. A file that cannot be
read is never overwritten: it is set aside (``connections.json.unreadable-<time>``) before the
first save, so nothing the user had is lost.

File layout (format 1)::

    {"format": 1, "connections": [
        {"id": "…", "name": "prod-a", "host": "array-a.example.com", "user": "admin",
         "trust": {"mode": "pinned", "fingerprint": "AB:CD:…"}, "colour": "#1f77b4",
         "remember_password": true}]}

``trust.mode`` is ``system`` (the OS trust store), ``ca_file`` (with ``ca_file``: a PEM path) or
``pinned`` (with ``fingerprint``: the SHA-256 of the array's own certificate).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import re
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from console import paths
from console.api import Trust, normalise_fingerprint

FORMAT = 1
DEFAULT_PORT = 443
MAX_NAME = 64
MAX_USER = 64

TRUST_SYSTEM = "system"
TRUST_CA_FILE = "ca_file"
TRUST_PINNED = "pinned"
TRUST_MODES = (TRUST_SYSTEM, TRUST_CA_FILE, TRUST_PINNED)

# Distinct on light and dark backgrounds, and told apart by most colour-blind users in pairs.
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#17becf", "#8c564b", "#e377c2")

_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
_SECRET_WORDS = ("password", "passwd", "secret", "token", "credential")
_KNOWN_KEYS = frozenset({"id", "name", "host", "user", "trust", "colour", "remember_password"})


class InvalidConnection(ValueError):
    """A connection setting is wrong; ``field`` names it (``name``, ``host``, ``user``, ``trust``...)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class ConnectionFileError(ValueError):
    """A connections file (saved or imported) cannot be used; the message says where and why."""


@dataclass(frozen=True)
class Address:
    host: str
    port: int = DEFAULT_PORT

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORT else f"{host}:{self.port}"

    @property
    def origin(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"


def parse_host(text: str) -> Address:
    """An array address from what a user types: ``array``, ``10.0.0.5:8443``, ``[fe80::1]:443``,
    ``fe80::1``, ``https://array:8443`` or ``https://array/api/rest``. Raises ``InvalidConnection``
    with a message saying what is wrong."""
    raw = text.strip()
    if not raw:
        raise InvalidConnection("host", "Enter the array's host name or IP address.")
    if any(c.isspace() for c in raw):
        raise InvalidConnection("host", f"A host name has no spaces: {raw!r}.")
    rest = raw
    if "://" in rest:
        scheme, _, rest = rest.partition("://")
        if scheme.lower() != "https":
            raise InvalidConnection(
                "host", f"Arrays are managed over HTTPS, not {scheme}://. Enter the host without a scheme."
            )
    rest, slash, path = rest.partition("/")
    if slash and path.strip("/") not in ("", "api/rest"):
        raise InvalidConnection("host", f"Enter the host alone, without a path: {raw!r}.")
    if "@" in rest or "?" in rest or "#" in rest:
        raise InvalidConnection("host", f"Enter the host alone, without user, query or fragment: {raw!r}.")
    host, port_text = _split_port(rest, raw)
    port = DEFAULT_PORT
    if port_text is not None:
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise InvalidConnection("host", f"The port must be a number from 1 to 65535, not {port_text!r}.")
        port = int(port_text)
    return Address(_check_host(host, raw), port)


def _split_port(text: str, raw: str) -> tuple[str, str | None]:
    if text.startswith("["):
        host, close, after = text[1:].partition("]")
        if not close:
            raise InvalidConnection("host", f"An IPv6 address in brackets needs its closing ']': {raw!r}.")
        if after and not after.startswith(":"):
            raise InvalidConnection("host", f"Only ':port' may follow an IPv6 address in brackets: {raw!r}.")
        return host, (after[1:] if after else None)
    if text.count(":") > 1:
        return text, None  # a bare IPv6 address; a port needs the brackets
    host, colon, port = text.partition(":")
    return host, (port if colon else None)


def _check_host(host: str, raw: str) -> str:
    if not host:
        raise InvalidConnection("host", f"No host name in {raw!r}.")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if ":" in host:
        raise InvalidConnection("host", f"{host!r} is not a valid IPv6 address.")
    name = host.rstrip(".").lower()
    labels = name.split(".")
    if len(name) > 253 or not all(_LABEL.match(label) for label in labels):
        raise InvalidConnection(
            "host",
            f"{host!r} is not a valid host name (letters, digits and hyphens, in dot-separated parts).",
        )
    if all(label.isdigit() for label in labels):
        raise InvalidConnection("host", f"{host!r} is not a valid IPv4 address.")
    return name


@dataclass(frozen=True)
class Connection:
    """One array the user manages. Build with ``Connection.create(...)`` (validates, gives an id)."""

    id: str
    name: str
    host: str
    user: str
    trust_mode: str = TRUST_SYSTEM
    ca_file: str | None = None
    fingerprint: str | None = None
    colour: str = PALETTE[0]
    remember_password: bool = True

    @classmethod
    def create(
        cls,
        name: str,
        host: str,
        user: str,
        *,
        trust_mode: str = TRUST_SYSTEM,
        ca_file: str | None = None,
        fingerprint: str | None = None,
        colour: str = PALETTE[0],
        remember_password: bool = True,
        id: str | None = None,
    ) -> Connection:
        return cls(
            id=id or uuid.uuid4().hex,
            name=name,
            host=host,
            user=user,
            trust_mode=trust_mode,
            ca_file=ca_file,
            fingerprint=fingerprint,
            colour=colour,
            remember_password=remember_password,
        ).validated()

    def validated(self) -> Connection:
        """This connection with its settings normalised; raises ``InvalidConnection``."""
        name = self.name.strip()
        if not name:
            raise InvalidConnection("name", "Give the connection a name.")
        if len(name) > MAX_NAME:
            raise InvalidConnection("name", f"A name has at most {MAX_NAME} characters.")
        user = self.user.strip()
        if not user:
            raise InvalidConnection("user", "Enter the user name to log in with.")
        if len(user) > MAX_USER or any(c.isspace() or c == ":" for c in user):
            raise InvalidConnection("user", "A user name has no spaces or ':' and at most 64 characters.")
        host = str(parse_host(self.host))
        mode = self.trust_mode
        if mode not in TRUST_MODES:
            raise InvalidConnection("trust", f"Unknown trust mode {mode!r}.")
        ca_file = (self.ca_file or "").strip() or None
        fingerprint = self.fingerprint
        if mode == TRUST_CA_FILE:
            if ca_file is None:
                raise InvalidConnection("trust", "Choose the CA certificate file to trust.")
            fingerprint = None
        elif mode == TRUST_PINNED:
            if not fingerprint:
                raise InvalidConnection("trust", "A pinned connection needs the certificate's fingerprint.")
            try:
                fingerprint = normalise_fingerprint(fingerprint)
            except ValueError as exc:
                raise InvalidConnection("trust", str(exc)) from None
            ca_file = None
        else:
            ca_file = fingerprint = None
        colour = self.colour if _COLOUR.match(self.colour or "") else PALETTE[0]
        return dataclasses.replace(
            self,
            name=name,
            user=user,
            host=host,
            ca_file=ca_file,
            fingerprint=fingerprint,
            colour=colour.lower(),
        )

    def replace(self, **changes: Any) -> Connection:
        """A validated copy with ``changes``."""
        return dataclasses.replace(self, **changes).validated()

    @property
    def address(self) -> Address:
        return parse_host(self.host)

    @property
    def base_url(self) -> str:
        return self.address.origin

    def trust(self) -> Trust:
        if self.trust_mode == TRUST_PINNED and self.fingerprint:
            return Trust.pinned(self.fingerprint)
        if self.trust_mode == TRUST_CA_FILE and self.ca_file:
            return Trust.ca_file(self.ca_file)
        return Trust.system()

    def to_json(self) -> dict[str, Any]:
        trust: dict[str, Any] = {"mode": self.trust_mode}
        if self.trust_mode == TRUST_CA_FILE:
            trust["ca_file"] = self.ca_file
        elif self.trust_mode == TRUST_PINNED:
            trust["fingerprint"] = self.fingerprint
        return {
            "id": self.id,
            "name": self.name,
            "host": self.host,
            "user": self.user,
            "trust": trust,
            "colour": self.colour,
            "remember_password": self.remember_password,
        }

    @classmethod
    def from_json(cls, data: Any) -> Connection:
        """From a file entry; raises ``InvalidConnection`` (unknown keys are ignored, secrets included)."""
        if not isinstance(data, dict):
            raise InvalidConnection("entry", "an entry must be a JSON object")
        for key in ("name", "host", "user"):
            if not isinstance(data.get(key), str):
                raise InvalidConnection(key, f"'{key}' is missing or not text")
        trust = data.get("trust", {"mode": TRUST_SYSTEM})
        if not isinstance(trust, dict):
            raise InvalidConnection("trust", "'trust' must be an object with a 'mode'")
        ident = data.get("id")
        colour = data.get("colour")
        remember = data.get("remember_password", True)
        return cls.create(
            name=data["name"],
            host=data["host"],
            user=data["user"],
            trust_mode=str(trust.get("mode", TRUST_SYSTEM)),
            ca_file=_text_or_none(trust.get("ca_file")),
            fingerprint=_text_or_none(trust.get("fingerprint")),
            colour=colour if isinstance(colour, str) else PALETTE[0],
            remember_password=remember if isinstance(remember, bool) else True,
            id=ident if isinstance(ident, str) and re.fullmatch(r"[A-Za-z0-9_-]{1,64}", ident) else None,
        )


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def next_colour(connections: Iterable[Connection]) -> str:
    """The first palette colour no connection uses yet (the palette repeats when all are taken)."""
    used = [c.colour for c in connections]
    for colour in PALETTE:
        if colour not in used:
            return colour
    return PALETTE[len(used) % len(PALETTE)]


def unique_name(name: str, taken: Iterable[str]) -> str:
    """``name``, or ``name (2)``, ``name (3)``... whichever is free (case-insensitive)."""
    lowered = {t.casefold() for t in taken}
    if name.casefold() not in lowered:
        return name
    n = 2
    while f"{name} ({n})".casefold() in lowered:
        n += 1
    return f"{name} ({n})"


# -- files -----------------------------------------------------------------------------------------


def dumps(connections: Sequence[Connection]) -> str:
    return json.dumps({"format": FORMAT, "connections": [c.to_json() for c in connections]}, indent=2) + "\n"


@dataclass
class ParsedFile:
    connections: list[Connection]
    warnings: list[str]


def parse(text: str, source: str) -> ParsedFile:
    """Read a connections document; raises ``ConnectionFileError`` naming ``source`` and the entry."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConnectionFileError(f"{source} is not valid JSON: {exc}") from None
    if isinstance(data, list):
        entries = data
    elif isinstance(data, dict) and isinstance(data.get("connections"), list):
        version = data.get("format", FORMAT)
        if version != FORMAT:
            raise ConnectionFileError(f"{source} has format {version!r}; this console reads format {FORMAT}.")
        entries = data["connections"]
    else:
        raise ConnectionFileError(
            f"{source} holds no list of connections (expected {{'connections': [...]}})."
        )
    connections: list[Connection] = []
    warnings: list[str] = []
    secrets_seen = False
    for number, entry in enumerate(entries, start=1):
        try:
            connection = Connection.from_json(entry)
        except InvalidConnection as exc:
            label = entry.get("name") if isinstance(entry, dict) else None
            where = f"connection {number}" + (f" ({label!r})" if isinstance(label, str) else "")
            raise ConnectionFileError(f"{source}: {where}: {exc.message}") from None
        if isinstance(entry, dict):
            extra = set(entry) - _KNOWN_KEYS
            if any(word in key.lower() for key in extra for word in _SECRET_WORDS):
                secrets_seen = True
        connections.append(connection)
    if secrets_seen:
        warnings.append(
            f"{source} holds password fields; they were ignored (passwords go to the keyring only)."
        )
    return ParsedFile(connections, warnings)


def read_file(path: Path) -> ParsedFile:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConnectionFileError(f"{path} is not a text (UTF-8) file.") from None
    except OSError as exc:
        raise ConnectionFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    return parse(text, str(path))


def export_file(path: Path, connections: Sequence[Connection]) -> None:
    """Write ``connections`` (never a secret) to ``path``; raises ``ConnectionFileError``."""
    try:
        paths.write_atomic(path, dumps(connections))
    except OSError as exc:
        raise ConnectionFileError(f"cannot write {path}: {exc.strerror or exc}") from None


class ConnectionStore:
    """The saved connections, kept in ``path`` (default: the per-user config file) after every change.

    ``load_error`` is set when the saved file could not be read; the list then starts empty and
    the unreadable file is moved aside, not overwritten, at the first save.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else paths.connections_file()
        self._items: list[Connection] = []
        self.load_error: str | None = None
        self._unreadable = False
        self.reload()

    def reload(self) -> None:
        self.load_error = None
        self._unreadable = False
        if not self.path.exists():
            self._items = []
            return
        try:
            self._items = _dedupe(read_file(self.path).connections)
        except ConnectionFileError as exc:
            self._items = []
            self._unreadable = True
            self.load_error = str(exc)

    def __iter__(self) -> Iterator[Connection]:
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def all(self) -> list[Connection]:
        return list(self._items)

    def get(self, connection_id: str) -> Connection | None:
        return next((c for c in self._items if c.id == connection_id), None)

    def by_name(self, name: str) -> Connection | None:
        folded = name.strip().casefold()
        return next((c for c in self._items if c.name.casefold() == folded), None)

    def add(self, connection: Connection) -> Connection:
        connection = connection.validated()
        if self.get(connection.id) is not None:
            raise InvalidConnection("id", f"a connection with id {connection.id} exists already")
        self._check_name_free(connection)
        self._items.append(connection)
        self.save()
        return connection

    def update(self, connection: Connection) -> Connection:
        connection = connection.validated()
        index = self._index(connection.id)
        self._check_name_free(connection)
        self._items[index] = connection
        self.save()
        return connection

    def remove(self, connection_id: str) -> Connection:
        removed = self._items.pop(self._index(connection_id))
        self.save()
        return removed

    def import_file(self, path: Path) -> tuple[list[Connection], list[str]]:
        """Add the connections of an export file; returns those added and any warnings.

        Raises ``ConnectionFileError`` (and adds nothing) when the file cannot be used. A name
        already taken gets a ``(2)`` suffix; an id already taken gets a new one, so nothing is
        replaced."""
        parsed = read_file(path)
        added: list[Connection] = []
        warnings = list(parsed.warnings)
        for incoming in parsed.connections:
            taken_ids = {c.id for c in self._items}
            candidate = incoming
            if candidate.id in taken_ids:
                candidate = dataclasses.replace(candidate, id=uuid.uuid4().hex)
            name = unique_name(candidate.name, (c.name for c in self._items))
            if name != candidate.name:
                warnings.append(f"{candidate.name!r} exists already; the imported one is named {name!r}.")
                candidate = dataclasses.replace(candidate, name=name)
            self._items.append(candidate)
            added.append(candidate)
        if added:
            self.save()
        return added, warnings

    def export_file(self, path: Path, ids: Iterable[str] | None = None) -> int:
        chosen = self._items if ids is None else [c for c in self._items if c.id in set(ids)]
        export_file(path, chosen)
        return len(chosen)

    def save(self) -> None:
        if self._unreadable and self.path.exists():
            aside = self.path.with_name(f"{self.path.name}.unreadable-{time.strftime('%Y%m%d-%H%M%S')}")
            self.path.replace(aside)
            self.load_error = f"{self.load_error} It was kept as {aside}."
        self._unreadable = False
        paths.write_atomic(self.path, dumps(self._items))

    def _index(self, connection_id: str) -> int:
        for index, item in enumerate(self._items):
            if item.id == connection_id:
                return index
        raise KeyError(connection_id)

    def _check_name_free(self, connection: Connection) -> None:
        other = self.by_name(connection.name)
        if other is not None and other.id != connection.id:
            raise InvalidConnection("name", f"A connection named {other.name!r} exists already.")


def _dedupe(connections: list[Connection]) -> list[Connection]:
    seen: set[str] = set()
    out: list[Connection] = []
    for connection in connections:
        if connection.id in seen:
            connection = dataclasses.replace(connection, id=uuid.uuid4().hex)
        seen.add(connection.id)
        out.append(connection)
    return out
