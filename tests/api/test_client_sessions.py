"""Sessions against the simulator over TLS: login, logout, expiry, re-login, 403 and CSRF tokens."""

from __future__ import annotations

import asyncio

import pytest

from console.api import AuthenticationFailed, ClientClosed, F, LoginInfo, PermissionDenied
from tests.api.conftest import ADMIN, OPERATOR, FakeClock


async def test_login_opens_one_session_and_describes_it(control, make_client):
    client = make_client()
    info = await client.login()
    assert isinstance(info, LoginInfo)
    assert info.user == "admin"
    assert info.role_ids == ("1",)
    assert info.idle_timeout == 3600
    assert info.is_built_in_user is True
    assert client.session == info
    for _ in range(5):
        await client.query("volume", limit=1)
    stats = await control.stats()
    assert stats["logins"] == 1
    assert stats["sessions"] == 1


async def test_first_request_logs_in_by_itself(control, make_client):
    client = make_client()
    page = await client.query("cluster", select="id,name")
    assert page.items[0]["id"] == "0"
    assert await control.logins() == 1


async def test_context_manager_logs_in_and_out(control, sim):
    from console.api import PowerStoreClient

    async with PowerStoreClient(sim.base_url, *ADMIN, verify=str(sim.ca_path)) as client:
        assert client.session is not None
        assert (await control.stats())["sessions"] == 1
    stats = await control.stats()
    assert stats["sessions"] == 0
    assert stats["requests"]["POST logout"] == 1


async def test_aclose_logs_out_and_twice_is_harmless(control, make_client):
    client = make_client()
    await client.login()
    await client.aclose()
    await client.aclose()
    stats = await control.stats()
    assert stats["sessions"] == 0
    assert stats["requests"]["POST logout"] == 1
    assert client.session is None
    with pytest.raises(ClientClosed) as closed:
        await client.query("volume")
    assert not closed.value.may_have_reached_server
    assert closed.value.path == "volume"
    assert stats["requests"] == (await control.stats())["requests"]  # nothing sent


async def test_closing_a_client_that_never_logged_in_sends_nothing(control, make_client):
    client = make_client()
    await client.aclose()
    assert (await control.stats())["requests"] == {}


async def test_bad_password_is_an_authentication_error(control, make_client):
    client = make_client(("admin", "wrong"))
    with pytest.raises(AuthenticationFailed) as caught:
        await client.login()
    assert caught.value.status == 401
    assert caught.value.method == "GET"
    assert caught.value.path == "login_session"
    assert caught.value.messages[0].code
    assert client.session is None


async def test_refused_credentials_are_not_tried_again_until_changed(control, make_client):
    client = make_client(("admin", "wrong"))
    with pytest.raises(AuthenticationFailed):
        await client.query("volume")
    # Retrying a refused password could lock the account: no further login attempt is made.
    with pytest.raises(AuthenticationFailed):
        await client.query("volume")
    assert await control.requests("GET login_session") == 1
    client.set_credentials(*ADMIN)
    page = await client.query("volume", limit=1)
    assert len(page.items) == 1
    assert await control.logins() == 1


async def test_locked_account_cannot_log_in(control, make_client):
    client = make_client(("contractor.ops", "Contract#Pass1"))
    with pytest.raises(AuthenticationFailed, match="locked"):
        await client.login()


async def test_expiry_in_the_middle_of_a_paged_walk_is_one_transparent_login(control, client):
    total = (await client.query("volume", limit=1)).total
    seen = []
    async for volume in client.iterate("volume", select="id,name", page_size=10):
        seen.append(volume["id"])
        if len(seen) == 15:
            await control.expire_sessions()
    assert len(seen) == total
    assert len(set(seen)) == total
    assert await control.logins() == 2


async def test_fifty_concurrent_requests_across_an_expiry_log_in_once(control, client):
    await control.expire_sessions()
    pages = await asyncio.gather(*(client.query("volume", select="id", limit=2) for _ in range(50)))
    assert all(len(p.items) == 2 for p in pages)
    assert await control.logins() == 2
    # Every request arrived at most twice: once refused (if it was in flight), once answered.
    assert 50 <= await control.requests("GET volume") <= 100


async def test_idle_timeout_is_honoured_before_the_array_expires_the_session(control, make_client):
    clock = FakeClock()
    client = make_client(clock=clock)
    await client.login()
    # Both sides idle for almost the whole timeout: the client logs in again before asking.
    clock.advance(3600 - 5)
    await control.advance_clock(3600 - 5)
    await client.query("volume", limit=1)
    assert await control.logins() == 2
    assert await control.requests("GET volume") == 1


async def test_a_session_the_array_already_expired_is_renewed_and_the_request_replayed(control, make_client):
    clock = FakeClock()
    client = make_client(clock=clock)
    await client.login()
    await control.advance_clock(4000)
    await client.query("volume", limit=1)
    assert await control.logins() == 2
    assert await control.requests("GET volume") == 2


async def test_busy_client_keeps_its_session(control, make_client):
    clock = FakeClock()
    client = make_client(clock=clock)
    await client.login()
    for _ in range(3):
        clock.advance(1800)
        await control.advance_clock(1800)
        await client.query("volume", limit=1)
    assert await control.logins() == 1


async def test_short_idle_timeout_from_the_login_answer(control, make_client):
    await control.config(idle_timeout=60)
    clock = FakeClock()
    client = make_client(clock=clock)
    info = await client.login()
    assert info.idle_timeout == 60
    clock.advance(57)
    await client.query("volume", limit=1)
    assert await control.logins() == 2


async def test_failed_re_login_is_an_authentication_error(control, client, make_client):
    users = (await client.query("local_user", select="id,name", where=F("name") == "operator")).items
    operator = make_client(OPERATOR)
    await operator.login()
    # A password reset by an administrator ends the user's sessions; the old password no longer works.
    await client.request("PATCH", f"local_user/{users[0]['id']}", body={"password": "Changed#Pass9"})
    with pytest.raises(AuthenticationFailed):
        await operator.query("volume", limit=1)
    operator.set_credentials("operator", "Changed#Pass9")
    assert len((await operator.query("volume", limit=1)).items) == 1


async def test_forbidden_change_gets_one_fresh_login_then_a_permission_error(control, make_client):
    operator = make_client(OPERATOR)
    await operator.login()
    with pytest.raises(PermissionDenied) as caught:
        await operator.submit("POST", "volume", {"name": "not-allowed", "size": 1 << 30})
    assert caught.value.status == 403
    assert caught.value.method == "POST"
    assert caught.value.path == "volume"
    assert await control.logins() == 2
    assert await control.requests("POST volume") == 2


async def test_changes_carry_the_csrf_token(control, client):
    volume = (await client.query("volume", select="id", limit=1)).items[0]
    # The simulator refuses changes without the session's DELL-EMC-TOKEN (403).
    job_id = await client.submit("PATCH", f"volume/{volume['id']}", {"description": "tokened"})
    assert job_id
    assert await control.logins() == 1


async def test_a_stale_csrf_token_is_cured_by_one_login(control, client):
    volume = (await client.query("volume", select="id", limit=1)).items[0]
    client._session.token = "stale-token"
    job_id = await client.submit("PATCH", f"volume/{volume['id']}", {"description": "after 403"})
    assert job_id
    assert await control.logins() == 2
    assert await control.requests("PATCH volume") == 2
