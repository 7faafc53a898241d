"""Names of the resources that table rows refer to by id only.

Some reference fields have no relation to select a name through (a snapshot's
``protection_data.source_id``, a user's ``role_id``, a NAS server's ``current_node_id``). A table
shows their names all the same: the ids of each new page are looked up, one query per type and
batch (``id=in.(...)``, ``select=id,name``), and the cells change from id to name when the answer
is in. Names are kept for the life of the table; an id that cannot be named (gone, not permitted)
stays shown as the id.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence

import shiboken6
from PySide6.QtCore import QObject, Signal

from console.api import F, PowerStoreClient
from console.ui import qt_async

log = logging.getLogger(__name__)

BATCH = 50
"""Ids per query (50 UUIDs keep the URL well under the array's limit)."""


class ReferenceNames(QObject):
    arrived = Signal()
    """New names are known (cells showing ids may now show names)."""

    def __init__(self, client: PowerStoreClient, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._client = client
        self._names: dict[tuple[str, str], str | None] = {}
        """(type, id) → name; None once asked for and not found."""
        self._tasks: set[asyncio.Task[None]] = set()

    def name(self, type_name: str, resource_id: str) -> str | None:
        return self._names.get((type_name, resource_id))

    def want(self, ids_by_type: Mapping[str, Iterable[str]]) -> None:
        """Look up the names of these ids, those not known or asked for yet."""
        for type_name, ids in ids_by_type.items():
            fresh = [i for i in dict.fromkeys(ids) if (type_name, i) not in self._names]
            if not fresh:
                continue
            for resource_id in fresh:
                self._names[(type_name, resource_id)] = None  # asked for: not again
            task = qt_async.start(self._look_up(type_name, fresh), name=f"ReferenceNames({type_name})")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def cancel(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    async def _look_up(self, type_name: str, ids: list[str]) -> None:
        # Ids not found stay ids and are not asked for again; ids whose query failed (the array
        # busy or away) are asked for again with the next page or reload.
        failed: list[str] = []
        try:
            found = await names_of(self._client, type_name, ids, failed=failed)
        except asyncio.CancelledError:
            failed = ids
            raise
        finally:
            for resource_id in failed:
                self._names.pop((type_name, resource_id), None)
        for resource_id, name in found.items():
            self._names[(type_name, resource_id)] = name
        if found and shiboken6.isValid(self):
            self.arrived.emit()


async def names_of(
    client: PowerStoreClient, type_name: str, ids: Sequence[str], *, failed: list[str] | None = None
) -> dict[str, str]:
    """id → name of those of ``ids`` that can be had, in queries of ``BATCH`` ids; a batch that
    fails (not permitted, the array busy) names nothing, and its ids go to ``failed``."""
    names: dict[str, str] = {}
    for start in range(0, len(ids), BATCH):
        batch = list(ids[start : start + BATCH])
        try:
            page = await client.query(
                type_name, select="id,name", where=F("id").is_in(batch), limit=len(batch)
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.debug("names of %d %s not looked up: %s", len(batch), type_name, exc)
            if failed is not None:
                failed.extend(batch)
            continue
        names.update({str(item.get("id")): str(item["name"]) for item in page.items if item.get("name")})
    return names
