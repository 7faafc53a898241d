"""The simulator's private CA and server certificate: creation, reuse, renewal, and real TLS clients."""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import os
import ssl
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from console.simulator import tls
from console.simulator.tls import (
    CertificateError,
    client_ssl_context,
    default_cert_dir,
    ensure_certificates,
    fingerprint_sha256,
    server_ssl_context,
)
from tests.simulator.process import REPO_ROOT, SimulatorProcess

POSIX = os.name == "posix"


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _fingerprints(paths: tls.CertificatePaths) -> tuple[str, str]:
    return fingerprint_sha256(paths.ca_cert.read_bytes()), fingerprint_sha256(paths.server_cert.read_bytes())


# -- files ----------------------------------------------------------------------------------------------


def test_first_use_creates_a_ca_and_a_server_certificate_signed_by_it(tmp_path):
    paths = ensure_certificates(tmp_path / "certs")

    ca = _cert(paths.ca_cert)
    server = _cert(paths.server_cert)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign is True
    assert ca.subject == ca.issuer
    server.verify_directly_issued_by(ca)
    assert server.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    eku = server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in eku
    key = serialization.load_pem_private_key(paths.server_key.read_bytes(), password=None)
    assert key.public_key().public_numbers() == server.public_key().public_numbers()


def test_server_certificate_names_loopback_addresses_and_localhost(tmp_path):
    paths = ensure_certificates(tmp_path)

    san = _cert(paths.server_cert).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == {"localhost"}
    assert set(san.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    }


def test_extra_hosts_are_added_and_the_ca_is_kept(tmp_path):
    first = ensure_certificates(tmp_path)
    ca_before = fingerprint_sha256(first.ca_cert.read_bytes())

    second = ensure_certificates(tmp_path, hosts=["sim.example.test", "[fd00::5]", "0.0.0.0"])

    san = _cert(second.server_cert).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "sim.example.test" in san.get_values_for_type(x509.DNSName)
    assert ipaddress.ip_address("fd00::5") in san.get_values_for_type(x509.IPAddress)
    assert ipaddress.ip_address("0.0.0.0") not in san.get_values_for_type(x509.IPAddress)
    assert fingerprint_sha256(second.ca_cert.read_bytes()) == ca_before


@pytest.mark.skipif(not POSIX, reason="file modes are a POSIX matter")
def test_keys_and_directory_are_private(tmp_path):
    cert_dir = tmp_path / "a" / "certs"
    paths = ensure_certificates(cert_dir)

    assert stat.S_IMODE(cert_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(paths.server_key.stat().st_mode) == 0o600
    assert stat.S_IMODE((cert_dir / tls.CA_KEY_FILE).stat().st_mode) == 0o600
    assert stat.S_IMODE(paths.ca_cert.stat().st_mode) == 0o644
    assert not [p.name for p in cert_dir.iterdir() if p.name.endswith(".tmp")]


def test_second_use_reuses_both_certificates(tmp_path):
    first = _fingerprints(ensure_certificates(tmp_path))
    assert _fingerprints(ensure_certificates(tmp_path)) == first


def test_expiring_server_certificate_is_renewed_with_the_same_ca(tmp_path, monkeypatch):
    real_now = tls._now()
    # Made long enough ago that only a few days of validity remain now.
    monkeypatch.setattr(tls, "_now", lambda: real_now - tls.SERVER_LIFETIME + dt.timedelta(days=5))
    old_ca, old_server = _fingerprints(ensure_certificates(tmp_path))
    monkeypatch.setattr(tls, "_now", lambda: real_now)

    paths = ensure_certificates(tmp_path)

    new_ca, new_server = _fingerprints(paths)
    assert new_ca == old_ca
    assert new_server != old_server
    assert _cert(paths.server_cert).not_valid_after_utc > real_now + dt.timedelta(days=300)


def test_missing_server_certificate_is_recreated_with_the_same_ca(tmp_path):
    paths = ensure_certificates(tmp_path)
    ca_before = fingerprint_sha256(paths.ca_cert.read_bytes())
    paths.server_cert.unlink()

    ensure_certificates(tmp_path)

    _cert(paths.server_cert).verify_directly_issued_by(_cert(paths.ca_cert))
    assert fingerprint_sha256(paths.ca_cert.read_bytes()) == ca_before


def test_damaged_ca_is_replaced_and_the_server_certificate_follows(tmp_path):
    paths = ensure_certificates(tmp_path)
    old_ca, _ = _fingerprints(paths)
    paths.ca_cert.write_text("not a certificate")

    ensure_certificates(tmp_path)

    new_ca = _cert(paths.ca_cert)
    assert fingerprint_sha256(new_ca) != old_ca
    _cert(paths.server_cert).verify_directly_issued_by(new_ca)


def test_server_key_not_matching_its_certificate_is_replaced(tmp_path):
    paths = ensure_certificates(tmp_path)
    other = ensure_certificates(tmp_path / "other")
    paths.server_key.write_bytes(other.server_key.read_bytes())

    ensure_certificates(tmp_path)

    key = serialization.load_pem_private_key(paths.server_key.read_bytes(), password=None)
    assert key.public_key().public_numbers() == _cert(paths.server_cert).public_key().public_numbers()


def test_concurrent_first_use_from_several_processes_agrees_on_one_ca(tmp_path):
    cert_dir = tmp_path / "certs"
    script = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from console.simulator.tls import ensure_certificates, fingerprint_sha256
        paths = ensure_certificates(Path(sys.argv[1]))
        print(*(fingerprint_sha256(p.read_bytes()) for p in (paths.ca_cert, paths.server_cert)))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(cert_dir)],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = {child.communicate(timeout=60)[0].strip() for child in children}

    assert all(child.returncode == 0 for child in children)
    assert len(outputs) == 1
    assert outputs == {" ".join(_fingerprints(ensure_certificates(cert_dir)))}


