"""NAS servers and file systems (snapshots of file systems are file systems with ``filesystem_type``
``Snapshot`` and ``parent_id`` = the snapshotted file system; clones are ``Primary`` with ``parent_id`` =
their source).

File system names are unique within their NAS server (as Dell's clients assume: they look a file
system up by name *and* NAS server), snapshots included; NAS server names are unique on the array.
A snapshot taken by a schedule keeps the rule in ``_snapshot_rule_id``.

Deleting a NAS server deletes its file systems and their snapshots with it (each one a step of the
job); it is refused while one of them is a secure snapshot that has not expired. The ``upload/<file>``
and ``download/<file>`` calls of a NAS server are not simulated.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime
from typing import Any

from console.simulator import errors
from console.simulator.handlers import nas_files
from console.simulator.handlers.common import (
    free_name,
    parse_time,
    public,
    renamed,
    require_free_name,
    target,
)
from console.simulator.handlers.policies import ASSIGNMENT_FIELDS, assigned_policy_id
from console.simulator.handlers.protection_seed import DAILY_RULE_NAME, FILE_POLICY_NAME, FILE_QOS_POLICY_NAME
from console.simulator.operations import (
    STORAGE_ROLES,
    OpRequest,
    OpResult,
    Sim,
    created,
    done,
    iso_timestamp,
    operation,
)
from console.simulator.store import Record

MIB = 1024**2
GIB = 1024**3
TIB = 1024**4
# What a new, empty file system reports as used: its own metadata.
EMPTY_FS_USED = 1_621_098_496
DEFAULT_GRACE_PERIOD = 7 * 86400
DEFAULT_CHANGE_DIR_DEPTH = 512
FLR_RETENTION = re.compile(r"(\d+)([YMDhm])|infinite")
RETENTION_SECONDS = {"Y": 365 * 86400, "M": 30 * 86400, "D": 86400, "h": 3600, "m": 60}
# Documentation address ranges (RFC 5737, RFC 3849): a ping there never gets an answer.
UNREACHABLE_NETS = tuple(
    ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
)

SMB_DEFAULTS: dict[str, Any] = {
    "is_smb_sync_writes_enabled": False,
    "is_smb_no_notify_enabled": False,
    "is_smb_op_locks_enabled": True,
    "is_smb_notify_on_access_enabled": False,
    "is_smb_notify_on_write_enabled": False,
    "smb_notify_on_change_dir_depth": DEFAULT_CHANGE_DIR_DEPTH,
    "is_async_MTime_enabled": False,
}
POLICY_DEFAULTS: dict[str, Any] = {
    "access_policy": "Native",
    "locking_policy": "Advisory",
    "folder_rename_policy": "All_Forbidden",
    "file_events_publishing_mode": "None",
}
# Body fields copied onto a file system as they are (create, snapshot, clone, modify).
PLAIN_FIELDS = (*SMB_DEFAULTS, *POLICY_DEFAULTS, "description")
# What a snapshot lets change; the rest of a file system's settings belong to primaries.
SNAPSHOT_FIELDS = frozenset({"description", "expiration_timestamp", "is_secure"})
NAS_CHILD_TYPES = (
    "file_interface",
    "nfs_server",
    "smb_server",
    "file_dns",
    "file_ftp",
    "file_kerberos",
    "file_ldap",
    "file_nis",
    "file_ndmp",
    "file_virus_checker",
    "file_dhsm_config",
    "file_events_publisher",
)
FS_CHILD_TYPES = ("nfs_export", "smb_share", "file_tree_quota", "file_user_quota")
# What a create body may set on a NAS server as it is.
NAS_SERVER_SETTINGS = (
    "description",
    "default_unix_user",
    "default_windows_user",
    "current_unix_directory_service",
    "is_username_translation_enabled",
    "is_auto_user_mapping_enabled",
)
INTERFACE_FIELDS = (
    "production_IPv4_interface_id",
    "production_IPv6_interface_id",
    "backup_IPv4_interface_id",
    "backup_IPv6_interface_id",
)


# -- small helpers -------------------------------------------------------------------------------------


def round_up_mib(size: int) -> int:
    return -(-size // MIB) * MIB


def _future(sim: Sim, text: str, field: str) -> str:
    if parse_time(text, field) <= sim.now():
        raise errors.unprocessable(f"{field} must lie in the future; {text} has passed.", field, text)
    return text


def _node_ids(sim: Sim) -> list[str]:
    return sorted(r["id"] for r in sim.store.all("node")) or ["N1", "N2"]


def _is_snapshot(fs: Record) -> bool:
    return fs.get("filesystem_type") == "Snapshot"


def _snapshots_of(sim: Sim, fs_id: str) -> list[Record]:
    return [r for r in sim.store.related("file_system", "parent_id", fs_id) if _is_snapshot(r)]


def _secure_and_unexpired(sim: Sim, fs: Record) -> bool:
    expiry = fs.get("expiration_timestamp")
    return (
        bool(fs.get("is_secure"))
        and expiry is not None
        and parse_time(expiry, "expiration_timestamp") > sim.now()
    )


def _fs_name_taken(sim: Sim, nas_server_id: str, name: str) -> bool:
    """File system (and snapshot) names are unique within a NAS server, ignoring case."""
    return any(
        (other := sim.store.get("file_system", fs_id)) is not None and other["nas_server_id"] == nas_server_id
        for fs_id in sim.store.lookup("file_system", "name", name.casefold(), casefold=True)
    )


def require_fs_name(sim: Sim, nas_server_id: str, name: str) -> None:
    if _fs_name_taken(sim, nas_server_id, name):
        raise errors.unprocessable(
            f"The NAS server already has a file system or snapshot named {name}.",
            name,
            nas_server_id,
            code=errors.CODE_NAME_IN_USE,
        )


def _policy_changes(sim: Sim, type_name: str, body: dict[str, Any]) -> dict[str, Any]:
    """The policy assignments in a body; ``null`` or ``""`` unassigns."""
    return {
        field: assigned_policy_id(sim, type_name, field, body[field])
        for field in ASSIGNMENT_FIELDS[type_name]
        if field in body
    }


def _retention_seconds(text: str, field: str) -> float:
    match = FLR_RETENTION.fullmatch(text)
    if match is None:
        raise errors.bad_request(
            f"{field} must be a count with a unit (Y, M, D, h, m) such as 7Y, or infinite; not {text!r}.",
            field,
            text,
            code=errors.CODE_INVALID_VALUE,
        )
    if text == "infinite":
        return float("inf")
    return int(match.group(1)) * RETENTION_SECONDS[match.group(2)]


def _flr(sim: Sim, current: dict[str, Any] | None, changes: dict[str, Any]) -> dict[str, Any]:
    """The whole ``flr_attributes`` object after ``changes``, with its retention limits in order."""
    flr = dict(current or {})
    flr.update(changes)
    if flr.get("mode", "None") == "None":
        return {**_flr_off(), "mode_l10n": sim.label("FileSystemFLRModeEnum", "None")}
    flr.setdefault("minimum_retention", "1D")
    flr.setdefault("maximum_retention", "infinite")
    if flr.get("default_retention") is None:
        flr["default_retention"] = (
            "1Y" if flr["maximum_retention"] == "infinite" else flr["maximum_retention"]
        )
    limits = [
        _retention_seconds(flr[k], f"flr_attributes.{k}")
        for k in ("minimum_retention", "default_retention", "maximum_retention")
    ]
    if not limits[0] <= limits[1] <= limits[2]:
        raise errors.unprocessable(
            "FLR retention must satisfy minimum_retention <= default_retention <= maximum_retention.",
            flr["minimum_retention"],
            flr["default_retention"],
            flr["maximum_retention"],
        )
    for key, value in (("auto_lock", False), ("auto_delete", False), ("policy_interval", 3600)):
        if flr.get(key) is None:
            flr[key] = value
    flr.setdefault("has_protected_files", False)
    flr["clock_time"] = sim.timestamp()
    flr.setdefault("maximum_retention_date", None)
    flr["mode_l10n"] = sim.label("FileSystemFLRModeEnum", flr["mode"])
    return flr


def _flr_off() -> dict[str, Any]:
    return {
        "mode": "None",
        "minimum_retention": None,
        "default_retention": None,
        "maximum_retention": None,
        "auto_lock": None,
        "auto_delete": None,
        "policy_interval": None,
        "has_protected_files": False,
        "clock_time": None,
        "maximum_retention_date": None,
    }


def _flr_mode(fs: Record) -> str:
    return (fs.get("flr_attributes") or {}).get("mode") or "None"


# -- NAS servers ------------------------------------------------------------------------------------------


def _least_loaded_node(sim: Sim) -> str:
    nodes = _node_ids(sim)
    return min(nodes, key=lambda n: (len(sim.store.lookup("nas_server", "current_node_id", n)), n))


def _insert_nas_server(sim: Sim, node: str, **values: Any) -> Record:
    """A new NAS server, started on ``node``, with the array's defaults for what ``values`` leaves out."""
    record: Record = {
        "id": sim.new_id(),
        "operational_status": "Started",
        "current_node_id": node,
        "preferred_node_id": node,
        "current_unix_directory_service": "None",
        "is_username_translation_enabled": False,
        "is_auto_user_mapping_enabled": False,
        "file_events_publishing_mode": "None",
        "is_replication_destination": False,
        "is_production_mode_enabled": False,
        "is_dr_test": False,
        **values,
    }
    return sim.insert("nas_server", **record)


