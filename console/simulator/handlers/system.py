"""The system itself: appliances, the cluster, installed software, alerts and events.

Capacity forecasts have no stored metrics behind them: each appliance keeps hidden ``_physical_total``,
``_physical_used`` (bytes) and ``_daily_growth`` (bytes/day), from which ``forecast`` and
``time_to_full`` derive plausible answers; the cluster answers for the sum of its appliances.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Any

from console.simulator import errors
from console.simulator.handlers import users
from console.simulator.handlers.common import public, require_free_name, require_nonblank_name, target
from console.simulator.handlers.users import ALL_ROLES
from console.simulator.operations import (
    MONITOR_ROLES,
    SYSTEM_ROLES,
    OpRequest,
    OpResult,
    Sim,
    done,
    operation,
    relation,
)
from console.simulator.store import Record

RELEASE_VERSION = "4.1.0.0"
BUILD_ID = "2198431"
CLUSTER_ID = "0"
DAY = 86400.0
FORECAST_DAYS = 30
# Spread of the forecast around its mean, as a share of the projected growth.
FORECAST_SPREAD = 0.3
SEVERITY_ORDER = {"None": 0, "Info": 1, "Minor": 2, "Major": 3, "Critical": 4}
# time_to_full_status from the days left (our own thresholds; the array's are not published).
TIME_TO_FULL_MAJOR_DAYS = 30
TIME_TO_FULL_MINOR_DAYS = 90

CODE_SEVERITY_RAISED = "0xE0A0B0010001"


# -- appliance ----------------------------------------------------------------------------------------


@operation("appliance", "modify", roles=SYSTEM_ROLES)
def modify_appliance(sim: Sim, req: OpRequest) -> OpResult:
    appliance = target(sim, req)
    name = req.body["name"]
    require_free_name(sim, "appliance", name, except_id=appliance["id"], nonblank=True)
    return done(sim.update("appliance", appliance["id"], {"name": name}))


def _capacity(appliances: list[Record]) -> tuple[int, int, int]:
    total = sum(int(a.get("_physical_total") or 0) for a in appliances)
    used = sum(int(a.get("_physical_used") or 0) for a in appliances)
    growth = sum(int(a.get("_daily_growth") or 0) for a in appliances)
    return total, used, growth


def _forecast_points(sim: Sim, appliances: list[Record], *, with_metric: bool) -> list[dict[str, Any]]:
    total, used, growth = _capacity(appliances)
    start = (int(sim.now() // DAY) + 1) * DAY
    points: list[dict[str, Any]] = []
    for day in range(FORECAST_DAYS):
        added = growth * (day + 1)
        point: dict[str, Any] = {
            "timestamp": sim.timestamp(start + day * DAY),
            "low_value": min(total, int(used + added * (1 - FORECAST_SPREAD))),
            "mean_value": min(total, int(used + added)),
            "high_value": min(total, int(used + added * (1 + FORECAST_SPREAD))),
        }
        if with_metric:
            point["metric_type"] = "Physical_Space_Used_One_Day"
        points.append(point)
    return points


def _time_to_full(sim: Sim, appliances: list[Record]) -> dict[str, Any]:
    total, used, growth = _capacity(appliances)
    now = sim.now()
    end = (int(now // DAY) + FORECAST_DAYS) * DAY
    if growth <= 0 or total <= 0:
        return {
            "end_of_forecast": sim.timestamp(end),
            "time_to_full": None,
            "time_to_full_pessimistic": None,
            "time_to_full_optimistic": None,
            "time_to_full_status": "None",
            "time_to_full_status_l10n": sim.label("ForecastTimeToFullStatusEnum", "None"),
        }
    days = max(0.0, (total - used) / growth)
    if days < TIME_TO_FULL_MAJOR_DAYS:
        status = "Major"
    elif days < TIME_TO_FULL_MINOR_DAYS:
        status = "Minor"
    else:
        status = "OK"
    return {
        "end_of_forecast": sim.timestamp(end),
        "time_to_full": sim.timestamp(now + days * DAY),
        "time_to_full_pessimistic": sim.timestamp(now + days / (1 + FORECAST_SPREAD) * DAY),
        "time_to_full_optimistic": sim.timestamp(now + days / (1 - FORECAST_SPREAD) * DAY),
        "time_to_full_status": status,
        "time_to_full_status_l10n": sim.label("ForecastTimeToFullStatusEnum", status),
    }


def _list_result(record: Record, items: list[dict[str, Any]]) -> OpResult:
    # The spec answers forecast with a JSON array, not an object.
    return OpResult(200, items, record["id"], record.get("name"))


@operation("appliance", "forecast", roles=ALL_ROLES)
def forecast_appliance(sim: Sim, req: OpRequest) -> OpResult:
    appliance = target(sim, req)
    return _list_result(appliance, _forecast_points(sim, [appliance], with_metric=True))


@operation("appliance", "time_to_full", roles=ALL_ROLES)
def time_to_full_appliance(sim: Sim, req: OpRequest) -> OpResult:
    appliance = target(sim, req)
    return done(appliance, body={"appliance_id": appliance["id"], **_time_to_full(sim, [appliance])})


@relation("appliance", "software_installed")
def _appliance_software(sim: Sim, record: Record) -> list[Record]:
    return sim.store.related("software_installed", "_appliance_id", record["id"])


@relation("software_installed", "appliance")
def _software_appliance(sim: Sim, record: Record) -> Record | None:
    ref = record.get("_appliance_id")
    return sim.store.get("appliance", ref) if isinstance(ref, str) else None


# -- cluster ------------------------------------------------------------------------------------------


@operation("cluster", "modify", roles=SYSTEM_ROLES)
def modify_cluster(sim: Sim, req: OpRequest) -> OpResult:
    cluster = target(sim, req)
    changes: dict[str, Any] = {}
    if "name" in req.body:
        require_nonblank_name("cluster", req.body["name"])
        changes["name"] = req.body["name"]
    if "physical_mtu" in req.body:
        changes["physical_mtu"] = req.body["physical_mtu"]
    if changes:
        changes["system_time"] = sim.timestamp()
        cluster = sim.update("cluster", cluster["id"], changes)
    return done(cluster)


@operation("cluster", "forecast", roles=ALL_ROLES)
def forecast_cluster(sim: Sim, req: OpRequest) -> OpResult:
    cluster = target(sim, req)
    return _list_result(cluster, _forecast_points(sim, sim.store.all("appliance"), with_metric=False))


@operation("cluster", "time_to_full", roles=ALL_ROLES)
def time_to_full_cluster(sim: Sim, req: OpRequest) -> OpResult:
    cluster = target(sim, req)
    return done(cluster, body={"cluster_id": cluster["id"], **_time_to_full(sim, sim.store.all("appliance"))})


# -- alert --------------------------------------------------------------------------------------------


@operation("alert", "modify", roles=MONITOR_ROLES)
def acknowledge_alert(sim: Sim, req: OpRequest) -> OpResult:
    alert = target(sim, req)
    body = req.body
    if not body["is_acknowledged"]:
        # acknowledged_severity does not matter when un-acknowledging.
        if alert["is_acknowledged"]:
            alert = sim.update(
                "alert", alert["id"], {"is_acknowledged": False, "acknowledged_timestamp": None}
            )
        return done(alert)
    seen = body.get("acknowledged_severity")
    if seen is not None and SEVERITY_ORDER[alert["severity"]] > SEVERITY_ORDER[seen]:
        raise errors.unprocessable(
            f"The alert is now {alert['severity']}, above the acknowledged {seen}; review it again.",
            alert["severity"],
            seen,
            code=CODE_SEVERITY_RAISED,
        )
    if not alert["is_acknowledged"]:
        alert = sim.update(
            "alert", alert["id"], {"is_acknowledged": True, "acknowledged_timestamp": sim.timestamp()}
        )
    return done(alert)


@dataclass(frozen=True)
class Occurrence:
    """What an event or alert reports, and about which resource."""

    event_code: str
    severity: str
    resource_type: str
    resource_id: str | None
    resource_name: str | None
    description: str

    def common_fields(self) -> dict[str, Any]:
        """The fields events and alerts have in common."""
        return {
            "event_code": self.event_code,
            "severity": self.severity,
            "resource_type": self.resource_type,
            "resource_id": self.resource_id,
            "resource_name": self.resource_name,
            "description_l10n": self.description,
        }


def add_event(
    sim: Sim, what: Occurrence, *, at: float, impact: str | None = None, repair: str | None = None
) -> Record:
    return sim.insert(
        "event",
        id=sim.new_id(),
        **what.common_fields(),
        generated_timestamp=sim.timestamp(at),
        system_impact_l10n=impact,
        repair_flow_l10n=repair,
    )


def add_alert(
    sim: Sim,
    what: Occurrence,
    *,
    hours_ago: float,
    cleared_after_hours: float | None = None,
    acknowledged_after_hours: float | None = None,
) -> Record:
    """An alert raised ``hours_ago`` (optionally cleared/acknowledged later), with its events."""
    raised = sim.now() - hours_ago * 3600
    routine = what.severity == "Info"
    impact = None if routine else "Redundancy or service may be reduced until this is resolved."
    repair = None if routine else "Check the component's status and follow the service procedure."
    events = [add_event(sim, what, at=raised, impact=impact, repair=repair)]
    generated = raised
    cleared = None
    if cleared_after_hours is not None:
        generated = raised + cleared_after_hours * 3600
        cleared = sim.timestamp(generated)
        resolved = replace(what, severity="Info", description=f"Resolved: {what.description}")
        events.append(add_event(sim, resolved, at=generated))
    notified = what.severity in ("Major", "Critical")
    acknowledged = None
    if acknowledged_after_hours is not None:
        acknowledged = sim.timestamp(raised + acknowledged_after_hours * 3600)
    return sim.insert(
        "alert",
        id=sim.new_id(),
        **what.common_fields(),
        generated_timestamp=sim.timestamp(generated),
        raised_timestamp=sim.timestamp(raised),
        state="CLEARED" if cleared else "ACTIVE",
        cleared_timestamp=cleared,
        is_acknowledged=acknowledged is not None,
        acknowledged_timestamp=acknowledged,
        called_home_timestamp=sim.timestamp(raised + 40) if notified else None,
        email_sent_timestamp=sim.timestamp(raised + 20) if notified else None,
        snmp_sent_timestamp=sim.timestamp(raised + 5) if notified else None,
        events=[public(e) for e in events],
    )


# -- seed ---------------------------------------------------------------------------------------------

# Two 1200T appliances: (id, name, physical capacity in bytes, share used, daily growth as a share)
SEED_APPLIANCES = (
    ("A1", "PS-A01", 92_400_000_000_000, 0.41, 0.0021),
    ("A2", "PS-A02", 92_400_000_000_000, 0.27, 0.0016),
)
SERVICE_TAG_CHARS = "BCDFGHJKLMNPQRSTVWXYZ0123456789"


def seed(sim: Sim) -> None:
    """Appliances, the cluster, installed software, roles and users, then alerts and event history."""
    rng = sim.rng
    now = sim.now()
    appliances = []
    for aid, name, total, used_share, growth_share in SEED_APPLIANCES:
        tag = "".join(rng.choice(SERVICE_TAG_CHARS) for _ in range(7))
        appliances.append(
            sim.insert(
                "appliance",
                id=aid,
                name=name,
                model="PowerStore 1200T",
                service_tag=tag,
                # Dell's express service code is the service tag read as a base-36 number.
                express_service_code=str(int(tag, 36)),
                mode="Unified",
                node_count=2,
                drive_failure_tolerance_level="Single",
                storage_class="TLC_Based_Flash",
                is_hyper_converged=False,
                _physical_total=total,
                _physical_used=int(total * used_share),
                _daily_growth=int(total * growth_share),
            )
        )
    installed = now - 23 * DAY
    global_id = "PS" + "".join(rng.choice("0123456789ABCDEF") for _ in range(12))
    sim.insert(
        "cluster",
        id=CLUSTER_ID,
        global_id=global_id,
        name="PS-PROD-01",
        management_address="10.20.30.40",
        storage_discovery_address="10.20.31.40",
        master_appliance_id="A1",
        primary_appliance_id="A1",
        appliance_count=len(appliances),
        physical_mtu=9000,
        is_encryption_enabled=True,
        compatibility_level=19,
        state="Configured",
        system_time=sim.timestamp(now),
        nvm_subsystem_nqn=f"nqn.1988-11.com.dell:powerstore:00:{rng.getrandbits(80):020x}",
    )
    for appliance in [*appliances, None]:
        sim.insert(
            "software_installed",
            id=sim.new_id(),
            is_cluster=appliance is None,
            release_version=RELEASE_VERSION,
            build_version=RELEASE_VERSION,
            build_id=BUILD_ID,
            release_timestamp=sim.timestamp(now - 120 * DAY),
            installed_date=sim.timestamp(installed),
            build_flavor="Retail",
            build_type="Release",
            _appliance_id=appliance["id"] if appliance else None,
        )
    users.seed(sim)
    _seed_alerts(sim)
    _seed_events(sim, rng)


def _seed_alerts(sim: Sim) -> None:
    add_alert(
        sim,
        Occurrence(
            "0x00401201",
            "Critical",
            "hardware",
            "A2-PSU-B",
            "BaseEnclosure-PowerSupply-B",
            "Power supply B of the base enclosure of appliance PS-A02 has failed.",
        ),
        hours_ago=5.5,
    )
    add_alert(
        sim,
        Occurrence(
            "0x00601103",
            "Major",
            "fc_port",
            "A1-NA-FC2",
            "BaseEnclosure-NodeA-IoModule0-FEPort2",
            "The link of FC port 2 on node A of appliance PS-A01 is down.",
        ),
        hours_ago=26.0,
        acknowledged_after_hours=1.5,
    )
    add_alert(
        sim,
        Occurrence(
            "0x01300A02",
            "Minor",
            "ntp",
            "NTP1",
            "10.20.0.5",
            "NTP server 10.20.0.5 does not answer; time is kept by the other servers.",
        ),
        hours_ago=50.0,
    )
    add_alert(
        sim,
        Occurrence(
            "0x02300105",
            "Minor",
            "x509_certificate",
            "mgmt-https",
            "Management HTTPS certificate",
            "The management HTTPS certificate expires in 27 days.",
        ),
        hours_ago=70.0,
    )
    add_alert(
        sim,
        Occurrence(
            "0x00301402",
            "Major",
            "node",
            "A1-NB",
            "PS-A01-NodeB",
            "Node B of appliance PS-A01 restarted unexpectedly; node A took over.",
        ),
        hours_ago=100.0,
        cleared_after_hours=0.3,
        acknowledged_after_hours=2.0,
    )
    add_alert(
        sim,
        Occurrence(
            "0x00F00101",
            "Info",
            "cluster",
            CLUSTER_ID,
            "PS-PROD-01",
            f"Software upgrade of the cluster to {RELEASE_VERSION} completed.",
        ),
        hours_ago=23 * 24.0,
        cleared_after_hours=0.1,
    )


# (event code, severity, resource type, resource id, resource name, description)
EVENT_TEMPLATES: tuple[tuple[str, str, str, str, str, str], ...] = (
    ("0x00100201", "Info", "cluster", CLUSTER_ID, "PS-PROD-01", "Daily configuration backup completed."),
    ("0x00100305", "Info", "appliance", "A1", "PS-A01", "Space reclamation finished on appliance PS-A01."),
    ("0x00100305", "Info", "appliance", "A2", "PS-A02", "Space reclamation finished on appliance PS-A02."),
    (
        "0x00200110",
        "Info",
        "metrics_archive",
        "daily",
        "Metrics archive",
        "Performance metrics were archived.",
    ),
    ("0x00700101", "Info", "node", "A1-NA", "PS-A01-NodeA", "Health check of node A of PS-A01 passed."),
    ("0x00700101", "Info", "node", "A2-NB", "PS-A02-NodeB", "Health check of node B of PS-A02 passed."),
    (
        "0x00601101",
        "Minor",
        "eth_port",
        "A1-NA-P3",
        "BaseEnclosure-NodeA-4PortCard-FEPort3",
        "Ethernet port 3 on node A of PS-A01 negotiated a lower speed than configured.",
    ),
    (
        "0x00601102",
        "Info",
        "eth_port",
        "A1-NA-P3",
        "BaseEnclosure-NodeA-4PortCard-FEPort3",
        "Ethernet port 3 on node A of PS-A01 is back at full speed.",
    ),
    ("0x01300A01", "Info", "ntp", "NTP1", "10.20.0.5", "Time synchronised with NTP server 10.20.0.5."),
    (
        "0x00401110",
        "Minor",
        "hardware",
        "A2-DRV-14",
        "BaseEnclosure-Drive-14",
        "Drive 14 of PS-A02 reported a rising number of media errors.",
    ),
    (
        "0x00900201",
        "Info",
        "remote_system",
        "RS-DR",
        "PS-DR-01",
        "Connection check to remote system PS-DR-01 passed.",
    ),
    (
        "0x00900202",
        "Major",
        "remote_system",
        "RS-DR",
        "PS-DR-01",
        "Remote system PS-DR-01 was unreachable for 10 minutes.",
    ),
)
SEED_EVENTS = 200
EVENT_HISTORY_DAYS = 7


def _seed_events(sim: Sim, rng: random.Random) -> None:
    now = sim.now()
    times = sorted(now - rng.uniform(0, EVENT_HISTORY_DAYS * DAY) for _ in range(SEED_EVENTS))
    # Mostly routine information, now and then a warning.
    weights = [8 if t[1] == "Info" else 1 for t in EVENT_TEMPLATES]
    for at in times:
        what = Occurrence(*rng.choices(EVENT_TEMPLATES, weights)[0])
        routine = what.severity == "Info"
        add_event(
            sim,
            what,
            at=at,
            impact=None if routine else "Performance or redundancy may be reduced.",
            repair=None if routine else "Review the component's health and the related alert.",
        )
