"""The client's small parts: URLs, pages, login answers, certificate details."""

from __future__ import annotations

import pytest

from console.api import LoginInfo, Page, api_root
from console.api.paging import page_total, parse_content_range
from console.api.session import SessionState
from console.api.trust import describe_certificate, public_key_pin


@pytest.mark.parametrize(
    ("given", "root"),
    [
        ("array.example", "https://array.example/api/rest"),
        ("https://array.example", "https://array.example/api/rest"),
        ("https://array.example/", "https://array.example/api/rest"),
        ("https://10.0.0.5:8443/api/rest/", "https://10.0.0.5:8443/api/rest"),
        ("  https://[fd00::5]/api/rest  ", "https://[fd00::5]/api/rest"),
    ],
)
def test_api_root(given, root):
    assert api_root(given) == root


@pytest.mark.parametrize("bad", ["http://array", "ftp://array", "https://"])
def test_api_root_refuses(bad):
    with pytest.raises(ValueError, match=r"HTTPS|no host"):
        api_root(bad)


def test_content_range():
    assert parse_content_range("0-99/1234") == (0, 99, 1234)
    assert parse_content_range("items 100-199/*") == (100, 199, None)
    assert parse_content_range("bytes=1-2") is None
    assert parse_content_range(None) is None
    assert page_total("0-99/1234", 0, 100) == 1234
    assert page_total(None, 200, 7) == 207
    assert page_total("100-199/*", 100, 100) == 200
    # A 206 that filled its page but tells no total may have more behind it.
    assert page_total(None, 0, 100, partial=True) == 101
    assert page_total("garbage", 200, 50, partial=True, limit=50) == 251
    assert page_total("100-199/*", 100, 100, partial=True, limit=100) == 201
    assert page_total(None, 0, 7, partial=True, limit=50) == 7  # a short page is the last
    assert page_total(None, 0, 0, partial=True) == 0


def test_page():
    assert Page([{"id": "a"}], 3, 1, 1).has_more
    assert not Page([{"id": "a"}], 2, 1, 1).has_more


@pytest.mark.parametrize(
    ("body", "user", "idle", "roles"),
    [
        ([{"id": "s", "user": "bob", "role_ids": ["2"], "idle_timeout": 600}], "bob", 600, ("2",)),
        ({"id": "s", "user": "bob", "role_ids": "3", "idle_timeout": 0}, "bob", None, ("3",)),
        ([], "fallback", None, ()),
        (None, "fallback", None, ()),
        ([{"idle_timeout": "600"}], "fallback", None, ()),
    ],
)
def test_login_answers_of_any_shape(body, user, idle, roles):
    info = LoginInfo.from_body(body, "fallback")
    assert info.user == user
    assert info.idle_timeout == idle
    assert info.role_ids == roles


def test_idle_timer():
    state = SessionState()
    info = LoginInfo.from_body([{"idle_timeout": 600}], "u")
    state.start("cookie", "token", info, now=0.0)
    # A margin of a tenth of the timeout, at most 30 s: stale from 570 s without use.
    assert not state.stale(569.0)
    assert state.stale(571.0)
    state.used(500.0)
    assert not state.stale(1069.0)
    assert state.headers() == {"Cookie": "auth_cookie=cookie", "DELL-EMC-TOKEN": "token"}
    state.end()
    assert not state.active
    assert state.headers() == {}


def test_certificate_details(api_cert_dir, sim):
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    from console.simulator.tls import fingerprint_sha256

    pem = (sim.ca_path.parent / "server-cert.pem").read_bytes()
    der = x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)
    presented = describe_certificate(der)
    assert presented.fingerprint == fingerprint_sha256(pem)
    assert presented.der == der
    assert public_key_pin(der).startswith("sha256//")
    assert describe_certificate(b"not a certificate").subject == ""
