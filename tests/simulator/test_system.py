"""Appliances, the cluster, installed software, alerts and events, as a client sees them."""

from __future__ import annotations

import itertools
from datetime import datetime

import pytest

from console.catalog import load_catalog
from console.simulator import SimulatorConfig
from console.simulator.handlers import system
from console.simulator.operations import Sim
from tests.simulator.conftest import OPERATOR, STORAGE_ADMIN, logged_in

METRIC = {"metric_type": "Physical_Space_Used_One_Day"}


def when(text):
    return datetime.fromisoformat(text)


# -- seed -----------------------------------------------------------------------------------------------


def test_seed_is_deterministic():
    def snapshot(seed):
        sim = Sim(SimulatorConfig(seed=seed), load_catalog())
        system.seed(sim)
        return [a["service_tag"] for a in sim.store.all("appliance")], [
            e["event_code"] for e in sim.store.all("event")
        ]

    assert snapshot(3) == snapshot(3)
    assert snapshot(3) != snapshot(4)


async def test_appliances_carry_model_and_service_data(api):
    appliances = (
        await api.get(
            "/appliance",
            params={
                "select": "id,name,model,service_tag,express_service_code,mode,node_count,storage_class_l10n"
            },
        )
    ).json()
    assert [a["name"] for a in appliances] == ["PS-A01", "PS-A02"]
    first = appliances[0]
    assert first["model"] == "PowerStore 1200T"
    assert first["node_count"] == 2
    assert int(first["express_service_code"]) == int(first["service_tag"], 36)
    assert first["storage_class_l10n"] == "TLC-based Flash"
    assert (await api.get("/appliance/name:PS-A02", params={"select": "id"})).json() == {"id": "A2"}


async def test_software_installed_has_one_cluster_row_and_one_per_appliance(api):
    version = (
        await api.get("/software_installed", params={"select": "release_version", "is_cluster": "eq.true"})
    ).json()
    assert version == [{"release_version": "4.1.0.0"}]
    rows = (
        await api.get("/software_installed", params={"select": "is_cluster,build_type,appliance(name)"})
    ).json()
    per_appliance = sorted(r["appliance"]["name"] for r in rows if not r["is_cluster"])
    assert per_appliance == ["PS-A01", "PS-A02"]
    assert {r["build_type"] for r in rows} == {"Release"}
    nested = (await api.get("/appliance/A1", params={"select": "software_installed(release_version)"})).json()
    assert nested == {"software_installed": [{"release_version": "4.1.0.0"}]}


# -- appliance ------------------------------------------------------------------------------------------


async def test_rename_an_appliance(api):
    assert (await api.patch("/appliance/A1", json={"name": "PS-EDGE-01"})).status_code == 204
    assert (await api.get("/appliance/A1", params={"select": "name"})).json() == {"name": "PS-EDGE-01"}


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"name": "PS-A02"}, 422),
        ({"name": ""}, 400),
        ({"name": "x" * 65}, 400),
        ({}, 400),
        ({"model": "x"}, 400),
    ],
)
async def test_appliance_rename_refusals(api, body, status):
    assert (await api.patch("/appliance/A1", json=body)).status_code == status


async def test_appliance_changes_need_an_administrator(make_client):
    async with logged_in(make_client, *STORAGE_ADMIN) as storage:
        assert (await storage.patch("/appliance/A1", json={"name": "nope"})).status_code == 403


async def test_unknown_appliance_is_404(api):
    assert (await api.patch("/appliance/A9", json={"name": "x"})).status_code == 404
    assert (await api.post("/appliance/A9/forecast", json=METRIC)).status_code == 404


async def test_appliance_forecast_is_a_rising_daily_series(api):
    response = await api.post("/appliance/A1/forecast", json=METRIC)
    assert response.status_code == 200
    points = response.json()
    assert len(points) == system.FORECAST_DAYS
    assert all(p["metric_type"] == "Physical_Space_Used_One_Day" for p in points)
    assert all(p["low_value"] <= p["mean_value"] <= p["high_value"] for p in points)
    means = [p["mean_value"] for p in points]
    assert means == sorted(means)
    assert means[0] < means[-1]
    times = [when(p["timestamp"]) for p in points]
    assert all((b - a).total_seconds() == 86400 for a, b in itertools.pairwise(times))


async def test_appliance_time_to_full(api):
    response = await api.post("/appliance/A2/time_to_full", json=METRIC)
    assert response.status_code == 200
    body = response.json()
    assert body["appliance_id"] == "A2"
    assert body["time_to_full_status"] in {"OK", "Minor", "Major", "None"}
    assert body["time_to_full_status_l10n"]
    assert (
        when(body["time_to_full_pessimistic"])
        < when(body["time_to_full"])
        < when(body["time_to_full_optimistic"])
    )


