"""How the console shows PowerStore resources: columns, formatted values, filters and details (no Qt).

Everything here is driven by the resource catalog (``console.catalog``) plus ``resources/columns.json``,
the UI's extension of it (default columns, default sort, labels, related resources per type). The
table model, the filter builder, the CSV export and the detail pane all take their behaviour from
here, so no widget carries per-type code.

A column is named by a key: a field (``size``), a path through to-one or to-many relations
(``protection_policy.name``, ``policies.name``) or into an embedded object
(``protection_data.expiration_timestamp``). ``Column`` knows what to ``select``, how to pull its value
out of a record, how to show it, whether the server can sort by it and which attribute filters it.

Shown values: bytes in binary units (GiB/TiB) with the exact byte count as the tooltip, timestamps in
local time (the API's UTC text as the tooltip), enums through their ``*_l10n`` twin when the record
has it and the catalog's display labels otherwise, booleans as Yes/No, lists joined by commas.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from console.api.expressions import Condition, Expression, F, Group, all_of
from console.catalog import Catalog, Enum, Field, load_catalog
from console.comparison import parse_timestamp
from console.resource_files import read_text

COLUMNS_FILE = "columns.json"
EMPTY = "—"

# Kinds of values, each shown, aligned, sorted and filtered its own way.
TEXT = "text"
ENUM = "enum"
BYTES = "bytes"
RATE = "rate"
DATETIME = "datetime"
BOOL = "bool"
INTEGER = "integer"
NUMBER = "number"
PERCENT = "percent"
DURATION = "duration"
LIST = "list"
OBJECT = "object"

NUMERIC_KINDS = frozenset({BYTES, RATE, INTEGER, NUMBER, PERCENT, DURATION})

# Initial column widths in characters, by kind (the view turns them into pixels).
_WIDTHS = {
    TEXT: 22,
    ENUM: 14,
    BYTES: 11,
    RATE: 12,
    DATETIME: 19,
    BOOL: 7,
    INTEGER: 9,
    NUMBER: 10,
    PERCENT: 8,
    DURATION: 10,
    LIST: 24,
    OBJECT: 30,
}

# Words shown in capitals (or a fixed spelling) in generated labels.
_WORDS = {
    "id": "ID",
    "ids": "IDs",
    "wwn": "WWN",
    "nsid": "NSID",
    "nguid": "NGUID",
    "rpo": "RPO",
    "ip": "IP",
    "ipv4": "IPv4",
    "ipv6": "IPv6",
    "os": "OS",
    "mtu": "MTU",
    "nas": "NAS",
    "smb": "SMB",
    "nfs": "NFS",
    "qos": "QoS",
    "io": "I/O",
    "flr": "FLR",
    "mfa": "MFA",
    "lun": "LUN",
    "fc": "FC",
    "nvme": "NVMe",
    "iscsi": "iSCSI",
    "dns": "DNS",
    "ntp": "NTP",
    "ldap": "LDAP",
    "nis": "NIS",
    "unix": "UNIX",
    "cpu": "CPU",
    "uuid": "UUID",
    "nqn": "NQN",
    "dr": "DR",
    "esxi": "ESXi",
    "ndmp": "NDMP",
    "ftp": "FTP",
    "vmware": "VMware",
    "dhsm": "DHSM",
    "nvm": "NVM",
    "snmp": "SNMP",
    "eth": "Ethernet",
    "vg": "VG",
    "vvol": "vVol",
    "vm": "VM",
    "windows": "Windows",
    "x509": "X.509",
    "smtp": "SMTP",
    "kmip": "KMIP",
    "sas": "SAS",
    "be": "BE",
    "cdc": "CDC",
    "vsphere": "vSphere",
    "netapp": "NetApp",
}
_IPV = re.compile(r"(?i)^ipv[46]$")


# -- labels --------------------------------------------------------------------------------------


def humanize(name: str) -> str:
    """``creation_timestamp`` → ``Creation timestamp``, ``nas_server_id`` → ``NAS server ID``."""
    name = name.removesuffix("_l10n")
    if name.startswith("is_") and len(name) > 3:
        # Booleans read better without it: "Acknowledged", "Built in".
        name = name[3:]
    words = [w for w in name.split("_") if w]
    out = []
    for i, word in enumerate(words):
        lower = word.lower()
        if lower in _WORDS:
            out.append(_WORDS[lower])
        elif _IPV.match(word):
            out.append("IP" + word[2:].lower())
        elif i == 0:
            out.append(word[:1].upper() + word[1:])
        else:
            out.append(word if word[:1].isupper() else lower)
    return " ".join(out) or name


# -- formatting ----------------------------------------------------------------------------------

_BINARY = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def format_bytes(value: int | float) -> str:
    """Binary units with three significant digits: ``50.0 GiB``, ``1.50 TiB``, ``512 B``."""
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        return str(value)
    sign = "-" if value < 0 else ""
    amount = float(abs(value))
    unit = 0
    while amount >= 1024 and unit < len(_BINARY) - 1:
        amount /= 1024
        unit += 1
    if unit == 0:
        return f"{sign}{int(amount)} B"
    # Rounding may reach 1024 (1023.96 GiB): show it in the next unit instead.
    if round(amount, 1 if amount >= 10 else 2) >= 1024 and unit < len(_BINARY) - 1:
        amount /= 1024
        unit += 1
    digits = 0 if amount >= 100 else 1 if amount >= 10 else 2
    return f"{sign}{amount:.{digits}f} {_BINARY[unit]}"


def format_exact_bytes(value: int | float) -> str:
    """``53,687,091,200 bytes`` (the tooltip of a byte value)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,} bytes"
    return f"{value} bytes"


