"""Hosts, their initiators, host groups, and volume mappings made through host/host group attach.

Initiators live as ``initiator`` records (``host_id`` points at their host; CHAP passwords are hidden
``_chap_*_password`` fields). Each host record also carries them embedded, in the ``initiators`` and
deprecated ``host_initiators`` shapes, rewritten whenever they change.

Mappings are ``host_volume_mapping`` records: ``host_id`` for a host's private mapping, or
``host_group_id`` (``host_id`` None) for a group's. A host sees its private mappings plus its group's,
all in one LUN space. Attach/detach share the mapping rules of volume attach/detach
(``mappings.map_volume``/``unmap_volume``): automatic LUNs from 1, a volume mapped once per host.
"""

from __future__ import annotations

import re
from typing import Any

from console.simulator import errors
from console.simulator.handlers.common import noun, public, renamed, require_free_name, target
from console.simulator.handlers.mappings import HostTarget, host_target, map_volume, unmap_volume
from console.simulator.handlers.system import Occurrence, add_alert
from console.simulator.operations import (
    STORAGE_ROLES,
    OpRequest,
    OpResult,
    Sim,
    created,
    done,
    operation,
    relation,
)
from console.simulator.store import Record

NAME_MAX = 223  # iSCSI names and NVMe qualified names are at most 223 bytes

ISCSI_NAME = re.compile(
    r"iqn\.\d{4}-\d{2}\.[a-z0-9][a-z0-9.-]*(:[^\s]+)?|eui\.[0-9a-f]{16}|naa\.[0-9a-f]{16}([0-9a-f]{16})?"
)
FC_WWN = re.compile(r"[0-9a-f]{16}")
NVME_NQN = re.compile(r"nqn\.\d{4}-\d{2}\.[A-Za-z0-9][A-Za-z0-9.-]*:\S+")
CHAP_PORT_TYPES = frozenset({"iSCSI", "NVMe"})

# Message codes for host-specific refusals, in the form of errors.py (stable within this simulator).
CODE_INITIATOR_IN_USE = "0xE0A030010020"
CODE_HOST_MAPPED = "0xE0A030010030"
CODE_LUN_IN_USE = "0xE0A080010011"


# -- initiators ---------------------------------------------------------------------------------------


def canonical_port_name(port_type: str, port_name: str) -> str:
    """The form the array stores a port name in (FC: lower-case, colon-separated; iSCSI: lower-case),
    or a 400 refusal when it is not a valid name for its port type."""
    name = port_name.strip()
    if port_type == "FC":
        digits = name.replace(":", "").lower()
        if not FC_WWN.fullmatch(digits) or set(digits) == {"0"}:
            raise _bad_port(port_type, port_name, "a WWPN of 16 hex digits, e.g. 21:00:00:24:ff:4a:3b:10")
        return ":".join(digits[i : i + 2] for i in range(0, 16, 2))
    if port_type == "iSCSI":
        lowered = name.lower()
        if len(lowered.encode()) > NAME_MAX or not ISCSI_NAME.fullmatch(lowered):
            raise _bad_port(port_type, port_name, "an iqn., eui. or naa. name")
        return lowered
    if len(name.encode()) > NAME_MAX or not NVME_NQN.fullmatch(name):
        raise _bad_port(port_type, port_name, "an NVMe qualified name (nqn.yyyy-mm.domain:...)")
    return name


def _bad_port(port_type: str, port_name: str, expected: str) -> errors.ApiFault:
    return errors.bad_request(
        f"{port_name!r} is not a valid {port_type} initiator name: expected {expected}.",
        port_name,
        code=errors.CODE_INVALID_VALUE,
    )


