"""A lazy table of one resource type: server-side paging, sorting and filtering.

The first page is fetched small so that rows show at once; later pages are larger and come as the
view scrolls (``canFetchMore``/``fetchMore``). Every fetch is an asyncio task on the qasync loop;
nothing here waits on the network. A change of sort, filter or columns starts a new query (a new
*generation*): pages of an older generation that arrive late are dropped, and the rows on screen
stay until the new first page replaces them in one reset.

Rows are kept compact: one tuple per row holding the top-level values the columns need (the id
first). Cell text is formatted on demand in ``data()`` and cached, so a page costs a JSON parse
and a tuple per row, not a formatting pass. Collections without server-side queries
(``x-simple_get``) page the same way: the client filters, sorts and slices them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor

from console.api import ApiError, Expression, Order, Page, PowerStoreClient, all_of
from console.presentation import Column, Presentation, emphasis, presentation, select_text, walk
from console.ui import qt_async
from console.ui.reference_names import ReferenceNames

log = logging.getLogger(__name__)

FIRST_PAGE = 200
"""Rows of the first page: small, so that the first rows show quickly."""
PAGE_SIZE = 1000
"""Rows of each later page (the array caps pages at 2000)."""
RELOAD_PAGE = 2000
"""Page size when refetching many rows at once (a reload that keeps the scroll position)."""
ROWS_PER_STEP = 500
"""Rows made from a page's items between two turns of the event loop."""
CACHE_LIMIT = 30_000
"""Formatted cells kept; the cache is dropped whole beyond this (visible cells refill it at once)."""

ID_ROLE = int(Qt.ItemDataRole.UserRole) + 1
"""The row's resource id (any column)."""
VALUE_ROLE = int(Qt.ItemDataRole.UserRole) + 2
"""The cell's raw API value."""
KEY_ROLE = int(Qt.ItemDataRole.UserRole) + 3
"""Header: the column key."""

_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_ALIGN = int(Qt.ItemDataRole.TextAlignmentRole)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
_ANSWERED = frozenset({_ALIGN, _FOREGROUND, _TOOLTIP, ID_ROLE, VALUE_ROLE})
_EMPHASIS_COLOURS = {"error": QColor("#c62828"), "warning": QColor("#e65100"), "notice": QColor("#8d6e00")}
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
_ROOT = QModelIndex()

SortKey = tuple[str, bool]
"""A column key and whether it sorts descending."""


@dataclass(frozen=True)
class _Cell:
    """Where one column's value (and its enum's ``_l10n`` twin) sits in a row tuple."""

    column: Column
    slot: int
    l10n_slot: int | None
    align: Qt.AlignmentFlag
    emphasised: bool
    named: str | None = None
    """The type whose name the cell shows instead of the id it holds (``role_id``: role)."""


@dataclass(frozen=True)
class _Query:
    """Everything one generation of rows was fetched with."""

    columns: tuple[Column, ...]
    plain: tuple[str, ...]
    """Top-level keys whose values are stored as they come (scalars); slots 0.. (the id first)."""
    nested: tuple[tuple[str, ...], ...]
    """Paths walked and frozen into tuples of scalars; the slots after ``plain``."""
    cells: tuple[_Cell, ...]
    select: str
    where: Expression | None
    order: tuple[Order, ...]