@operation("nas_server", "create", roles=STORAGE_ROLES)
def create_nas_server(sim: Sim, req: OpRequest) -> OpResult:
    body = req.body
    require_free_name(sim, "nas_server", body["name"])
    node = _least_loaded_node(sim)
    settings = {k: body[k] for k in NAS_SERVER_SETTINGS if k in body}
    policies = _policy_changes(sim, "nas_server", body)
    return created(_insert_nas_server(sim, node, name=body["name"], **settings, **policies))


@operation("nas_server", "modify", roles=STORAGE_ROLES)
def modify_nas_server(sim: Sim, req: OpRequest) -> OpResult:
    server = target(sim, req)
    body = req.body
    changes: dict[str, Any] = renamed(sim, "nas_server", server, body)
    for field in ("current_node_id", "preferred_node_id"):
        if field in body and body[field] not in _node_ids(sim):
            raise errors.not_found(f"The node {body[field]} was not found.", body[field])
    for field in INTERFACE_FIELDS:
        ref = body.get(field)
        if ref is not None:
            interface = sim.store.get("file_interface", ref)
            if interface is None or interface.get("nas_server_id") != server["id"]:
                raise errors.not_found(
                    f"The NAS server {server['name']} has no file interface {ref}.", ref, server["id"]
                )
    if body.get("file_events_publisher_id") is not None:
        changes["_file_events_publisher_id"] = sim.store.require(
            "file_events_publisher", body["file_events_publisher_id"]
        )["id"]
    destination = body.get("is_replication_destination", server["is_replication_destination"])
    if body.get("is_production_mode_enabled") and not destination:
        raise errors.unprocessable(
            f"The NAS server {server['name']} is not a replication destination; production mode is "
            "only for destinations.",
            server["id"],
        )
    changes.update(_policy_changes(sim, "nas_server", body))
    for key, value in body.items():
        if (
            key in sim.catalog.instance_fields("nas_server")
            and key not in changes
            and not key.endswith("policy_id")
        ):
            changes[key] = value
    return done(sim.update("nas_server", server["id"], changes))


