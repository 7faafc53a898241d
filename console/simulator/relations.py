"""Finding the records behind an embeddable relation (``select=volume_groups(name)``, ``order=a.b``)."""

from __future__ import annotations

from console.simulator.operations import RELATIONS, Sim
from console.simulator.store import Record


class Resolver:
    """Resolves relations: a registered rule first, then two generic rules.

    To one: ``host.host_group`` is the ``host_group`` whose id is in ``host_group_id``.
    To many: ``host_group.hosts`` are the hosts whose ``host_group_id`` is this group's id.
    """

    def __init__(self, sim: Sim) -> None:
        self.sim = sim

    def resolve(self, type_name: str, record: Record, field_name: str) -> Record | list[Record] | None:
        rule = RELATIONS.get((type_name, field_name))
        if rule is not None:
            return rule(self.sim, record)
        field = self.sim.catalog.instance_fields(type_name).get(field_name)
        if field is None or field.relation_type is None:
            return None
        target = field.relation_type
        store = self.sim.store
        if not field.is_to_many:
            ref = record.get(f"{field_name}_id")
            return store.get(target, ref) if isinstance(ref, str) else None
        return store.related(target, f"{type_name}_id", record["id"])
