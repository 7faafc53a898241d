"""Every served collection answers in the shape of the spec's ``<type>_instance`` definition."""

from __future__ import annotations

import pytest

from tests.spec import plain_properties, spec, validate
from tests.test_catalog import CORE_TYPES

# The resource types the issue names; the simulator seeds every one of them.
SEEDED_TYPES = CORE_TYPES


def collection_types() -> list[str]:
    paths = spec()["paths"]
    return sorted(p[1:] for p, item in paths.items() if p.count("/") == 1 and "get" in item)


async def fetch_all(api, type_name: str) -> list[dict]:
    definition = f"{type_name}_instance"
    select = ",".join(plain_properties(definition))
    response = await api.get(f"/{type_name}", params={"select": select, "limit": 2000})
    assert response.status_code in (200, 206), response.text
    return response.json()


@pytest.mark.parametrize("type_name", SEEDED_TYPES)
async def test_seeded_collection_matches_the_spec(api, type_name):
    items = await fetch_all(api, type_name)
    assert items, f"the seed data has no {type_name}"
    problems = [p for item in items for p in validate(item, {"$ref": f"#/definitions/{type_name}_instance"})]
    assert problems == []


async def test_every_collection_of_the_spec_is_served_and_conforms(api):
    failures = {}
    for type_name in collection_types():
        if f"{type_name}_instance" not in spec()["definitions"]:
            continue
        items = await fetch_all(api, type_name)
        problems = [
            p for item in items for p in validate(item, {"$ref": f"#/definitions/{type_name}_instance"})
        ]
        if problems:
            failures[type_name] = problems[:5]
    assert failures == {}


async def test_jobs_of_every_phase_conform(api):
    volume = (await api.get("/volume", params={"select": "id,size", "limit": 1})).json()[0]
    ok = await api.patch(f"/volume/{volume['id']}", params={"is_async": "true"}, json={"description": "x"})
    bad = await api.patch(
        f"/volume/{volume['id']}", params={"is_async": "true"}, json={"size": volume["size"] * 2}
    )
    assert ok.status_code == bad.status_code == 202
    await api.wait_job(ok.json()["id"])
    await api.wait_job(bad.json()["id"])
    items = await fetch_all(api, "job")
    problems = [p for item in items for p in validate(item, {"$ref": "#/definitions/job_instance"})]
    assert problems == []


@pytest.mark.parametrize(
    ("type_name", "select"),
    [
        (
            "volume",
            "id,name,volume_groups(id,name),mapped_volumes(id,logical_unit_number),protection_policy(name)",
        ),
        ("volume_group", "id,volumes(id,name,size)"),
        ("host", "id,host_group(id,name),mapped_hosts(id,logical_unit_number,volume(id,name))"),
        ("job", "id,children(id,phase,step_order),parent(id)"),
    ],
)
async def test_nested_selects_conform(api, type_name, select):
    response = await api.get(f"/{type_name}", params={"select": select})
    assert response.status_code in (200, 206), response.text
    items = response.json()
    assert items
    problems = [p for item in items for p in validate(item, {"$ref": f"#/definitions/{type_name}_instance"})]
    assert problems == []
