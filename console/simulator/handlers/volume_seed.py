"""Seed data of volumes: ordinary volumes named like a real shop's, with snapshots, clones, volume
groups, a snapshot set, and mappings onto the hosts already seeded."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from console.simulator.handlers.common import free_name
from console.simulator.handlers.mappings import FIRST_AUTO_LUN
from console.simulator.handlers.policies import DEFAULT_PERFORMANCE_POLICY
from console.simulator.handlers.volume_family import (
    CLONE,
    GIB,
    NGUID_PREFIX,
    PRIMARY,
    SELECT_AT_ATTACH,
    SELECTED_NODES,
    SIZE_ALIGN,
    SNAPSHOT,
    WWN_PREFIX,
    creator_label,
    protection_data,
)
from console.simulator.operations import Sim
from console.simulator.store import Record

# Naming schemes of a typical shop: prefix, environments, application type, sizes in GiB.
SCHEMES: tuple[tuple[str, tuple[str, ...], str, tuple[int, ...]], ...] = (
    ("sql", ("prod", "dev", "test"), "Relational_Databases_SQL_Server", (100, 200, 250, 500, 1024)),
    ("ora", ("erp", "crm", "dw"), "Relational_Databases_Oracle", (256, 512, 1024, 2048, 4096)),
    ("pg", ("prod", "stage"), "Relational_Databases_PostgreSQL", (50, 100, 200, 500)),
    (
        "esx-ds",
        ("cluster-a", "cluster-b", "mgmt"),
        "Virtualization_Virtual_Servers_VSI",
        (1024, 2048, 4096, 8192, 16384),
    ),
    ("vdi", ("gold", "pool-a", "pool-b"), "Virtualization_Virtual_Desktops_VDI", (512, 1024, 2048)),
    ("exch-db", ("dag1", "dag2"), "Business_Applications_Exchange", (500, 1024, 2048)),
    ("sap-hana", ("data", "log", "shared"), "Big_Data_Analytics_SAP_HANA", (256, 512, 1024, 2048)),
    ("splunk", ("hot", "warm", "cold"), "Big_Data_Analytics_Splunk", (1024, 2048, 4096, 10240)),
    ("boot", ("esx", "lnx", "win"), "Boot_Volume_Other", (8, 16, 32, 64)),
    ("k8s-pvc", (), "Virtualization_Containers_Kubernetes", (8, 10, 16, 20, 32, 50, 100)),
)
DESCRIPTIONS = (
    "",
    "",
    "",
    "Production",
    "Owned by the DBA team",
    "Do not delete",
    "Migrated from VNX",
    "Test data",
)
SEED_GROUPS = 5
SEED_GROUP_MEMBERS = 8
SEED_SNAPSHOT_SHARE = 0.10
SEED_PROTECTED_SHARE = 0.25
SEED_MAPPED_SHARE = 0.7
# Keeps seeded hosts at a realistic number of LUNs (the array allows up to 16383).
SEED_LUN_CAP = 254
DAY = 86400.0


class _Seeder:
    """Builds the seed records as plain dicts, then inserts them in one pass (100,000 in a few seconds)."""

    def __init__(self, sim: Sim) -> None:
        self.sim = sim
        self.rng = sim.rng
        self.random = sim.rng.random
        self.bits = sim.rng.getrandbits
        self.now = sim.now()
        self.store = sim.store
        self.template = sim.new_record(
            "volume",
            state="Ready",
            node_affinity=SELECT_AT_ATTACH,
            is_replication_destination=False,
            is_host_access_available=True,
            _volume_group_id=None,
        )
        self.group_template = sim.new_record("volume_group")
        self.data_template = protection_data(sim)
        self.twins: dict[tuple[Any, ...], dict[str, Any]] = {}
        self.days: dict[int, str] = {}
        self.names = {v["name"].casefold() for v in self.store.all("volume")}
        self.counters: dict[tuple[str, str], int] = {}
        self.appliances = sorted(a["id"] for a in self.store.all("appliance")) or [None]
        self.nsid: dict[str | None, int] = {}
        for volume in self.store.all("volume"):
            key = volume.get("appliance_id")
            self.nsid[key] = max(self.nsid.get(key, 0), volume.get("nsid") or 0)
        policies = sorted(self.store.all("policy"), key=lambda p: p["id"])
        self.protection = [p["id"] for p in policies if p.get("type") == "Protection"]
        self.qos = [p["id"] for p in policies if p.get("type") == "QoS"]
        performance = [p["id"] for p in policies if p.get("type") == "Performance"]
        default = DEFAULT_PERFORMANCE_POLICY if DEFAULT_PERFORMANCE_POLICY in performance else None
        self.performance_default = default or (performance[0] if performance else None)
        self.performance = performance
        # The local snapshot rules of each protection policy (protection.py keeps them in a hidden list).
        self.policy_rules: dict[str, list[Record]] = {}
        for policy in policies:
            rules = [self.store.get("snapshot_rule", r) for r in policy.get("_snapshot_rule_ids") or ()]
            self.policy_rules[policy["id"]] = [
                r for r in rules if r is not None and not r.get("remote_system_id")
            ]
        self.volumes: list[Record] = []
        self.groups: list[Record] = []
        self.clusters: dict[tuple[str, str], list[Record]] = {}

    # -- cheap building blocks (Sim's general ones cost too much a hundred thousand times over) --

    def pick(self, items: Any) -> Any:
        return items[int(self.random() * len(items))]

    def new_id(self) -> str:
        """A random version 4 UUID, like ``Sim.new_id`` but drawn from the seed's random stream."""
        n = self.bits(128) & ~(0xF000 << 64) & ~(0xC000 << 48) | (0x4000 << 64) | (0x8000 << 48)
        h = f"{n:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def stamp(self, t: float) -> str:
        """``Sim.timestamp`` for past moments, with the date part computed once per day."""
        ms = int(t * 1000)
        day, rest = divmod(ms, 86_400_000)
        date = self.days.get(day)
        if date is None:
            date = datetime.fromtimestamp(day * 86400, UTC).strftime("%Y-%m-%d")
            self.days[day] = date
        seconds, millis = divmod(rest, 1000)
        hours, seconds = divmod(seconds, 3600)
        minutes, seconds = divmod(seconds, 60)
        return f"{date}T{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}+00:00"

    def twin(self, type_name: str, *pairs: tuple[str, Any]) -> dict[str, Any]:
        """The ``*_l10n`` twins of several enum values at once (cached: few combinations exist)."""
        key = (type_name, *pairs)
        found = self.twins.get(key)
        if found is None:
            found = self.sim.with_labels(type_name, dict(pairs))
            self.twins[key] = found
        return found

    def unique_name(self, base: str) -> str:
        name = free_name(base, lambda candidate: candidate.casefold() in self.names)
        self.names.add(name.casefold())
        return name

    def volume(self, values: Record) -> Record:
        appliance_id = values["appliance_id"]
        nsid = self.nsid.get(appliance_id, 0) + 1
        self.nsid[appliance_id] = nsid
        record = self.template.copy()
        record["wwn"] = f"{WWN_PREFIX}{self.bits(96):024x}"
        record["nguid"] = f"{NGUID_PREFIX}{self.bits(128):032x}"
        record["nsid"] = nsid
        record.update(values)
        record["_parent_id"] = record["protection_data"]["parent_id"]
        self.volumes.append(record)
        return record

    def protection_data(self, **values: Any) -> Record:
        data = self.data_template.copy()
        data.update(values)
        data["creator_type_l10n"] = self.creator_label(data["creator_type"])
        return data

    def creator_label(self, value: str) -> str | None:
        key = ("protection_data", ("creator_type", value))
        if key not in self.twins:
            self.twins[key] = {"label": creator_label(self.sim, value)}
        return self.twins[key]["label"]

    # -- the plan --

    def run(self, count: int) -> None:
        ordinary = [self.ordinary() for _ in range(count)]
        self.make_groups()
        self.protect(ordinary)
        self.make_snapshots(ordinary)
        if self.groups:
            self.make_snapshot_set(self.groups[0])
        clones = self.make_clones(ordinary)
        mappings = self.map(ordinary, clones)
        insert = self.store.insert
        twin = self.twin
        for record in self.volumes:
            del record["_created"]
            record.update(
                twin(
                    "volume",
                    ("type", record["type"]),
                    ("state", record["state"]),
                    ("node_affinity", record["node_affinity"]),
                    ("app_type", record["app_type"]),
                )
            )
            insert("volume", record)
        for group in self.groups:
            insert("volume_group", group)
        for mapping in mappings:
            insert("host_volume_mapping", mapping)

    def ordinary(self) -> Record:
        random, pick = self.random, self.pick
        prefix, envs, app_type, sizes = pick(SCHEMES)
        if envs:
            env = pick(envs)
            n = self.counters.get((prefix, env), 0) + 1
            self.counters[(prefix, env)] = n
            name = self.unique_name(f"{prefix}-{env}-{n:02d}")
        else:
            env = ""
            name = self.unique_name(f"{prefix}-{self.bits(32):08x}")
        size = pick(sizes) * GIB
        created_at = self.now - DAY - random() * (3 * 365 - 1) * DAY
        volume_id = self.new_id()
        performance = self.performance_default
        if self.performance and random() < 0.2:
            performance = pick(self.performance)
        record = self.volume(
            {
                "id": volume_id,
                "name": name,
                "description": pick(DESCRIPTIONS) or None,
                "type": PRIMARY,
                "size": size,
                "logical_used": int(size * (0.02 + random() * 0.88)) // SIZE_ALIGN * SIZE_ALIGN,
                "appliance_id": pick(self.appliances),
                "creation_timestamp": self.stamp(created_at),
                "performance_policy_id": performance,
                "qos_performance_policy_id": self.qos[0] if self.qos and random() < 0.05 else None,
                "app_type": app_type,
                "protection_data": self.protection_data(family_id=volume_id),
                "_created": created_at,
            }
        )
        if env:
            self.clusters.setdefault((prefix, env), []).append(record)
        return record

    def make_groups(self) -> None:
        existing = {g["name"].casefold() for g in self.store.all("volume_group")}
        clusters = sorted(self.clusters.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        for (prefix, env), volumes in clusters[:SEED_GROUPS]:
            name = f"{prefix}-{env}-vg"
            if name.casefold() in existing:
                continue
            appliance_id = volumes[0]["appliance_id"]
            chosen = [v for v in volumes if v["appliance_id"] == appliance_id][:SEED_GROUP_MEMBERS]
            created_at = min(v["_created"] for v in chosen) + DAY
            group = self.group(
                name=name,
                description=f"Write-order consistent set of {prefix} {env} volumes",
                type=PRIMARY,
                creation_timestamp=self.stamp(min(created_at, self.now - 3600)),
                protection_policy_id=self.protection[len(self.groups) % len(self.protection)]
                if self.protection and len(self.groups) % 2 == 0
                else None,
            )
            for volume in chosen:
                volume["_volume_group_id"] = group["id"]

    def group(self, **values: Any) -> Record:
        record = dict(self.group_template)
        group_id = self.new_id()
        record.update(
            id=group_id,
            is_protectable=True,
            is_write_order_consistent=True,
            placement_rule="Same_Appliance",
            is_replication_destination=False,
            is_host_access_available=True,
            is_importing=False,
            protection_data=self.protection_data(family_id=group_id),
            _parent_id=None,
        )
        record.update(values)
        record.update(
            self.twin("volume_group", ("type", record["type"]), ("placement_rule", record["placement_rule"]))
        )
        self.groups.append(record)
        return record

    def protect(self, ordinary: list[Record]) -> None:
        if not self.protection:
            return
        random = self.random
        for volume in ordinary:
            if volume["_volume_group_id"] is None and random() < SEED_PROTECTED_SHARE:
                volume["protection_policy_id"] = self.pick(self.protection)

    def make_snapshots(self, ordinary: list[Record]) -> None:
        random = self.random
        for volume in ordinary:
            if random() >= SEED_SNAPSHOT_SHARE:
                continue
            rules = self.policy_rules.get(volume["protection_policy_id"] or "")
            for _ in range(1 + int(random() * 3)):
                rule = self.pick(rules) if rules else None
                if rule is not None:
                    # A scheduled snapshot lives within its rule's retention, which sets its expiration.
                    retention = (rule.get("desired_retention") or 24) * 3600.0
                    taken = max(volume["_created"], self.now - 600 - random() * retention)
                    expires: str | None = self.stamp(taken + retention)
                else:
                    taken = volume["_created"] + random() * (self.now - 600 - volume["_created"])
                    expires = self.stamp(self.now + DAY + random() * 29 * DAY) if random() < 0.3 else None
                self.snapshot(volume, taken, expires, rule)

    def snapshot(
        self,
        volume: Record,
        taken: float,
        expires: str | None,
        rule: Record | None = None,
        *,
        name: str | None = None,
        group_id: str | None = None,
    ) -> Record:
        stamp = self.stamp(taken)
        moment = f"{stamp[0:4]}{stamp[5:7]}{stamp[8:10]}-{stamp[11:13]}{stamp[14:16]}"
        data = self.protection_data(
            family_id=volume["protection_data"]["family_id"],
            source_id=volume["id"],
            parent_id=volume["id"],
            source_timestamp=stamp,
            creator_type="Scheduler" if rule is not None else "User",
            created_by_rule_id=rule["id"] if rule is not None else None,
            created_by_rule_name=rule.get("name") if rule is not None else None,
            expiration_timestamp=expires,
        )
        return self.volume(
            {
                "id": self.new_id(),
                "name": self.unique_name(name or f"{volume['name']}.snap-{moment}"),
                "type": SNAPSHOT,
                "size": volume["size"],
                "logical_used": volume["logical_used"],
                "appliance_id": volume["appliance_id"],
                "creation_timestamp": stamp,
                "performance_policy_id": volume["performance_policy_id"],
                "app_type": volume["app_type"],
                "protection_data": data,
                "_volume_group_id": group_id,
                "_created": taken,
            }
        )

    def make_snapshot_set(self, group: Record) -> None:
        group_members = [v for v in self.volumes if v["_volume_group_id"] == group["id"]]
        if not group_members:
            return
        taken = self.now - DAY - self.random() * 6 * DAY
        stamp = self.stamp(taken)
        name = f"{group['name']}.snapset-{stamp[0:4]}{stamp[5:7]}{stamp[8:10]}"
        snapshot_set = self.group(
            name=name,
            type=SNAPSHOT,
            is_protectable=False,
            creation_timestamp=stamp,
            protection_data=self.protection_data(
                family_id=group["id"], source_id=group["id"], parent_id=group["id"], source_timestamp=stamp
            ),
            _parent_id=group["id"],
        )
        for volume in group_members:
            self.snapshot(volume, taken, None, name=f"{volume['name']}.{name}", group_id=snapshot_set["id"])

    def make_clones(self, ordinary: list[Record]) -> list[Record]:
        if not ordinary:
            return []
        random, pick = self.random, self.pick
        snapshots = [v for v in self.volumes if v["type"] == SNAPSHOT and v["_volume_group_id"] is None]
        clones = []
        for _ in range(min(max(2, len(ordinary) // 100), 200)):
            if snapshots and random() < 0.3:
                source = pick(snapshots)
                source_id = source["protection_data"]["source_id"]
                source_time = source["protection_data"]["source_timestamp"]
            else:
                source = pick(ordinary)
                source_id, source_time = source["id"], None
            taken = source["_created"] + random() * (self.now - 600 - source["_created"])
            stamp = self.stamp(taken)
            base = source["name"].split(".snap-")[0]
            data = self.protection_data(
                family_id=source["protection_data"]["family_id"],
                source_id=source_id,
                parent_id=source["id"],
                source_timestamp=source_time or stamp,
            )
            clones.append(
                self.volume(
                    {
                        "id": self.new_id(),
                        "name": self.unique_name(f"{base}-{pick(('clone', 'test', 'dev-copy'))}"),
                        "type": CLONE,
                        "size": source["size"],
                        "logical_used": source["logical_used"],
                        "appliance_id": source["appliance_id"],
                        "creation_timestamp": stamp,
                        "performance_policy_id": source["performance_policy_id"],
                        "app_type": source["app_type"],
                        "protection_data": data,
                        "_created": taken,
                    }
                )
            )
        return clones

    def map(self, ordinary: list[Record], clones: list[Record]) -> list[Record]:
        """Mappings onto the hosts and host groups already seeded; each group's members share a target."""
        hosts = sorted(self.store.all("host"), key=lambda h: h["id"])
        host_groups = sorted(self.store.all("host_group"), key=lambda g: g["id"])
        group_hosts: dict[str, list[str]] = {g["id"]: [] for g in host_groups}
        for host in hosts:
            if host.get("host_group_id") in group_hosts:
                group_hosts[host["host_group_id"]].append(host["id"])
        next_lun: dict[str, int] = {h["id"]: FIRST_AUTO_LUN for h in hosts}
        next_lun.update({g["id"]: FIRST_AUTO_LUN for g in host_groups})
        for mapping in self.store.all("host_volume_mapping"):
            owner = mapping.get("host_id") or mapping.get("host_group_id")
            if owner in next_lun:
                next_lun[owner] = max(next_lun[owner], mapping["logical_unit_number"] + 1)
        for group_id, members_ in group_hosts.items():
            top = max([next_lun[group_id], *(next_lun[h] for h in members_)])
            for key in (group_id, *members_):
                next_lun[key] = top
        targets: list[tuple[str, str]] = [("host", h["id"]) for h in hosts]
        targets += [("host_group", g["id"]) for g in host_groups]
        # Volumes go preferably to hosts named like them (sql-* volumes to sql-* hosts, k8s-* to k8s-*).
        by_token: dict[str, list[tuple[str, str]]] = {}
        for kind, records in (("host", hosts), ("host_group", host_groups)):
            for record in records:
                by_token.setdefault(record["name"].split("-")[0], []).append((kind, record["id"]))
        mappings: list[Record] = []
        template = self.sim.new_record("host_volume_mapping")
        chosen_for_group: dict[str, tuple[str, str] | None] = {}
        random = self.random

        def place(volume: Record, target: tuple[str, str]) -> bool:
            kind, target_id = target
            owners = [target_id, *(group_hosts.get(target_id, ()) if kind == "host_group" else ())]
            lun = max(next_lun[o] for o in owners)
            if lun > SEED_LUN_CAP:
                return False
            for owner in owners:
                next_lun[owner] = lun + 1
            record = dict(template)
            record.update(
                id=self.new_id(),
                host_id=target_id if kind == "host" else None,
                host_group_id=target_id if kind == "host_group" else None,
                volume_id=volume["id"],
                logical_unit_number=lun,
            )
            mappings.append(record)
            volume["node_affinity"] = self.pick(SELECTED_NODES)
            return True

        for volume in [*ordinary, *clones]:
            if not targets:
                break
            group_id = volume["_volume_group_id"]
            if group_id is not None and group_id in chosen_for_group:
                target = chosen_for_group[group_id]
            else:
                share = SEED_MAPPED_SHARE if volume["type"] == PRIMARY else 0.5
                target = None
                if random() < share:
                    alike = [t for t in by_token.get(volume["name"].split("-")[0], ()) if t in targets]
                    pool = alike if alike and random() < 0.8 else targets
                    target = self.pick(pool)
                if group_id is not None:
                    chosen_for_group[group_id] = target
            if target is not None and target in targets and not place(volume, target):
                targets.remove(target)
        return mappings


def seed(sim: Sim) -> None:
    """Seed ``sim.config.volumes`` ordinary volumes with snapshots, clones, groups and mappings."""
    seeder = _Seeder(sim)
    seeder.run(max(0, sim.config.volumes))
