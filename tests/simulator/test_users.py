"""Local users and roles: accounts, password rules and changes, who may do what."""

from __future__ import annotations

import pytest

from console.catalog import load_catalog
from console.simulator import DEFAULT_PASSWORD, SimulatorConfig
from console.simulator.handlers import users
from console.simulator.operations import Sim
from tests.simulator.conftest import OPERATOR, SECURITY_ADMIN, STORAGE_ADMIN, logged_in, posted_id

USER_SELECT = "id,name,role_id,is_built_in,is_locked,is_default_password,is_mfa_bypass"
SEEDED = {
    "admin": (DEFAULT_PASSWORD, "1"),
    "storage.admin": ("Storage#Admin1", "2"),
    "operator": ("Operator#Pass1", "3"),
    "vm.admin": ("VmAdmin#Pass1", "4"),
    "security.admin": ("Security#Admin1", "5"),
}


async def all_users(api):
    response = await api.get("/local_user", params={"select": USER_SELECT})
    assert response.status_code == 200
    return {u["name"]: u for u in response.json()}


async def user_id(api, name):
    return (await all_users(api))[name]["id"]


async def create_user(api, name, password="Fresh#Pass1", role_id="3", **extra):
    return await posted_id(
        api, "/local_user", {"name": name, "password": password, "role_id": role_id, **extra}
    )


async def login_status(make_client, name, password):
    async with make_client() as client:
        return (await client.login(name, password)).status_code


# -- roles and seed -------------------------------------------------------------------------------------


async def test_five_built_in_roles(api):
    roles = (await api.get("/role", params={"select": "id,name,is_built_in,description"})).json()
    assert [(r["id"], r["name"]) for r in roles] == [
        ("1", "Administrator"),
        ("2", "Storage Administrator"),
        ("3", "Operator"),
        ("4", "VM Administrator"),
        ("5", "Security Administrator"),
    ]
    assert all(r["is_built_in"] and r["description"] for r in roles)
    assert (await api.get("/role/5", params={"select": "name"})).json() == {"name": "Security Administrator"}


@pytest.mark.parametrize("name", sorted(SEEDED))
async def test_every_seeded_account_logs_in_with_its_documented_password(make_client, name):
    password, role_id = SEEDED[name]
    async with make_client() as client:
        response = await client.login(name, password)
        assert response.status_code == 200
        assert response.json()[0]["role_ids"] == [role_id]


async def test_admin_must_change_its_default_password_and_others_need_not(api, make_client):
    listing = await all_users(api)
    assert listing["admin"]["is_built_in"]
    assert listing["admin"]["is_default_password"]
    assert not listing["operator"]["is_built_in"]
    assert not listing["operator"]["is_default_password"]
    async with make_client() as client:
        body = (await client.login("operator", "Operator#Pass1")).json()[0]
        assert body["is_password_change_required"] is False


async def test_a_locked_seeded_account_cannot_log_in(api, make_client):
    assert (await all_users(api))["contractor.ops"]["is_locked"]
    assert await login_status(make_client, "contractor.ops", "Contract#Pass1") == 401


async def test_password_hashes_are_hidden(api):
    response = await api.get("/local_user", params={"select": "_password_hash"})
    assert response.status_code == 400
    assert "Password123#" not in (await api.get("/local_user", params={"select": "*"})).text


def test_check_and_set_password_on_the_store():
    sim = Sim(SimulatorConfig(), load_catalog())
    users.seed(sim)
    admin = sim.store.find_by_name("local_user", "admin")
    assert admin["_password_hash"] != DEFAULT_PASSWORD
    assert users.check_password(sim, admin, DEFAULT_PASSWORD)
    assert not users.check_password(sim, admin, "password123#")
    changed = users.set_password(sim, admin["id"], "Brand#New1")
    assert users.check_password(sim, changed, "Brand#New1")
    assert not users.check_password(sim, changed, DEFAULT_PASSWORD)
    assert changed["is_default_password"] is False
    assert changed["_password_salt"] != admin["_password_salt"]


def test_password_rules():
    assert users.password_problem("Good#Pass1") is None
    for weak in (
        "Sh#1a",
        "x" * 30 + "A#1aaaaaaaaaa",
        "alllower#1",
        "ALLUPPER#1",
        "NoDigits#x",
        "NoSpecial1x",
        "Has space#1A",
    ):
        assert users.password_problem(weak) is not None, weak


# -- create ---------------------------------------------------------------------------------------------