async def test_forecast_refuses_an_unknown_metric(api):
    assert (await api.post("/appliance/A1/forecast", json={"metric_type": "Bogus"})).status_code == 400
    assert (await api.post("/appliance/A1/time_to_full", json={})).status_code == 400


async def test_every_role_may_read_forecasts(make_client):
    async with logged_in(make_client, "vm.admin", "VmAdmin#Pass1") as vm:
        assert (await vm.post("/cluster/0/forecast", json=METRIC)).status_code == 200


# -- cluster --------------------------------------------------------------------------------------------


async def test_cluster_is_id_0_and_configured(api):
    cluster = (
        await api.get("/cluster", params={"select": "id,name,state,appliance_count,physical_mtu,global_id"})
    ).json()
    assert len(cluster) == 1
    assert cluster[0]["id"] == "0"
    assert cluster[0]["state"] == "Configured"
    assert cluster[0]["appliance_count"] == 2
    assert cluster[0]["global_id"].startswith("PS")


async def test_cluster_rename_and_mtu(api):
    assert (await api.patch("/cluster/0", json={"name": "PS-DC2", "physical_mtu": 1500})).status_code == 204
    cluster = (await api.get("/cluster/0", params={"select": "name,physical_mtu"})).json()
    assert cluster == {"name": "PS-DC2", "physical_mtu": 1500}


@pytest.mark.parametrize(
    "body", [{"physical_mtu": 1499}, {"physical_mtu": 9001}, {"name": ""}, {"state": "Removed"}]
)
async def test_cluster_modify_refusals(api, body):
    assert (await api.patch("/cluster/0", json=body)).status_code == 400


async def test_cluster_changes_need_an_administrator(make_client):
    async with logged_in(make_client, *STORAGE_ADMIN) as storage:
        assert (await storage.patch("/cluster/0", json={"physical_mtu": 9000})).status_code == 403


async def test_cluster_forecast_sums_the_appliances(api):
    cluster = (await api.post("/cluster/0/forecast", json=METRIC)).json()
    a1 = (await api.post("/appliance/A1/forecast", json=METRIC)).json()
    a2 = (await api.post("/appliance/A2/forecast", json=METRIC)).json()
    assert cluster[0]["mean_value"] == a1[0]["mean_value"] + a2[0]["mean_value"]
    assert "metric_type" not in cluster[0]
    ttf = (await api.post("/cluster/0/time_to_full", json=METRIC)).json()
    assert ttf["cluster_id"] == "0"
    assert ttf["time_to_full"] is not None


async def test_async_cluster_modify_completes(api):
    response = await api.patch("/cluster/0", params={"is_async": "true"}, json={"physical_mtu": 4000})
    assert response.status_code == 202
    job = await api.wait_job(response.json()["id"])
    assert job["phase"] == "Completed"
    assert (await api.get("/cluster/0", params={"select": "physical_mtu"})).json() == {"physical_mtu": 4000}


# -- alerts ---------------------------------------------------------------------------------------------


ALERT_SELECT = (
    "id,severity,state,is_acknowledged,acknowledged_timestamp,raised_timestamp,generated_timestamp,events"
)


async def active_unacknowledged(api):
    params = {
        "select": ALERT_SELECT,
        "state": "eq.ACTIVE",
        "is_acknowledged": "is.false",
        "order": "generated_timestamp.desc",
    }
    return (await api.get("/alert", params=params)).json()


async def test_seeded_alerts_span_severities_and_states(api):
    alerts = (await api.get("/alert", params={"select": ALERT_SELECT + ",cleared_timestamp"})).json()
    assert {"Critical", "Major", "Minor", "Info"} <= {a["severity"] for a in alerts}
    assert {a["state"] for a in alerts} == {"ACTIVE", "CLEARED"}
    assert any(a["is_acknowledged"] for a in alerts)
    for alert in alerts:
        assert alert["events"], alert
        assert when(alert["raised_timestamp"]) <= when(alert["generated_timestamp"])
        assert (alert["state"] == "CLEARED") == (alert["cleared_timestamp"] is not None)
        assert alert["is_acknowledged"] == (alert["acknowledged_timestamp"] is not None)