def _nas_delete_steps(sim: Sim, req: OpRequest) -> list[str]:
    server = sim.store.get("nas_server", req.target_id or "")
    if server is None:
        return []
    children = sim.store.related("file_system", "nas_server_id", server["id"])
    names = sorted((fs["name"] for fs in children if not _is_snapshot(fs)), key=str.casefold)
    steps = [f"Delete file system {name}" for name in names]
    return [*steps, f"Delete NAS server {server['name']}"]


@operation("nas_server", "delete", roles=STORAGE_ROLES, steps=_nas_delete_steps)
def delete_nas_server(sim: Sim, req: OpRequest) -> OpResult:
    server = target(sim, req)
    file_systems = list(sim.store.related("file_system", "nas_server_id", server["id"]))
    locked = [fs for fs in file_systems if _secure_and_unexpired(sim, fs)]
    if locked:
        raise errors.unprocessable(
            f"The NAS server {server['name']} holds the secure snapshot {locked[0]['name']}, which cannot "
            f"be deleted before {locked[0]['expiration_timestamp']}.",
            server["id"],
            locked[0]["id"],
            code=errors.CODE_IN_USE,
        )
    for fs in file_systems:
        _delete_fs_record(sim, fs["id"])
    for type_name in NAS_CHILD_TYPES:
        for child in list(sim.store.related(type_name, "nas_server_id", server["id"])):
            sim.store.delete(type_name, child["id"])
    sim.store.delete("nas_server", server["id"])
    return done(server)