def _check_chap(port_type: str, port_name: str, chap: dict[str, Any]) -> None:
    """CHAP credentials come in user/password pairs, mutual only on top of single, never on FC."""
    given = {k: v for k, v in chap.items() if v is not None}
    if not given:
        return
    if port_type not in CHAP_PORT_TYPES:
        raise errors.bad_request(
            f"CHAP applies to iSCSI and NVMe initiators, not to {port_type} initiator {port_name}.", port_name
        )
    for kind in ("single", "mutual"):
        user, password = given.get(f"chap_{kind}_username"), given.get(f"chap_{kind}_password")
        if (user is None) != (password is None):
            raise errors.bad_request(
                f"{kind.capitalize()} CHAP of initiator {port_name} needs both a user name and a password.",
                port_name,
            )
        if user is not None and not 1 <= len(user) <= 64:
            raise errors.bad_request(
                "A CHAP user name has 1 to 64 characters.", port_name, code=errors.CODE_RANGE
            )
        if password is not None and not 12 <= len(password) <= 64:
            raise errors.bad_request(
                "A CHAP password has 12 to 64 characters.", port_name, code=errors.CODE_RANGE
            )
    if "chap_mutual_username" in given and "chap_single_username" not in given:
        raise errors.bad_request(
            f"Mutual CHAP of initiator {port_name} needs single CHAP as well.", port_name
        )


CHAP_KEYS = ("chap_single_username", "chap_single_password", "chap_mutual_username", "chap_mutual_password")


def _new_initiators(sim: Sim, items: list[dict[str, Any]], host_id: str | None) -> list[dict[str, Any]]:
    """Validated initiator specs from a create/add list: names canonical, unique in the request and
    unused by any host (``host_id``'s own initiators excepted)."""
    specs: list[dict[str, Any]] = []
    seen: set[str] = set()
    for item in items:
        port_type = item["port_type"]
        name = canonical_port_name(port_type, item["port_name"])
        if name in seen:
            raise errors.bad_request(f"Initiator {name} is listed twice.", name)
        seen.add(name)
        chap = {k: item.get(k) for k in CHAP_KEYS}
        _check_chap(port_type, name, chap)
        for other_id in sim.store.lookup("initiator", "port_name", name):
            other = sim.store.get("initiator", other_id)
            owner = sim.store.get("host", other["host_id"]) if other else None
            if owner is not None:
                where = "this host" if owner["id"] == host_id else f"host {owner['name']}"
                raise errors.unprocessable(
                    f"Initiator {name} already belongs to {where}.",
                    name,
                    owner["name"],
                    code=CODE_INITIATOR_IN_USE,
                )
        specs.append({"port_name": name, "port_type": port_type, **chap})
    return specs


def _insert_initiator(sim: Sim, host_id: str, spec: dict[str, Any]) -> Record:
    return sim.insert(
        "initiator",
        id=sim.new_id(),
        host_id=host_id,
        port_name=spec["port_name"],
        port_type=spec["port_type"],
        chap_single_username=spec.get("chap_single_username"),
        chap_mutual_username=spec.get("chap_mutual_username"),
        active_sessions=list(spec.get("active_sessions") or []),
        _chap_single_password=spec.get("chap_single_password"),
        _chap_mutual_password=spec.get("chap_mutual_password"),
    )


def host_initiators(sim: Sim, host_id: str) -> list[Record]:
    return sim.store.related("initiator", "host_id", host_id)


def _embedded_initiators(sim: Sim, host_id: str) -> dict[str, Any]:
    """The host record's embedded copies of its initiators (both shapes the spec defines)."""
    current: list[dict[str, Any]] = []
    legacy: list[dict[str, Any]] = []
    for ini in host_initiators(sim, host_id):
        current.append(public(ini))
        legacy.append(
            {
                "port_name": ini["port_name"],
                "port_type": ini["port_type"],
                "port_type_l10n": sim.label("InitiatorProtocolTypeEnum", ini["port_type"]),
                "chap_single_username": ini.get("chap_single_username"),
                "chap_mutual_username": ini.get("chap_mutual_username"),
                "active_sessions": list(ini.get("active_sessions") or []),
            }
        )
    return {"initiators": current, "host_initiators": legacy}


@relation("host", "initiators")
def _host_initiators_relation(sim: Sim, record: Record) -> list[Record]:
    return host_initiators(sim, record["id"])


# -- host ---------------------------------------------------------------------------------------------


def _insert_host(sim: Sim, host_id: str, initiators: list[dict[str, Any]], **values: Any) -> Record:
    """A new standalone host (unless ``values`` say otherwise) with its initiators."""
    record: Record = {
        "id": host_id,
        "type": "External",
        "host_group_id": None,
        "import_host_system_id": None,
        "host_connectivity": "Local_Only",
        **values,
    }
    sim.insert("host", **record)
    for spec in initiators:
        _insert_initiator(sim, host_id, spec)
    return sim.update("host", host_id, _embedded_initiators(sim, host_id))


