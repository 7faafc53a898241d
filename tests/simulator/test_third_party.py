"""Dell's own Python SDK (PyPowerStore) and curl, pointed at the simulator, work as against an array."""

from __future__ import annotations

import json
import shutil
import subprocess
import warnings

import pytest

from tests.simulator.process import SimulatorProcess


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    certs = tmp_path_factory.mktemp("certs")
    with SimulatorProcess(cert_dir=certs, args=["--volumes", "2300", "--job-seconds", "0.2"]) as process:
        yield process


@pytest.fixture(scope="module")
def conn(sim):
    with warnings.catch_warnings():
        # PyPowerStore and requests are not ours: their deprecation warnings must not fail our suite.
        warnings.simplefilter("ignore", DeprecationWarning)
        from PyPowerStore import powerstore_conn

        yield powerstore_conn.PowerStoreConn(
            "admin", "Password123#", "127.0.0.1", verify=str(sim.ca_path), port_no=sim.port, timeout=30
        )


def test_pypowerstore_lists_everything_with_its_range_paging(conn):
    volumes = conn.provisioning.get_volumes(all_pages=True)
    ids = [v["id"] for v in volumes]
    assert len(ids) > 2300
    assert len(ids) == len(set(ids)), "its Range walk (2001-item ranges) relies on the 2000 cap"
    assert conn.provisioning.get_hosts()
    assert {r["name"] for r in conn.config_mgmt.get_roles()} >= {"Administrator", "Operator"}
    assert any(u["name"] == "admin" for u in conn.config_mgmt.get_local_users())
    assert conn.provisioning.get_cluster_list()


def test_pypowerstore_creates_snapshots_maps_and_deletes(conn):
    provisioning = conn.provisioning
    provisioning.create_volume("sdk-made", 8 * 1024**3, description="from PyPowerStore")
    (created,) = provisioning.get_volume_by_name("sdk-made")
    volume = provisioning.get_volume_details(created["id"])
    assert volume["name"] == "sdk-made" and volume["size"] == 8 * 1024**3
    provisioning.modify_volume(created["id"], size=16 * 1024**3)
    assert provisioning.get_volume_details(created["id"])["size"] == 16 * 1024**3
    snapshot = conn.protection.create_volume_snapshot(created["id"], name="sdk-snap")
    assert any(s["id"] == snapshot["id"] for s in conn.protection.get_volume_snapshots(created["id"]))
    host = provisioning.get_hosts()[0]
    provisioning.map_volume_to_host(created["id"], host_id=host["id"])
    with pytest.raises(Exception, match=r"mapped|attached"):
        provisioning.delete_volume(created["id"])
    provisioning.unmap_volume_from_host(created["id"], host_id=host["id"])
    provisioning.delete_volume(created["id"])
    assert not provisioning.get_volumes(filter_dict={"name": "eq.sdk-made"})


def test_pypowerstore_reads_async_jobs(conn, sim):
    with sim.client() as c:
        login = c.get("login_session", auth=("admin", "Password123#"))
        volume = c.get("volume", params={"select": "id", "limit": 1}).json()[0]
        job = c.patch(
            f"volume/{volume['id']}",
            params={"is_async": "true"},
            json={"description": "async"},
            headers={"DELL-EMC-TOKEN": login.headers["DELL-EMC-TOKEN"]},
        ).json()
    details = (
        conn.job.get_job_details(job["id"])
        if hasattr(conn, "job")
        else conn.provisioning.get_job_details(job["id"])
    )
    assert details["id"] == job["id"]
    assert details["resource_type"] == "volume"


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_with_the_printed_ca(sim, tmp_path):
    jar = tmp_path / "jar"
    base = sim.base_url
    login = subprocess.run(
        [
            "curl",
            "-sS",
            "--fail",
            "--cacert",
            str(sim.ca_path),
            "-u",
            "admin:Password123#",
            "-c",
            str(jar),
            f"{base}/login_session?select=id,user,idle_timeout",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(login.stdout)[0]["user"] == "admin"
    listing = subprocess.run(
        [
            "curl",
            "-sS",
            "--fail",
            "--cacert",
            str(sim.ca_path),
            "-b",
            str(jar),
            f"{base}/volume?select=id,name,size&order=size.desc&limit=5",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    sizes = [v["size"] for v in json.loads(listing.stdout)]
    assert len(sizes) == 5 and sizes == sorted(sizes, reverse=True)