def _delete_fs_record(sim: Sim, fs_id: str) -> None:
    for type_name in FS_CHILD_TYPES:
        for child in list(sim.store.related(type_name, "file_system_id", fs_id)):
            sim.store.delete(type_name, child["id"])
    sim.store.delete("file_system", fs_id)


def _require_started(server: Record, what: str) -> None:
    if server.get("operational_status") != "Started":
        raise errors.unprocessable(
            f"The NAS server {server['name']} is {server.get('operational_status')}; {what} needs it up.",
            server["id"],
        )


@operation("nas_server", "ping", roles=STORAGE_ROLES)
def ping_nas_server(sim: Sim, req: OpRequest) -> OpResult:
    server = target(sim, req)
    text = req.body.get("destination_address")
    if not text:
        raise errors.bad_request(
            "ping needs a destination_address.", "destination_address", code=errors.CODE_MISSING_REQUIRED
        )
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise errors.bad_request(
            f"destination_address {text!r} is not an IP address.",
            "destination_address",
            text,
            code=errors.CODE_INVALID_VALUE,
        ) from None
    if (address.version == 6) != req.body.get("is_ipv6", False):
        raise errors.bad_request(
            f"destination_address {text} does not match is_ipv6.",
            "is_ipv6",
            text,
            code=errors.CODE_INVALID_VALUE,
        )
    _require_started(server, "a ping")
    if any(address in net for net in UNREACHABLE_NETS):
        raise errors.unprocessable(
            f"{text} did not answer the ping from NAS server {server['name']}.", text, server["id"]
        )
    return done(server)


@operation("nas_server", "update_user_mappings", roles=STORAGE_ROLES)
def update_user_mappings(sim: Sim, req: OpRequest) -> OpResult:
    server = target(sim, req)
    _require_started(server, "updating user mappings")
    file_systems = [
        fs for fs in sim.store.related("file_system", "nas_server_id", server["id"]) if not _is_snapshot(fs)
    ]
    nas_files.write_report(
        sim,
        server,
        [
            f"User mapping report of NAS server {server['name']}, {iso_timestamp(sim.now())}",
            *(f"{fs['name']}: owners and ACLs checked, 0 changed" for fs in file_systems),
        ],
    )
    return done(server)


def _nas_clone_sources(sim: Sim, server: Record, refs: list[str] | None) -> list[Record]:
    if refs is None:
        return [
            fs
            for fs in sim.store.related("file_system", "nas_server_id", server["id"])
            if not _is_snapshot(fs)
        ]
    sources = []
    for ref in refs:
        fs = sim.store.require("file_system", ref)
        if fs["nas_server_id"] != server["id"] or _is_snapshot(fs):
            raise errors.unprocessable(
                f"{fs['name']} is not a file system of the NAS server {server['name']}.",
                fs["id"],
                server["id"],
            )
        if fs not in sources:
            sources.append(fs)
    return sources


def _nas_clone_steps(sim: Sim, req: OpRequest) -> list[str]:
    server = sim.store.get("nas_server", req.target_id or "")
    if server is None:
        return []
    try:
        sources = _nas_clone_sources(sim, server, req.body.get("file_systems"))
    except errors.ApiFault:
        return []
    return [f"Clone NAS server {server['name']}", *(f"Clone file system {fs['name']}" for fs in sources)]


@operation("nas_server", "clone", roles=STORAGE_ROLES, steps=_nas_clone_steps)
def clone_nas_server(sim: Sim, req: OpRequest) -> OpResult:
    server = target(sim, req)
    body = req.body
    require_free_name(sim, "nas_server", body["name"])
    sources = _nas_clone_sources(sim, server, body.get("file_systems"))
    for fs in sources:
        if _flr_mode(fs) != "None" and not body.get("clone_flr_file_systems", False):
            raise errors.unprocessable(
                f"The file system {fs['name']} has file-level retention; clone_flr_file_systems is needed.",
                fs["id"],
            )
    copy = public(server)
    copy.update(
        id=sim.new_id(),
        name=body["name"],
        is_dr_test=body.get("is_dr_test", False),
        is_replication_destination=False,
        is_production_mode_enabled=False,
        protection_policy_id=None,
        current_preferred_IPv4_interface_id=None,
        current_preferred_IPv6_interface_id=None,
        **dict.fromkeys(INTERFACE_FIELDS),
    )
    clone = sim.insert("nas_server", **copy)
    for fs in sources:
        _copy_fs(sim, fs, name=fs["name"], nas_server_id=clone["id"])
    return done(server, body={"id": clone["id"]})


