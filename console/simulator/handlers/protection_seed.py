"""Seed data of protection: remote systems, the predefined performance policies, snapshot and
replication rules, protection policies, and I/O limit rules with their QoS policies."""

from __future__ import annotations

from typing import Any

from console.simulator.handlers.policies import (
    FILE_PERFORMANCE,
    PERFORMANCE,
    PREDEFINED_PERFORMANCE,
    PROTECTION,
    QOS,
    insert_policy,
)
from console.simulator.handlers.protection_rules import (
    ALL_DAYS,
    REMOTE_BACKUP,
    insert_replication_rule,
    insert_snapshot_rule,
)
from console.simulator.operations import Sim
from console.simulator.store import Record

# Names of seeded records other seed modules pick by name.
FILE_POLICY_NAME = "pp-file-daily"
FILE_QOS_POLICY_NAME = "fqos-500mbps"
DAILY_RULE_NAME = "snap-daily-2300-7d"


def seed(sim: Sim) -> None:
    """Remote systems, limit rules, the predefined performance policies, snapshot and replication rules
    and protection policies of a mid-size shop."""
    dr_site, backup = _seed_remote_systems(sim)
    for policy_id, name in PREDEFINED_PERFORMANCE:
        insert_policy(sim, name, PERFORMANCE, policy_id=policy_id, read_only=True)
    snap = {}
    for name, interval, time_of_day, timezone, days, hours, remote in (
        ("snap-hourly-24h", "One_Hour", None, "UTC", ALL_DAYS, 24, None),
        ("snap-4h-3d", "Four_Hours", None, "UTC", ALL_DAYS, 72, None),
        (DAILY_RULE_NAME, None, "23:00", "America__New_York", ALL_DAYS, 168, None),
        ("snap-weekly-sun-30d", None, "02:00", "America__New_York", ("Sunday",), 720, None),
        ("backup-daily-ppdd-90d", None, "01:00", "UTC", ALL_DAYS, 2160, backup),
    ):
        snap[name] = insert_snapshot_rule(
            sim,
            name=name,
            remote_system_id=remote["id"] if remote else None,
            interval=interval,
            time_of_day=time_of_day,
            timezone=timezone,
            days_of_week=list(days),
            desired_retention=hours,
        )["id"]
    repl = {}
    for name, rpo in (("repl-dr-15m", "Fifteen_Minutes"), ("repl-dr-1h", "One_Hour")):
        repl[name] = insert_replication_rule(sim, name=name, rpo=rpo, remote_system_id=dr_site["id"])["id"]
    for name, description, snaps, repls in (
        (
            "pp-gold",
            "Tier 1 databases: hourly snapshots, DR copy every 15 minutes",
            ("snap-hourly-24h", DAILY_RULE_NAME),
            ("repl-dr-15m",),
        ),
        (
            "pp-silver",
            "Business apps: snapshots every 4 hours and nightly",
            ("snap-4h-3d", DAILY_RULE_NAME),
            (),
        ),
        (
            "pp-bronze",
            "Dev and test: nightly and weekly snapshots",
            (DAILY_RULE_NAME, "snap-weekly-sun-30d"),
            (),
        ),
        (
            FILE_POLICY_NAME,
            "File shares: nightly snapshots, weekly kept a month",
            (DAILY_RULE_NAME, "snap-weekly-sun-30d"),
            (),
        ),
        (
            "pp-vault",
            "Long-term copies on the backup appliance, DR copy hourly",
            (DAILY_RULE_NAME, "backup-daily-ppdd-90d"),
            ("repl-dr-1h",),
        ),
    ):
        insert_policy(
            sim,
            name,
            PROTECTION,
            description=description,
            _snapshot_rule_ids=[snap[s] for s in snaps],
            _replication_rule_ids=[repl[r] for r in repls],
        )
    _seed_limit_policies(sim)


def _seed_limit_policies(sim: Sim) -> None:
    iops = sim.insert(
        "io_limit_rule",
        id=sim.new_id(),
        name="iops-cap-5k",
        type="Absolute",
        max_iops=5000,
        max_bw=204800,
        burst_percentage=20,
    )
    bandwidth = sim.insert("file_io_limit_rule", id=sim.new_id(), name="fs-bw-500", max_bw=500)
    insert_policy(
        sim,
        "qos-dev-5k-iops",
        QOS,
        description="Caps noisy dev volumes at 5000 IOPS",
        _io_limit_rule_id=iops["id"],
    )
    insert_policy(
        sim,
        FILE_QOS_POLICY_NAME,
        FILE_PERFORMANCE,
        description="Caps bulk file systems at 500 MB/s",
        file_io_limit_rule_id=bandwidth["id"],
    )


def _insert_remote_system(sim: Sim, **values: Any) -> Record:
    """A remote system that is connected and answers, without CHAP or FC."""
    record: Record = {
        "id": sim.new_id(),
        "state": "OK",
        "data_connection_state": "OK",
        "iscsi_addresses": [],
        "fc_target_wwns": [],
        "discovery_chap_mode": "Disabled",
        "session_chap_mode": "Disabled",
        "data_network_latency": "Low",
        "data_connections": [],
        "appliance_details": [],
        "powerstore_data_network_configuration": [],
        **values,
    }
    return sim.insert("remote_system", **record)


def _seed_remote_systems(sim: Sim) -> tuple[Record, Record]:
    """A second PowerStore for replication and a PowerProtect DD for remote backup, unless another seed
    module already placed remote systems of those kinds."""
    existing = sim.store.all("remote_system")
    dr_site = next((r for r in existing if r.get("type") == "PowerStore"), None)
    backup = next((r for r in existing if r.get("type") == "PowerProtect_DD"), None)
    net = sim.rng.randrange(20, 60)
    if dr_site is None:
        dr_site = _insert_remote_system(
            sim,
            name="ps-dr-site-b",
            description="DR array in the secondary data centre",
            serial_number=f"PS{sim.rng.getrandbits(48):012x}",
            version="4.1.0.0",
            management_address=f"10.{net}.8.20",
            management_port=443,
            type="PowerStore",
            user_name="admin",
            data_connection_type="iSCSI",
            iscsi_addresses=[f"10.{net}.9.21", f"10.{net}.9.22"],
            capabilities=[
                "Asynchronous_Block_Replication",
                "Asynchronous_File_Replication",
                "Asynchronous_Vvol_Replication",
                "Synchronous_Block_Replication",
                "Block_Metro_Active_Active",
            ],
            file_connection_address=f"10.{net}.9.30",
            file_connection_state="OK",
        )
    if backup is None:
        backup = _insert_remote_system(
            sim,
            name="ppdd-backup-01",
            description="PowerProtect DD for long-term snapshot copies",
            serial_number=f"APM{sim.rng.randrange(10**10, 10**11)}",
            version="7.13.0.0",
            management_address=f"10.{net}.8.40",
            management_port=3009,
            type="PowerProtect_DD",
            user_name="sysadmin",
            data_connection_type="DD_Boost",
            capabilities=[REMOTE_BACKUP],
        )
    return dr_site, backup