async def test_create_a_user_who_can_then_log_in(api, make_client):
    new_id = await create_user(api, "j.smith", "Welcome#2024", "2", is_mfa_bypass=True)
    user = (await all_users(api))["j.smith"]
    assert user == {
        "id": new_id,
        "name": "j.smith",
        "role_id": "2",
        "is_built_in": False,
        "is_locked": False,
        "is_default_password": False,
        "is_mfa_bypass": True,
    }
    assert await login_status(make_client, "j.smith", "Welcome#2024") == 200


async def test_names_are_unique_case_sensitively(api):
    response = await api.post(
        "/local_user", json={"name": "operator", "password": "Fresh#Pass1", "role_id": "3"}
    )
    assert response.status_code == 422
    await create_user(api, "Operator")


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"name": "bad name", "password": "Fresh#Pass1", "role_id": "3"}, 400),
        ({"name": "under_score", "password": "Fresh#Pass1", "role_id": "3"}, 400),
        ({"name": "x" * 65, "password": "Fresh#Pass1", "role_id": "3"}, 400),
        ({"name": "weak", "password": "short1#A", "role_id": "3"}, 201),
        ({"name": "weak", "password": "Short1A", "role_id": "3"}, 400),
        ({"name": "weak", "password": "nouppercase#1", "role_id": "3"}, 400),
        ({"name": "weak", "password": "NoSpecial123", "role_id": "3"}, 400),
        ({"name": "weak", "password": "Bad&Special1", "role_id": "3"}, 400),
        ({"name": "weak", "password": "A#1" + "a" * 38, "role_id": "3"}, 400),
        ({"name": "norole", "password": "Fresh#Pass1", "role_id": "9"}, 404),
        ({"name": "missing", "role_id": "3"}, 400),
    ],
)
async def test_create_checks_name_password_and_role(api, body, status):
    response = await api.post("/local_user", json=body)
    assert response.status_code == status, response.text


async def test_a_storage_administrator_may_not_create_users(make_client):
    async with logged_in(make_client, *STORAGE_ADMIN) as client:
        response = await client.post(
            "/local_user", json={"name": "x", "password": "Fresh#Pass1", "role_id": "3"}
        )
        assert response.status_code == 403


async def test_a_security_administrator_may_create_users(make_client):
    async with logged_in(make_client, *SECURITY_ADMIN) as client:
        await create_user(client, "auditor", role_id="3")


async def test_async_create_adds_the_user_when_the_job_completes(api):
    response = await api.post(
        "/local_user",
        params={"is_async": "true"},
        json={"name": "later", "password": "Fresh#Pass1", "role_id": "4"},
    )
    assert response.status_code == 202
    job = await api.wait_job(response.json()["id"])
    assert job["phase"] == "Completed"
    assert (await all_users(api))["later"]["role_id"] == "4"


# -- modify ---------------------------------------------------------------------------------------------


async def test_admin_changes_its_own_password_with_the_current_one(api, make_client):
    admin_id = await user_id(api, "admin")
    response = await api.patch(f"/local_user/{admin_id}", json={"password": "Changed#Pass9"})
    assert response.status_code == 400
    response = await api.patch(
        f"/local_user/{admin_id}", json={"current_password": "Wrong#Pass1", "password": "Changed#Pass9"}
    )
    assert response.status_code == 422
    response = await api.patch(
        f"/local_user/{admin_id}", json={"current_password": DEFAULT_PASSWORD, "password": "Changed#Pass9"}
    )
    assert response.status_code == 204, response.text
    assert (await all_users(api))["admin"]["is_default_password"] is False
    assert await login_status(make_client, "admin", DEFAULT_PASSWORD) == 401
    async with make_client() as client:
        body = (await client.login("admin", "Changed#Pass9")).json()[0]
        assert body["is_password_change_required"] is False


async def test_everything_else_on_admin_is_refused(api, make_client):
    admin_id = await user_id(api, "admin")
    for body in ({"is_mfa_bypass": True}, {"role_id": "2"}, {"is_locked": True}):
        assert (await api.patch(f"/local_user/{admin_id}", json=body)).status_code == 422, body
    async with logged_in(make_client, *SECURITY_ADMIN) as security:
        assert (
            await security.patch(f"/local_user/{admin_id}", json={"password": "Reset#Pass1"})
        ).status_code == 422
        assert (await security.delete(f"/local_user/{admin_id}")).status_code == 422