@operation("host", "create", roles=STORAGE_ROLES)
def create_host(sim: Sim, req: OpRequest) -> OpResult:
    body = req.body
    require_free_name(sim, "host", body["name"], nonblank=True)
    specs = _new_initiators(sim, body["initiators"], None)
    host = _insert_host(
        sim,
        sim.new_id(),
        specs,
        name=body["name"],
        description=body.get("description"),
        os_type=body["os_type"],
        host_connectivity=body.get("host_connectivity", "Local_Only"),
    )
    return created(host)


@operation("host", "modify", roles=STORAGE_ROLES)
def modify_host(sim: Sim, req: OpRequest) -> OpResult:
    host = target(sim, req)
    body = req.body
    changes = renamed(sim, "host", host, body, nonblank=True)
    if "description" in body:
        changes["description"] = body["description"]
    if "host_connectivity" in body and body["host_connectivity"] != host["host_connectivity"]:
        if host.get("host_group_id"):
            group = sim.store.get("host_group", host["host_group_id"])
            raise errors.unprocessable(
                f"Host {host['name']} is in host group {group['name'] if group else ''}: "
                "change host_connectivity on the group.",
                host["name"],
            )
        changes["host_connectivity"] = body["host_connectivity"]
    touched = _change_initiators(sim, host, body)
    if touched:
        changes.update(_embedded_initiators(sim, host["id"]))
    if changes:
        host = sim.update("host", host["id"], changes)
    return done(host)


def _change_initiators(sim: Sim, host: Record, body: dict[str, Any]) -> bool:
    removes = body.get("remove_initiators") or []
    adds = body.get("add_initiators") or []
    edits = body.get("modify_initiators") or []
    if not (removes or adds or edits):
        return False
    own = {ini["port_name"]: ini for ini in host_initiators(sim, host["id"])}

    def find(name: str) -> Record:
        ini = own.get(name)
        for port_type in {i["port_type"] for i in own.values()}:
            if ini is not None:
                break
            try:
                ini = own.get(canonical_port_name(port_type, name))
            except errors.ApiFault:
                continue
        if ini is None:
            raise errors.unprocessable(f"Host {host['name']} has no initiator {name}.", name, host["name"])
        return ini

    removed = [find(name) for name in removes]
    if len({ini["id"] for ini in removed}) != len(removed):
        raise errors.bad_request("An initiator is listed twice in remove_initiators.")
    removed_ids = {ini["id"] for ini in removed}
    for ini in removed:
        sim.store.delete("initiator", ini["id"])
    specs = _new_initiators(sim, adds, host["id"])
    for spec in specs:
        _insert_initiator(sim, host["id"], spec)
    for edit in edits:
        if not edit.get("port_name"):
            raise errors.bad_request(
                "Each entry of modify_initiators needs a port_name.", code=errors.CODE_MISSING_REQUIRED
            )
        ini = find(edit["port_name"])
        if ini["id"] in removed_ids:
            raise errors.bad_request(
                f"Initiator {ini['port_name']} is both removed and modified.", ini["port_name"]
            )
        merged = {
            "chap_single_username": ini.get("chap_single_username"),
            "chap_single_password": ini.get("_chap_single_password"),
            "chap_mutual_username": ini.get("chap_mutual_username"),
            "chap_mutual_password": ini.get("_chap_mutual_password"),
        }
        merged.update({k: edit[k] for k in CHAP_KEYS if edit.get(k) is not None})
        _check_chap(ini["port_type"], ini["port_name"], merged)
        sim.update(
            "initiator",
            ini["id"],
            {
                "chap_single_username": merged["chap_single_username"],
                "chap_mutual_username": merged["chap_mutual_username"],
                "_chap_single_password": merged["chap_single_password"],
                "_chap_mutual_password": merged["chap_mutual_password"],
            },
        )
    return True


def _refuse_while_mapped(sim: Sim, type_name: str, record: Record) -> None:
    mapped = sim.store.related("host_volume_mapping", f"{type_name}_id", record["id"])
    if mapped:
        raise errors.unprocessable(
            f"{noun(type_name).capitalize()} {record['name']} still has {len(mapped)} volume(s) mapped; "
            "detach them first.",
            record["name"],
            code=CODE_HOST_MAPPED,
        )