def test_unusable_directory_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")

    with pytest.raises(CertificateError, match="cannot use certificate directory"):
        ensure_certificates(blocker / "certs")


def test_fingerprint_is_the_same_for_pem_text_pem_bytes_der_and_object(tmp_path):
    paths = ensure_certificates(tmp_path)
    cert = _cert(paths.ca_cert)
    pem = paths.ca_cert.read_text()
    der = cert.public_bytes(serialization.Encoding.DER)

    fingerprint = fingerprint_sha256(pem)

    assert (
        fingerprint == fingerprint_sha256(pem.encode()) == fingerprint_sha256(der) == fingerprint_sha256(cert)
    )
    parts = fingerprint.split(":")
    assert len(parts) == 32
    assert all(len(p) == 2 and p == p.upper() for p in parts)
    assert fingerprint.replace(":", "").lower() == hashlib.sha256(der).hexdigest()


def test_ssl_context_helpers_complete_a_handshake_for_localhost(tmp_path):
    paths = ensure_certificates(tmp_path)
    to_server, to_client = ssl.MemoryBIO(), ssl.MemoryBIO()
    server = server_ssl_context(paths).wrap_bio(to_server, to_client, server_side=True)
    client = client_ssl_context(paths.ca_cert).wrap_bio(to_client, to_server, server_hostname="localhost")
    pending = {client, server}
    for _ in range(10):
        for side in list(pending):
            try:
                side.do_handshake()
                pending.discard(side)
            except ssl.SSLWantReadError:
                pass
        if not pending:
            break
    assert not pending
    presented = client.getpeercert(binary_form=True)
    assert fingerprint_sha256(presented) == fingerprint_sha256(paths.server_cert.read_bytes())


def test_default_directory_is_per_user_under_the_app_name():
    path = default_cert_dir()
    assert path.parts[-2:] == ("simulator", "certs")
    assert "powerstore-console" in path.parts


# -- real TLS --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def https_sim(tmp_path_factory):
    with SimulatorProcess(cert_dir=tmp_path_factory.mktemp("certs")) as sim:
        yield sim


def test_printed_ca_certificate_is_the_one_in_the_directory(https_sim):
    assert https_sim.listening_line.startswith("listening on https://127.0.0.1:")
    assert https_sim.base_url.endswith("/api/rest")
    assert https_sim.ca_path is not None
    assert https_sim.ca_path.name == tls.CA_CERT_FILE
    assert _cert(https_sim.ca_path).extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_client_trusting_the_printed_ca_connects(https_sim):
    with httpx.Client(verify=client_ssl_context(https_sim.ca_path), timeout=10) as client:
        response = client.get(https_sim.base_url + "/login_session", auth=("admin", "Password123#"))
    assert response.status_code == 200


def test_strict_x509_checks_accept_the_certificates(https_sim):
    context = client_ssl_context(https_sim.ca_path)
    # Strict RFC 5280 checks (the default from Python 3.13) reject sloppy private CAs.
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    with httpx.Client(verify=context, timeout=10) as client:
        assert client.get(https_sim.base_url + "/login_session").status_code < 500


def test_localhost_name_verifies_too(https_sim):
    url = https_sim.base_url.replace("127.0.0.1", "localhost")
    with httpx.Client(verify=client_ssl_context(https_sim.ca_path), timeout=10) as client:
        assert client.get(url + "/login_session").status_code < 500


def test_client_not_trusting_the_ca_fails_verification(https_sim):
    with (
        httpx.Client(timeout=10) as client,
        pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        client.get(https_sim.base_url + "/login_session")


def test_served_certificate_is_the_server_certificate_on_disk(https_sim):
    presented = ssl.get_server_certificate(("127.0.0.1", https_sim.port))
    on_disk = https_sim.ca_path.with_name(tls.SERVER_CERT_FILE).read_bytes()
    assert fingerprint_sha256(presented) == fingerprint_sha256(on_disk)


def test_certificates_survive_a_restart(tmp_path):
    cert_dir = tmp_path / "certs"
    with SimulatorProcess(cert_dir=cert_dir) as first:
        ca_first = fingerprint_sha256(first.ca_path.read_bytes())
        served_first = ssl.get_server_certificate(("127.0.0.1", first.port))
    with SimulatorProcess(cert_dir=cert_dir) as second:
        assert fingerprint_sha256(second.ca_path.read_bytes()) == ca_first
        assert fingerprint_sha256(
            ssl.get_server_certificate(("127.0.0.1", second.port))
        ) == fingerprint_sha256(served_first)
        # A client that pinned the CA from the first run still verifies the second.
        with httpx.Client(verify=client_ssl_context(first.ca_path), timeout=10) as client:
            assert client.get(second.base_url + "/login_session").status_code < 500


def test_ipv6_loopback_verifies(tmp_path):
    if not _ipv6_loopback_available():
        pytest.skip("no IPv6 loopback here")
    with SimulatorProcess(cert_dir=tmp_path, args=["--host", "::1"]) as sim:
        assert sim.base_url.startswith("https://[::1]:")
        with httpx.Client(verify=sim.ssl_context(), timeout=10) as client:
            assert client.get(sim.base_url + "/login_session").status_code < 500


def _ipv6_loopback_available() -> bool:
    import socket

    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True
