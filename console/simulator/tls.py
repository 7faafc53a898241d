"""The simulator's private certificate authority and its HTTPS server certificate.

The first start creates a CA and a server certificate signed by it in a per-user directory; later
starts reuse both, so a client that trusted the CA once keeps trusting the simulator. The server
certificate is renewed (still signed by the same CA) when it nears its end or does not cover a host.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
import secrets
import ssl
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import platformdirs
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

APP_NAME = "powerstore-console"

CA_CERT_FILE = "ca-cert.pem"
CA_KEY_FILE = "ca-key.pem"
SERVER_CERT_FILE = "server-cert.pem"
SERVER_KEY_FILE = "server-key.pem"
LOCK_FILE = ".lock"

DEFAULT_HOSTS = ("localhost", "127.0.0.1", "::1")

CA_LIFETIME = dt.timedelta(days=3650)
# Within the 398-day ceiling public CAs use, so strict clients do not frown at it either.
SERVER_LIFETIME = dt.timedelta(days=397)
RENEW_BEFORE = dt.timedelta(days=30)
# Both certificates start a little in the past so a client whose clock lags still accepts them.
BACKDATE = dt.timedelta(hours=1)

# Hosts a server may bind to but a client never connects to; a certificate cannot name them usefully.
_WILDCARD_HOSTS = {"", "0.0.0.0", "::"}


class CertificateError(Exception):
    """The certificate directory cannot be created, read or written."""


@dataclass(frozen=True)
class CertificatePaths:
    ca_cert: Path
    server_cert: Path
    server_key: Path


def default_cert_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "simulator" / "certs"


def ensure_certificates(cert_dir: Path, hosts: Iterable[str] = ()) -> CertificatePaths:
    """Create the CA and server certificate in ``cert_dir`` if needed; return where they are.

    ``hosts`` are extra names or addresses the server certificate must cover besides localhost,
    127.0.0.1 and ::1. Safe to call from several processes at once.
    """
    cert_dir = Path(cert_dir)
    wanted = _normalise_hosts([*DEFAULT_HOSTS, *hosts])
    try:
        _make_private_dir(cert_dir)
        with _exclusive_lock(cert_dir / LOCK_FILE):
            ca_cert, ca_key, ca_renewed = _ensure_ca(cert_dir)
            _ensure_server(cert_dir, ca_cert, ca_key, wanted, force=ca_renewed)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise CertificateError(f"cannot use certificate directory {cert_dir}: {reason}") from exc
    return CertificatePaths(
        ca_cert=cert_dir / CA_CERT_FILE,
        server_cert=cert_dir / SERVER_CERT_FILE,
        server_key=cert_dir / SERVER_KEY_FILE,
    )


def fingerprint_sha256(certificate: bytes | str | x509.Certificate) -> str:
    """SHA-256 fingerprint of a certificate given as PEM (text or bytes), DER or an object.

    Upper-case hex pairs joined by colons, the way browsers and ``openssl x509 -fingerprint`` show it.
    """
    cert = certificate if isinstance(certificate, x509.Certificate) else load_certificate(certificate)
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def load_certificate(data: bytes | str) -> x509.Certificate:
    raw = data.encode("ascii") if isinstance(data, str) else data
    if raw.lstrip().startswith(b"-----BEGIN"):
        return x509.load_pem_x509_certificate(raw)
    return x509.load_der_x509_certificate(raw)


def server_ssl_context(paths: CertificatePaths) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(paths.server_cert, paths.server_key)
    return context


def client_ssl_context(ca_cert: Path) -> ssl.SSLContext:
    """A client context that trusts only the simulator's CA (and checks host names)."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca_cert))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