async def test_any_user_changes_their_own_password(api, make_client):
    operator_id = await user_id(api, "operator")
    async with logged_in(make_client, *OPERATOR) as operator:
        body = {"current_password": "Operator#Pass1", "password": "Operator#Pass2"}
        assert (await operator.patch(f"/local_user/{operator_id}", json=body)).status_code == 204
        same = {"current_password": "Operator#Pass2", "password": "Operator#Pass2"}
        assert (await operator.patch(f"/local_user/{operator_id}", json=same)).status_code == 422
        weak = {"current_password": "Operator#Pass2", "password": "weak"}
        assert (await operator.patch(f"/local_user/{operator_id}", json=weak)).status_code == 400
    assert await login_status(make_client, "operator", "Operator#Pass2") == 200


async def test_nobody_changes_their_own_role_or_locks_themselves(make_client, api):
    security_id = await user_id(api, "security.admin")
    async with logged_in(make_client, *SECURITY_ADMIN) as security:
        assert (await security.patch(f"/local_user/{security_id}", json={"role_id": "1"})).status_code == 422
        assert (
            await security.patch(f"/local_user/{security_id}", json={"is_locked": True})
        ).status_code == 422
        assert (
            await security.patch(f"/local_user/{security_id}", json={"password": "Reset#Pass1"})
        ).status_code == 400


async def test_an_administrator_resets_role_lock_and_password_of_others(api, make_client):
    target = await create_user(api, "temp.ops", "Temp#Pass1", "3")
    assert (await api.patch(f"/local_user/{target}", json={"role_id": "2"})).status_code == 204
    assert (await api.patch(f"/local_user/{target}", json={"password": "Reset#Pass1"})).status_code == 204
    assert await login_status(make_client, "temp.ops", "Temp#Pass1") == 401
    async with make_client() as client:
        assert (await client.login("temp.ops", "Reset#Pass1")).json()[0]["role_ids"] == ["2"]
    assert (await api.patch(f"/local_user/{target}", json={"is_locked": True})).status_code == 204
    assert await login_status(make_client, "temp.ops", "Reset#Pass1") == 401
    assert (await api.patch(f"/local_user/{target}", json={"is_locked": False})).status_code == 204
    assert await login_status(make_client, "temp.ops", "Reset#Pass1") == 200


async def test_modify_refusals(api):
    target = await create_user(api, "temp.two")
    assert (await api.patch(f"/local_user/{target}", json={"role_id": "42"})).status_code == 404
    assert (await api.patch(f"/local_user/{target}", json={"name": "renamed"})).status_code == 400
    assert (
        await api.patch(f"/local_user/{target}", json={"current_password": "Fresh#Pass1"})
    ).status_code == 400
    assert (await api.patch("/local_user/no-such-user", json={"is_locked": True})).status_code == 404


async def test_only_user_managers_change_other_accounts(api, make_client):
    target = await create_user(api, "temp.three")
    async with logged_in(make_client, *STORAGE_ADMIN) as storage:
        assert (await storage.patch(f"/local_user/{target}", json={"is_locked": True})).status_code == 403
        assert (
            await storage.patch(f"/local_user/{target}", json={"password": "Reset#Pass1"})
        ).status_code == 403


async def test_async_password_reset_completes(api, make_client):
    target = await create_user(api, "temp.async", "Temp#Pass1")
    response = await api.patch(
        f"/local_user/{target}", params={"is_async": "true"}, json={"password": "Async#Pass1"}
    )
    assert response.status_code == 202
    assert (await api.wait_job(response.json()["id"]))["phase"] == "Completed"
    assert await login_status(make_client, "temp.async", "Async#Pass1") == 200


# -- delete ---------------------------------------------------------------------------------------------


async def test_delete_a_user(api, make_client):
    target = await create_user(api, "leaver", "Leaver#Pass1")
    assert (await api.delete(f"/local_user/{target}")).status_code == 204
    assert "leaver" not in await all_users(api)
    assert await login_status(make_client, "leaver", "Leaver#Pass1") == 401
    assert (await api.delete(f"/local_user/{target}")).status_code == 404


async def test_delete_refusals(api, make_client):
    admin_id = await user_id(api, "admin")
    assert (await api.delete(f"/local_user/{admin_id}")).status_code == 422
    security_id = await user_id(api, "security.admin")
    async with logged_in(make_client, *SECURITY_ADMIN) as security:
        assert (await security.delete(f"/local_user/{security_id}")).status_code == 422
    vm_id = await user_id(api, "vm.admin")
    async with logged_in(make_client, *OPERATOR) as operator:
        assert (await operator.delete(f"/local_user/{vm_id}")).status_code == 403
