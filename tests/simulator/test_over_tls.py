"""The simulator as a real process over TLS on loopback: what a client on the network sees."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.simulator.process import SimulatorProcess

TERMINAL = {"Completed", "Failed", "Unrecoverable_Failed", "Skipped"}


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    certs = tmp_path_factory.mktemp("certs")
    with SimulatorProcess(
        cert_dir=certs, args=["--control", "--volumes", "250", "--job-seconds", "0.3"]
    ) as process:
        yield process


@pytest.fixture
def client(sim):
    with sim.client() as c:
        response = c.get(
            "login_session", auth=("admin", "Password123#"), params={"select": "id,idle_timeout"}
        )
        assert response.status_code == 200
        c.headers["DELL-EMC-TOKEN"] = response.headers["DELL-EMC-TOKEN"]
        yield c
        c.post(sim.origin + "/__control/faults", json={"fail_next": 0, "fault_rate": 0.0})


def control(sim, what, body=None):
    with httpx.Client(verify=sim.verify) as c:
        response = c.post(f"{sim.origin}/__control/{what}", json=body or {})
        response.raise_for_status()
        return response.json()


def wait_job(client, job_id, timeout=15.0):
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(
            f"job/{job_id}", params={"select": "id,phase,state,response_body,response_status"}
        ).json()
        if job["phase"] in TERMINAL:
            return job
        assert time.monotonic() < deadline, f"job still {job['phase']}"
        time.sleep(0.05)


def test_login_csrf_and_logout_over_tls(sim):
    with sim.client() as c:
        assert c.get("volume").status_code == 401
        login = c.get("login_session", auth=("admin", "Password123#"))
        assert login.status_code == 200
        assert "Secure" in login.headers["set-cookie"]
        token = login.headers["DELL-EMC-TOKEN"]
        assert c.post("volume", json={"name": "tls-no-token", "size": 1048576}).status_code == 403
        created = c.post(
            "volume", json={"name": "tls-token", "size": 1048576}, headers={"DELL-EMC-TOKEN": token}
        )
        assert created.status_code == 201
        assert c.post("logout", headers={"DELL-EMC-TOKEN": token}).status_code == 204
        assert c.get("volume").status_code == 401


def test_idle_expiry_over_tls(sim):
    with sim.client() as c:
        c.get("login_session", auth=("admin", "Password123#"))
        assert c.get("volume").status_code in (200, 206)
        control(sim, "clock", {"advance": 3601})
        response = c.get("volume")
        assert response.status_code == 401
        assert response.json()["messages"][0]["message_l10n"]


@pytest.mark.parametrize(
    ("param", "value", "check"),
    [
        ("size", "eq.1099511627776", lambda v: v["size"] == 1099511627776),
        ("size", "neq.1099511627776", lambda v: v["size"] != 1099511627776),
        ("size", "gt.1099511627776", lambda v: v["size"] > 1099511627776),
        ("size", "gte.1099511627776", lambda v: v["size"] >= 1099511627776),
        ("size", "lt.10737418240", lambda v: v["size"] < 10737418240),
        ("size", "lte.10737418240", lambda v: v["size"] <= 10737418240),
        ("type", "in.(Clone,Snapshot)", lambda v: v["type"] in ("Clone", "Snapshot")),
        ("description", "is.null", lambda v: v["description"] is None),
        ("is_replication_destination", "is.false", lambda v: v["is_replication_destination"] is False),
        ("name", "ilike.*SQL*", lambda v: "sql" in v["name"].lower()),
        ("name", "like.*-0*", lambda v: "-0" in v["name"]),
        ("type", "not.eq.Snapshot", lambda v: v["type"] != "Snapshot"),
        (
            "creation_timestamp",
            "lt.2026-01-01T00:00:00.000+00:00",
            lambda v: v["creation_timestamp"] < "2026-01-01",
        ),
        (
            "or",
            "(size.lt.10737418240,type.eq.Clone)",
            lambda v: v["size"] < 10737418240 or v["type"] == "Clone",
        ),
        (
            "and",
            "(size.gte.10737418240,not.type.eq.Snapshot)",
            lambda v: v["size"] >= 10737418240 and v["type"] != "Snapshot",
        ),
    ],
)
def test_each_filter_operator_over_tls(client, param, value, check):
    select = "id,name,size,type,description,is_replication_destination,creation_timestamp"
    everything = client.get("volume", params={"select": select, "limit": 2000}).json()
    response = client.get("volume", params={"select": select, "limit": 2000, param: value})
    assert response.status_code in (200, 206), response.text
    got = {v["id"] for v in response.json()}
    assert got == {v["id"] for v in everything if check(v)}
    assert got, "the seed data should have matches for every operator tested here"


def test_array_operators_over_tls(client):
    everything = client.get("snapshot_rule", params={"select": "id,days_of_week", "limit": 2000}).json()
    weekend = {"Saturday", "Sunday"}
    cs = client.get("snapshot_rule", params={"select": "id", "days_of_week": "cs.{Saturday,Sunday}"}).json()
    assert {r["id"] for r in cs} == {r["id"] for r in everything if weekend <= set(r["days_of_week"] or [])}
    cd = client.get("snapshot_rule", params={"select": "id", "days_of_week": "cd.{Saturday,Sunday}"}).json()
    assert {r["id"] for r in cd} == {r["id"] for r in everything if set(r["days_of_week"] or []) <= weekend}


def test_paging_edges_over_tls(client):
    total = int(client.get("volume", params={"limit": 1}).headers["content-range"].split("/")[1])
    first = client.get("volume", params={"order": "name,id"})
    assert first.status_code == 206
    assert first.headers["content-range"] == f"0-99/{total}"
    assert len(first.json()) == 100
    one = client.get("volume", params={"order": "name,id", "limit": 1, "offset": 1})
    assert one.headers["content-range"] == f"1-1/{total}"
    assert one.json()[0]["id"] == first.json()[1]["id"]
    last = client.get("volume", params={"order": "name,id", "offset": total - 1})
    assert last.status_code == 206 and last.headers["content-range"] == f"{total - 1}-{total - 1}/{total}"
    assert client.get("volume", params={"offset": total}).status_code == 416
    assert client.get("volume", params={"limit": 0}).status_code == 416
    whole = client.get("volume", params={"limit": total})
    assert whole.status_code == 200 and len(whole.json()) == total and "content-range" not in whole.headers
    ranged = client.get("volume", params={"order": "name,id"}, headers={"Range": "100-199"})
    assert ranged.status_code == 206 and ranged.headers["content-range"] == f"100-199/{total}"
    capped = client.get("volume", params={"limit": 5000})
    assert len(capped.json()) == min(total, 2000)
    walked = []
    offset = 0
    while offset < total:
        page = client.get("volume", params={"order": "name,id", "offset": offset, "limit": 100})
        walked += [v["id"] for v in page.json()]
        offset += 100
    assert len(walked) == len(set(walked)) == total


def test_simple_get_collections_ignore_paging_and_filters(client):
    users = client.get(
        "local_user", params={"select": "id,name", "limit": 1, "name": "eq.nobody", "order": "name.desc"}
    )
    assert users.status_code == 200
    assert len(users.json()) >= 5


def test_async_job_through_success_and_failure_over_tls(client):
    volume = client.get("volume", params={"select": "id,name,size", "type": "eq.Primary", "limit": 1}).json()[
        0
    ]
    ok = client.patch(
        f"volume/{volume['id']}", params={"is_async": "true"}, json={"size": volume["size"] + 8192}
    )
    assert ok.status_code == 202
    assert wait_job(client, ok.json()["id"])["phase"] == "Completed"
    racing = [
        client.post("volume", params={"is_async": "true"}, json={"name": "tls-race", "size": 1048576})
        for _ in range(2)
    ]
    outcomes = sorted(wait_job(client, r.json()["id"])["phase"] for r in racing)
    assert outcomes == ["Completed", "Failed"]


def test_fault_injection_over_tls(client, sim):
    control(sim, "faults", {"fail_next": 1})
    busy = client.get("volume")
    assert busy.status_code == 503
    assert busy.json()["messages"][0]["code"]
    control(sim, "faults", {"drop_next_before": 1})
    with pytest.raises(httpx.TransportError):
        client.get("volume")
    assert client.get("volume").status_code in (200, 206)