# -- file systems --------------------------------------------------------------------------------------


def _copy_fs(sim: Sim, source: Record, **values: Any) -> Record:
    """A new primary file system (a clone) with the contents and settings of ``source``."""
    copy = public(source)
    copy.update(
        id=sim.new_id(),
        parent_id=source["id"],
        filesystem_type="Primary",
        creation_timestamp=sim.timestamp(),
        expiration_timestamp=None,
        last_refresh_timestamp=None,
        last_writable_timestamp=None,
        is_modified=None,
        access_type=None,
        creator_type=None,
        is_secure=False,
        protection_policy_id=None,
        is_quota_enabled=source.get("is_quota_enabled") or False,
        grace_period=source.get("grace_period") or DEFAULT_GRACE_PERIOD,
        default_hard_limit=source.get("default_hard_limit") or 0,
        default_soft_limit=source.get("default_soft_limit") or 0,
    )
    for key, default in {**SMB_DEFAULTS, **POLICY_DEFAULTS}.items():
        if copy.get(key) is None:
            copy[key] = default
    copy.update(values)
    return sim.insert("file_system", **copy)


def _insert_file_system(sim: Sim, **values: Any) -> Record:
    """A new primary file system with the array's defaults for what ``values`` leaves out."""
    record: Record = {
        **SMB_DEFAULTS,
        **POLICY_DEFAULTS,
        "id": sim.new_id(),
        "parent_id": None,
        "filesystem_type": "Primary",
        "config_type": "General",
        "is_quota_enabled": False,
        "grace_period": DEFAULT_GRACE_PERIOD,
        "default_hard_limit": 0,
        "default_soft_limit": 0,
        "creation_timestamp": sim.timestamp(),
        "is_secure": False,
        **values,
    }
    return sim.insert("file_system", **record)


@operation("file_system", "create", roles=STORAGE_ROLES)
def create_file_system(sim: Sim, req: OpRequest) -> OpResult:
    body = req.body
    server = sim.store.require("nas_server", body["nas_server_id"])
    require_fs_name(sim, server["id"], body["name"])
    if server.get("is_replication_destination"):
        raise errors.unprocessable(
            f"The NAS server {server['name']} is a replication destination; file systems arrive by "
            "replication only.",
            server["id"],
        )
    _require_started(server, "creating a file system")
    config_type = body.get("config_type", "General")
    if "host_io_size" in body and config_type != "VMware":
        raise errors.bad_request(
            "host_io_size applies to VMware file systems only.",
            "host_io_size",
            code=errors.CODE_INVALID_VALUE,
        )
    size = round_up_mib(body["size_total"])
    fs = _insert_file_system(
        sim,
        **{k: body[k] for k in PLAIN_FIELDS if k in body},
        name=body["name"],
        nas_server_id=server["id"],
        config_type=config_type,
        host_io_size=body.get("host_io_size", "VMware_8K") if config_type == "VMware" else None,
        size_total=size,
        size_used=min(size, EMPTY_FS_USED),
        flr_attributes=_flr(sim, None, body.get("flr_attributes") or {}),
        **_policy_changes(sim, "file_system", body),
    )
    return created(fs)


@operation("file_system", "modify", roles=STORAGE_ROLES)
def modify_file_system(sim: Sim, req: OpRequest) -> OpResult:
    fs = target(sim, req)
    body = req.body
    if _is_snapshot(fs):
        return done(sim.update("file_system", fs["id"], _snapshot_changes(sim, fs, body)))
    for field in ("expiration_timestamp", "is_secure"):
        if field in body:
            raise errors.unprocessable(f"{field} applies to snapshots only; {fs['name']} is not one.", field)
    changes: dict[str, Any] = {k: body[k] for k in body if k in PLAIN_FIELDS}
    for key in ("is_quota_enabled", "grace_period", "default_hard_limit", "default_soft_limit"):
        if key in body:
            changes[key] = body[key]
    hard = changes.get("default_hard_limit", fs.get("default_hard_limit") or 0)
    soft = changes.get("default_soft_limit", fs.get("default_soft_limit") or 0)
    if hard and soft > hard:
        raise errors.unprocessable(
            f"The default soft limit ({soft} bytes) exceeds the default hard limit ({hard} bytes).",
            soft,
            hard,
        )
    if "size_total" in body:
        changes["size_total"] = _new_size(fs, body["size_total"])
    if "flr_attributes" in body:
        if _flr_mode(fs) == "None":
            raise errors.unprocessable(
                f"The file system {fs['name']} has no file-level retention to change.", fs["id"]
            )
        changes["flr_attributes"] = _flr(sim, fs["flr_attributes"], body["flr_attributes"])
    changes.update(_policy_changes(sim, "file_system", body))
    return done(sim.update("file_system", fs["id"], changes))