async def test_acknowledge_and_unacknowledge(api):
    alert = (await active_unacknowledged(api))[0]
    response = await api.patch(f"/alert/{alert['id']}", json={"is_acknowledged": True})
    assert response.status_code == 204
    after = (await api.get(f"/alert/{alert['id']}", params={"select": ALERT_SELECT})).json()
    assert after["is_acknowledged"] is True
    assert after["acknowledged_timestamp"] is not None
    assert alert["id"] not in {a["id"] for a in await active_unacknowledged(api)}
    # acknowledged_severity does not matter when taking the acknowledgement back.
    body = {"is_acknowledged": False, "acknowledged_severity": "None"}
    assert (await api.patch(f"/alert/{alert['id']}", json=body)).status_code == 204
    after = (await api.get(f"/alert/{alert['id']}", params={"select": ALERT_SELECT})).json()
    assert after["is_acknowledged"] is False
    assert after["acknowledged_timestamp"] is None


async def test_acknowledging_a_severity_below_the_current_one_is_refused(api):
    critical = (
        await api.get("/alert", params={"select": "id", "severity": "eq.Critical", "limit": 1})
    ).json()[0]
    response = await api.patch(
        f"/alert/{critical['id']}", json={"is_acknowledged": True, "acknowledged_severity": "Major"}
    )
    assert response.status_code == 422
    assert response.json()["messages"][0]["arguments"] == ["Critical", "Major"]
    ok = await api.patch(
        f"/alert/{critical['id']}", json={"is_acknowledged": True, "acknowledged_severity": "Critical"}
    )
    assert ok.status_code == 204


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 400),
        ({"acknowledged_severity": "Major"}, 400),
        ({"is_acknowledged": True, "acknowledged_severity": "Huge"}, 400),
    ],
)
async def test_alert_body_refusals(api, body, status):
    alert = (await active_unacknowledged(api))[0]
    assert (await api.patch(f"/alert/{alert['id']}", json=body)).status_code == status


async def test_unknown_alert_is_404(api):
    assert (await api.patch("/alert/no-such-alert", json={"is_acknowledged": True})).status_code == 404


async def test_an_operator_may_acknowledge_but_a_vm_administrator_may_not(make_client, api):
    alert = (await active_unacknowledged(api))[0]
    async with logged_in(make_client, "vm.admin", "VmAdmin#Pass1") as vm:
        assert (await vm.patch(f"/alert/{alert['id']}", json={"is_acknowledged": True})).status_code == 403
    async with logged_in(make_client, *OPERATOR) as operator:
        assert (
            await operator.patch(f"/alert/{alert['id']}", json={"is_acknowledged": True})
        ).status_code == 204


async def test_async_acknowledge_completes(api):
    alert = (await active_unacknowledged(api))[0]
    response = await api.patch(
        f"/alert/{alert['id']}", params={"is_async": "true"}, json={"is_acknowledged": True}
    )
    assert response.status_code == 202
    assert (await api.wait_job(response.json()["id"]))["phase"] == "Completed"
    assert (await api.get(f"/alert/{alert['id']}", params={"select": "is_acknowledged"})).json()[
        "is_acknowledged"
    ]


async def test_alerts_cannot_be_created_or_deleted(api):
    alert = (await active_unacknowledged(api))[0]
    assert (await api.post("/alert", json={"severity": "Info"})).status_code == 405
    assert (await api.delete(f"/alert/{alert['id']}")).status_code == 405


# -- events ---------------------------------------------------------------------------------------------


async def test_events_cover_the_last_days_and_page(api):
    response = await api.get(
        "/event", params={"select": "id,severity,generated_timestamp", "order": "generated_timestamp.desc"}
    )
    assert response.status_code == 206
    total = int(response.headers["Content-Range"].split("/")[1])
    assert total >= 200
    everything = (
        await api.get(
            "/event",
            params={
                "select": "severity,generated_timestamp,description_l10n,resource_type_l10n",
                "limit": 2000,
            },
        )
    ).json()
    assert len(everything) == total
    stamps = sorted(when(e["generated_timestamp"]) for e in everything)
    assert (stamps[-1] - stamps[0]).days >= 5
    assert {"Info", "Minor", "Major"} <= {e["severity"] for e in everything}
    assert all(e["description_l10n"] and e["resource_type_l10n"] for e in everything)


async def test_events_are_read_only(api):
    event = (await api.get("/event", params={"select": "id", "limit": 1})).json()[0]
    assert (await api.get(f"/event/{event['id']}", params={"select": "event_code"})).status_code == 200
    assert (await api.post("/event", json={})).status_code == 405
    assert (await api.patch(f"/event/{event['id']}", json={})).status_code == 405
