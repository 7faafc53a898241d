"""The trust modes over real TLS: system store, CA file, pinned certificate, and the insecure mode."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import socket

import pytest

from console.api import (
    PowerStoreClient,
    TlsTrustError,
    Trust,
    TrustMode,
    fetch_certificate,
    normalise_fingerprint,
)
from console.api.errors import ConnectionLost
from console.simulator.tls import ensure_certificates, fingerprint_sha256
from tests.api.conftest import ADMIN


@pytest.fixture(scope="module")
def server_fingerprint(sim) -> str:
    return fingerprint_sha256((sim.ca_path.parent / "server-cert.pem").read_bytes())


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory) -> str:
    """A CA that did not sign the simulator's certificate."""
    return str(ensure_certificates(tmp_path_factory.mktemp("other-ca")).ca_cert)


async def assert_nothing_reached_the_api(control) -> None:
    stats = await control.stats()
    assert stats["requests"] == {}
    assert stats["logins"] == 0


async def test_ca_file_mode(control, make_client, server_fingerprint):
    client = make_client(verify=str(control.sim.ca_path))
    await client.login()
    assert client.trust.mode is TrustMode.CA_FILE
    assert client.certificate is not None
    assert client.certificate.fingerprint == server_fingerprint


async def test_wrong_ca_is_a_trust_error_with_the_presented_certificate(
    control, make_client, other_ca, server_fingerprint
):
    client = make_client(verify=other_ca)
    with pytest.raises(TlsTrustError) as caught:
        await client.login()
    error = caught.value
    assert error.fingerprint == server_fingerprint
    assert "PowerStore Simulator" in error.subject
    assert "not trusted" in error.reason
    assert error.path == "login_session"
    await assert_nothing_reached_the_api(control)


async def test_system_store_mode_does_not_know_a_private_ca(control, make_client, server_fingerprint):
    client = make_client(verify=True)
    assert client.trust.mode is TrustMode.SYSTEM
    with pytest.raises(TlsTrustError) as caught:
        await client.query("volume")
    assert caught.value.fingerprint == server_fingerprint
    await assert_nothing_reached_the_api(control)


async def test_system_store_mode_trusts_what_the_system_store_holds(control, make_client, monkeypatch):
    # OpenSSL's default verify paths follow SSL_CERT_FILE: the simulator's CA plays a system CA.
    monkeypatch.setenv("SSL_CERT_FILE", str(control.sim.ca_path))
    client = make_client(verify=True)
    assert len((await client.query("volume", limit=1)).items) == 1


async def test_pinned_certificate_is_accepted(control, make_client, server_fingerprint):
    spelled_loosely = server_fingerprint.replace(":", "").lower()
    client = make_client(verify=Trust.pinned(spelled_loosely))
    assert client.trust.fingerprint == server_fingerprint
    assert len((await client.query("volume", limit=1)).items) == 1


async def test_pin_mismatch_refuses_before_any_request_byte(control, make_client, server_fingerprint):
    wrong = "AA:" * 31 + "AA"
    client = make_client(verify=Trust.pinned(wrong))
    with pytest.raises(TlsTrustError) as caught:
        await client.login()
    error = caught.value
    assert error.fingerprint == server_fingerprint
    assert error.expected_fingerprint == wrong
    assert "PowerStore Simulator" in error.subject
    assert error.host == "127.0.0.1"
    # Neither the login (with the password) nor anything else reached the array.
    await assert_nothing_reached_the_api(control)


async def test_fetching_the_presented_certificate_for_a_trust_prompt(control, server_fingerprint):
    presented = await fetch_certificate("127.0.0.1", control.sim.port)
    assert presented.fingerprint == server_fingerprint
    assert "PowerStore Simulator" in presented.subject
    assert presented.issuer != presented.subject
    assert not presented.self_signed
    assert presented.not_valid_after
    await assert_nothing_reached_the_api(control)


async def test_fetching_from_nowhere_is_connection_lost():
    with pytest.raises(ConnectionLost):
        await fetch_certificate("127.0.0.1", 9, timeout=2)


async def test_trust_on_first_use(control, make_client):
    presented = await fetch_certificate("127.0.0.1", control.sim.port)
    client = make_client(verify=Trust.pinned(presented.fingerprint))
    assert (await client.login()).user == "admin"


async def test_insecure_mode_is_named_and_warns_on_every_connection(control, make_client, caplog):
    caplog.set_level(logging.WARNING, logger="console.api")
    first = make_client(verify=Trust.insecure_no_verification())
    second = make_client(verify=Trust.insecure_no_verification())
    await first.login()
    await second.login()
    warnings = [r for r in caplog.records if "TLS verification is off" in r.getMessage()]
    assert len(warnings) == 2
    assert all(r.levelno == logging.WARNING for r in warnings)


def test_verify_false_is_refused():
    with pytest.raises(ValueError, match="insecure_no_verification"):
        PowerStoreClient("https://array", *ADMIN, verify=False)


def test_a_missing_ca_file_is_refused_at_construction(tmp_path):
    with pytest.raises(ValueError, match="CA file"):
        PowerStoreClient("https://array", *ADMIN, verify=str(tmp_path / "missing.pem"))


def test_plain_http_is_refused():
    with pytest.raises(ValueError, match="HTTPS"):
        PowerStoreClient("http://array", *ADMIN)


@pytest.mark.parametrize(
    "spelling",
    [
        "ab:cd:" * 15 + "ab:cd",
        "ABCD" * 16,
        "SHA256 Fingerprint=" + "AB:CD:" * 15 + "AB:CD",
        " ab cd " * 16,
    ],
)
def test_fingerprint_spellings(spelling):
    assert normalise_fingerprint(spelling) == "AB:CD:" * 15 + "AB:CD"


@pytest.mark.parametrize("bad", ["", "AB:CD", "ZZ" * 32, "AB" * 33])
def test_not_a_fingerprint(bad):
    with pytest.raises(ValueError, match="fingerprint"):
        Trust.pinned(bad)


async def test_a_certificate_fetch_cancelled_mid_handshake_leaves_no_socket_open():
    # A listener that completes TCP connections (backlog) but never speaks TLS: the handshake waits.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(32)
        port = listener.getsockname()[1]
        before = len(os.listdir("/proc/self/fd"))
        for _ in range(10):
            fetch = asyncio.ensure_future(fetch_certificate("127.0.0.1", port, timeout=30))
            await asyncio.sleep(0.05)  # connected, in the handshake
            fetch.cancel()
            with pytest.raises(asyncio.CancelledError):
                await fetch
        gc.collect()
        assert len(os.listdir("/proc/self/fd")) == before