# -- creation and checks ---------------------------------------------------------------------------


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _ensure_ca(cert_dir: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey, bool]:
    loaded = _load_pair(cert_dir / CA_CERT_FILE, cert_dir / CA_KEY_FILE)
    if loaded is not None and _ca_usable(loaded[0]):
        return loaded[0], loaded[1], False
    cert, key = _new_ca()
    # Key first: a cert file is only ever next to the key it belongs to once both are written.
    _write_atomic(cert_dir / CA_KEY_FILE, _key_pem(key), 0o600)
    _write_atomic(cert_dir / CA_CERT_FILE, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return cert, key, True


def _ensure_server(
    cert_dir: Path,
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    wanted: set[str],
    *,
    force: bool,
) -> None:
    loaded = None if force else _load_pair(cert_dir / SERVER_CERT_FILE, cert_dir / SERVER_KEY_FILE)
    if loaded is not None:
        names = _san_names(loaded[0])
        if wanted <= names and _server_usable(loaded[0], ca_cert):
            return
        # Keep names an earlier start asked for, so two servers on different hosts do not take turns.
        wanted = wanted | names
    cert, key = _new_server(ca_cert, ca_key, wanted)
    _write_atomic(cert_dir / SERVER_KEY_FILE, _key_pem(key), 0o600)
    _write_atomic(cert_dir / SERVER_CERT_FILE, cert.public_bytes(serialization.Encoding.PEM), 0o644)


def _load_pair(cert_path: Path, key_path: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    """The certificate and its key, or None when either is missing, unreadable as such, or mismatched."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except FileNotFoundError:
        return None
    except ValueError:
        # Damaged or foreign content: replaced rather than refused, the files are ours alone.
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        return None
    if key.public_key().public_numbers() != _ec_public_numbers(cert):
        return None
    return cert, key


def _ec_public_numbers(cert: x509.Certificate) -> ec.EllipticCurvePublicNumbers | None:
    public = cert.public_key()
    return public.public_numbers() if isinstance(public, ec.EllipticCurvePublicKey) else None


def _ca_usable(cert: x509.Certificate) -> bool:
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return False
    now = _now()
    # A CA must outlive any server certificate it may still sign.
    return (
        constraints.ca
        and cert.not_valid_before_utc <= now
        and cert.not_valid_after_utc - now > SERVER_LIFETIME + RENEW_BEFORE
    )


def _server_usable(cert: x509.Certificate, ca_cert: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    now = _now()
    return cert.not_valid_before_utc <= now and cert.not_valid_after_utc - now > RENEW_BEFORE


def _san_names(cert: x509.Certificate) -> set[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    names = {name.lower() for name in san.get_values_for_type(x509.DNSName)}
    names |= {str(address) for address in san.get_values_for_type(x509.IPAddress)}
    return names


def _normalise_hosts(hosts: Iterable[str]) -> set[str]:
    result = set()
    for host in hosts:
        host = host.strip().strip("[]")
        if host in _WILDCARD_HOSTS:
            continue
        try:
            result.add(str(ipaddress.ip_address(host)))
        except ValueError:
            result.add(host.lower())
    return result


def _general_names(hosts: Iterable[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in sorted(hosts):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def _new_ca() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    # A random suffix keeps CAs of different machines apart in a trust store that holds several.
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "PowerStore Console"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"PowerStore Simulator CA {secrets.token_hex(4)}"),
        ]
    )
    now = _now()
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _new_server(
    ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, hosts: set[str]
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    public = key.public_key()
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "PowerStore Console"),
                    x509.NameAttribute(NameOID.COMMON_NAME, "PowerStore Simulator"),
                ]
            )
        )
        .issuer_name(ca_cert.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(min(now + SERVER_LIFETIME, ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(_general_names(hosts)), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


# -- files -----------------------------------------------------------------------------------------


def _make_private_dir(path: Path) -> None:
    if path.is_dir():
        # A directory the user chose may be shared (even /tmp): its mode is theirs to set.
        return
    path.mkdir(mode=0o700, parents=True)
    with contextlib.suppress(NotImplementedError):
        # mkdir's mode is filtered by the umask; the directory holds private keys.
        os.chmod(path, 0o700)


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Replace ``path`` in one step, so a concurrent reader sees the old file or the new, never half."""
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp creates the file 0600, so a key is never readable by others, not even briefly.
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp_name, mode)
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise


@contextlib.contextmanager
def _exclusive_lock(path: Path) -> Iterator[None]:
    """Serialise certificate creation between processes sharing the directory."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if sys.platform == "win32":
            import msvcrt

            while True:
                try:
                    # LK_LOCK itself retries for about ten seconds before it gives up.
                    msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
                    break
                except OSError:
                    continue
            try:
                yield
            finally:
                os.lseek(fd, 0, os.SEEK_SET)
                msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