def _host_delete_steps(sim: Sim, req: OpRequest) -> list[str]:
    host = sim.store.get("host", req.target_id or "")
    name = host["name"] if host else req.target_id
    count = len(host_initiators(sim, host["id"])) if host else 0
    return [f"Remove {count} initiator(s) of host {name}", f"Delete host {name}"]


@operation("host", "delete", roles=STORAGE_ROLES, steps=_host_delete_steps)
def delete_host(sim: Sim, req: OpRequest) -> OpResult:
    host = target(sim, req)
    if host.get("host_group_id"):
        group = sim.store.get("host_group", host["host_group_id"])
        gname = group["name"] if group else host["host_group_id"]
        raise errors.unprocessable(
            f"Host {host['name']} belongs to host group {gname}; remove it from the group first.",
            host["name"],
            gname,
            code=CODE_HOST_MAPPED,
        )
    _refuse_while_mapped(sim, "host", host)
    for ini in host_initiators(sim, host["id"]):
        sim.store.delete("initiator", ini["id"])
    sim.store.delete("host", host["id"])
    return done(host)


def _mapping_request(sim: Sim, req: OpRequest) -> tuple[Record, Record, HostTarget]:
    """The host or host group an attach/detach targets, the body's volume, and where it maps."""
    owner = target(sim, req)
    volume = sim.store.require("volume", req.body["volume_id"])
    if req.resource_type == "host":
        return owner, volume, host_target(sim, host_id=owner["id"])
    return owner, volume, host_target(sim, host_group_id=owner["id"])


@operation("host", "attach", roles=STORAGE_ROLES)
@operation("host_group", "attach", roles=STORAGE_ROLES)
def attach_to_host_or_group(sim: Sim, req: OpRequest) -> OpResult:
    owner, volume, where = _mapping_request(sim, req)
    map_volume(sim, volume, where, req.body.get("logical_unit_number"))
    return done(owner)


@operation("host", "detach", roles=STORAGE_ROLES)
@operation("host_group", "detach", roles=STORAGE_ROLES)
def detach_from_host_or_group(sim: Sim, req: OpRequest) -> OpResult:
    owner, volume, where = _mapping_request(sim, req)
    unmap_volume(sim, volume, where)
    return done(owner)


# -- host group ---------------------------------------------------------------------------------------


def _listed_hosts(sim: Sim, refs: list[str], field: str) -> list[Record]:
    hosts = [sim.store.require("host", ref) for ref in refs]
    if len({h["id"] for h in hosts}) != len(hosts):
        raise errors.bad_request(f"A host is listed twice in {field}.", field)
    return hosts


def _joining_hosts(sim: Sim, refs: list[str], group: Record | None, field: str) -> list[Record]:
    """The hosts a create/add list names, checked for joining ``group`` (None: a group being made)."""
    hosts = _listed_hosts(sim, refs, field)
    group_rows = sim.store.related("host_volume_mapping", "host_group_id", group["id"]) if group else []
    group_luns = {row["logical_unit_number"]: row for row in group_rows}
    group_volumes = {row["volume_id"] for row in group_rows}
    for host in hosts:
        if host.get("host_group_id"):
            if group is not None and host["host_group_id"] == group["id"]:
                raise errors.unprocessable(
                    f"Host {host['name']} is already in host group {group['name']}.",
                    host["name"],
                    group["name"],
                )
            other = sim.store.get("host_group", host["host_group_id"])
            raise errors.unprocessable(
                f"Host {host['name']} already belongs to host group {other['name'] if other else ''}.",
                host["name"],
                code=errors.CODE_IN_USE,
            )
        for row in sim.store.related("host_volume_mapping", "host_id", host["id"]):
            volume = sim.store.get("volume", row["volume_id"])
            vname = volume["name"] if volume else row["volume_id"]
            if row["volume_id"] in group_volumes:
                raise errors.unprocessable(
                    f"Host {host['name']} has volume {vname} mapped, which the group maps too.",
                    host["name"],
                    vname,
                    code=errors.CODE_IN_USE,
                )
            if row["logical_unit_number"] in group_luns:
                raise errors.unprocessable(
                    f"LUN {row['logical_unit_number']} of host {host['name']} is used by the group as well.",
                    host["name"],
                    row["logical_unit_number"],
                    code=CODE_LUN_IN_USE,
                )
    return hosts


