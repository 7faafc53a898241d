"""Pages of a collection and the ``Content-Range`` header that sizes them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

MAX_PAGE = 2000
"""The array's cap on one page; larger limits are silently capped."""

DEFAULT_PAGE = 100
"""The page size of a request without ``limit``."""

_CONTENT_RANGE = re.compile(r"^\s*(?:items\s+)?(\d+)-(\d+)/(\d+|\*)\s*$")


@dataclass(frozen=True)
class Page:
    """One page of a collection: ``items`` from ``offset`` on, of ``total`` matching items.

    ``limit`` is the page size asked for (None: the array's default of 100).
    """

    items: list[dict[str, Any]]
    total: int
    offset: int = 0
    limit: int | None = None

    @property
    def has_more(self) -> bool:
        return self.offset + len(self.items) < self.total


def parse_content_range(header: str | None) -> tuple[int, int, int | None] | None:
    """``first-last/total`` as numbers (total None for ``*``); None when absent or malformed."""
    if not header:
        return None
    match = _CONTENT_RANGE.match(header)
    if match is None:
        return None
    total = None if match[3] == "*" else int(match[3])
    return int(match[1]), int(match[2]), total


def page_total(
    content_range: str | None, offset: int, count: int, *, partial: bool = False, limit: int | None = None
) -> int:
    """The number of matching items: from ``Content-Range`` when it says, else what was seen.

    A 200 normally has no ``Content-Range`` (the whole result came back); if a real array sends one
    on a 200 too, it is used the same way. A 206 (``partial``) whose header gives no total (absent,
    malformed or ``*``) and that filled its page may have more behind it: the total is then one more
    than seen, so that a walk asks for the next page rather than silently stopping short.
    """
    parsed = parse_content_range(content_range)
    if parsed is not None and parsed[2] is not None:
        return max(parsed[2], offset + count)
    if partial and count > 0 and count >= (limit or DEFAULT_PAGE):
        return offset + count + 1
    return offset + count
