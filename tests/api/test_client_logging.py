"""Logs tell what happened without secrets; "copy as curl" shows commands without secrets."""

from __future__ import annotations

import json
import logging
import shlex

import pytest

from console.api import F, Trust, render_curl
from console.api.redaction import MASK, body_for_log, redact, scrub
from tests.api.conftest import ADMIN

NEW_USER_PASSWORD = "Sekr3t#Valu3"


async def test_a_full_session_logged_at_debug_leaks_no_secret(control, make_client, caplog):
    caplog.set_level(logging.DEBUG)
    client = make_client()
    await client.login()
    cookie, token = client._session.cookie, client._session.token
    await client.query("volume", select="id,name", where=F("name").ilike("*a*"), limit=3)
    await control.expire_sessions()
    await client.query("volume", limit=1)
    renewed_cookie, renewed_token = client._session.cookie, client._session.token
    job_id = await client.submit(
        "POST", "local_user", {"name": "logged.user", "password": NEW_USER_PASSWORD, "role_id": "3"}
    )
    await client.jobs([job_id])
    client.as_curl("POST", "local_user", {"name": "x", "password": NEW_USER_PASSWORD})
    await client.aclose()

    text = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    secrets = [ADMIN[1], NEW_USER_PASSWORD, cookie, token, renewed_cookie, renewed_token]
    assert all(secrets)
    for secret in secrets:
        assert secret not in text
    # What the log is for is there: method, path, status and duration of each request.
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("console.api")]
    assert any(m.startswith("GET login_session") and "-> 200" in m and "ms)" in m for m in messages)
    assert any(m.startswith("POST local_user?is_async=true -> 202") for m in messages)
    assert any(m.startswith("POST logout -> 204") for m in messages)
    assert any(m.startswith("request body:") and f'"password": "{MASK}"' in m for m in messages)
    # The HTTP library's own debug lines were there too, with the secret headers masked.
    assert any(
        r.name.startswith("httpcore") and "set-cookie" in r.getMessage().lower() for r in caplog.records
    )


async def test_bodies_are_logged_only_at_debug(control, make_client, caplog):
    caplog.set_level(logging.INFO, logger="console.api")
    client = make_client()
    await client.query("volume", select="id", limit=1)
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("console.api")]
    assert any("GET volume?select=id&limit=1 -> 206" in m for m in messages)
    assert not any("body" in m for m in messages)


def test_redact_masks_secret_keys_at_any_depth():
    body = {
        "name": "u",
        "password": "p1",
        "current_password": "p0",
        "initiators": [{"port_name": "iqn", "chap_single_password": "c", "chap_mutual_username": "m"}],
        "domain_password": None,
    }
    assert redact(body) == {
        "name": "u",
        "password": MASK,
        "current_password": MASK,
        "initiators": [{"port_name": "iqn", "chap_single_password": MASK, "chap_mutual_username": "m"}],
        "domain_password": None,
    }
    assert "p1" not in body_for_log(b'{"password": "p1"}')
    assert body_for_log(b"") == "(no body)"


def test_scrub_masks_headers_in_http_library_lines():
    line = (
        "receive_response_headers.complete return_value=(b'HTTP/1.1', 200, b'OK', [(b'content-type', "
        "b'application/json'), (b'set-cookie', b'auth_cookie=abc123; HttpOnly'), (b'DELL-EMC-TOKEN', "
        "b'tok456'), (b'Authorization', b'Basic YWRtaW46cHc=')])"
    )
    cleaned = scrub(line)
    for secret in ("abc123", "tok456", "YWRtaW46cHc="):
        assert secret not in cleaned
    assert "b'application/json'" in cleaned


# -- copy as curl --------------------------------------------------------------------------------------


async def test_as_curl_uses_shell_variables_for_cookie_token_and_passwords(client):
    command = client.as_curl(
        "POST", "local_user", {"name": "new.user", "password": NEW_USER_PASSWORD, "role_id": "3"}
    )
    for secret in (client._session.cookie, client._session.token, NEW_USER_PASSWORD):
        assert secret not in command
    words = shlex.split(command.replace("\\\n", " "))
    assert words[:4] == ["curl", "-X", "POST", client.base_url + "/local_user"]
    assert "--cacert" in words
    assert "Cookie: auth_cookie=$PS_COOKIE" in words
    assert "DELL-EMC-TOKEN: $PS_TOKEN" in words
    assert (
        words[words.index("--data") + 1] == '{"name": "new.user", "password": "$PS_PASSWORD", "role_id": "3"}'
    )


async def test_as_curl_of_a_read_with_parameters(client):
    command = client.as_curl("GET", "volume", params=[("select", "id,name"), ("name", "ilike.*a b*")])
    words = shlex.split(command.replace("\\\n", " "))
    assert words[3] == client.base_url + "/volume?select=id%2Cname&name=ilike.%2Aa+b%2A"
    assert "DELL-EMC-TOKEN: $PS_TOKEN" not in words
    assert "--data" not in words


def test_curl_for_each_trust_mode():
    url = "https://array/api/rest/volume"
    assert "--cacert" not in render_curl("GET", url, trust=Trust.system())
    pinned = render_curl("GET", url, trust=Trust.pinned("AB" * 32), pinned_public_key="sha256//abc=")
    assert "--pinnedpubkey sha256//abc=" in pinned
    assert "$PS_PUBKEY_PIN" in render_curl("GET", url, trust=Trust.pinned("AB" * 32))
    assert "--insecure" in render_curl("GET", url, trust=Trust.insecure_no_verification())


@pytest.mark.parametrize("value", ["it's", 'quote"d', "$(rm -rf /)", "a\nb"])
def test_curl_bodies_survive_the_shell(value):
    command = render_curl("PATCH", "https://array/api/rest/volume/v1", {"description": value})
    words = shlex.split(command.replace("\\\n", " "))
    assert json.loads(words[words.index("--data") + 1]) == {"description": value}