def _common_connectivity(hosts: list[Record], required: str | None) -> str:
    values = {h.get("host_connectivity") or "Local_Only" for h in hosts}
    if required is not None:
        values.add(required)
    if len(values) > 1:
        raise errors.unprocessable(
            "The hosts of a host group must share one host_connectivity; found "
            + ", ".join(sorted(values))
            + ".",
            *sorted(values),
        )
    return values.pop() if values else (required or "Local_Only")


@operation("host_group", "create", roles=STORAGE_ROLES)
def create_host_group(sim: Sim, req: OpRequest) -> OpResult:
    body = req.body
    # The reference documents a 400 for a host group name taken (unlike most name conflicts).
    require_free_name(
        sim, "host_group", body["name"], nonblank=True, status=400, code=errors.CODE_HOST_GROUP_NAME_IN_USE
    )
    if not body["host_ids"]:
        raise errors.bad_request("A host group needs at least one host.", "host_ids")
    hosts = _joining_hosts(sim, body["host_ids"], None, "host_ids")
    connectivity = _common_connectivity(hosts, None)
    group = sim.insert(
        "host_group",
        id=sim.new_id(),
        name=body["name"],
        description=body.get("description"),
        host_connectivity=connectivity,
    )
    for host in hosts:
        sim.update("host", host["id"], {"host_group_id": group["id"]})
    return created(group)


@operation("host_group", "modify", roles=STORAGE_ROLES)
def modify_host_group(sim: Sim, req: OpRequest) -> OpResult:
    group = target(sim, req)
    body = req.body
    changes = renamed(
        sim, "host_group", group, body, nonblank=True, status=400, code=errors.CODE_HOST_GROUP_NAME_IN_USE
    )
    if "description" in body:
        changes["description"] = body["description"]
    adds = body.get("add_host_ids") or []
    removes = body.get("remove_host_ids") or []
    to_remove = _listed_hosts(sim, removes, "remove_host_ids")
    for host in to_remove:
        if host.get("host_group_id") != group["id"]:
            raise errors.unprocessable(
                f"Host {host['name']} is not in host group {group['name']}.", host["name"], group["name"]
            )
    to_add = _joining_hosts(sim, adds, group, "add_host_ids")
    if {h["id"] for h in to_add} & {h["id"] for h in to_remove}:
        raise errors.bad_request("A host cannot be both added and removed.")
    connectivity = body.get("host_connectivity", group["host_connectivity"])
    if to_add and "host_connectivity" not in body:
        # A new connectivity in the same request applies to every member, the joining ones included.
        _common_connectivity(to_add, group["host_connectivity"])
    for host in to_remove:
        sim.update("host", host["id"], {"host_group_id": None})
    for host in to_add:
        sim.update("host", host["id"], {"host_group_id": group["id"]})
    if connectivity != group["host_connectivity"]:
        changes["host_connectivity"] = connectivity
        for host in sim.store.related("host", "host_group_id", group["id"]):
            sim.update("host", host["id"], {"host_connectivity": connectivity})
    if changes:
        group = sim.update("host_group", group["id"], changes)
    return done(group)


def _group_delete_steps(sim: Sim, req: OpRequest) -> list[str]:
    group = sim.store.get("host_group", req.target_id or "")
    name = group["name"] if group else req.target_id
    return [f"Release the hosts of host group {name}", f"Delete host group {name}"]


@operation("host_group", "delete", roles=STORAGE_ROLES, steps=_group_delete_steps)
def delete_host_group(sim: Sim, req: OpRequest) -> OpResult:
    group = target(sim, req)
    _refuse_while_mapped(sim, "host_group", group)
    for host in sim.store.related("host", "host_group_id", group["id"]):
        sim.update("host", host["id"], {"host_group_id": None})
    sim.store.delete("host_group", group["id"])
    return done(group)


# -- seed ---------------------------------------------------------------------------------------------

