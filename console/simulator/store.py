"""The simulator's resources: one table of records per resource type, with transactions and indexes.

Records are plain dicts holding every instance field of their type; keys starting with ``_`` are
internals (memberships, job plans) that are never served. Handlers change records only through
``insert``/``update``/``delete`` so that a transaction can undo them: an async request is first
tried in a transaction that is always rolled back (its immediate validation), and runs for real when
its job completes.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from console.simulator import errors

Record = dict[str, Any]

# Types whose names must be unique, and whether the comparison ignores case.
UNIQUE_NAME_TYPES = {
    "volume": True,
    "volume_group": True,
    "host": True,
    "host_group": True,
    "policy": True,
    "snapshot_rule": True,
    "replication_rule": True,
    "file_system": True,
    "nas_server": True,
    "local_user": False,
    "appliance": False,
}

NOT_FOUND_CODES = {"volume": errors.CODE_VOLUME_NOT_FOUND, "job": errors.CODE_JOB_NOT_FOUND}

STATE_FORMAT = 1


class Store:
    def __init__(self) -> None:
        self._tables: dict[str, dict[str, Record]] = {}
        self._indexes: dict[str, dict[tuple[str, bool], Index]] = {}
        self.versions: dict[str, int] = {}
        """Per type, rises with every change of that type's table (for caches of query results)."""
        self._undo: list[tuple[str, str, Record | None]] | None = None
        self.meta: dict[str, Any] = {}
        self.generation = 0
        """Rises with every committed change; the persistence task saves when it moved."""

    # -- reading -------------------------------------------------------------------------------

    def types(self) -> list[str]:
        return list(self._tables)

    def all(self, type_name: str) -> list[Record]:
        return list(self._tables.get(type_name, {}).values())

    def count(self, type_name: str) -> int:
        return len(self._tables.get(type_name, {}))

    def get(self, type_name: str, record_id: str) -> Record | None:
        return self._tables.get(type_name, {}).get(record_id)

    def find_by_name(self, type_name: str, name: str) -> Record | None:
        fold = UNIQUE_NAME_TYPES.get(type_name, False)
        key = name.casefold() if fold else name
        ids = self.lookup(type_name, "name", key, casefold=fold)
        return self.get(type_name, ids[0]) if ids else None

    def require(self, type_name: str, ref: str, *, allow_name: bool = True) -> Record:
        """The record an id or ``name:<name>`` reference points to, or a 404 refusal."""
        record = None
        if allow_name and ref.startswith("name:"):
            record = self.find_by_name(type_name, ref[5:])
        if record is None:
            record = self.get(type_name, ref)
        if record is None:
            code = NOT_FOUND_CODES.get(type_name, errors.CODE_NOT_FOUND)
            raise errors.not_found(f"The {type_name} {ref} was not found.", ref, code=code)
        return record

    def lookup(self, type_name: str, field: str, value: Any, *, casefold: bool = False) -> list[str]:
        """Ids of the records whose ``field`` equals (or, for a list field, holds) ``value``.

        Indexes are built on first use and kept current by every change, so a name check on a
        table of 100,000 volumes costs a dict look-up, not a scan."""
        indexes = self._indexes.setdefault(type_name, {})
        index = indexes.get((field, casefold))
        if index is None:
            index = Index(field, casefold)
            for rid, rec in self._tables.get(type_name, {}).items():
                index.add(rid, rec)
            indexes[(field, casefold)] = index
        return index.ids(value)

    def related(self, type_name: str, field: str, value: Any) -> list[Record]:
        table = self._tables.get(type_name, {})
        return [table[i] for i in self.lookup(type_name, field, value)]

    def name_taken(self, type_name: str, name: str, *, except_id: str | None = None) -> bool:
        other = self.find_by_name(type_name, name)
        return other is not None and other["id"] != except_id

    # -- changing ----------------------------------------------------------------------------------

    def insert(self, type_name: str, record: Record) -> Record:
        table = self._tables.setdefault(type_name, {})
        rid = record["id"]
        if rid in table:
            raise ValueError(f"duplicate {type_name} id {rid}")
        self._log(type_name, rid, None)
        table[rid] = record
        self._reindex(type_name, rid, None, record)
        return record

    def update(self, type_name: str, record_id: str, changes: dict[str, Any]) -> Record:
        table = self._tables[type_name]
        old = table[record_id]
        self._log(type_name, record_id, old)
        new = {**old, **changes}
        table[record_id] = new
        self._reindex(type_name, record_id, old, new)
        return new

    def delete(self, type_name: str, record_id: str) -> Record:
        table = self._tables[type_name]
        old = table.pop(record_id)
        self._log(type_name, record_id, old)
        self._reindex(type_name, record_id, old, None)
        return old

    def _reindex(self, type_name: str, record_id: str, old: Record | None, new: Record | None) -> None:
        self.generation += 1
        self.versions[type_name] = self.versions.get(type_name, 0) + 1
        for index in self._indexes.get(type_name, {}).values():
            index.replace(record_id, old, new)

    def _log(self, type_name: str, record_id: str, old: Record | None) -> None:
        if self._undo is not None:
            self._undo.append((type_name, record_id, old))

    @contextlib.contextmanager
    def transaction(self, *, commit: bool = True) -> Iterator[None]:
        """All changes inside happen, or none (on an exception, or always with ``commit=False``)."""
        if self._undo is not None:
            raise RuntimeError("transactions do not nest")
        self._undo = []
        try:
            yield
        except BaseException:
            self._rollback()
            raise
        else:
            if not commit:
                self._rollback()
        finally:
            self._undo = None

    def _rollback(self) -> None:
        assert self._undo is not None
        for type_name, record_id, old in reversed(self._undo):
            table = self._tables.setdefault(type_name, {})
            current = table.pop(record_id, None)
            if old is not None:
                table[record_id] = old
            self._reindex(type_name, record_id, current, old)
        self._undo.clear()

    # -- persistence -------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {"format": STATE_FORMAT, "meta": self.meta, "tables": self._tables}

    def load_json(self, data: dict[str, Any]) -> None:
        if data.get("format") != STATE_FORMAT or not isinstance(data.get("tables"), dict):
            raise ValueError("not a simulator state file of a known format")
        self._tables = {t: dict(rows) for t, rows in data["tables"].items()}
        self.meta = dict(data.get("meta") or {})
        self._indexes.clear()
        self.versions = {t: self.versions.get(t, 0) + 1 for t in set(self.versions) | set(self._tables)}
        self.generation += 1

    def save(self, path: Path) -> None:
        """Write atomically: a crash leaves either the old or the new file, never a torn one."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(self.to_json(), f, separators=(",", ":"))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def load(self, path: Path) -> None:
        with path.open(encoding="utf-8") as f:
            self.load_json(json.load(f))


class Index:
    """Record ids by the value of one field (each item, for a list field)."""

    def __init__(self, field: str, casefold: bool) -> None:
        self.field = field
        self.casefold = casefold
        # dict as an ordered set: ids stay in insertion order and removal is O(1).
        self._ids: dict[Any, dict[str, None]] = {}

    def ids(self, value: Any) -> list[str]:
        return list(self._ids.get(value, ()))

    def _keys(self, record: Record | None) -> list[Any]:
        if record is None:
            return []
        value = record.get(self.field)
        values = value if isinstance(value, list) else [value]
        keys = []
        for v in values:
            if isinstance(v, dict | list):
                continue
            keys.append(v.casefold() if self.casefold and isinstance(v, str) else v)
        return keys

    def add(self, record_id: str, record: Record) -> None:
        for key in self._keys(record):
            self._ids.setdefault(key, {})[record_id] = None

    def replace(self, record_id: str, old: Record | None, new: Record | None) -> None:
        old_keys, new_keys = self._keys(old), self._keys(new)
        if old_keys == new_keys:
            return
        for key in old_keys:
            bucket = self._ids.get(key)
            if bucket is not None:
                bucket.pop(record_id, None)
                if not bucket:
                    del self._ids[key]
        for key in new_keys:
            self._ids.setdefault(key, {})[record_id] = None