class ResourceModel(QAbstractTableModel):
    """Rows of ``type_name`` matching ``base_filter`` and the user's filter, in the chosen order."""

    loadingChanged = Signal(bool)
    totalChanged = Signal(int)
    firstPageLoaded = Signal()
    """A query's first rows are in (initial load, reload, new sort, filter or columns)."""
    loadFailed = Signal(object)
    sortChanged = Signal()

    def __init__(
        self,
        client: PowerStoreClient,
        type_name: str,
        *,
        base_filter: Expression | None = None,
        columns: Sequence[str] | None = None,
        sort: Sequence[SortKey] | None = None,
        pres: Presentation | None = None,
        page_size: int | None = None,
        first_page_size: int | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._client = client
        self._type = type_name
        self._pres = pres if pres is not None else presentation()
        self._base_filter = base_filter
        self._user_filter: Expression | None = None
        self._page_size = max(1, min(page_size or PAGE_SIZE, 2000))
        self._first_page_size = max(1, min(first_page_size or FIRST_PAGE, 2000))
        fields = self._pres.catalog.instance_fields(type_name)
        self._id_key = "id" if "id" in fields else next(iter(fields), "id")
        keys = list(columns) if columns else self._pres.default_columns(type_name, base_filter)
        self._columns = self._valid_columns(keys) or self._valid_columns(
            self._pres.default_columns(type_name, base_filter)
        )
        initial_sort = sort if sort is not None else self._pres.default_sort(type_name, base_filter)
        self._sort: list[SortKey] = self._valid_sort(initial_sort)
        self._query = self._make_query()
        self._rows: list[tuple[Any, ...]] = []
        self._row_of: dict[Any, int] = {}
        self._total = 0
        self._cache: dict[int, str] = {}
        self._generation = 0
        self._task: asyncio.Task[None] | None = None
        self._loading = False
        self._error: BaseException | None = None
        self._started = False
        self._names = ReferenceNames(client, self)
        self._names.arrived.connect(self._names_arrived)

    # -- what is shown -------------------------------------------------------------------------

    @property
    def client(self) -> PowerStoreClient:
        return self._client

    @property
    def type_name(self) -> str:
        return self._type

    @property
    def presentation(self) -> Presentation:
        return self._pres

    @property
    def base_filter(self) -> Expression | None:
        return self._base_filter

    @property
    def columns(self) -> list[Column]:
        """The columns asked for (the rows on screen may still be those of the previous set)."""
        return list(self._columns)

    @property
    def column_keys(self) -> list[str]:
        return [c.key for c in self._columns]

    @property
    def shown_columns(self) -> list[Column]:
        """The columns of the rows on screen."""
        return list(self._query.columns)

    @property
    def sort_order(self) -> list[SortKey]:
        return list(self._sort)

    @property
    def user_filter(self) -> Expression | None:
        return self._user_filter

    @property
    def effective_filter(self) -> Expression | None:
        parts = [e for e in (self._base_filter, self._user_filter) if e is not None]
        return all_of(*parts) if parts else None

    @property
    def order(self) -> tuple[Order, ...]:
        """The ``order`` sent: the sort keys, then the id so that pages neither overlap nor skip."""
        return self._query.order

    @property
    def select(self) -> str:
        return self._query.select

    @property
    def total(self) -> int:
        """Matching resources on the array (from the last page's ``Content-Range``)."""
        return self._total

    @property
    def loaded(self) -> int:
        return len(self._rows)

    @property
    def is_loading(self) -> bool:
        return self._loading

    @property
    def error(self) -> BaseException | None:
        return self._error

    @property
    def started(self) -> bool:
        return self._started

    def row_id(self, row: int) -> Any:
        return self._rows[row][0]

    def row_of(self, resource_id: Any) -> int | None:
        return self._row_of.get(resource_id)

    def ids(self, rows: Sequence[int]) -> list[Any]:
        return [self._rows[r][0] for r in rows if 0 <= r < len(self._rows)]

    def shows_names(self, column: int) -> bool:
        """Whether the column shows the names of the resources its ids point to."""
        return 0 <= column < len(self._query.cells) and self._query.cells[column].named is not None

    def value(self, row: int, column: int) -> Any:
        """The raw API value of a cell (a list for to-many columns)."""
        return self._rows[row][self._query.cells[column].slot]

    def text(self, row: int, column: int) -> str:
        """The text a cell shows."""
        key = row * len(self._query.cells) + column
        text = self._cache.get(key)
        if text is None:
            text = self._format(row, column)
            if len(self._cache) >= CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = text
        return text

    # -- changing the query -----------------------------------------------------------------------

    def start(self) -> None:
        """Fetch the first page (once; later changes refetch by themselves)."""
        if not self._started:
            self._started = True
            self._refetch(0)

    def set_columns(self, keys: Sequence[str]) -> None:
        columns = self._valid_columns(keys)
        if not columns or [c.key for c in columns] == self.column_keys:
            return
        self._columns = columns
        self._refetch(len(self._rows))

    def set_sort(self, key: str | None, descending: bool = False) -> None:
        """Sort by one column (None: the type's default order)."""
        if key is None:
            wanted = self._valid_sort(self._pres.default_sort(self._type, self._base_filter))
        else:
            wanted = self._valid_sort([(key, descending)])
            if not wanted:
                return  # the array cannot sort by it (a to-many list): keep the order
        if wanted == self._sort:
            return
        self._sort = wanted
        self.sortChanged.emit()
        self._refetch(0)

    def set_filter(self, expression: Expression | None) -> None:
        if expression == self._user_filter:
            return
        self._user_filter = expression
        self._refetch(0)

    def reload(self, keep_rows: int | None = None) -> None:
        """Refetch with the same query; ``keep_rows`` rows (default: as many as are loaded) are
        fetched before the rows on screen are replaced, so the scroll position can stay."""
        self._refetch(len(self._rows) if keep_rows is None else keep_rows)

    def cancel(self) -> None:
        """Stop any fetch in flight (the view is going away)."""
        self._names.cancel()
        self._generation += 1
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None
        self._set_loading(False)

    async def wait_idle(self) -> None:
        """Until no fetch is running (for callers that need the rows, e.g. ``select_id``)."""
        while self._task is not None and not self._task.done():
            await asyncio.wait({self._task})

    async def load_until(self, resource_id: Any, max_rows: int) -> int | None:
        """Fetch further pages until ``resource_id`` is among the rows or ``max_rows`` are loaded;
        its row, or None."""
        await self.wait_idle()
        while True:
            row = self._row_of.get(resource_id)
            if row is not None:
                return row
            if len(self._rows) >= max_rows or not self.canFetchMore(_ROOT):
                return None
            self.fetchMore(_ROOT)
            await self.wait_idle()
            if self._error is not None:
                return None

    # -- QAbstractTableModel ----------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._query.cells)

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        return _FLAGS if index.isValid() else Qt.ItemFlag.NoItemFlags

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = _DISPLAY) -> Any:
        # Called for about seven roles per visible cell on every paint: the display role first,
        # the roles this model never answers out at once.
        if role == _DISPLAY:
            row = index.row()
            if row < 0:
                return None
            column = index.column()
            text = self._cache.get(row * len(self._query.cells) + column)
            return text if text is not None else self.text(row, column)
        if role not in _ANSWERED or not index.isValid():
            return None
        cell = self._query.cells[index.column()]
        result: Any = None
        if role == _ALIGN:
            result = cell.align
        elif role == _FOREGROUND:
            if cell.emphasised:
                level = emphasis(cell.column.enum, self.value(index.row(), index.column()))
                result = _EMPHASIS_COLOURS.get(level) if level else None
        elif role == _TOOLTIP:
            value = self.value(index.row(), index.column())
            result = f"{cell.named} {value}" if cell.named and value else cell.column.tooltip(value)
        elif role == ID_ROLE:
            result = self._rows[index.row()][0]
        elif role == VALUE_ROLE:
            result = self.value(index.row(), index.column())
        return result

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = _DISPLAY) -> Any:
        result: Any = None
        if orientation == Qt.Orientation.Vertical:
            result = str(section + 1) if role == _DISPLAY else None
        elif 0 <= section < len(self._query.cells):
            column = self._query.cells[section].column
            if role == _DISPLAY:
                cell = self._query.cells[section]
                # A column that shows names is labelled after what they name ("Role", not "Role ID").
                result = column.label.removesuffix(" ID") if cell.named else column.label
            elif role == _TOOLTIP:
                units = f" ({column.field.units})" if column.field.units else ""
                sortable = "" if column.sort_key else "\nThe array cannot sort by this column."
                result = f"{column.label}: {column.key}{units}{sortable}"
            elif role == KEY_ROLE:
                result = column.key
            elif role == _ALIGN:
                result = _RIGHT if column.numeric else _LEFT
        return result

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if 0 <= column < len(self._query.cells):
            key = self._query.cells[column].column.key
            self.set_sort(key, order == Qt.SortOrder.DescendingOrder)

    def canFetchMore(self, parent: QModelIndex | QPersistentModelIndex) -> bool:
        return (
            not parent.isValid()
            and self._started
            and not self._loading
            and self._error is None
            and len(self._rows) < self._total
        )

    def fetchMore(self, parent: QModelIndex | QPersistentModelIndex) -> None:
        if self.canFetchMore(parent):
            # Marked at once, so the view's next call does not start a second fetch of the same page.
            self._set_loading(True)
            self._task = qt_async.start(
                self._load_more(self._generation, len(self._rows)), name=f"ResourceModel.more({self._type})"
            )

    # -- fetching -----------------------------------------------------------------------------------

    def _refetch(self, keep_rows: int) -> None:
        if not self._started:
            # Nothing on screen yet: the first load will use the new settings.
            self._query = self._make_query()
            return
        self._generation += 1
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._error = None
        self._set_loading(True)
        self._task = qt_async.start(
            self._load_first(self._generation, self._make_query(), keep_rows),
            name=f"ResourceModel.load({self._type})",
        )

    async def _fetch(self, query: _Query, offset: int, limit: int) -> Page:
        try:
            return await self._client.query(
                self._type,
                select=query.select,
                where=query.where,
                order=list(query.order) or None,
                limit=limit,
                offset=offset,
            )
        except ApiError as exc:
            # The rows shrank under us mid-walk: the end is here.
            if exc.status == 416 and offset > 0:
                return Page([], offset, offset, limit)
            raise

    async def _load_first(self, generation: int, query: _Query, keep_rows: int) -> None:
        try:
            rows: list[tuple[Any, ...]] = []
            row_of: dict[Any, int] = {}
            total = 0
            while True:
                # Exactly as many rows as were on screen (at least a first page), in large pages.
                limit = max(self._first_page_size, min(RELOAD_PAGE, keep_rows - len(rows)))
                page = await self._fetch(query, len(rows), limit)
                if generation != self._generation:
                    return
                await _append_in_steps(rows, row_of, page.items, query)
                if generation != self._generation:
                    return
                total = max(page.total, len(rows)) if page.items else len(rows)
                if not page.items or len(rows) >= total or len(rows) >= keep_rows:
                    break
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if generation == self._generation:
                self._fail(exc)
            return
        self.beginResetModel()
        self._query = query
        self._rows = rows
        self._row_of = row_of
        self._cache.clear()
        total_changed = total != self._total
        self._total = total
        self.endResetModel()
        self._want_names(0)
        self._set_loading(False)
        if total_changed:
            self.totalChanged.emit(total)
        self.firstPageLoaded.emit()

    async def _load_more(self, generation: int, offset: int) -> None:
        query = self._query
        try:
            page = await self._fetch(query, offset, self._page_size)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if generation == self._generation:
                self._fail(exc)
            return
        if generation != self._generation or offset != len(self._rows):
            return  # a sort, filter or reload came in between: this page belongs to another query
        fresh: list[tuple[Any, ...]] = []
        await _append_in_steps(fresh, {}, page.items, query, skip=self._row_of)
        if generation != self._generation or offset != len(self._rows):
            return
        total = max(page.total, offset + len(page.items)) if page.items else offset
        if fresh:
            first = len(self._rows)
            self.beginInsertRows(_ROOT, first, first + len(fresh) - 1)
            for i, row in enumerate(fresh, first):
                self._row_of.setdefault(row[0], i)
            self._rows.extend(fresh)
            self.endInsertRows()
            self._want_names(first)
        if not fresh and page.items:
            # Every row of the page was seen already (rows moved under us): stop here rather than loop.
            total = len(self._rows)
        total_changed = total != self._total
        self._total = total
        self._set_loading(False)
        if total_changed:
            self.totalChanged.emit(total)

    def _want_names(self, first_row: int) -> None:
        """Ask for the names behind the id cells of the rows from ``first_row`` on."""
        wanted: dict[str, list[str]] = {}
        for cell in self._query.cells:
            if cell.named is not None:
                ids = wanted.setdefault(cell.named, [])
                ids.extend(v for row in self._rows[first_row:] if isinstance(v := row[cell.slot], str) and v)
        self._names.want(wanted)

    def _names_arrived(self) -> None:
        named = [c for c, cell in enumerate(self._query.cells) if cell.named is not None]
        if not named or not self._rows:
            return
        self._cache.clear()
        last = len(self._rows) - 1
        for column in named:
            self.dataChanged.emit(self.index(0, column), self.index(last, column), [_DISPLAY])

    def _fail(self, exc: BaseException) -> None:
        log.info("loading %s failed: %s", self._type, exc)
        self._error = exc
        self._set_loading(False)
        self.loadFailed.emit(exc)

    def _set_loading(self, loading: bool) -> None:
        if loading != self._loading:
            self._loading = loading
            self.loadingChanged.emit(loading)

    # -- helpers ------------------------------------------------------------------------------------

    def _valid_columns(self, keys: Sequence[str]) -> list[Column]:
        out: list[Column] = []
        for key in dict.fromkeys(keys):
            if self._pres.has_column(self._type, key):
                out.append(self._pres.column(self._type, key))
            else:
                log.info("%s has no column %r; left out", self._type, key)
        return out

    def _valid_sort(self, keys: Sequence[SortKey]) -> list[SortKey]:
        out = []
        for key, descending in keys:
            if self._pres.has_column(self._type, key) and self._pres.column(self._type, key).sort_key:
                out.append((key, bool(descending)))
        return out

    def _make_query(self) -> _Query:
        plain: list[str] = [self._id_key]
        nested: list[tuple[str, ...]] = []

        def slot(path: tuple[str, ...], scalar: bool) -> int:
            # Rows hold scalars and tuples of scalars only: the garbage collector then leaves them
            # alone, and a full collection does not have to walk a hundred thousand rows.
            if scalar and len(path) == 1:
                if path[0] not in plain:
                    plain.append(path[0])
                return plain.index(path[0])
            if path not in nested:
                nested.append(path)
            return -1 - nested.index(path)

        raw_cells = []
        for column in self._columns:
            scalar = not column.to_many and column.field.type not in ("array", "object")
            value_slot = slot(column.path, scalar)
            l10n_slot = slot(column.l10n_path, scalar) if column.l10n_path is not None else None
            raw_cells.append((column, value_slot, l10n_slot))

        def place(index: int) -> int:
            # Nested slots come after the plain ones: -1 is the first of them.
            return index if index >= 0 else len(plain) - 1 - index

        cells = tuple(
            _Cell(
                column,
                place(value_slot),
                place(l10n_slot) if l10n_slot is not None else None,
                _RIGHT if column.numeric else _LEFT,
                column.enum is not None,
                self._pres.named_reference(self._type, column),
            )
            for column, value_slot, l10n_slot in raw_cells
        )
        order = [
            Order(self._pres.column(self._type, key).sort_key or key, descending)
            for key, descending in self._sort
        ]
        if self._id_key == "id" and not any(o.key == "id" for o in order):
            order.append(Order("id"))
        return _Query(
            columns=tuple(self._columns),
            plain=tuple(plain),
            nested=tuple(nested),
            cells=cells,
            select=select_text(self._columns, extra=[self._id_key]),
            where=self.effective_filter,
            order=tuple(order),
        )

    def _format(self, row: int, column: int) -> str:
        cell = self._query.cells[column]
        data = self._rows[row]
        value = data[cell.slot]
        if value is None:
            return ""  # blank cells read better in a table than a column of dashes
        if cell.named is not None and isinstance(value, str):
            return self._names.name(cell.named, value) or value
        l10n = data[cell.l10n_slot] if cell.l10n_slot is not None else None
        return cell.column.display(value, l10n)


