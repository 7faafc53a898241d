"""Building requests: the API root, resource paths, and the query parameters of list requests."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote

import httpx

from console.api import expressions
from console.api.expressions import Expression, Order, OrderLike
from console.api.paging import MAX_PAGE
from console.catalog import Catalog, ResourceType

API_PATH = "/api/rest"
# No documented limit; half of the 8 KB common HTTP front ends accept (reference §5).
MAX_URL_LENGTH = 4096

SelectLike = str | Sequence[str]
"""``"id,name,mapped_hosts(id)"`` or ``["id", "name", "mapped_hosts(id)"]``."""


def api_root(base_url: str) -> str:
    """``https://host[:port]/api/rest`` from a host name, an origin or the API root itself."""
    text = base_url.strip()
    if "://" not in text:
        text = "https://" + text
    url = httpx.URL(text)
    if url.scheme != "https":
        raise ValueError(f"arrays are reached over HTTPS, not {url.scheme}: {base_url}")
    if not url.host:
        raise ValueError(f"no host in {base_url!r}")
    path = url.path.rstrip("/")
    if not path.endswith(API_PATH):
        path += API_PATH
    return str(url.copy_with(path=path, query=None, fragment=None))


def resource_path(resource_type: str, id: str | None = None, action: str | None = None) -> str:
    """``type``, ``type/<id>`` or ``type/<id>/<action>`` with the id URL-encoded (``name:`` kept)."""
    parts = [resource_type]
    if id is not None:
        parts.append(quote(str(id), safe=":"))
    if action is not None:
        parts.append(action)
    return "/".join(parts)


def select_text(select: SelectLike | None) -> str:
    if select is None:
        return ""
    if isinstance(select, str):
        return select.strip()
    return ",".join(s.strip() for s in select if s.strip())


def top_level_names(select: str) -> set[str]:
    """``id,name,rel(a,b)`` -> {id, name, rel}."""
    names: set[str] = set()
    depth = 0
    current = ""
    for char in select + ",":
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            name = current.split("(", 1)[0].strip()
            if name:
                names.add(name)
            current = ""
            continue
        current += char
    return names


def needed_fields(
    where: Expression | None, order: OrderLike | None, rtype: ResourceType, catalog: Catalog
) -> dict[str, str]:
    """What records must hold to evaluate ``where`` and ``order`` here: top-level name -> the
    ``select`` item that fetches it (``name``, ``rel(sub)``)."""
    needed: dict[str, str] = {}
    stack: list[Expression] = [where] if where is not None else []
    while stack:
        expr = stack.pop()
        if isinstance(expr, expressions.Condition):
            base = expr.attr.partition("->>")[0]
            needed[base] = base
        elif isinstance(expr, expressions.Group):
            stack.extend(expr.terms)
    fields = catalog.instance_fields(rtype.name)
    for key in order_keys(order):
        path = key.path
        first = fields.get(path[0])
        if len(path) > 1 and first is not None and first.is_relation:
            needed[path[0]] = "".join(f"{p}(" for p in path[:-1]) + path[-1] + ")" * (len(path) - 1)
        else:
            needed[path[0]] = path[0]
    return needed


def order_keys(order: OrderLike | None) -> list[Order]:
    if order is None:
        return []
    items = [order] if isinstance(order, str | Order) else list(order)
    return [item if isinstance(item, Order) else Order.parse(item) for item in items]


def stable_order(order: OrderLike | None, rtype: ResourceType | None, catalog: Catalog) -> list[Order]:
    keys = order_keys(order)
    has_id = rtype is None or "id" in catalog.instance_fields(rtype.name)
    if has_id and not any(k.key == "id" for k in keys):
        keys.append(Order("id"))
    return keys


def list_params(
    select: SelectLike | None,
    where: Expression | None,
    order: OrderLike | None,
    limit: int | None,
    offset: int,
) -> list[tuple[str, str]]:
    params: list[tuple[str, str]] = []
    text = select_text(select)
    if text:
        params.append(("select", text))
    params += expressions.to_params(where)
    rendered = expressions.render_order(order)
    if rendered:
        params.append(("order", rendered))
    if offset:
        params.append(("offset", str(offset)))
    if limit is not None:
        params.append(("limit", str(limit)))
    return params


def id_batches(url: str, fixed: list[tuple[str, str]], ids: list[str]) -> list[list[str]]:
    """Ids split so that ``url?<fixed>&id=in.(<batch>)`` stays within ``MAX_URL_LENGTH``."""
    base = len(str(httpx.URL(url, params=[*fixed, ("id", "in.()")])))
    budget = max(MAX_URL_LENGTH - base, 1)
    batches: list[list[str]] = []
    current: list[str] = []
    used = 0
    for job_id in ids:
        # Every character percent-encoded at worst, plus an encoded comma: never an underestimate.
        cost = len(quote(expressions.quote_value(job_id), safe="")) + 3
        if current and (used + cost > budget or len(current) >= MAX_PAGE):
            batches.append(current)
            current, used = [], 0
        current.append(job_id)
        used += cost
    if current:
        batches.append(current)
    return batches