def _new_size(fs: Record, requested: int) -> int:
    size = round_up_mib(requested)
    if size < fs["size_total"]:
        if fs.get("config_type") == "VMware":
            raise errors.unprocessable(f"The VMware file system {fs['name']} cannot shrink.", fs["id"])
        if size < fs["size_used"]:
            raise errors.unprocessable(
                f"The file system {fs['name']} cannot shrink below its {fs['size_used']} used bytes.",
                fs["id"],
                fs["size_used"],
            )
    return size


def _snapshot_changes(sim: Sim, snap: Record, body: dict[str, Any]) -> dict[str, Any]:
    others = sorted(set(body) - SNAPSHOT_FIELDS)
    if others:
        raise errors.unprocessable(
            f"{snap['name']} is a snapshot; {', '.join(others)} can change on primary file systems only.",
            snap["id"],
            *others,
        )
    changes: dict[str, Any] = {}
    if "description" in body:
        changes["description"] = body["description"]
    if "expiration_timestamp" in body:
        if snap.get("is_secure"):
            raise errors.unprocessable(
                f"The secure snapshot {snap['name']} keeps its expiration time.", snap["id"]
            )
        changes["expiration_timestamp"] = _future(sim, body["expiration_timestamp"], "expiration_timestamp")
    if "is_secure" in body:
        if snap.get("is_secure") and not body["is_secure"]:
            raise errors.unprocessable(f"The snapshot {snap['name']} is secure for good.", snap["id"])
        if (
            body["is_secure"]
            and changes.get("expiration_timestamp", snap.get("expiration_timestamp")) is None
        ):
            raise errors.unprocessable(
                f"A secure snapshot needs an expiration time; {snap['name']} has none.", snap["id"]
            )
        changes["is_secure"] = body["is_secure"]
    return changes


@operation("file_system", "delete", roles=STORAGE_ROLES)
def delete_file_system(sim: Sim, req: OpRequest) -> OpResult:
    fs = target(sim, req)
    if _is_snapshot(fs):
        if _secure_and_unexpired(sim, fs):
            raise errors.unprocessable(
                f"The secure snapshot {fs['name']} cannot be deleted before {fs['expiration_timestamp']}.",
                fs["id"],
            )
    else:
        snapshots = _snapshots_of(sim, fs["id"])
        if snapshots:
            raise errors.unprocessable(
                f"The file system {fs['name']} has {len(snapshots)} snapshot(s); delete them first.",
                fs["id"],
                len(snapshots),
                code=errors.CODE_FS_HAS_SNAPSHOTS,
            )
        if (fs.get("flr_attributes") or {}).get("has_protected_files"):
            raise errors.unprocessable(
                f"The file system {fs['name']} holds files under retention.",
                fs["id"],
                code=errors.CODE_IN_USE,
            )
    # Clones outlive their source: a snapshot's clones then hang from the snapshot's file system,
    # a file system's clones from nothing (as volume clones do).
    new_parent = fs.get("parent_id") if _is_snapshot(fs) else None
    for clone in list(sim.store.related("file_system", "parent_id", fs["id"])):
        if not _is_snapshot(clone):
            sim.update("file_system", clone["id"], {"parent_id": new_parent})
    _delete_fs_record(sim, fs["id"])
    return done(fs)


