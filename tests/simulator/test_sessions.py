"""Login, the CSRF token, idle expiry and logout, as the reference describes them."""

from __future__ import annotations

import httpx
import pytest

from console.simulator import SimulatorConfig, create_app
from tests.simulator.conftest import BASE_URL, SimClient, basic


async def test_login_returns_one_session_with_cookie_and_token(anon):
    response = await anon.get(
        "/login_session",
        params={"select": "id,user,role_ids,idle_timeout,is_password_change_required,is_built_in_user"},
        headers={"Authorization": basic("admin", "Password123#")},
    )
    assert response.status_code == 200
    body = response.json()
    assert isinstance(body, list) and len(body) == 1
    assert body[0]["user"] == "admin"
    assert body[0]["role_ids"] == ["1"]
    assert 3590 <= body[0]["idle_timeout"] <= 3600
    assert isinstance(body[0]["is_password_change_required"], bool)
    assert response.headers["DELL-EMC-TOKEN"]
    assert "auth_cookie" in response.cookies
    assert "HttpOnly" in response.headers["set-cookie"]


async def test_login_without_select_still_reports_idle_timeout(anon):
    response = await anon.get("/login_session", headers={"Authorization": basic("admin", "Password123#")})
    assert response.status_code == 200
    assert "idle_timeout" in response.json()[0]


@pytest.mark.parametrize(
    "authorization",
    [basic("admin", "wrong"), basic("nobody", "Password123#"), "Basic !!!", "Bearer abc", None],
)
async def test_bad_credentials_are_401_with_an_error_body(anon, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = await anon.get("/login_session", headers=headers)
    assert response.status_code == 401
    assert response.json()["messages"][0]["severity"] == "Error"
    assert "auth_cookie" not in response.cookies


async def test_requests_without_a_session_are_401(anon):
    response = await anon.get("/volume")
    assert response.status_code == 401
    assert response.json()["messages"][0]["code"]


async def test_the_cookie_authenticates_later_requests(api):
    response = await api.get("/volume", params={"select": "id,name"})
    assert response.status_code in (200, 206)
    assert "Authorization" not in api.headers


async def test_changes_need_the_token(api):
    del api.headers["DELL-EMC-TOKEN"]
    response = await api.post("/volume", json={"name": "no-token", "size": 1048576})
    assert response.status_code == 403
    response = await api.post(
        "/volume", json={"name": "bad-token", "size": 1048576}, headers={"DELL-EMC-TOKEN": "forged"}
    )
    assert response.status_code == 403
    response = await api.post(
        "/volume", json={"name": "with-token", "size": 1048576}, headers={"DELL-EMC-TOKEN": api.token}
    )
    assert response.status_code == 201


async def test_the_token_is_harmless_on_get(api):
    response = await api.get("/volume", headers={"DELL-EMC-TOKEN": api.token})
    assert response.status_code in (200, 206)


async def test_idle_session_expires_with_401():
    app = create_app(SimulatorConfig(volumes=3, idle_timeout=60))
    simulator = app.state.simulator
    async with SimClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as client:
        assert (await client.login()).status_code == 200
        assert (await client.get("/volume")).status_code in (200, 206)
        real_clock = simulator.sim.clock
        simulator.sim.clock = lambda: real_clock() + 59
        assert (await client.get("/volume")).status_code in (200, 206), "a request restarts the idle timer"
        simulator.sim.clock = lambda: real_clock() + 59 + 61
        response = await client.get("/volume")
        assert response.status_code == 401
        assert "expired" in response.json()["messages"][0]["message_l10n"]
        assert (await client.login()).status_code == 200
        assert (await client.get("/volume")).status_code in (200, 206)


async def test_logout_ends_the_session(api):
    response = await api.post("/logout")
    assert response.status_code == 204
    assert response.content == b""
    assert (await api.get("/volume")).status_code == 401


async def test_two_logins_are_two_sessions(make_client):
    async with make_client() as one, make_client() as two:
        await one.login()
        await two.login()
        assert one.token != two.token
        await one.post("/logout")
        assert (await two.get("/volume")).status_code in (200, 206)


async def test_cookie_only_login_session_describes_the_current_session(api):
    response = await api.get("/login_session", params={"select": "user,idle_timeout"})
    assert response.status_code == 200
    assert response.json()[0]["user"] == "admin"