def format_number(value: int | float) -> str:
    if isinstance(value, bool):
        return format_bool(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        return f"{value:,.3g}" if abs(value) >= 1e6 else f"{value:,.2f}".rstrip("0").rstrip(".")
    return str(value)


def format_duration(seconds: int | float) -> str:
    """``90`` → ``1 min 30 s``, ``86400`` → ``1 d``; whole seconds."""
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        return str(seconds)
    total = round(seconds)
    if total == 0:
        return "0 s"
    sign = "-" if total < 0 else ""
    total = abs(total)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if total >= size:
            count, total = divmod(total, size)
            parts.append(f"{count} {unit}")
    return sign + " ".join(parts[:2])


def format_bool(value: object) -> str:
    if value is True:
        return "Yes"
    if value is False:
        return "No"
    return EMPTY if value is None else str(value)


def format_timestamp(value: object, tz: dt.tzinfo | None = None) -> str:
    """In local time (or ``tz``) to the second: ``2024-05-01 12:00:05``."""
    stamp = parse_timestamp(value)
    if stamp is None:
        return EMPTY if value is None else str(value)
    return stamp.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


def timestamp_tooltip(value: object, tz: dt.tzinfo | None = None) -> str | None:
    stamp = parse_timestamp(value)
    if stamp is None:
        return None
    local = stamp.astimezone(tz)
    utc = stamp.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    return f"{local.strftime('%Y-%m-%d %H:%M:%S %Z').strip()}\n{utc} UTC"


def enum_text(value: object, enum: Enum | None) -> str:
    """An enum value through the catalog's display label (underscores read as spaces)."""
    if value is None:
        return EMPTY
    text = str(value)
    label = enum.labels.get(text) if enum is not None else None
    if label is not None and not label.islower():
        return label.replace("__", "/").replace("_", " ")
    if text.islower() and "__" not in text:
        # Values spelled as identifiers, with no better label (resource types, actions):
        # "fc_port" → "FC port", "attach" → "Attach".
        return humanize(text)
    return (label or text).replace("__", "/").replace("_", " ")


def compact_json(value: object, limit: int = 200) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# Enum values worth drawing the eye to, by enum: "error", "warning" or "notice".
_EMPHASIS: dict[str, dict[str, str]] = {
    "SeverityEnum": {"Critical": "error", "Major": "warning", "Minor": "notice"},
    "JobPhaseEnum": {"Failed": "error", "Unrecoverable_Failed": "error", "Failing": "warning"},
    "JobStateEnum": {"FAILED": "error", "UNRECOVERABLE_FAILED": "error", "FAILING": "warning"},
    "VolumeStateEnum": {"Offline": "error", "Destroying": "warning"},
    "NASServerOperationalStatusEnum": {"Degraded": "warning", "Stopped": "notice", "Unknown": "notice"},
}


def emphasis(enum: Enum | None, value: object) -> str | None:
    """How loudly a value should show: ``error``, ``warning``, ``notice`` or None."""
    if enum is None or not isinstance(value, str):
        return None
    return _EMPHASIS.get(enum.name, {}).get(value)


# -- columns -------------------------------------------------------------------------------------


def kind_of(f: Field, catalog: Catalog | None = None) -> str:
    """How values of ``f`` are shown (one of the kind constants)."""
    if f.type == "boolean":
        return BOOL
    if f.type == "array":
        return LIST
    if f.type == "object":
        return OBJECT
    if f.type in ("integer", "number"):
        units = f.units or ""
        if units == "bytes":
            return BYTES
        if units.endswith("/sec") and units != "iops":
            return RATE
        if units == "percent" or f.name.endswith(("_percentage", "_percent")):
            return PERCENT
        if units == "seconds":
            return DURATION
        return INTEGER if f.type == "integer" else NUMBER
    if f.format == "date-time":
        return DATETIME
    if f.enum:
        return ENUM
    return TEXT


def _rate_text(value: object, units: str) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return str(value)
    if units == "bytes/sec":
        return format_bytes(value) + "/s"
    if units == "kilobytes/sec":
        return format_bytes(value * 1024) + "/s"
    if units == "megabytes/sec":
        return format_bytes(value * 1024 * 1024) + "/s"
    if units == "bits/sec":
        return f"{format_number(value)} bit/s"
    return format_number(value)


@dataclass(frozen=True, eq=False)
class Column:
    """One column a table of ``type_name`` can show.

    ``path``: the keys from the record to the value. ``select``: the tree of ``select`` items it needs
    (merged across columns by ``select_text``). ``to_many``: the value is a list (one item per related
    resource). ``sort_key``: the ``order`` key, None when the server cannot sort by it.
    ``filter_attr``: the filter attribute (``name``, ``protection_data->>source_id``), None when
    none applies. ``l10n_path``: where the enum's localised twin sits, when there is one.
    """

    key: str
    label: str
    kind: str
    field: Field
    path: tuple[str, ...]
    select: Mapping[str, Any]
    to_many: bool = False
    sort_key: str | None = None
    filter_attr: str | None = None
    l10n_path: tuple[str, ...] | None = None
    enum: Enum | None = None
    deprecated: bool = False
    item_kind: str | None = None
    item_enum: Enum | None = None

    @property
    def numeric(self) -> bool:
        return self.kind in NUMERIC_KINDS

    @property
    def width_chars(self) -> int:
        if self.key == "name" or self.path[-1] == "name":
            return 26
        if self.path[-1] == "id" or self.path[-1].endswith("_id"):
            return 20
        if self.path[-1].startswith("description"):
            return 36
        return _WIDTHS.get(self.kind, 16)

    # -- values --

    def value(self, record: Mapping[str, Any]) -> Any:
        """The raw value in a record (a list for to-many columns)."""
        return walk(record, self.path)

    def l10n(self, record: Mapping[str, Any]) -> Any:
        return walk(record, self.l10n_path) if self.l10n_path is not None else None

    def display(self, value: Any, l10n: Any = None) -> str:
        """The text a cell shows."""
        if self.kind == LIST:
            return self._list_text(value, l10n)
        return self._scalar_text(value, l10n, self.kind, self.enum)

    def tooltip(self, value: Any) -> str | None:
        """Extra detail: the exact bytes, the UTC timestamp, a long text in full."""
        if value is None:
            return None
        if self.kind == LIST:
            text = self._list_text(value, None)
            return text if len(text) > 40 else None
        if self.kind == BYTES and isinstance(value, int | float):
            return format_exact_bytes(value)
        if self.kind == RATE and isinstance(value, int | float):
            return f"{format_number(value)} {self.field.units}"
        if self.kind == DATETIME:
            return timestamp_tooltip(value)
        if self.kind == ENUM:
            return str(value)
        if self.kind == OBJECT:
            return json.dumps(value, indent=2, ensure_ascii=False, default=str)
        if self.kind == TEXT and isinstance(value, str) and len(value) > 40:
            return value
        return None

    def csv_value(self, value: Any, l10n: Any = None) -> str:
        """The CSV cell: exact numbers (bytes as a byte count), timestamps as local ISO 8601 with
        offset, enums and booleans as shown, lists joined with ``; ``."""
        if value is None:
            return ""
        if self.kind == LIST:
            items = value if isinstance(value, list | tuple) else [value]
            names = (
                l10n if isinstance(l10n, list | tuple) and len(l10n) == len(items) else [None] * len(items)
            )
            kind = self.item_kind or TEXT
            return "; ".join(
                self._csv_scalar(v, n, kind, self.item_enum)
                for v, n in zip(items, names, strict=True)
                if v is not None
            )
        return self._csv_scalar(value, l10n, self.kind, self.enum)

    def _csv_scalar(self, value: Any, l10n: Any, kind: str, enum: Enum | None) -> str:
        if value is None:
            return ""
        if kind in NUMERIC_KINDS and isinstance(value, int | float) and not isinstance(value, bool):
            return repr(value) if isinstance(value, float) and not value.is_integer() else str(int(value))
        if kind == DATETIME:
            stamp = parse_timestamp(value)
            return stamp.astimezone().isoformat(timespec="seconds") if stamp is not None else str(value)
        if kind == OBJECT or isinstance(value, dict | list):
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
        return self._scalar_text(value, l10n, kind, enum)

    def _scalar_text(self, value: Any, l10n: Any, kind: str, enum: Enum | None) -> str:
        if value is None:
            return EMPTY
        if kind == ENUM:
            # The array's own text, unless it is only the identifier spelled with spaces.
            raw = l10n == str(value).replace("_", " ") and str(value).islower()
            return l10n if isinstance(l10n, str) and l10n and not raw else enum_text(value, enum)
        if kind == BYTES:
            return format_bytes(value)
        if kind == DATETIME:
            return format_timestamp(value)
        if kind == BOOL:
            return format_bool(value)
        if kind == INTEGER and isinstance(value, int) and not isinstance(value, bool):
            # Plain integers are mostly numbers people type or quote (LUN, MTU, NSID): no separators.
            return str(value)
        if kind in (INTEGER, NUMBER):
            return format_number(value)
        if kind == PERCENT:
            return f"{format_number(value)} %" if isinstance(value, int | float) else str(value)
        if kind == DURATION:
            return format_duration(value)
        if kind == RATE:
            return _rate_text(value, self.field.units or "")
        if kind == OBJECT or isinstance(value, dict | list):
            return compact_json(value)
        return str(value)

    def _list_text(self, value: Any, l10n: Any) -> str:
        if value is None:
            return "" if self.to_many else EMPTY
        items = value if isinstance(value, list | tuple) else [value]
        if self.item_enum is not None and self.item_enum.name == "DaysOfWeekEnum":
            return days_text(items)
        names = _names_for(items, l10n)
        kind = self.item_kind or TEXT
        return ", ".join(
            self._scalar_text(v, n, kind, self.item_enum)
            for v, n in zip(items, names, strict=True)
            if v is not None
        )


_WEEK = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def days_text(days: Sequence[Any]) -> str:
    """A schedule's days as people say them: "Every day", "Monday to Friday", "Mon, Wed, Fri"."""
    chosen = {str(d) for d in days if d is not None}
    if chosen == set(_WEEK):
        return "Every day"
    if chosen == set(_WEEK[:5]):
        return "Monday to Friday"
    if chosen == set(_WEEK[5:]):
        return "Saturday and Sunday"
    ordered = [d for d in _WEEK if d in chosen] + sorted(chosen - set(_WEEK))
    return ordered[0] if len(ordered) == 1 else ", ".join(d[:3] for d in ordered)


def _names_for(items: Sequence[Any], l10n: Any) -> Sequence[Any]:
    """The localised text of each item, when the record had a twin list of the same length."""
    if isinstance(l10n, list | tuple) and len(l10n) == len(items):
        return l10n
    return [None] * len(items)


def walk(value: Any, path: Sequence[str]) -> Any:
    """The value at ``path``; through lists (to-many relations) it collects a flat list."""
    for i, key in enumerate(path):
        if isinstance(value, dict):
            value = value.get(key)
        elif isinstance(value, list):
            out: list[Any] = []
            for item in value:
                found = walk(item, path[i:])
                if isinstance(found, list):
                    out.extend(found)
                elif found is not None:
                    out.append(found)
            return out
        else:
            return None
    return value


def _select_tree(parts: Sequence[str], leaf: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``("a", "b")`` → ``{"a": {"b": {}}}``; ``leaf`` replaces the innermost ``{}``."""
    tree: dict[str, Any] = dict(leaf) if leaf is not None else {}
    for name in reversed(parts):
        tree = {name: tree}
    return tree


def merge_select(*trees: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for tree in trees:
        for name, sub in tree.items():
            if name in out:
                # An empty sub-tree means "the whole value": it wins over a partial selection.
                if not out[name] or not sub:
                    out[name] = {}
                else:
                    out[name] = merge_select(out[name], sub)
            else:
                out[name] = dict(sub)
    return out


def render_select(tree: Mapping[str, Any]) -> str:
    """``{"id": {}, "rel": {"name": {}}}`` → ``id,rel(name)``."""
    parts = []
    for name, sub in tree.items():
        parts.append(f"{name}({render_select(sub)})" if sub else name)
    return ",".join(parts)


def select_text(columns: Iterable[Column], *, extra: Iterable[str] = ("id",)) -> str:
    """The ``select`` value fetching ``columns`` (and ``extra`` top-level fields)."""
    trees: list[Mapping[str, Any]] = [{name: {}} for name in extra]
    trees += [c.select for c in columns]
    return render_select(merge_select(*trees))


class ColumnError(ValueError):
    """A column key that names nothing the type has."""


class Presentation:
    """Columns, defaults, filters and details for every resource type of one catalog."""

    def __init__(self, catalog: Catalog | None = None, extension: Mapping[str, Any] | None = None) -> None:
        self.catalog = catalog if catalog is not None else load_catalog()
        ext = extension if extension is not None else load_extension()
        self._labels: Mapping[str, str] = ext.get("labels", {})
        self._types: Mapping[str, Mapping[str, Any]] = ext.get("types", {})
        self._columns: dict[tuple[str, str], Column] = {}

    # -- labels --

    def label(self, type_name: str, name: str) -> str:
        per_type = self._types.get(type_name, {}).get("labels", {})
        return per_type.get(name) or self._labels.get(name) or humanize(name)

    def type_label(self, type_name: str, plural: bool = True) -> str:
        entry = self._types.get(type_name, {})
        if plural and entry.get("plural"):
            return str(entry["plural"])
        if not plural and entry.get("singular"):
            return str(entry["singular"])
        text = humanize(type_name)
        return (text + "s") if plural and not text.endswith("s") else text

    # -- columns --

    def column(self, type_name: str, key: str) -> Column:
        """The column ``key`` of ``type_name`` (cached). Raises ``ColumnError`` for an unknown key."""
        cached = self._columns.get((type_name, key))
        if cached is None:
            cached = self._build_column(type_name, key)
            self._columns[(type_name, key)] = cached
        return cached

    def has_column(self, type_name: str, key: str) -> bool:
        try:
            self.column(type_name, key)
        except ColumnError:
            return False
        return True

    def _build_column(self, type_name: str, key: str) -> Column:
        catalog = self.catalog
        if type_name not in catalog.types:
            raise ColumnError(f"unknown resource type {type_name!r}")
        parts = tuple(key.split("."))
        if not all(parts):
            raise ColumnError(f"invalid column key {key!r}")
        fields: Mapping[str, Field] | None = catalog.instance_fields(type_name)
        owner_fields: Mapping[str, Field] = {}
        to_many = False
        # Index of the first step into an embedded object: from there on the value comes whole.
        embedded_at: int | None = None
        leaf: Field | None = None
        for i, name in enumerate(parts):
            if fields is None or name not in fields or name.startswith("_"):
                raise ColumnError(f"{type_name} has no column {key!r}")
            leaf = fields[name]
            owner_fields = fields
            if i == len(parts) - 1:
                break
            if leaf.is_relation and embedded_at is None:
                to_many = to_many or leaf.is_to_many
                target = leaf.relation_type or ""
                fields = catalog.instance_fields(target) if target in catalog.types else None
                continue
            ref = leaf.ref if leaf.type == "object" else leaf.items.ref if leaf.items is not None else None
            if ref is None or ref not in catalog.definitions:
                raise ColumnError(f"{key!r}: {name} has no fields inside")
            to_many = to_many or leaf.type == "array"
            embedded_at = i if embedded_at is None else embedded_at
            fields = catalog.definitions[ref].fields
        assert leaf is not None
        if leaf.is_relation:
            # A bare relation shows the related names (or ids, for types without names).
            target = leaf.relation_type or ""
            target_fields = catalog.instance_fields(target) if target in catalog.types else {}
            return self._build_column(type_name, f"{key}.{'name' if 'name' in target_fields else 'id'}")
        selected = parts if embedded_at is None else parts[: embedded_at + 1]
        select = _select_tree(selected)
        enum = catalog.enum_of(leaf)
        item_enum = catalog.enum_of(leaf.items) if leaf.items is not None else None
        twin = f"{parts[-1]}_l10n"
        l10n_path = None
        if (enum is not None or item_enum is not None) and twin in owner_fields:
            l10n_path = (*parts[:-1], twin)
            if embedded_at is None:
                select = merge_select(select, _select_tree(l10n_path))
        kind = kind_of(leaf, catalog)
        item_kind = kind_of(leaf.items, catalog) if leaf.items is not None else None
        if to_many:
            # One value per related resource: the list shows each the way the field would.
            item_kind, item_enum, kind = item_kind or kind, item_enum or enum, LIST
        plain = leaf.type not in ("array", "object")
        sort_key = key if not to_many and plain else None
        filter_attr = None
        if not to_many and leaf.type != "object" and not leaf.no_filter:
            if len(parts) == 1:
                filter_attr = parts[0]
            elif embedded_at == 0 and len(parts) == 2 and plain:
                filter_attr = f"{parts[0]}->>{parts[1]}"
        return Column(
            key=key,
            label=self._column_label(type_name, parts),
            kind=kind,
            field=leaf,
            path=parts,
            select=select,
            to_many=to_many,
            sort_key=sort_key,
            filter_attr=filter_attr,
            l10n_path=l10n_path,
            enum=enum,
            deprecated=bool(leaf.deprecated),
            item_kind=item_kind,
            item_enum=item_enum,
        )

    def _column_label(self, type_name: str, parts: tuple[str, ...]) -> str:
        key = ".".join(parts)
        per_type = self._types.get(type_name, {}).get("labels", {})
        if key in per_type:
            return str(per_type[key])
        if key in self._labels:
            return str(self._labels[key])
        if len(parts) == 1:
            return self.label(type_name, parts[0])
        head = " ".join(humanize(p) for p in parts[:-1])
        if parts[-1] == "name":
            return head
        leaf = humanize(parts[-1])
        # Lower-case the first word unless it is an acronym ("created by rule ID", "WWN").
        if not leaf[1:2].isupper():
            leaf = leaf[:1].lower() + leaf[1:]
        return f"{head}: {leaf}"

    def available_columns(self, type_name: str) -> list[Column]:
        """Every column worth offering: the type's plain fields, the parts of its embedded objects,
        and the names of its to-one relations (and the extension's extra keys)."""
        catalog = self.catalog
        fields = catalog.instance_fields(type_name)
        keys: list[str] = []
        for name, f in fields.items():
            if name.endswith("_l10n") and name.removesuffix("_l10n") in fields:
                continue
            if f.deprecated:
                continue
            if f.is_relation:
                target = f.relation_type or ""
                if not f.is_to_many and "name" in catalog.instance_fields(target):
                    keys.append(f"{name}.name")
                continue
            if f.type == "object" and f.ref and f.ref in catalog.definitions:
                for sub, sf in catalog.definitions[f.ref].fields.items():
                    if sf.type in ("object",) or sub.endswith("_l10n") or sf.deprecated:
                        continue
                    keys.append(f"{name}.{sub}")
                continue
            if f.type == "array" and f.items is not None and f.items.type == "object":
                continue
            keys.append(name)
        for key in self._types.get(type_name, {}).get("extra_columns", []):
            if key not in keys:
                keys.append(key)
        for key in self.default_columns(type_name):
            if key not in keys:
                keys.append(key)
        out = []
        for key in keys:
            try:
                out.append(self.column(type_name, key))
            except ColumnError:
                continue
        return out

    def default_columns(self, type_name: str, base_filter: Expression | None = None) -> list[str]:
        """Columns shown until the user chooses: the extension's, else the spec's ``select_cli``."""
        entry = self._types.get(type_name, {})
        keys: Sequence[str] | None = None
        for variant in entry.get("variants", []):
            if base_filter is not None and _filter_has(base_filter, variant.get("when", {})):
                keys = variant.get("columns")
                break
        if keys is None:
            keys = entry.get("columns")
        if keys is None:
            rtype = self.catalog.types.get(type_name)
            keys = list(rtype.select_cli) if rtype is not None else []
            fields = self.catalog.instance_fields(type_name)
            # The CLI lists ids first; a table leads with the name.
            keys = [k for k in keys if k != "id"] if "name" in fields else keys
        valid = [k for k in keys if self.has_column(type_name, k)]
        if not valid:
            fields = self.catalog.instance_fields(type_name)
            valid = ["name"] if "name" in fields else ["id"] if "id" in fields else []
        return valid

    def default_sort(self, type_name: str, base_filter: Expression | None = None) -> list[tuple[str, bool]]:
        """``[(key, descending)]``: the extension's, else by name when there is one."""
        entry = self._types.get(type_name, {})
        spec: Sequence[str] | None = None
        for variant in entry.get("variants", []):
            if base_filter is not None and _filter_has(base_filter, variant.get("when", {})):
                spec = variant.get("sort")
                break
        if spec is None:
            spec = entry.get("sort")
        if spec is None:
            fields = self.catalog.instance_fields(type_name)
            spec = ["name"] if "name" in fields else []
        out = []
        for item in spec:
            key, _, direction = item.partition(" ")
            if self.has_column(type_name, key) and self.column(type_name, key).sort_key:
                out.append((key, direction.strip().lower() == "desc"))
        return out

    def related(self, type_name: str) -> list[str]:
        """Relations the detail pane shows as links: the extension's list, else the to-one relations
        that have an id field beside them."""
        entry = self._types.get(type_name, {})
        fields = self.catalog.instance_fields(type_name)
        if "related" in entry:
            return [r for r in entry["related"] if r in fields and fields[r].is_relation]
        return [
            name
            for name, f in fields.items()
            if f.is_relation and not f.is_to_many and f"{name}_id" in fields and not f.deprecated
        ]

    def name_field(self, type_name: str) -> str | None:
        fields = self.catalog.instance_fields(type_name)
        return "name" if "name" in fields else None

    def quick_filter_field(self, type_name: str) -> str | None:
        """The field the quick filter searches: the extension's choice (``resource_name`` for
        alerts, events and jobs), else the name."""
        fields = self.catalog.instance_fields(type_name)
        chosen = self._types.get(type_name, {}).get("quick_filter")
        if isinstance(chosen, str) and chosen in fields:
            return chosen
        return self.name_field(type_name)

    def title_of(self, type_name: str, record: Mapping[str, Any]) -> str:
        """What to call a record: its name, else its description, else its id."""
        for key in ("name", "description_l10n", "resource_name", "id"):
            value = record.get(key)
            if value not in (None, ""):
                return str(value)
        return ""

    # -- filters --

    def filter_fields(self, type_name: str) -> list[FilterField]:
        """What the filter builder offers for ``type_name``, sorted by label (name first)."""
        catalog = self.catalog
        fields = catalog.instance_fields(type_name)
        out: list[FilterField] = []
        for name, f in fields.items():
            if f.deprecated or (name.endswith("_l10n") and name.removesuffix("_l10n") in fields):
                continue
            if f.is_relation:
                continue
            if f.type == "object":
                if f.ref and f.ref in catalog.definitions:
                    for sub, sf in catalog.definitions[f.ref].fields.items():
                        if sf.type in ("object", "array") or sub.endswith("_l10n") or sf.deprecated:
                            continue
                        label = f"{self.label(type_name, name)}: {humanize(sub).lower()}"
                        label = label.replace(": id", ": ID").replace(" id", " ID")
                        out.append(_filter_field(f"{name}->>{sub}", label, sf, catalog))
                continue
            if f.no_filter:
                continue
            if f.type == "array" and (f.items is None or f.items.type in ("object", "array")):
                continue
            out.append(_filter_field(name, self.label(type_name, name), f, catalog))
        out.sort(key=lambda ff: (ff.attr != "name", ff.label.casefold()))
        return out

    def filter_field(self, type_name: str, attr: str) -> FilterField | None:
        for ff in self.filter_fields(type_name):
            if ff.attr == attr:
                return ff
        return None

    # -- details --

    def detail_select(self, type_name: str) -> str:
        """Everything the detail pane shows: every non-deprecated field, embedded objects whole,
        the names behind reference fields, and the related resources (with names)."""
        catalog = self.catalog
        fields = catalog.instance_fields(type_name)
        trees: list[Mapping[str, Any]] = [{"id": {}}] if "id" in fields else []
        related = set(self.related(type_name))
        for name, f in fields.items():
            if f.deprecated:
                continue
            if f.is_relation:
                if name in related or self._names_reference(type_name, name, f):
                    trees.append({name: self._relation_select(type_name, f)})
                continue
            trees.append({name: {}})
        return render_select(merge_select(*trees))

    def _names_reference(self, type_name: str, name: str, f: Field) -> bool:
        """A to-one relation beside an ``<name>_id`` field: fetched for the name the link shows."""
        fields = self.catalog.instance_fields(type_name)
        target = f.relation_type or ""
        return (
            not f.is_to_many
            and f"{name}_id" in fields
            and target in self.catalog.types
            and "name" in self.catalog.instance_fields(target)
        )

    def _relation_select(self, owner: str, f: Field) -> dict[str, Any]:
        catalog = self.catalog
        target = f.relation_type or ""
        target_fields = catalog.instance_fields(target) if target in catalog.types else {}
        if "name" in target_fields:
            return {"id": {}, "name": {}}
        joined = _joined_relations(catalog, target, owner)
        if joined:
            # A link table (host_volume_mapping): what it links to, other than the owner.
            sub: dict[str, Any] = {"id": {}}
            if "logical_unit_number" in target_fields:
                sub["logical_unit_number"] = {}
            for name, inner in joined.items():
                sub[name] = {"id": {}, "name": {}} if "name" in catalog.instance_fields(inner) else {"id": {}}
            return sub
        # Parts of the resource without a page of their own (host initiators): their plain fields.
        return {
            name: {}
            for name, tf in target_fields.items()
            if not tf.is_relation and not tf.deprecated and tf.type != "object" and not name.endswith("_l10n")
        }

    def reference_type(
        self, type_name: str, field_name: str, fields: Mapping[str, Field] | None = None
    ) -> str | None:
        """The resource type an ``*_id`` field points to: its to-one relation's type when the
        instance has one (``protection_policy_id`` → policy), else the longest type name that ends
        the field name (``performance_policy_id`` → policy, ``role_id`` → role); ``parent_id``,
        ``source_id``, ``family_id`` and ``root_id`` point to the owner's own type."""
        if not field_name.endswith("_id") or field_name == "id":
            return None
        catalog = self.catalog
        all_fields = fields if fields is not None else catalog.instance_fields(type_name)
        base = field_name.removesuffix("_id")
        rel = all_fields.get(base)
        if rel is not None and rel.is_relation and not rel.is_to_many:
            return rel.relation_type
        if base in ("parent", "source", "family", "root"):
            return type_name
        words = base.split("_")
        for start in range(len(words)):
            candidate = "_".join(words[start:])
            rtype = catalog.types.get(candidate)
            if rtype is not None and rtype.can_get:
                return candidate
        return None

    def named_reference(self, type_name: str, column: Column) -> str | None:
        """The type a column's ids point to, when the column holds the id of one resource that has
        a name to show instead (``role_id`` → role, ``protection_data.source_id`` → volume)."""
        last = column.path[-1]
        if column.to_many or not last.endswith("_id") or last == "id":
            return None
        target = self.reference_type(type_name, last, self.catalog.instance_fields(type_name))
        rtype = self.catalog.types.get(target or "")
        if rtype is None or not rtype.can_get or "name" not in self.catalog.instance_fields(rtype.name):
            return None
        return rtype.name

    def detail_groups(self, type_name: str, record: Mapping[str, Any]) -> list[DetailGroup]:
        """The record as groups of labelled values, with links to related resources."""
        return _DetailBuilder(self, type_name, record).build()

    def unnamed_links(self, groups: Iterable[DetailGroup]) -> dict[str, list[str]]:
        """Ids of linked resources the record only gave by id (``performance_policy_id`` has no
        relation to select its name through), by type: those whose type has names to look up."""
        out: dict[str, list[str]] = {}
        for group in groups:
            for item in group.items:
                for link in item.links:
                    rtype = self.catalog.types.get(link.type_name)
                    if (
                        link.text == link.id
                        and rtype is not None
                        and rtype.can_get
                        and "name" in self.catalog.instance_fields(link.type_name)
                        and link.id not in out.get(link.type_name, ())
                    ):
                        out.setdefault(link.type_name, []).append(link.id)
        return out

    @staticmethod
    def with_names(groups: Iterable[DetailGroup], names: Mapping[tuple[str, str], str]) -> list[DetailGroup]:
        """The groups with links named by ``names`` ((type, id) → name), the text of single-link
        items following."""
        out = []
        for group in groups:
            items = []
            for item in group.items:
                links = tuple(
                    replace(link, text=names.get((link.type_name, link.id)) or link.text)
                    for link in item.links
                )
                if links != item.links:
                    text = links[0].text if len(links) == 1 else ", ".join(link.text for link in links)
                    item = replace(item, links=links, text=text)
                items.append(item)
            out.append(DetailGroup(group.title, items))
        return out


def _filter_has(expr: Expression, when: Mapping[str, Any]) -> bool:
    """Whether ``expr`` (or one of its top-level AND terms) is the condition ``when`` describes."""
    if not when:
        return False
    wanted = Condition(
        str(when.get("attr")), str(when.get("op", "eq")), when.get("value"), bool(when.get("not"))
    )
    terms = expr.terms if isinstance(expr, Group) and expr.kind == "and" and not expr.negate else (expr,)
    return any(t == wanted for t in terms)


@functools.cache
def load_extension() -> Mapping[str, Any]:
    """``resources/columns.json`` (parsed once per process)."""
    data = json.loads(read_text(COLUMNS_FILE))
    if data.get("format") != 1:
        raise ValueError(f"unsupported {COLUMNS_FILE} format {data.get('format')!r}")
    return data


@functools.cache
def presentation() -> Presentation:
    """The shared presentation of the shipped catalog and extension."""
    return Presentation()


# -- filters -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FilterOperator:
    """A filter operator as the builder offers it: ``key`` (stored in saved state), its label, and
    how many values it takes (``none``, ``one`` or ``list``)."""

    key: str
    label: str
    arity: str = "one"


_OPS: dict[str, FilterOperator] = {
    op.key: op
    for op in (
        FilterOperator("contains", "contains"),
        FilterOperator("not_contains", "does not contain"),
        FilterOperator("starts", "starts with"),
        FilterOperator("ends", "ends with"),
        FilterOperator("eq", "is"),
        FilterOperator("neq", "is not"),
        FilterOperator("in", "is one of", "list"),
        FilterOperator("not_in", "is none of", "list"),
        FilterOperator("like", "matches (* wildcard)"),
        FilterOperator("gt", ">"),
        FilterOperator("gte", "≥"),
        FilterOperator("lt", "<"),
        FilterOperator("lte", "≤"),
        FilterOperator("after", "after"),
        FilterOperator("before", "before"),
        FilterOperator("true", "is yes", "none"),
        FilterOperator("false", "is no", "none"),
        FilterOperator("cs", "contains all of", "list"),
        FilterOperator("cd", "only from", "list"),
        FilterOperator("null", "is empty", "none"),
        FilterOperator("not_null", "is set", "none"),
    )
}

_OPS_BY_KIND: dict[str, tuple[str, ...]] = {
    TEXT: ("contains", "not_contains", "starts", "ends", "eq", "neq", "in", "like", "null", "not_null"),
    ENUM: ("eq", "neq", "in", "not_in", "null", "not_null"),
    DATETIME: ("after", "before", "null", "not_null"),
    BOOL: ("true", "false", "null"),
    LIST: ("cs", "cd", "null", "not_null"),
}
_NUMBER_OPS = ("eq", "neq", "gt", "gte", "lt", "lte", "null", "not_null")


def operator(key: str) -> FilterOperator:
    return _OPS[key]


@dataclass(frozen=True)
class FilterField:
    """A field the filter builder offers: the attribute (``size``, ``protection_data->>source_id``),
    its label, the kind of value, and for enums (or arrays of them) the enum."""

    attr: str
    label: str
    kind: str
    enum: Enum | None = None
    item_kind: str | None = None
    case_insensitive: bool = False

    @property
    def operators(self) -> list[FilterOperator]:
        keys = _OPS_BY_KIND.get(self.kind, _NUMBER_OPS if self.kind in NUMERIC_KINDS else _OPS_BY_KIND[TEXT])
        return [_OPS[k] for k in keys]


def _filter_field(attr: str, label: str, f: Field, catalog: Catalog) -> FilterField:
    kind = kind_of(f, catalog)
    enum = catalog.enum_of(f)
    item_kind = None
    if f.type == "array" and f.items is not None:
        enum = catalog.enum_of(f.items)
        item_kind = kind_of(f.items, catalog)
    return FilterField(attr, label, kind, enum, item_kind, f.case_insensitive)


class FilterValueError(ValueError):
    """A value the user typed that the field cannot take."""


_SIZE = re.compile(r"^\s*([0-9][0-9_,]*(?:\.[0-9]+)?|\.[0-9]+)\s*([A-Za-z]*)\s*$")
_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1 << 10,
    "kb": 1 << 10,
    "kib": 1 << 10,
    "m": 1 << 20,
    "mb": 1 << 20,
    "mib": 1 << 20,
    "g": 1 << 30,
    "gb": 1 << 30,
    "gib": 1 << 30,
    "t": 1 << 40,
    "tb": 1 << 40,
    "tib": 1 << 40,
    "p": 1 << 50,
    "pb": 1 << 50,
    "pib": 1 << 50,
}


def parse_bytes(text: str) -> int:
    """``10 GiB``, ``1.5T``, ``4096`` → bytes. Units are binary (as PowerStore Manager counts GB)."""
    match = _SIZE.match(text)
    if match is None or match[2].lower() not in _SIZE_UNITS:
        raise FilterValueError(f"{text.strip()!r} is not a size (e.g. 100 GiB, 2 TiB, 8192)")
    number = float(match[1].replace(",", "").replace("_", ""))
    return round(number * _SIZE_UNITS[match[2].lower()])


def parse_local_datetime(text: str) -> dt.datetime:
    """``2024-05-01``, ``2024-05-01 13:30`` (local time) or an ISO 8601 time with offset."""
    value = text.strip().replace("T", " ", 1) if "T" in text and "+" not in text and "Z" not in text else text
    try:
        stamp = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise FilterValueError(f"{text.strip()!r} is not a date and time (e.g. 2024-05-01 13:30)") from None
    return stamp.astimezone() if stamp.tzinfo is None else stamp


def parse_value(kind: str, text: str, enum: Enum | None = None) -> Any:
    """A value typed for a field of ``kind`` as the JSON value a ``FilterCondition`` keeps."""
    text = text.strip()
    if kind in (BYTES, RATE):
        return parse_bytes(text)
    if kind in (INTEGER, DURATION):
        try:
            return int(text.replace(",", "").replace("_", ""))
        except ValueError:
            raise FilterValueError(f"{text!r} is not a whole number") from None
    if kind in (NUMBER, PERCENT):
        try:
            number = float(text.replace(",", "").replace("_", "").rstrip("%").strip())
        except ValueError:
            raise FilterValueError(f"{text!r} is not a number") from None
        if not math.isfinite(number):
            raise FilterValueError(f"{text!r} is not a number")
        return int(number) if number.is_integer() and kind != NUMBER else number
    if kind == DATETIME:
        return parse_local_datetime(text).isoformat(timespec="milliseconds")
    if kind == ENUM and enum is not None:
        if text in enum.values:
            return text
        for value in enum.values:
            if text.casefold() in (enum_text(value, enum).casefold(), value.casefold()):
                return value
        raise FilterValueError(f"{text!r} is not one of {', '.join(enum_text(v, enum) for v in enum.values)}")
    if not text:
        raise FilterValueError("a value is needed")
    return text


def split_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


@dataclass(frozen=True)
class FilterCondition:
    """One condition of the filter builder, JSON-able for saved view state.

    ``value``: None (operators without a value), a string, a number, a timestamp as ISO text, or a
    list (``in``, ``not_in``, ``cs``, ``cd``)."""

    attr: str
    op: str
    value: Any = None

    def __post_init__(self) -> None:
        if self.op not in _OPS:
            raise FilterValueError(f"unknown filter operator {self.op!r}")

    def to_json(self) -> dict[str, Any]:
        return {"attr": self.attr, "op": self.op, "value": self.value}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FilterCondition:
        value = data.get("value")
        if isinstance(value, tuple):
            value = list(value)
        return cls(str(data["attr"]), str(data["op"]), value)

    def expression(self, kind: str | None = None) -> Expression:
        """The API condition (``kind``: the field's kind, for timestamps and numbers)."""
        f = F(self.attr)
        op, value = self.op, self.value
        if op in ("null", "not_null", "true", "false"):
            return {
                "null": f.is_null,
                "not_null": f.is_not_null,
                "true": f.is_true,
                "false": f.is_false,
            }[op]()
        if value is None:
            raise FilterValueError(f"{operator(op).label} needs a value")
        if kind == DATETIME and isinstance(value, str):
            value = parse_local_datetime(value)
        if op in ("contains", "not_contains", "starts", "ends"):
            text = str(value).replace("*", "")
            pattern = {"contains": f"*{text}*", "not_contains": f"*{text}*", "starts": f"{text}*"}.get(
                op, f"*{text}"
            )
            cond = f.ilike(pattern)
            return ~cond if op == "not_contains" else cond
        if op == "like":
            return f.like(str(value))
        if op in ("in", "not_in", "cs", "cd"):
            values = value if isinstance(value, list) else [value]
            if op == "cs":
                return f.contains(values)
            if op == "cd":
                return f.contained_in(values)
            cond = f.is_in(values)
            return ~cond if op == "not_in" else cond
        comparisons: dict[str, Callable[[Any], Expression]] = {
            "eq": f.__eq__,
            "neq": f.__ne__,
            "gt": f.__gt__,
            "gte": f.__ge__,
            "lt": f.__lt__,
            "lte": f.__le__,
            "after": f.__gt__,
            "before": f.__lt__,
        }
        return comparisons[op](value)

    def describe(self, ff: FilterField | None = None) -> str:
        """``Size ≥ 100 GiB``, ``Name contains "prod"``."""
        label = ff.label if ff is not None else humanize(self.attr.replace("->>", "_"))
        op = operator(self.op)
        if op.arity == "none":
            return f"{label} {op.label}"
        kind = ff.kind if ff is not None else TEXT
        enum = ff.enum if ff is not None else None

        def one(v: Any) -> str:
            if kind in (BYTES, RATE) and isinstance(v, int | float):
                return format_bytes(v)
            if kind == DATETIME:
                return format_timestamp(v)[:16]
            if kind in (ENUM, LIST) and enum is not None:
                return enum_text(v, enum)
            if isinstance(v, int | float) and not isinstance(v, bool):
                return format_number(v)
            return f'"{v}"' if kind == TEXT else str(v)

        values = self.value if isinstance(self.value, list) else [self.value]
        return f"{label} {op.label} {', '.join(one(v) for v in values)}"


def conditions_expression(
    conditions: Iterable[FilterCondition], fields: Mapping[str, FilterField] | None = None
) -> Expression | None:
    """The AND of ``conditions`` (None for none)."""
    exprs = [c.expression(fields[c.attr].kind if fields and c.attr in fields else None) for c in conditions]
    return all_of(*exprs) if exprs else None


def quick_filter(text: str, name_field: str | None = "name") -> Expression | None:
    """The quick filter: the name contains ``text`` (case-insensitive); None when blank."""
    text = text.strip().replace("*", "")
    if not text or name_field is None:
        return None
    return F(name_field).ilike(f"*{text}*")


# -- details -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Link:
    """A related resource: where it is (type and id) and what to call it."""

    type_name: str
    id: str
    text: str


@dataclass(frozen=True)
class DetailItem:
    label: str
    text: str
    tooltip: str | None = None
    links: tuple[Link, ...] = ()
    key: str = ""


@dataclass
class DetailGroup:
    title: str
    items: list[DetailItem] = field(default_factory=list)


_GROUP_ORDER = ("General", "Capacity", "References", "Related", "Dates", "Flags")


class _DetailBuilder:
    def __init__(self, pres: Presentation, type_name: str, record: Mapping[str, Any]) -> None:
        self.pres = pres
        self.catalog = pres.catalog
        self.type_name = type_name
        self.record = record
        self.fields = self.catalog.instance_fields(type_name)
        self.groups: dict[str, DetailGroup] = {}

    def group(self, title: str) -> DetailGroup:
        if title not in self.groups:
            self.groups[title] = DetailGroup(title)
        return self.groups[title]

    def build(self) -> list[DetailGroup]:
        related = set(self.pres.related(self.type_name))
        for name, f in self.fields.items():
            if name.endswith("_l10n") and name.removesuffix("_l10n") in self.fields:
                continue
            if f.deprecated or name not in self.record:
                continue
            value = self.record.get(name)
            if f.is_relation:
                # A to-one relation beside its id field shows as that field's link instead.
                if name in related and not (not f.is_to_many and f"{name}_id" in self.fields):
                    self._relation(name, f, value)
                continue
            if f.type == "object" and f.ref:
                self._embedded(name, f, value)
                continue
            if f.type == "array" and f.items is not None and f.items.type == "object":
                self._object_list(name, value)
                continue
            self._plain(name, f, value, self.fields)
        # Fields the catalog does not know (a newer array): shown as they come.
        for name, value in self.record.items():
            if name not in self.fields and not name.startswith("_"):
                self.group("Other").items.append(DetailItem(humanize(name), _plain_text(value), key=name))
        ordered = [self.groups[t] for t in _GROUP_ORDER if t in self.groups]
        ordered += [g for t, g in self.groups.items() if t not in _GROUP_ORDER]
        return [g for g in ordered if g.items]

    def _plain(
        self, name: str, f: Field, value: Any, fields: Mapping[str, Field], prefix: str = ""
    ) -> DetailItem:
        kind = kind_of(f, self.catalog)
        column = Column(
            key=name,
            label="",
            kind=kind,
            field=f,
            path=(name,),
            select={},
            enum=self.catalog.enum_of(f),
            item_kind=kind_of(f.items, self.catalog) if f.items is not None else None,
            item_enum=self.catalog.enum_of(f.items) if f.items is not None else None,
        )
        twin = fields.get(f"{name}_l10n")
        container = self.record if not prefix else (self.record.get(prefix) or {})
        l10n = container.get(f"{name}_l10n") if twin is not None else None
        label = self.pres.label(self.type_name, name)
        links: tuple[Link, ...] = ()
        target = self.pres.reference_type(self.type_name, name, fields)
        reference = target is not None
        if reference and label.endswith(" ID"):
            label = label.removesuffix(" ID")
        if kind == DATETIME and label.endswith(" timestamp"):
            label = label.removesuffix(" timestamp")  # under "Dates": "Called home", "Email sent"
        if target is not None and isinstance(value, str):
            rel = fields.get(name.removesuffix("_id"))
            related = container.get(name.removesuffix("_id")) if rel is not None and rel.is_relation else None
            text = related.get("name") if isinstance(related, dict) and related.get("name") else value
            if target == self.type_name and value == self.record.get("id"):
                text = self.record.get("name") or text  # a family's first member is the record itself
            links = (Link(target, value, str(text)),)
        if name == "resource_id" and isinstance(value, str):
            rtype = container.get("resource_type")
            if isinstance(rtype, str) and rtype in self.catalog.types and self.catalog.types[rtype].can_get:
                text = container.get("resource_name") or value
                links = (Link(rtype, value, str(text)),)
        text = column.display(value, l10n)
        tooltip = column.tooltip(value)
        if links:
            text, tooltip = links[0].text, f"{links[0].type_name} {value}"
        item = DetailItem(label, text, tooltip, links, key=f"{prefix}.{name}" if prefix else name)
        if prefix:
            return item
        if (links or reference) and name != "id":
            title = "References"
        elif kind in (BYTES, RATE):
            title = "Capacity"
        elif kind == DATETIME:
            title = "Dates"
        elif kind == BOOL:
            title = "Flags"
        else:
            title = "General"
        self.group(title).items.append(item)
        return item

    def _embedded(self, name: str, f: Field, value: Any) -> None:
        title = self.pres.label(self.type_name, name)
        group = self.group(title)
        if not isinstance(value, dict):
            group.items.append(DetailItem(title, EMPTY, key=name))
            return
        definition = self.catalog.definitions.get(f.ref or "")
        sub_fields = definition.fields if definition is not None else {}
        for sub, value_sub in value.items():
            sf = sub_fields.get(sub)
            if sub.endswith("_l10n") and sub.removesuffix("_l10n") in value:
                continue
            if sf is None or sf.type == "object":
                group.items.append(DetailItem(humanize(sub), _plain_text(value_sub), key=f"{name}.{sub}"))
                continue
            group.items.append(self._plain(sub, sf, value_sub, sub_fields, prefix=name))

    def _object_list(self, name: str, value: Any) -> None:
        title = self.pres.label(self.type_name, name)
        items = value if isinstance(value, list) else []
        texts = [_object_summary(item) for item in items if item is not None]
        self.group("General").items.append(DetailItem(title, "\n".join(texts) or EMPTY, key=name))

    def _relation(self, name: str, f: Field, value: Any) -> None:
        target = f.relation_type or ""
        items = value if isinstance(value, list) else [value] if isinstance(value, dict) else []
        fields = self.catalog.instance_fields(target) if target in self.catalog.types else {}
        if "name" not in fields and not _joined_relations(self.catalog, target, self.type_name):
            owner_id = self.record.get("id")
            texts = [
                _object_summary({k: v for k, v in i.items() if k != "id" and v != owner_id}) for i in items
            ]
            self.group("General").items.append(
                DetailItem(self.pres.label(self.type_name, name), "\n".join(texts) or EMPTY, key=name)
            )
            return
        links: list[Link] = []
        for item in items:
            links.extend(self._links_of(target, item))
        text = ", ".join(link.text for link in links) if links else EMPTY
        self.group("Related").items.append(
            DetailItem(self.pres.label(self.type_name, name), text, None, tuple(links), key=name)
        )

    def _links_of(self, target: str, item: Mapping[str, Any]) -> list[Link]:
        catalog = self.catalog
        fields = catalog.instance_fields(target) if target in catalog.types else {}
        if "name" in fields:
            if item.get("id") is None:
                return []
            return [Link(target, str(item["id"]), str(item.get("name") or item["id"]))]
        joined = _joined_relations(catalog, target, self.type_name)
        lun = item.get("logical_unit_number")
        out = []
        for name, inner_type in joined.items():
            inner = item.get(name)
            if isinstance(inner, dict) and inner.get("id"):
                text = str(inner.get("name") or inner["id"])
                if lun is not None:
                    text += f" (LUN {lun})"
                out.append(Link(inner_type, str(inner["id"]), text))
        return out


def _joined_relations(catalog: Catalog, target: str, owner: str) -> dict[str, str]:
    """For a type without names whose records link others (host_volume_mapping): its to-one
    relations to types other than ``owner``, name → type. Empty for any other type."""
    fields = catalog.instance_fields(target) if target in catalog.types else {}
    if "name" in fields:
        return {}
    return {
        name: f.relation_type
        for name, f in fields.items()
        if f.is_relation and not f.is_to_many and f.relation_type not in (None, owner, target)
        if f.relation_type is not None
    }


def _plain_text(value: Any) -> str:
    if value is None:
        return EMPTY
    if isinstance(value, bool):
        return format_bool(value)
    if isinstance(value, dict | list):
        return compact_json(value, 400)
    return str(value)


def _object_summary(item: Any) -> str:
    """One line for an embedded object. Something that happened (an alert's events) reads as
    "when · severity · what"; anything else as its fields, times in local time."""
    if not isinstance(item, dict):
        return _plain_text(item)
    stamp = next((v for k, v in item.items() if k.endswith("_timestamp") and v), None)
    headline = next(
        (item[k] for k in ("description_l10n", "message_l10n", "description", "message") if item.get(k)),
        None,
    )
    if headline is not None:
        parts = [format_timestamp(stamp)] if stamp else []
        severity = item.get("severity_l10n") or item.get("severity")
        if severity:
            parts.append(str(severity))
        return " · ".join([*parts, str(headline)])
    shown = [(k, v) for k, v in item.items() if v not in (None, "", [], {}) and not k.endswith("_l10n")]
    return (
        ", ".join(
            f"{humanize(k)}: {format_timestamp(v) if k.endswith('_timestamp') else _plain_text(v)}"
            for k, v in shown
        )
        or EMPTY
    )