async def _append_in_steps(
    rows: list[tuple[Any, ...]],
    row_of: dict[Any, int],
    items: list[dict[str, Any]],
    query: _Query,
    skip: dict[Any, int] | None = None,
) -> None:
    """``_append`` in slices of ``ROWS_PER_STEP``, giving the event loop a turn before each: the
    answer was just decoded in this same step, and a page of 2000 rows is worth two paints."""
    for start in range(0, len(items), ROWS_PER_STEP):
        await asyncio.sleep(0)
        _append(rows, row_of, items[start : start + ROWS_PER_STEP], query, skip)


def _freeze(value: Any) -> Any:
    """Lists as tuples (of frozen items): rows then hold no mutable, garbage-collected objects."""
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def _append(
    rows: list[tuple[Any, ...]],
    row_of: dict[Any, int],
    items: list[dict[str, Any]],
    query: _Query,
    skip: dict[Any, int] | None = None,
) -> None:
    """Rows of ``items`` onto ``rows``; an id seen before is skipped (rows that moved between two
    pages while the data changed)."""
    plain, nested = query.plain, query.nested
    for item in items:
        if not isinstance(item, dict):
            continue
        row = tuple(map(item.get, plain))
        if nested:
            row += tuple(_freeze(walk(item, path)) for path in nested)
        key = row[0]
        if key in row_of or (skip is not None and key in skip):
            continue
        row_of[key] = len(rows)
        rows.append(row)
