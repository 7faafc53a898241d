"""Content negotiation, unknown paths and methods, headers and bad input, as the real API answers them."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console.simulator import SimulatorConfig, create_app
from tests.simulator.conftest import BASE_URL, SimClient


def assert_error(response, status):
    assert response.status_code == status, response.text
    messages = response.json()["messages"]
    assert messages
    for message in messages:
        assert message["code"].startswith("0x")
        assert message["severity"] in ("Info", "Warning", "Error")
        assert message["message_l10n"]


async def test_dell_tool_headers_are_accepted_and_ignored(api):
    response = await api.get(
        "/volume",
        params={"select": "id"},
        headers={
            "Application-Type": "Ansible/3.4.0",
            "DELL-VISIBILITY": "internal",
            "Accept-Language": "en-US",
        },
    )
    assert response.status_code in (200, 206)


async def test_no_accept_header_is_fine_but_a_non_json_accept_is_406(api):
    request = api.build_request("GET", "/volume")
    del request.headers["Accept"]
    assert (await api.send(request)).status_code in (200, 206)
    assert_error(await api.get("/volume", headers={"Accept": "text/html"}), 406)
    assert (await api.get("/volume", headers={"Accept": "application/json;q=0.9"})).status_code in (200, 206)


async def test_a_body_without_json_content_type_is_415(api):
    response = await api.post(
        "/volume", content=b'{"name": "x", "size": 1048576}', headers={"Content-Type": "text/plain"}
    )
    assert_error(response, 415)
    response = await api.post("/volume", content=b"name=x&size=1048576")
    assert_error(response, 415)


async def test_malformed_json_is_400_and_changes_nothing(api):
    before = (await api.get("/volume", params={"limit": 1})).headers.get("content-range")
    response = await api.post(
        "/volume", content=b'{"name": "x", "size":', headers={"Content-Type": "application/json"}
    )
    assert_error(response, 400)
    assert (await api.get("/volume", params={"limit": 1})).headers.get("content-range") == before


@pytest.mark.parametrize(
    "body",
    [[1, 2], "text", 42, {"name": 5, "size": 1048576}, {"name": "x", "size": "big"}, {"name": "x"}],
)
async def test_wrong_body_shapes_are_400(api, body):
    assert_error(await api.post("/volume", json=body), 400)


async def test_unknown_fields_are_400_naming_the_field(api):
    response = await api.post("/volume", json={"name": "x", "size": 1048576, "colour": "red"})
    assert_error(response, 400)
    assert any(
        "colour" in m.get("arguments", []) or "colour" in m["message_l10n"]
        for m in response.json()["messages"]
    )


async def test_a_huge_body_is_refused(api):
    response = await api.post(
        "/volume",
        content=json.dumps({"name": "x" * 2_000_000, "size": 1048576}),
        headers={"Content-Type": "application/json"},
    )
    assert_error(response, 413)


@pytest.mark.parametrize("path", ["/no_such_type", "/volume/a/b/c/d", "/", ""])
async def test_unknown_urls_are_404(api, path):
    assert_error(await api.get(path), 404)


async def test_urls_outside_the_api_are_404_json(api):
    assert_error(await api.get("https://sim.test/index.html"), 404)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/volume"),
        ("DELETE", "/volume"),
        ("PATCH", "/volume"),
        ("POST", "/login_session"),
        ("GET", "/logout"),
    ],
)
async def test_wrong_methods_are_405(api, method, path):
    assert_error(await api.request(method, path), 405)


async def test_operations_the_spec_does_not_have_are_405(api):
    job = (await api.get("/job", params={"limit": 1})).json()[0]
    assert_error(await api.delete(f"/job/{job['id']}"), 405)
    assert_error(await api.post("/role", json={"name": "x"}), 405)


async def test_unknown_ids_are_404(api):
    assert_error(await api.get("/volume/00000000-0000-0000-0000-000000000000"), 404)
    response = await api.get("/job/nope")
    assert_error(response, 404)
    assert response.json()["messages"][0]["code"] == "0xE04040020009"


async def test_name_addressing_in_paths(api):
    volume = (await api.get("/volume", params={"select": "id,name", "limit": 1})).json()[0]
    response = await api.get(f"/volume/name:{volume['name']}", params={"select": "id"})
    assert response.status_code == 200
    assert response.json()["id"] == volume["id"]
    assert_error(await api.get("/volume/name:does-not-exist"), 404)


async def test_names_with_reserved_characters_are_addressable(api):
    created = await api.post("/volume", json={"name": "a/b c?d#e", "size": 1048576})
    assert created.status_code == 201, created.text
    response = await api.get("/volume/name:a%2Fb%20c%3Fd%23e", params={"select": "id,name"})
    assert response.status_code == 200
    assert response.json()["name"] == "a/b c?d#e"


async def test_get_without_select_returns_only_ids(api):
    items = (await api.get("/volume")).json()
    assert items and all(set(item) == {"id"} for item in items)
    one = (await api.get(f"/volume/{items[0]['id']}")).json()
    assert set(one) == {"id"}


async def test_unknown_select_attribute_is_400(api):
    assert_error(await api.get("/volume", params={"select": "id,colour"}), 400)


async def test_bad_is_async_value_is_400(api):
    volume = (await api.get("/volume", params={"limit": 1})).json()[0]
    assert_error(await api.patch(f"/volume/{volume['id']}", params={"is_async": "maybe"}, json={}), 400)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
volume_fields = st.sampled_from(
    ["name", "size", "description", "host_id", "volume_group_id", "min_size", "colour"]
)
volume_bodies = st.dictionaries(volume_fields, json_values, max_size=5) | json_values


@pytest.fixture(scope="module")
def fuzz_app():
    """One app for all examples; each example talks to it on a fresh loop (hypothesis runs sync)."""
    app = create_app(SimulatorConfig(volumes=5, seed=11))

    async def login():
        async with SimClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as client:
            await client.login()
            return client.token, dict(client.cookies)

    token, cookies = asyncio.run(login())
    return app, token, cookies


async def fuzz_once(fuzz_app, body, method, is_async):
    app, token, cookies = fuzz_app
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url=BASE_URL, cookies=cookies, headers={"DELL-EMC-TOKEN": token}
    ) as client:
        target = (await client.get("/volume", params={"select": "id", "order": "name", "limit": 1})).json()[
            0
        ]["id"]
        path = "/volume" if method == "POST" else f"/volume/{target}"
        params = {"is_async": "true"} if is_async else {}
        response = await client.request(method, path, json=body, params=params)
        assert response.status_code in (201, 202, 204, 400, 404, 422), response.text
        if response.status_code >= 400:
            assert response.json()["messages"]
        listing = await client.get("/volume", params={"select": "id,name,size", "limit": 2000})
        assert listing.status_code in (200, 206)
        for volume in listing.json():
            assert isinstance(volume["name"], str) and volume["name"]
            assert isinstance(volume["size"], int) and volume["size"] % 8192 == 0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=volume_bodies, method=st.sampled_from(["POST", "PATCH"]), is_async=st.booleans())
def test_arbitrary_bodies_never_crash_the_server_nor_corrupt_its_data(fuzz_app, body, method, is_async):
    asyncio.run(fuzz_once(fuzz_app, body, method, is_async))
