"""Which array certificates the client accepts, and reading a certificate without trusting it.

Three ordinary modes: the system trust store, a CA file, or a pinned SHA-256 fingerprint of the
array's own certificate (how an admin trusts a self-signed array: trust on first use, an alarm when
it changes). A fourth, ``Trust.insecure_no_verification()``, accepts anything and says so in the log
on every connection; nothing else turns verification off.

The check happens inside the connection, between the TLS handshake and the first request byte
(``console.api.transport``), so credentials never reach a certificate that failed it.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import os
import re
import ssl
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpcore
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from console.api.errors import ConnectionLost, TlsTrustError

_HEX = re.compile(r"[0-9A-Fa-f]{64}")
_PREFIX = re.compile(r"^\s*(sha-?256\s*(fingerprint)?\s*[:=]?\s*)", re.IGNORECASE)


class TrustMode(enum.Enum):
    SYSTEM = "system"
    CA_FILE = "ca_file"
    PINNED = "pinned"
    INSECURE = "insecure"


@dataclass(frozen=True)
class Trust:
    """How to decide whether the array's certificate is the right one.

    Build it with ``Trust.system()``, ``Trust.ca_file(path)``, ``Trust.pinned(fingerprint)`` or
    ``Trust.insecure_no_verification()``; ``PowerStoreClient(verify=...)`` also takes ``True`` and a
    CA path directly.
    """

    mode: TrustMode
    ca_path: Path | None = None
    fingerprint: str | None = None

    def __post_init__(self) -> None:
        if (self.mode is TrustMode.CA_FILE) != (self.ca_path is not None):
            raise ValueError("a CA path goes with (and only with) the CA-file mode")
        if (self.mode is TrustMode.PINNED) != (self.fingerprint is not None):
            raise ValueError("a fingerprint goes with (and only with) the pinned mode")
        if self.fingerprint is not None:
            object.__setattr__(self, "fingerprint", normalise_fingerprint(self.fingerprint))

    @classmethod
    def system(cls) -> Trust:
        return cls(TrustMode.SYSTEM)

    @classmethod
    def ca_file(cls, path: str | os.PathLike[str]) -> Trust:
        return cls(TrustMode.CA_FILE, ca_path=Path(path))

    @classmethod
    def pinned(cls, fingerprint: str) -> Trust:
        """Accept exactly the certificate with this SHA-256 fingerprint (any common spelling)."""
        return cls(TrustMode.PINNED, fingerprint=fingerprint)

    @classmethod
    def insecure_no_verification(cls) -> Trust:
        """Accept any certificate. Logs a warning on every connection; for throw-away labs only."""
        return cls(TrustMode.INSECURE)

    @classmethod
    def from_verify(cls, verify: bool | str | os.PathLike[str] | Trust) -> Trust:
        """``True`` (system store), a CA bundle path, or a ``Trust``. ``False`` is refused: turning
        verification off must be asked for by name."""
        if isinstance(verify, Trust):
            return verify
        if verify is True:
            return cls.system()
        if verify is False:
            raise ValueError(
                "verify=False is not accepted; pin the array's certificate with Trust.pinned(...), "
                "or, knowingly, use Trust.insecure_no_verification()"
            )
        if isinstance(verify, str | os.PathLike):
            return cls.ca_file(verify)
        raise TypeError(f"verify must be True, a CA file path or a Trust, not {type(verify).__name__}")

    def ssl_context(self) -> ssl.SSLContext:
        """The context for connections (reads the CA file or system store once, here)."""
        if self.mode is TrustMode.SYSTEM:
            context = ssl.create_default_context()
        elif self.mode is TrustMode.CA_FILE:
            assert self.ca_path is not None
            try:
                context = ssl.create_default_context(cafile=str(self.ca_path))
            except (OSError, ssl.SSLError) as exc:
                raise ValueError(f"cannot use the CA file {self.ca_path}: {exc}") from exc
        else:
            context = unverified_context()
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

    def describe(self) -> str:
        if self.mode is TrustMode.SYSTEM:
            return "the system trust store"
        if self.mode is TrustMode.CA_FILE:
            return f"the CA file {self.ca_path}"
        if self.mode is TrustMode.PINNED:
            return f"the pinned certificate {self.fingerprint}"
        return "no verification (insecure)"


@dataclass(frozen=True)
class PresentedCertificate:
    """The certificate an array presents, read without trusting it (for a trust prompt)."""

    fingerprint: str
    subject: str
    issuer: str
    not_valid_after: str
    self_signed: bool
    der: bytes


def normalise_fingerprint(text: str) -> str:
    """``AB:CD:…`` (upper-case hex pairs joined by colons) from any usual spelling of a SHA-256
    fingerprint: with or without colons or spaces, any case, an optional ``SHA256`` prefix."""
    compact = re.sub(r"[\s:]", "", _PREFIX.sub("", text))
    if not _HEX.fullmatch(compact):
        raise ValueError(f"not a SHA-256 fingerprint (64 hex digits): {text!r}")
    return bytes.fromhex(compact).hex(":").upper()


def fingerprint_of(der: bytes) -> str:
    return hashlib.sha256(der).digest().hex(":").upper()


def describe_certificate(der: bytes) -> PresentedCertificate:
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return PresentedCertificate(fingerprint_of(der), "", "", "", False, der)
    return PresentedCertificate(
        fingerprint=fingerprint_of(der),
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        not_valid_after=cert.not_valid_after_utc.isoformat(),
        self_signed=cert.issuer == cert.subject,
        der=der,
    )


def unverified_context() -> ssl.SSLContext:
    """A context that completes any handshake; the caller checks the certificate itself."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


async def fetch_certificate(
    host: str,
    port: int = 443,
    *,
    timeout: float = 10.0,  # noqa: ASYNC109 - handed to httpcore, which applies it per step
    backend: httpcore.AsyncNetworkBackend | None = None,
) -> PresentedCertificate:
    """Connect, complete a TLS handshake without verifying anything, read the presented certificate
    and hang up. Nothing is sent over the connection. Raises ``ConnectionLost`` when the array
    cannot be reached."""
    backend = backend if backend is not None else httpcore.AnyIOBackend()
    try:
        stream = await backend.connect_tcp(host, port, timeout=timeout)
    except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
        raise ConnectionLost(
            f"cannot connect to {host}:{port}: {exc or type(exc).__name__}", may_have_reached_server=False
        ) from exc
    try:
        tls = await stream.start_tls(unverified_context(), server_hostname=_sni(host), timeout=timeout)
    except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
        await stream.aclose()
        raise ConnectionLost(
            f"no TLS handshake with {host}:{port}: {exc or type(exc).__name__}", may_have_reached_server=False
        ) from exc
    except BaseException:
        # Cancelled mid-handshake (a prompt closed, the console quitting): close, shielded, or the
        # socket leaks.
        with anyio.CancelScope(shield=True):
            await stream.aclose()
        raise
    try:
        return describe_certificate(peer_der(tls))
    finally:
        await tls.aclose()


def peer_der(stream: httpcore.AsyncNetworkStream) -> bytes:
    """The DER certificate the peer presented on a TLS stream (verified or not)."""
    ssl_object: ssl.SSLObject | None = stream.get_extra_info("ssl_object")
    der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    if not der:
        raise TlsTrustError("the server presented no certificate", fingerprint="", subject="")
    return der


def _sni(host: str) -> str | None:
    return host or None


def public_key_pin(der: bytes) -> str | None:
    """curl's ``--pinnedpubkey`` form of a certificate's public key (``sha256//<base64>``)."""
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return None
    spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return "sha256//" + base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii")
