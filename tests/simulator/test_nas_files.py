"""A NAS server's configuration files: multipart uploads checked line by line, plain-text downloads
(a template until something was uploaded), the user mapping report, roles and async uploads."""

from __future__ import annotations

import pytest

from console.simulator import errors
from tests.simulator.conftest import by_name, refused

HOSTS = "# lab hosts\n10.0.0.5  files01 files01.lab\n\n192.168.1.9 backup\n"


async def upload(client, server_id: str, name: str, content: bytes | str, field: str = "body", **kwargs):
    data = content.encode() if isinstance(content, str) else content
    return await client.post(
        f"/nas_server/{server_id}/upload/{name}", files={field: (name, data, "text/plain")}, **kwargs
    )


@pytest.fixture
async def server(api) -> dict:
    return await by_name(api, "nas_server", "nas-dev-01", "id,name")


async def test_a_file_downloads_as_a_template_until_one_is_uploaded(api, server):
    before = await api.get(f"/nas_server/{server['id']}/download/hosts")
    assert before.status_code == 200, before.text
    assert before.headers["content-type"].startswith("text/plain")
    assert before.text.startswith("#")
    response = await upload(api, server["id"], "hosts", HOSTS)
    assert response.status_code == 204, response.text
    after = await api.get(
        f"/nas_server/name:{server['name']}/download/hosts", headers={"Accept": "text/plain"}
    )
    assert after.text == HOSTS
    # The other files are untouched, and the record shows nothing of them.
    assert (await api.get(f"/nas_server/{server['id']}/download/passwd")).text.startswith("#")
    record = (await api.get(f"/nas_server/{server['id']}", params={"select": "*"})).json()
    assert not any(key.startswith("_") for key in record)


@pytest.mark.parametrize(
    ("name", "good", "bad"),
    [
        ("passwd", "alice:x:1001:100:Alice:/home/alice:/bin/sh", "alice:x:1001"),
        ("group", "staff:x:100:alice,bob", "staff:100"),
        ("hosts", "10.1.1.1 nas", "nas 10.1.1.1"),
        ("nsswitch", "hosts: files dns", "hosts files"),
        ("netgroup", "trusted (host1,,)", "trusted"),
        ("homedir", "LAB:alice:/home/alice", "alice"),
        ("ntxmap", "both:LAB\\alice:alice:", "alice"),
    ],
)
async def test_each_file_is_checked_line_by_line(api, server, name, good, bad):
    assert (await upload(api, server["id"], name, f"# ok\n{good}\n")).status_code == 204
    response = await upload(api, server["id"], name, f"{good}\n\n{bad}\n")
    refused(response, 422)
    assert f"Line 3 of the {name} file" in response.json()["messages"][0]["message_l10n"]
    # A refused upload keeps the file that was there.
    assert (await api.get(f"/nas_server/{server['id']}/download/{name}")).text == f"# ok\n{good}\n"


async def test_bad_uploads_are_refused_with_a_reason(api, server):
    path = f"/nas_server/{server['id']}/upload/hosts"
    refused(await upload(api, server["id"], "hosts", b"\xff\xfe binary"), 400, errors.CODE_INVALID_VALUE)
    refused(await upload(api, server["id"], "hosts", "10.0.0.1 a\x00b"), 400, errors.CODE_INVALID_VALUE)
    refused(await upload(api, server["id"], "hosts", HOSTS, field="file"), 400, errors.CODE_MISSING_REQUIRED)
    refused(await api.post(path, json={"body": HOSTS}), 415, errors.CODE_UNSUPPORTED_MEDIA)
    refused(await api.post(f"/nas_server/{server['id']}/upload/shadow", files={"body": b"x"}), 404)
    refused(await api.post(f"/nas_server/{server['id']}/download/hosts"), 405)
    refused(await api.get(f"/nas_server/{server['id']}/download/hosts", headers={"Accept": "image/png"}), 406)
    refused(await upload(api, "no-such-server", "hosts", HOSTS), 404)


async def test_an_operator_may_download_but_not_upload(operator, server):
    refused(await upload(operator, server["id"], "hosts", HOSTS), 403, errors.CODE_FORBIDDEN)
    assert (await operator.get(f"/nas_server/{server['id']}/download/hosts")).status_code == 200


async def test_an_async_upload_is_a_job(api, server):
    response = await upload(api, server["id"], "hosts", HOSTS, params={"is_async": "true"})
    assert response.status_code == 202, response.text
    job = await api.wait_job(response.json()["id"])
    assert job["state"] == "COMPLETED", job
    assert job["resource_action"] == "upload"
    assert (await api.get(f"/nas_server/{server['id']}/download/hosts")).text == HOSTS
    # As with every async change, a file the array would refuse is refused at once, not as a job.
    refused(await upload(api, server["id"], "hosts", "not-an-address x\n", params={"is_async": "true"}), 422)


async def test_the_user_mapping_report_exists_once_mappings_were_updated(api, server):
    path = f"/nas_server/{server['id']}/download/user_mapping_report"
    refused(await api.get(path), 422)
    assert (await api.post(f"/nas_server/{server['id']}/update_user_mappings")).status_code == 204
    report = await api.get(path)
    assert report.status_code == 200
    file_systems = (
        await api.get(f"/nas_server/{server['id']}", params={"select": "file_systems(name,filesystem_type)"})
    ).json()["file_systems"]
    assert server["name"] in report.text
    assert all(fs["name"] in report.text for fs in file_systems if fs["filesystem_type"] == "Primary")
