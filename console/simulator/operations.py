"""What handlers see: the simulator context, an operation request, its result, and the registry.

A handler implements one change (create, modify, delete or an action) of one resource type. It
checks the business rules (the body already passed schema validation against the catalog), changes
the store and returns the synchronous answer. The same handler serves ``?is_async=true``: run once
in a rolled-back transaction for the immediate refusal, and for real when its job completes.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from console.catalog import Catalog
from console.simulator.config import SimulatorConfig
from console.simulator.store import Record, Store

# Built-in role ids (role_instance): who may change what.
ADMINISTRATOR, STORAGE_ADMIN, OPERATOR, VM_ADMIN, SECURITY_ADMIN = "1", "2", "3", "4", "5"
STORAGE_ROLES = frozenset({ADMINISTRATOR, STORAGE_ADMIN})
USER_ROLES = frozenset({ADMINISTRATOR, SECURITY_ADMIN})
SYSTEM_ROLES = frozenset({ADMINISTRATOR})
MONITOR_ROLES = frozenset({ADMINISTRATOR, STORAGE_ADMIN, OPERATOR})


def iso_timestamp(t: float) -> str:
    """The API's timestamp form: ISO 8601 with milliseconds and offset."""
    dt = datetime.fromtimestamp(t, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}+00:00"


class Sim:
    """The simulator's state and services, shared by the app, the job runner and the handlers."""

    def __init__(self, config: SimulatorConfig, catalog: Catalog, store: Store | None = None) -> None:
        self.config = config
        self.catalog = catalog
        self.store = store if store is not None else Store()
        self.rng = random.Random(config.seed)
        self.ids = random.Random(config.seed ^ 0x5EED)
        self.clock: Callable[[], float] = time.time

    def now(self) -> float:
        return self.clock()

    def timestamp(self, t: float | None = None) -> str:
        return iso_timestamp(self.now() if t is None else t)

    def new_id(self) -> str:
        return str(uuid.UUID(int=self.ids.getrandbits(128), version=4))

    def new_record(self, type_name: str, **values: Any) -> Record:
        """A full record of ``type_name``: every plain instance field present (``None`` unless given)
        and the ``*_l10n`` twin of every enum field filled. Relations are left to the resolver."""
        fields = self.catalog.instance_fields(type_name)
        record: Record = {name: None for name, f in fields.items() if not f.is_relation}
        record.update(values)
        return self.with_labels(type_name, record)

    def insert(self, type_name: str, **values: Any) -> Record:
        return self.store.insert(type_name, self.new_record(type_name, **values))

    def update(self, type_name: str, record_id: str, changes: dict[str, Any]) -> Record:
        """Change a record, keeping its ``*_l10n`` twins in step."""
        return self.store.update(type_name, record_id, self.with_labels(type_name, dict(changes)))

    def with_labels(self, type_name: str, values: Record) -> Record:
        fields = self.catalog.instance_fields(type_name)
        for name in list(values):
            f = fields.get(name)
            twin = f"{name}_l10n"
            if f is None or twin not in fields:
                continue
            if f.enum is not None:
                values[twin] = self.label(f.enum, values[name])
            elif f.items is not None and f.items.enum is not None and isinstance(values[name], list):
                values[twin] = [self.label(f.items.enum, v) for v in values[name]]
        return values

    def label(self, enum_name: str, value: str | None) -> str | None:
        """The ``*_l10n`` twin of an enum value."""
        if value is None:
            return None
        enum = self.catalog.enums.get(enum_name)
        return enum.label(value) if enum is not None else value.replace("_", " ")


@dataclass(frozen=True)
class Caller:
    user: str
    role_id: str


@dataclass
class OpRequest:
    resource_type: str
    action: str
    """``create``, ``modify``, ``delete`` or the name of an action (``snapshot``, ``attach`` ...)."""
    target_id: str | None
    body: dict[str, Any]
    caller: Caller

    def to_json(self) -> dict[str, Any]:
        return {
            "resource_type": self.resource_type,
            "action": self.action,
            "target_id": self.target_id,
            "body": self.body,
            "user": self.caller.user,
            "role_id": self.caller.role_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OpRequest:
        return cls(
            data["resource_type"],
            data["action"],
            data["target_id"],
            data["body"],
            Caller(data["user"], data["role_id"]),
        )


@dataclass
class OpResult:
    status: int
    """201 for a create, 204 without body, 200 with ``body``."""
    body: dict[str, Any] | list[Any] | None = None
    resource_id: str | None = None
    """The resource the change concerns (for a create, the new one); shown in the job."""
    resource_name: str | None = None


Handler = Callable[[Sim, OpRequest], OpResult]
StepsFn = Callable[[Sim, OpRequest], list[str]]


@dataclass(frozen=True)
class OpSpec:
    handler: Handler
    roles: frozenset[str]
    steps: StepsFn | None = None
    """Descriptions of the child steps an async run of this operation shows, in order."""


@dataclass
class Registry:
    specs: dict[tuple[str, str], OpSpec] = field(default_factory=dict)

    def get(self, type_name: str, action: str) -> OpSpec | None:
        return self.specs.get((type_name, action))


REGISTRY = Registry()


def operation(
    type_name: str,
    action: str,
    *,
    roles: frozenset[str] = STORAGE_ROLES,
    steps: StepsFn | None = None,
) -> Callable[[Handler], Handler]:
    """Register ``handler`` for ``action`` on ``type_name`` (one handler per pair)."""

    def register(handler: Handler) -> Handler:
        key = (type_name, action)
        if key in REGISTRY.specs:
            raise RuntimeError(f"two handlers for {key}")
        REGISTRY.specs[key] = OpSpec(handler, roles, steps)
        return handler

    return register


RelationRule = Callable[[Sim, Record], "Record | list[Record] | None"]
RELATIONS: dict[tuple[str, str], RelationRule] = {}


def relation(type_name: str, field_name: str) -> Callable[[RelationRule], RelationRule]:
    """Register how ``type_name.field_name`` (an embeddable relation) finds its records, where the
    generic rules of ``relations.Resolver`` (``<field>_id`` to one, ``<type>_id`` back) do not fit."""

    def register(rule: RelationRule) -> RelationRule:
        RELATIONS[(type_name, field_name)] = rule
        return rule

    return register


def created(record: Record) -> OpResult:
    return OpResult(201, {"id": record["id"]}, record["id"], record.get("name"))


def done(record: Record | None = None, body: dict[str, Any] | None = None, status: int = 204) -> OpResult:
    rid = record["id"] if record is not None else None
    name = record.get("name") if record is not None else None
    return OpResult(200 if body is not None else status, body, rid, name)