def new_snapshot(sim: Sim, fs: Record, body: dict[str, Any], creator: str = "User") -> Record:
    """A snapshot of the primary file system ``fs`` (the ``snapshot`` action, and seeding)."""
    name = body.get("name") or free_name(
        sim.timestamp(), lambda n: _fs_name_taken(sim, fs["nas_server_id"], n)
    )
    require_fs_name(sim, fs["nas_server_id"], name)
    expiry = body.get("expiration_timestamp")
    if expiry is not None and creator == "User":
        _future(sim, expiry, "expiration_timestamp")
    if body.get("is_secure") and expiry is None:
        raise errors.unprocessable("A secure snapshot needs an expiration_timestamp.", "expiration_timestamp")
    values = public(fs)
    values.update({k: body[k] for k in PLAIN_FIELDS if k in body})
    values.update(
        id=sim.new_id(),
        name=name,
        description=body.get("description"),
        parent_id=fs["id"],
        filesystem_type="Snapshot",
        creation_timestamp=body.get("creation_timestamp") or sim.timestamp(),
        expiration_timestamp=expiry,
        last_refresh_timestamp=None,
        last_writable_timestamp=None,
        is_modified=False,
        access_type=body.get("access_type", "Snapshot"),
        creator_type=creator,
        is_secure=body.get("is_secure", False),
        protection_policy_id=None,
        performance_policy_id=None,
        is_quota_enabled=None,
        grace_period=None,
        default_hard_limit=None,
        default_soft_limit=None,
    )
    return sim.insert("file_system", **values)


@operation("file_system", "snapshot", roles=STORAGE_ROLES)
def snapshot_file_system(sim: Sim, req: OpRequest) -> OpResult:
    fs = target(sim, req)
    if _is_snapshot(fs):
        raise errors.unprocessable(
            f"{fs['name']} is a snapshot; snapshots are taken of file systems.", fs["id"]
        )
    snap = new_snapshot(sim, fs, req.body)
    return done(fs, body={"id": snap["id"]})


@operation("file_system", "clone", roles=STORAGE_ROLES)
def clone_file_system(sim: Sim, req: OpRequest) -> OpResult:
    source = target(sim, req)
    body = req.body
    require_fs_name(sim, source["nas_server_id"], body["name"])
    flr = body.get("flr_attributes") or {}
    if _flr_mode(source) != "None" and not flr.get("force_clone", False):
        raise errors.unprocessable(
            f"The file system {source['name']} has file-level retention; cloning it needs "
            "flr_attributes.force_clone=true.",
            source["id"],
        )
    values = {k: body[k] for k in PLAIN_FIELDS if k in body}
    clone = _copy_fs(sim, source, name=body["name"], description=body.get("description"), **values)
    return done(source, body={"id": clone["id"]})


def _snapshot_and_parent(sim: Sim, snap: Record, verb: str) -> Record:
    if not _is_snapshot(snap):
        raise errors.unprocessable(
            f"{snap['name']} is not a snapshot; only snapshots can be {verb}.", snap["id"]
        )
    parent = sim.store.get("file_system", snap["parent_id"] or "")
    if parent is None:
        raise errors.unprocessable(
            f"The file system of snapshot {snap['name']} no longer exists.", snap["id"]
        )
    return parent


@operation("file_system", "refresh", roles=STORAGE_ROLES)
def refresh_file_system(sim: Sim, req: OpRequest) -> OpResult:
    snap = target(sim, req)
    parent = _snapshot_and_parent(sim, snap, "refreshed")
    if snap.get("is_secure"):
        raise errors.unprocessable(f"The secure snapshot {snap['name']} cannot be refreshed.", snap["id"])
    changes = {
        "size_total": parent["size_total"],
        "size_used": parent["size_used"],
        "last_refresh_timestamp": sim.timestamp(),
        "is_modified": False,
    }
    return done(sim.update("file_system", snap["id"], changes))


@operation("file_system", "restore", roles=STORAGE_ROLES)
def restore_file_system(sim: Sim, req: OpRequest) -> OpResult:
    snap = target(sim, req)
    parent = _snapshot_and_parent(sim, snap, "restored from")
    backup = None
    if req.body.get("copy_name"):
        backup = new_snapshot(sim, parent, {"name": req.body["copy_name"]})
    sim.update(
        "file_system",
        parent["id"],
        {"size_used": min(snap["size_used"], parent["size_total"])},
    )
    if backup is not None:
        return done(snap, body={"id": backup["id"]})
    return done(snap)


@operation("file_system", "refresh_quota", roles=STORAGE_ROLES)
def refresh_quota(sim: Sim, req: OpRequest) -> OpResult:
    fs = target(sim, req)
    if _is_snapshot(fs):
        raise errors.unprocessable(f"{fs['name']} is a snapshot; snapshots have no quotas.", fs["id"])
    return done(fs)


# -- seed ------------------------------------------------------------------------------------------------