# name, os_type, port type, initiator count, host group (None: standalone), description
SEED_HOSTS: tuple[tuple[str, str, str, int, str | None, str | None], ...] = (
    ("esx-prod-01", "ESXi", "FC", 2, "esx-cluster-a", "vSphere production cluster A"),
    ("esx-prod-02", "ESXi", "FC", 2, "esx-cluster-a", "vSphere production cluster A"),
    ("esx-prod-03", "ESXi", "FC", 2, "esx-cluster-a", "vSphere production cluster A"),
    ("esx-prod-04", "ESXi", "FC", 2, "esx-cluster-a", "vSphere production cluster A"),
    ("esx-dev-01", "ESXi", "iSCSI", 2, "esx-cluster-dev", None),
    ("esx-dev-02", "ESXi", "iSCSI", 2, "esx-cluster-dev", None),
    ("sql-prod-01", "Windows", "FC", 2, None, "SQL Server 2022, AG primary"),
    ("sql-prod-02", "Windows", "FC", 2, None, "SQL Server 2022, AG secondary"),
    ("ora-prod-01", "Linux", "FC", 4, None, "Oracle 19c RAC node"),
    ("k8s-node-01", "Linux", "NVMe", 1, "k8s-workers", "Kubernetes worker"),
    ("k8s-node-02", "Linux", "NVMe", 1, "k8s-workers", "Kubernetes worker"),
    ("k8s-node-03", "Linux", "NVMe", 1, "k8s-workers", "Kubernetes worker"),
    ("backup-01", "Windows", "iSCSI", 1, None, "Backup proxy"),
    ("aix-erp-01", "AIX", "FC", 2, None, None),
)
SEED_GROUPS = {
    "esx-cluster-a": "Production vSphere cluster",
    "esx-cluster-dev": "Development vSphere cluster",
    "k8s-workers": "Kubernetes worker nodes (NVMe/TCP)",
}
FC_VENDOR_PREFIXES = ("21:00:00:24:ff", "10:00:00:10:9b", "10:00:00:90:fa")
ISCSI_PREFIX = {
    "ESXi": "iqn.1998-01.com.vmware:{name}-{tag}",
    "Windows": "iqn.1991-05.com.microsoft:{name}.corp.example.com",
    "Linux": "iqn.1994-05.com.redhat:{tag}",
    "AIX": "iqn.1992-08.com.ibm:{name}",
}


def _seed_port_name(sim: Sim, name: str, os_type: str, port_type: str, index: int) -> str:
    rng = sim.rng
    if port_type == "FC":
        prefix = rng.choice(FC_VENDOR_PREFIXES)
        return prefix + "".join(f":{rng.randrange(256):02x}" for _ in range(3))
    if port_type == "iSCSI":
        tag = f"{rng.getrandbits(32):08x}"
        base = ISCSI_PREFIX[os_type].format(name=name, tag=tag)
        return base if index == 0 else f"{base}-{index}"
    return f"nqn.2014-08.org.nvmexpress:uuid:{sim.new_id()}"


def seed(sim: Sim) -> None:
    """A dozen hosts over FC, iSCSI and NVMe, three host groups, and a host alert with its events."""
    groups: dict[str, Record] = {}
    for group_name, group_description in SEED_GROUPS.items():
        groups[group_name] = sim.insert(
            "host_group",
            id=sim.new_id(),
            name=group_name,
            description=group_description,
            host_connectivity="Local_Only",
        )
    for name, os_type, port_type, count, gname, description in SEED_HOSTS:
        host_id = sim.new_id()
        specs = []
        for index in range(count):
            chap = {}
            if port_type == "iSCSI" and os_type == "Windows":
                chap = {
                    "chap_single_username": f"{name}-chap",
                    "chap_single_password": f"Chap-{sim.rng.getrandbits(48):012x}",
                }
            port_name = _seed_port_name(sim, name, os_type, port_type, index)
            specs.append({"port_name": port_name, "port_type": port_type, **chap})
        host_group_id = groups[gname]["id"] if gname else None
        _insert_host(
            sim,
            host_id,
            specs,
            name=name,
            description=description,
            os_type=os_type,
            host_group_id=host_group_id,
        )
    _seed_host_alerts(sim)


def _seed_host_alerts(sim: Sim) -> None:
    host = sim.store.find_by_name("host", "esx-prod-03")
    if host is None:
        return
    initiator = host_initiators(sim, host["id"])[-1]
    add_alert(
        sim,
        Occurrence(
            "0x00A00201",
            "Minor",
            "host",
            host["id"],
            host["name"],
            f"Initiator {initiator['port_name']} of host {host['name']} has no path to node B.",
        ),
        hours_ago=30.0,
    )
