"""Every error class from real simulator answers, and error bodies a real server cannot be made to send."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from console.api import (
    ApiError,
    AuthenticationFailed,
    ClientClosed,
    CompletedWithoutJob,
    ConnectionLost,
    NotFound,
    PermissionDenied,
    PowerStoreClient,
    ServerBusy,
    ValidationRefused,
)
from console.api.errors import parse_messages
from tests.api.conftest import ADMIN, OPERATOR, json_response, login_response, mock_client


async def test_unknown_id_is_not_found(client):
    with pytest.raises(NotFound) as caught:
        await client.get("volume", "0a0a0a0a-0000-0000-0000-000000000000", select="id")
    error = caught.value
    assert error.status == 404
    assert error.method == "GET"
    assert error.path == "volume/0a0a0a0a-0000-0000-0000-000000000000"
    assert error.codes == ["0xE0A07001000C"]
    assert "0a0a0a0a" in str(error)


async def test_unknown_job_is_not_found(client):
    with pytest.raises(NotFound) as caught:
        await client.job("5b5b5b5b-0000-0000-0000-000000000000")
    assert caught.value.codes == ["0xE04040020009"]


async def test_unknown_select_field_is_a_validation_refusal(client):
    with pytest.raises(ValidationRefused) as caught:
        await client.query("volume", select="id,no_such_field")
    assert caught.value.status == 400
    assert caught.value.messages[0].arguments == ("no_such_field",)


async def test_invalid_create_is_refused_at_once_with_the_servers_messages(control, client):
    jobs_before = (await client.query("job", limit=1)).total
    with pytest.raises(ValidationRefused) as caught:
        await client.submit("POST", "volume", {"name": "odd-size", "size": (1 << 30) + 1})
    assert caught.value.status == 400
    assert "8192" in caught.value.text
    assert (await client.query("job", limit=1)).total == jobs_before


async def test_business_rule_refusal_is_422(client):
    taken = (await client.query("volume", select="name", limit=1)).items[0]["name"]
    with pytest.raises(ValidationRefused) as caught:
        await client.submit("POST", "volume", {"name": taken, "size": 1 << 30})
    assert caught.value.status == 422
    assert caught.value.messages[0].severity == "Error"


async def test_permission_denied_for_a_lesser_role(control, make_client):
    operator = make_client(OPERATOR)
    with pytest.raises(PermissionDenied):
        await operator.submit("POST", "host", {"name": "h", "os_type": "Linux", "initiators": []})


async def test_bad_credentials_are_an_authentication_failure(control, make_client):
    with pytest.raises(AuthenticationFailed):
        await make_client(("operator", "nope")).login()


async def test_busy_reads_are_retried_a_few_times_then_raise(control, client):
    await control.faults(fail_next=2)
    assert len((await client.query("volume", limit=1)).items) == 1
    await control.faults(fail_next=10)
    with pytest.raises(ServerBusy) as caught:
        await client.query("volume", limit=1)
    assert caught.value.status == 503
    assert (await control.stats())["faults"]["fail_next"] == 10 - 4


async def test_busy_change_is_not_retried(control, client):
    volume = (await client.query("volume", select="id", limit=1)).items[0]
    await control.faults(fail_next=1)
    with pytest.raises(ServerBusy):
        await client.submit("PATCH", f"volume/{volume['id']}", {"description": "busy"})
    assert (await control.stats())["faults"]["fail_next"] == 0


async def test_offset_beyond_the_result_is_an_api_error_416(client):
    total = (await client.query("volume", limit=1)).total
    with pytest.raises(ApiError) as caught:
        await client.query("volume", offset=total + 10)
    assert caught.value.status == 416


async def test_unreachable_array_is_connection_lost_before_sending():
    # Nothing listens on the discard port of the loopback address: the connection is refused.
    client = PowerStoreClient("https://127.0.0.1:9", *ADMIN, retries=1, backoff=0.0)
    with pytest.raises(ConnectionLost) as caught:
        await client.login()
    assert caught.value.may_have_reached_server is False
    assert caught.value.status is None
    assert caught.value.path == "login_session"
    await client.aclose()


# -- bodies a real array may send but the simulator never does ---------------------------------------


@pytest.mark.parametrize(
    ("status", "content", "content_type", "cls", "text"),
    [
        (500, b"<html><body><h1>Internal Server Error</h1></body></html>", "text/html", ApiError, "Internal"),
        (502, b"Bad gateway\n", "text/plain", ApiError, "Bad gateway"),
        (503, b"", "text/plain", ServerBusy, "HTTP 503 Service Unavailable"),
        (422, b'{"messages": "volume is mapped"}', "application/json", ValidationRefused, "volume is mapped"),
        (404, b'{"error": "nope"}', "application/json", NotFound, '{"error": "nope"}'),
        (400, b'{"messages": [', "application/json", ValidationRefused, '{"messages": ['),
        (400, b'{"messages": [{"code": "0x1"}]}', "application/json", ValidationRefused, '"code": "0x1"'),
        (422, b"[1, 2]", "application/json", ValidationRefused, "1"),
    ],
)
async def test_odd_error_bodies_become_readable_errors(status, content, content_type, cls, text):
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("login_session"):
            return login_response()
        return httpx.Response(status, content=content, headers={"content-type": content_type})

    async with mock_client(handler, retries=0) as client:
        with pytest.raises(cls) as caught:
            await client.query("volume")
    assert type(caught.value) is cls
    assert caught.value.status == status
    assert text in caught.value.text
    assert str(caught.value).startswith("GET volume: HTTP")


async def test_a_401_with_a_plain_text_body_on_login():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, content=b"Unauthorized", headers={"content-type": "text/plain"})

    client = mock_client(handler)
    with pytest.raises(AuthenticationFailed) as caught:
        await client.login()
    assert caught.value.text == "Unauthorized"
    await client.aclose()


async def test_a_200_that_is_not_json_is_an_error_not_a_crash():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("login_session"):
            return login_response()
        return httpx.Response(200, content=b"<html>maintenance</html>", headers={"content-type": "text/html"})

    async with mock_client(handler) as client:
        with pytest.raises(ApiError, match="maintenance") as caught:
            await client.query("volume")
    assert caught.value.status == 200


def test_messages_keep_code_severity_text_and_arguments():
    body = (
        b'{"messages": [{"code": "0xE0A07001000C", "severity": "Error",'
        b' "message_l10n": "Volume vol1 not found", "arguments": ["vol1", 7], "severity_l10n": "Error"},'
        b' {"code": "0x2", "severity": "Warning", "message_l10n": "second"}]}'
    )
    first, second = parse_messages(404, body)
    assert first.code == "0xE0A07001000C"
    assert first.severity == "Error"
    assert first.text == "Volume vol1 not found"
    assert first.arguments == ("vol1", "7")
    assert second.severity == "Warning"
    error = NotFound(404, [first, second], "GET", "volume/vol1")
    assert str(error) == (
        "GET volume/vol1: HTTP 404 Not Found: Volume vol1 not found (0xE0A07001000C); second (0x2)"
    )
    assert error.text == "Volume vol1 not found second"


def test_long_html_is_cut_to_a_readable_message():
    (message,) = parse_messages(500, b"<html>" + b"x" * 5000 + b"</html>")
    assert len(message.text) <= 500


async def test_login_without_a_cookie_is_an_error():
    def handler(request: httpx.Request) -> httpx.Response:
        return json_response(200, [{"id": "s"}], {"DELL-EMC-TOKEN": "t"})

    client = mock_client(handler)
    with pytest.raises(ApiError, match="cookie"):
        await client.login()
    await client.aclose()


# -- answers and failures a real array cannot be made to give on cue (MockTransport) --------------


@pytest.mark.parametrize("body", [b"", b"<html>accepted</html>", b'{"job": "j1"}', b'{"id": ""}'])
async def test_a_202_without_a_readable_job_id_is_an_outcome_unknown_not_a_refusal(body):
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("login_session"):
            return login_response()
        return httpx.Response(202, content=body)

    async with mock_client(handler) as client:
        with pytest.raises(ConnectionLost) as lost:
            await client.submit("POST", "volume", {"name": "v1", "size": 8192})
    # The job engine then looks for the job instead of calling the change refused (or sending it again).
    assert lost.value.may_have_reached_server
    assert "accepted the change (202) but named no job" in lost.value.reason


async def test_a_200_with_an_unreadable_body_is_a_change_carried_out():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("login_session"):
            return login_response()
        return httpx.Response(200, content=b"<html>done</html>")

    async with mock_client(handler) as client:
        with pytest.raises(CompletedWithoutJob) as done:
            await client.submit("PATCH", "volume/v1", {"description": "x"})
    assert done.value.status == 200 and done.value.result is None


async def test_a_change_whose_login_was_lost_is_known_not_sent():
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.method)
        if request.url.path.endswith("login_session"):
            raise httpx.ReadTimeout("the login's answer did not come", request=request)
        return json_response(202, {"id": "j1"})

    client = mock_client(handler, retries=0)  # not logged in yet: the change's login is implicit
    with pytest.raises(ConnectionLost) as lost:
        await client.submit("POST", "volume", {"name": "v1", "size": 8192})
    await client.aclose()
    assert "POST" not in sent
    assert not lost.value.may_have_reached_server
    assert (lost.value.method, lost.value.path) == ("POST", "volume")


async def test_requests_waiting_for_a_slot_when_the_client_closes_fail_as_closed():
    release = asyncio.Event()

    async def network(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("login_session"):
            return login_response()
        if request.url.path.endswith("/logout"):
            return httpx.Response(204)
        await release.wait()
        return json_response(200, [])

    client = PowerStoreClient(
        "https://array.test",
        "admin",
        "Password123#",
        transport=httpx.MockTransport(network),
        max_concurrency=1,
    )
    await client.login()
    first = asyncio.ensure_future(client.request("GET", "volume"))
    await asyncio.sleep(0.05)
    queued = asyncio.ensure_future(client.submit("POST", "volume", {"name": "v1", "size": 8192}))
    await asyncio.sleep(0.05)
    closing = asyncio.ensure_future(client.aclose())
    await asyncio.sleep(0.05)
    release.set()
    results = await asyncio.gather(first, queued, closing, return_exceptions=True)
    assert isinstance(results[1], ClientClosed), results[1]
    assert not results[1].may_have_reached_server