# name, NAS server (index), size, config type, FLR mode, policy, snapshots (scheduled, by user)
SEED_FILE_SYSTEMS: tuple[tuple[str, int, int, str, str, str | None, int, tuple[str, ...]], ...] = (
    ("fs-home", 0, 2 * TIB, "General", "None", "protect", 2, ()),
    ("fs-projects", 0, 5 * TIB, "General", "None", "protect", 1, ("projects-before-migration",)),
    ("fs-finance", 0, 500 * GIB, "General", "None", "protect", 2, ("finance-pre-audit-q3",)),
    ("fs-hr", 0, 200 * GIB, "General", "None", "protect", 0, ()),
    ("fs-vmware-ds01", 0, 8 * TIB, "VMware", "None", None, 0, ()),
    ("fs-archive", 0, 10 * TIB, "General", "Enterprise", None, 0, ()),
    ("fs-dev-scratch", 1, 1 * TIB, "General", "None", "qos", 0, ()),
    ("fs-ci-artifacts", 1, 3 * TIB, "General", "None", "qos", 0, ()),
    ("fs-build-cache", 1, 750 * GIB, "General", "None", None, 0, ("build-cache-known-good",)),
    ("fs-test-data", 1, 300 * GIB, "General", "None", None, 0, ()),
)


def seed(sim: Sim) -> None:
    """Two NAS servers (production and development) with ten file systems and a few snapshots."""
    nodes = _node_ids(sim)
    now = sim.now()
    protect = sim.store.find_by_name("policy", FILE_POLICY_NAME)
    qos = sim.store.find_by_name("policy", FILE_QOS_POLICY_NAME)
    daily = sim.store.find_by_name("snapshot_rule", DAILY_RULE_NAME)
    # The daily rule runs at 23:00 New York time, 04:00 UTC (standard time).
    last_run = now - now % 86400 + 4 * 3600
    if last_run > now:
        last_run -= 86400
    servers = []
    for index, (name, description, directory, unix_user, mapping) in enumerate(
        (
            ("nas-prod-01", "Production shares (SMB and NFS)", "Local_Then_LDAP", "nobody", True),
            ("nas-dev-01", "Engineering and CI file storage", "Local_Files", None, False),
        )
    ):
        server = _insert_nas_server(
            sim,
            nodes[index % len(nodes)],
            name=name,
            description=description,
            default_unix_user=unix_user,
            current_unix_directory_service=directory,
            is_auto_user_mapping_enabled=mapping,
        )
        servers.append(server)
    for name, server_index, size, config_type, flr_mode, policy, scheduled, manual in SEED_FILE_SYSTEMS:
        created_at = now - 86400 * sim.rng.uniform(60, 900)
        policy_record = {"protect": protect, "qos": qos}.get(policy or "")
        fs = _insert_file_system(
            sim,
            name=name,
            nas_server_id=servers[server_index]["id"],
            config_type=config_type,
            host_io_size="VMware_8K" if config_type == "VMware" else None,
            size_total=size,
            size_used=int(size * sim.rng.uniform(0.08, 0.85)) // 8192 * 8192,
            protection_policy_id=policy_record["id"] if policy == "protect" and policy_record else None,
            performance_policy_id=policy_record["id"] if policy == "qos" and policy_record else None,
            is_quota_enabled=name in ("fs-home", "fs-projects"),
            default_hard_limit=50 * GIB if name == "fs-home" else 0,
            default_soft_limit=40 * GIB if name == "fs-home" else 0,
            creation_timestamp=sim.timestamp(created_at),
            flr_attributes=_flr(sim, None, {"mode": flr_mode}),
        )
        for day in range(scheduled):
            taken = last_run - 86400 * day + sim.rng.uniform(5, 90)
            snap = new_snapshot(
                sim,
                fs,
                {
                    "name": f"{name}.daily.{datetime.fromtimestamp(taken, UTC).strftime('%Y-%m-%d_%H%M')}",
                    "creation_timestamp": sim.timestamp(taken),
                    "expiration_timestamp": sim.timestamp(taken + 7 * 86400),
                },
                creator="Scheduler",
            )
            if daily is not None:
                sim.update("file_system", snap["id"], {"_snapshot_rule_id": daily["id"]})
        for snap_name in manual:
            taken = now - 86400 * sim.rng.uniform(2, 30)
            new_snapshot(sim, fs, {"name": snap_name, "creation_timestamp": sim.timestamp(taken)})
