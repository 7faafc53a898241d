"""The table of one resource type: quick filter, filter builder, columns, refresh, export, details.

The shell (main window) hosts one ``ResourceView`` per navigation entry and talks to it through
the contract below; everything else is the view's own business.

    view = ResourceView(client, "volume", base_filter=F("type") != "Snapshot", title="Volumes")
    view.firstPageLoaded     # the first rows are on screen
    view.loadFailed          # a console.api error; after a re-login the shell calls reload()
    view.relatedRequested    # (type, id) of a link in the detail pane
    view.reload(); view.save_state(); view.restore_state(state); view.select_id(id)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QEvent,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPoint,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QAction, QCloseEvent, QHelpEvent, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QToolBar,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from console.api import Expression, PowerStoreClient, all_of
from console.presentation import (
    Column,
    FilterCondition,
    FilterValueError,
    Presentation,
    presentation,
    quick_filter,
)
from console.ui import qt_async
from console.ui.column_chooser import ColumnChooser
from console.ui.csv_export import CsvExport, ExportProgress
from console.ui.detail_pane import DetailPane
from console.ui.filter_builder import FilterBuilder
from console.ui.resource_model import ResourceModel

log = logging.getLogger(__name__)

QUICK_FILTER_MS = 300
"""Pause in typing before the quick filter is applied."""
PREFETCH_SCREENS = 2
"""Fetch the next page once the user is this many screens from the end of the loaded rows."""
SELECT_SEARCH_ROWS = 10_000
"""``select_id`` pages this far for a row before it filters on the id instead."""
STATE_VERSION = 1

DETAIL_WIDTH = 360
# Column widths and pane sizes a saved state may set, in pixels.
MIN_SIZE, MAX_SIZE = 9, 10_000

# A column's first width fits its label and the text of the first rows (about two screens) ...
FIT_SAMPLE_ROWS = 50
# ... but no more than this many characters: longer texts are elided (the tooltip has them whole).
FIT_MAX_CHARS = 40
NAME_MIN_CHARS = 20
# The padding a style puts beside a cell's text, on each side (Fusion: 3 px and a focus frame).
CELL_TEXT_MARGIN = 4


class ResourceView(QWidget):
    firstPageLoaded = Signal()
    loadFailed = Signal(object)
    relatedRequested = Signal(str, str)
    selectionChanged = Signal()

    def __init__(
        self,
        client: PowerStoreClient,
        type_name: str,
        parent: QWidget | None = None,
        base_filter: Expression | None = None,
        title: str | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName(f"resourceView_{type_name}")
        self._client = client
        self._type = type_name
        self._pres: Presentation = presentation()
        self._title = title or self._pres.type_label(type_name)
        self._name_field = self._pres.quick_filter_field(type_name)
        self._widths: dict[str, int] = {}
        """Widths the user chose (or a saved state brought), by column key."""
        self._fitted: dict[str, int] = {}
        """Widths fitted to the first rows a column was shown with, by column key."""
        self._filled: int | None = None
        """The column (logical index) stretched to the table's right edge."""
        self._visual: list[str] | None = None
        self._restore: dict[str, Any] | None = None
        self._syncing_sort = False
        self._exports: list[CsvExport] = []
        self._select_task: asyncio.Task[None] | None = None
        self._first_load_seen = False
        self._applying_widths = False

        self.model = ResourceModel(client, type_name, base_filter=base_filter, pres=self._pres, parent=self)
        self._build_toolbar()
        self.builder = FilterBuilder(self._pres, type_name, self)
        self.builder.setVisible(False)
        self.builder.applied.connect(self._filters_changed)
        self._build_table()
        self.detail = DetailPane(client, type_name, self._pres, self, noun=self._noun(1))
        self.detail.relatedRequested.connect(self.relatedRequested)
        self.detail.failed.connect(self.loadFailed)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.detail)
        # The table takes what the window gains; the details keep their width.
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 0)
        self.splitter.setSizes([960, DETAIL_WIDTH])
        self.splitter.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self._build_footer()
        layout.addWidget(self.toolbar)
        layout.addWidget(self.builder)
        layout.addWidget(self.splitter, 1)
        layout.addWidget(self.footer)

        self.model.firstPageLoaded.connect(self._first_page)
        self.model.loadingChanged.connect(self._update_status)
        self.model.totalChanged.connect(self._update_status)
        self.model.rowsInserted.connect(self._update_status)
        self.model.loadFailed.connect(self._failed)
        self.model.sortChanged.connect(self._sync_sort_indicator)
        self.model.modelReset.connect(self._after_reset)
        self._update_status()
        # Started from the event loop, so that a restore_state() right after construction comes first.
        QTimer.singleShot(0, self, self._start)

    # -- the contract ------------------------------------------------------------------------------

    @property
    def type_name(self) -> str:
        return self._type

    @property
    def title(self) -> str:
        return self._title

    @property
    def client(self) -> PowerStoreClient:
        return self._client

    def reload(self) -> None:
        """Fetch again, keeping filter, sort, scroll position and selection."""
        self._restore = self._capture(keep_scroll=True)
        self.model.reload()
        self.detail.refresh()

    def save_state(self) -> dict[str, Any]:
        """Columns (in their on-screen order), widths, sort and filters, as plain JSON values."""
        self._remember_widths()
        return {
            "version": STATE_VERSION,
            "columns": self._visual_keys(),
            "widths": dict(self._widths),
            "sort": [[key, descending] for key, descending in self.model.sort_order],
            "quick_filter": self.quick_filter.text(),
            "filter": [c.to_json() for c in self.builder.conditions()],
            "filter_open": self.builder.isVisibleTo(self),
            "details": self.detail.isVisibleTo(self),
            "splitter": self.splitter.sizes(),
        }

    def restore_state(self, state: Mapping[str, Any]) -> None:
        """Apply a ``save_state()`` result; anything unknown or invalid in it is ignored."""
        if not isinstance(state, Mapping):
            return
        widths = state.get("widths")
        if isinstance(widths, Mapping):
            self._widths.update({str(k): v for k, v in widths.items() if _is_size(v)})
        columns = state.get("columns")
        if isinstance(columns, list) and all(isinstance(c, str) for c in columns):
            self.model.set_columns(columns)
            self._visual = None
        sort = state.get("sort")
        if isinstance(sort, list) and sort:
            first = sort[0]
            if isinstance(first, list | tuple) and len(first) == 2 and isinstance(first[0], str):
                self.model.set_sort(first[0], bool(first[1]))
        text = state.get("quick_filter")
        conditions: list[FilterCondition] = []
        saved_filter = state.get("filter")
        for data in saved_filter if isinstance(saved_filter, list) else []:
            try:
                conditions.append(FilterCondition.from_json(data))
            except (AttributeError, KeyError, TypeError, ValueError):
                continue
        self.quick_filter.blockSignals(True)
        self.quick_filter.setText(text if isinstance(text, str) else "")
        self.quick_filter.blockSignals(False)
        self.builder.blockSignals(True)
        with contextlib.suppress(FilterValueError):
            self.builder.set_conditions(conditions, apply=True)
        self.builder.blockSignals(False)
        self._update_filter_action()
        self.builder.setVisible(bool(state.get("filter_open")))
        self.filter_action.setChecked(self.builder.isVisibleTo(self))
        if "details" in state:
            self._set_details(bool(state["details"]))
        sizes = state.get("splitter")
        if isinstance(sizes, list) and len(sizes) == 2 and all(_is_size(s) for s in sizes):
            self.splitter.setSizes(sizes)
        self.model.set_filter(self._combined_filter())
        self._apply_widths()

    def select_id(self, resource_id: str) -> None:
        """Select and show this resource (fetching further pages, or filtering on it, if needed)."""
        self._start()
        row = self.model.row_of(resource_id)
        if row is not None and not self.model.is_loading:
            self._select_rows([row], current=row)
            return
        if self._select_task is not None and not self._select_task.done():
            self._select_task.cancel()
        self._select_task = qt_async.start(self._find(str(resource_id)), name="ResourceView.select_id")

    # -- more for the shell and tests -------------------------------------------------------------

    def selected_ids(self) -> list[Any]:
        rows = sorted(index.row() for index in self.table.selectionModel().selectedRows())
        return self.model.ids(rows)

    def current_id(self) -> Any:
        index = self.table.currentIndex()
        return self.model.row_id(index.row()) if index.isValid() else None

    def set_quick_filter(self, text: str) -> None:
        """Type into the quick filter (applied after the usual pause)."""
        self.quick_filter.setText(text)

    def apply_quick_filter(self) -> None:
        self._quick_timer.stop()
        self.model.set_filter(self._combined_filter())

    def choose_columns(self) -> ColumnChooser:
        """Open the column chooser (non-blocking); its OK applies the choice."""
        chooser = ColumnChooser(
            self._pres.available_columns(self._type),
            self._visual_keys(),
            self._pres.default_columns(self._type, self.model.base_filter),
            self,
            title=f"Columns of {self._title}",
        )
        chooser.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        chooser.accepted.connect(lambda: self.set_columns(chooser.chosen_keys()))
        chooser.open()
        return chooser

    def set_columns(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        if not keys:
            return
        self._remember_widths()
        self._visual = None
        if keys == self.model.column_keys:
            self._apply_visual(keys)
            return
        self._restore = self._capture(keep_scroll=True)
        self.model.set_columns(keys)

    def export_csv(self, path: str | Path | None = None) -> CsvExport | None:
        """Export the current view; without a path, ask for one first (non-blocking)."""
        if path is None:
            dialog = QFileDialog(self, "Export to CSV", f"{self._type}.csv", "CSV files (*.csv)")
            dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
            dialog.setDefaultSuffix("csv")
            dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            dialog.fileSelected.connect(lambda chosen: self.export_csv(chosen))
            dialog.open()
            return None
        export = CsvExport(
            self._client,
            self._type,
            [self._pres.column(self._type, key) for key in self._visual_keys()],
            path,
            where=self.model.effective_filter,
            order=self.model.order,
            total=self.model.total,
            parent=self,
        )
        ExportProgress(export, self)  # owned by the view; closes and deletes itself at the end
        self._exports.append(export)
        export.finished.connect(
            lambda p, n: self._export_done(export, f"Exported {n:,} rows to {Path(p).name}")
        )
        export.failed.connect(lambda exc: self._export_done(export, f"Export failed: {exc}"))
        export.cancelled.connect(lambda: self._export_done(export, "Export cancelled"))
        export.start()
        return export

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop everything in flight (fetches, detail loads, exports)."""
        self.model.cancel()
        self.detail.cancel()
        self._quick_timer.stop()
        if self._select_task is not None and not self._select_task.done():
            self._select_task.cancel()
        for export in self._exports:
            export.cancel()

    # -- building ----------------------------------------------------------------------------------

    def _build_toolbar(self) -> None:
        self.toolbar = QToolBar(self)
        self.toolbar.setObjectName("resourceToolbar")
        self.toolbar.setMovable(False)
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.title_label = QLabel(f"<b>{self._title}</b>", self)
        self.title_label.setContentsMargins(6, 0, 12, 0)
        self.toolbar.addWidget(self.title_label)
        self.quick_filter = QLineEdit(self)
        self.quick_filter.setObjectName("quickFilter")
        self.quick_filter.setClearButtonEnabled(True)
        self.quick_filter.setMaximumWidth(260)
        if self._name_field is not None:
            what = self._pres.label(self._type, self._name_field).lower()
            self.quick_filter.setPlaceholderText(f"Filter by {what}")
            self.quick_filter.setToolTip(f"Shows rows whose {what} contains this text (any case)")
        self._quick_timer = QTimer(self)
        self._quick_timer.setSingleShot(True)
        self._quick_timer.setInterval(QUICK_FILTER_MS)
        self._quick_timer.timeout.connect(self.apply_quick_filter)
        self.quick_filter.textChanged.connect(lambda _text: self._quick_timer.start())
        self.quick_filter.returnPressed.connect(self.apply_quick_filter)
        # A type without names (or a field standing in for them) has no quick filter.
        self.toolbar.addWidget(self.quick_filter).setVisible(self._name_field is not None)

        self.filter_action = QAction("Filter", self)
        self.filter_action.setCheckable(True)
        self.filter_action.setToolTip("Conditions on any field")
        self.filter_action.toggled.connect(self._toggle_builder)
        self.columns_action = QAction("Columns…", self)
        self.columns_action.triggered.connect(self.choose_columns)
        self.refresh_action = QAction("Refresh", self)
        self.refresh_action.setShortcuts([QKeySequence(Qt.Key.Key_F5), QKeySequence("Ctrl+R")])
        self.refresh_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.refresh_action.setToolTip("Fetch again (F5, Ctrl+R)")
        self.refresh_action.triggered.connect(self.reload)
        self.export_action = QAction("Export CSV…", self)
        self.export_action.setToolTip("Save the rows of this view (its columns, order and filter) as CSV")
        self.export_action.triggered.connect(lambda: self.export_csv())
        self.details_action = QAction("Details", self)
        self.details_action.setCheckable(True)
        self.details_action.setChecked(True)
        self.details_action.toggled.connect(self._set_details)
        for action in (
            self.filter_action,
            self.columns_action,
            self.refresh_action,
            self.export_action,
            self.details_action,
        ):
            self.toolbar.addAction(action)
        # The refresh keys work anywhere inside the view (and only in the view that is shown).
        self.addAction(self.refresh_action)

    def _build_footer(self) -> None:
        """A status line under the table: counts, failures (with Retry), an empty result (with
        Clear filters), export results. Long texts shrink with the window; the tooltip has them."""
        self.footer = QWidget(self)
        self.footer.setObjectName("tableFooter")
        self.status_label = QLabel(self.footer)
        self.status_label.setObjectName("tableStatus")
        self.status_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.retry_button = QPushButton("Retry", self.footer)
        self.retry_button.setToolTip("Fetch again (F5)")
        self.retry_button.clicked.connect(self.reload)
        self.clear_button = QPushButton("Clear filters", self.footer)
        self.clear_button.setToolTip("Remove the quick filter and every condition")
        self.clear_button.clicked.connect(self.clear_filters)
        layout = QHBoxLayout(self.footer)
        layout.setContentsMargins(8, 2, 8, 2)
        layout.addWidget(self.status_label, 1)
        layout.addWidget(self.clear_button)
        layout.addWidget(self.retry_button)
        self.retry_button.hide()
        self.clear_button.hide()
        # Said over the empty table itself, where the eye is.
        self.empty_label = QLabel(self.table.viewport())
        self.empty_label.setObjectName("emptyTable")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.empty_label.setEnabled(False)
        self.empty_label.hide()

    def _build_table(self) -> None:
        table = QTableView(self)
        table.setObjectName("resourceTable")
        table.setModel(self.model)
        table.setItemDelegate(ElidedTextTooltips(table))
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        table.setAlternatingRowColors(True)
        table.setWordWrap(False)
        table.setShowGrid(False)
        table.setTextElideMode(Qt.TextElideMode.ElideRight)
        table.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setCornerButtonEnabled(False)
        vertical = table.verticalHeader()
        vertical.setVisible(False)
        vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vertical.setDefaultSectionSize(table.fontMetrics().height() + 8)
        header = table.horizontalHeader()
        header.setSectionsClickable(True)
        header.setSortIndicatorShown(True)
        header.setSectionsMovable(True)
        header.setHighlightSections(False)
        header.setStretchLastSection(False)  # the view fills with the last column itself (_fill_last)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self._header_menu)
        header.sortIndicatorChanged.connect(self._sort_clicked)
        header.sectionResized.connect(self._section_resized)
        header.sectionMoved.connect(self._section_moved)
        table.selectionModel().selectionChanged.connect(self._selection_changed)
        table.selectionModel().currentRowChanged.connect(self._current_changed)
        table.verticalScrollBar().valueChanged.connect(self._maybe_prefetch)
        header.sectionMoved.connect(lambda *_: self._fill_last())
        self.table = table
        table.viewport().installEventFilter(self)

    # -- loading -----------------------------------------------------------------------------------

    def _start(self) -> None:
        if not self.model.started:
            self._apply_widths()
            self._sync_sort_indicator()
            self.model.start()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._start()

    def _first_page(self) -> None:
        self._first_load_seen = True
        self.firstPageLoaded.emit()

    def _failed(self, exc: object) -> None:
        self._update_status()
        self.loadFailed.emit(exc)

    def _after_reset(self) -> None:
        """New rows (or columns) are in: widths, column order, sort marker, selection, scroll."""
        self._apply_widths()
        self._apply_visual(self._visual)
        self._sync_sort_indicator()
        restore, self._restore = self._restore, None
        if restore is not None:
            self._apply_capture(restore)
        elif self.detail.resource_id is not None and self.model.row_of(self.detail.resource_id) is None:
            self.detail.show_id(None)
        self._update_status()

    def _maybe_prefetch(self, value: int) -> None:
        bar = self.table.verticalScrollBar()
        if bar.maximum() - value <= PREFETCH_SCREENS * max(bar.pageStep(), 1) and self.model.canFetchMore(
            QModelIndex()
        ):
            self.model.fetchMore(QModelIndex())

    async def _find(self, resource_id: str) -> None:
        await self.model.wait_idle()
        row = await self.model.load_until(resource_id, SELECT_SEARCH_ROWS)
        if row is None and self.model.error is None:
            # Too far down (or filtered out): show it by filtering on its id, visibly and removably.
            conditions = [c for c in self.builder.conditions() if c.attr != "id"]
            self.builder.set_conditions([*conditions, FilterCondition("id", "eq", resource_id)], apply=False)
            self.builder.blockSignals(True)
            self.builder.apply()
            self.builder.blockSignals(False)
            self.quick_filter.blockSignals(True)
            self.quick_filter.clear()
            self.quick_filter.blockSignals(False)
            self._update_filter_action()
            self.model.set_filter(self._combined_filter())
            await self.model.wait_idle()
            row = self.model.row_of(resource_id)
        if row is not None:
            self._select_rows([row], current=row)

    # -- status ------------------------------------------------------------------------------------

    def _update_status(self, *args: object) -> None:
        model = self.model
        count = model.total
        failed = model.error is not None
        empty = not failed and self._first_load_seen and count == 0 and not model.is_loading
        filtered = model.user_filter is not None
        if failed:
            text = f"Loading failed: {model.error}"
        elif not self._first_load_seen and model.loaded == 0:
            text = "Loading…"
        elif count == 0:
            text = f"No {self._noun(0)} match the filters" if filtered else f"No {self._noun(0)}"
        elif model.loaded >= count:
            text = f"{count:,} {self._noun(count)}"
        else:
            text = f"{model.loaded:,} of {count:,} {self._noun(count)} loaded"
        if model.is_loading and self._first_load_seen and not failed:
            text += " · loading…"
        self._say(text, error=failed)
        self.retry_button.setVisible(failed)
        self.clear_button.setVisible(empty and filtered)
        self.empty_label.setText(text if empty else "")
        self.empty_label.setVisible(empty)
        if empty:
            self.empty_label.setGeometry(self.table.viewport().rect())

    def _say(self, text: str, *, error: bool = False) -> None:
        self.status_label.setText(text)
        self.status_label.setToolTip(text)
        self.status_label.setStyleSheet("color: #c62828;" if error else "")

    def _noun(self, count: int) -> str:
        """The view's title as a noun in running text: "NAS Servers" → "NAS servers", one
        "policy"."""
        words = [w if w.isupper() and len(w) > 1 else w.lower() for w in (self._title or "rows").split()]
        if count == 1 and words:
            last = words[-1]
            words[-1] = last[:-3] + "y" if last.endswith("ies") else last.removesuffix("s")
        return " ".join(words)

    def clear_filters(self) -> None:
        """Remove the quick filter and every condition of the builder."""
        self.quick_filter.blockSignals(True)
        self.quick_filter.clear()
        self.quick_filter.blockSignals(False)
        self.builder.set_conditions([], apply=False)
        self.builder.apply()  # the table follows the builder (set_filter ignores a repeat)
        self._filters_changed()

    # -- filters -----------------------------------------------------------------------------------

    def _combined_filter(self) -> Expression | None:
        parts = [
            e
            for e in (quick_filter(self.quick_filter.text(), self._name_field), self.builder.expression())
            if e is not None
        ]
        return all_of(*parts) if parts else None

    def _filters_changed(self) -> None:
        self._update_filter_action()
        self.model.set_filter(self._combined_filter())

    def _update_filter_action(self) -> None:
        count = len(self.builder.conditions())
        self.filter_action.setText(f"Filter ({count})" if count else "Filter")
        self.filter_action.setToolTip(self.builder.describe() or "Conditions on any field")

    def _toggle_builder(self, shown: bool) -> None:
        self.builder.setVisible(shown)
        if shown and not self.builder.rows():
            self.builder.add_row()

    def _set_details(self, shown: bool) -> None:
        self.detail.setVisible(shown)
        if self.details_action.isChecked() != shown:
            self.details_action.setChecked(shown)
        if shown:
            self._current_changed(self.table.currentIndex(), QModelIndex())

    # -- sorting and columns -----------------------------------------------------------------------

    def _sort_clicked(self, section: int, order: Qt.SortOrder) -> None:
        if self._syncing_sort:
            return
        columns = self.model.shown_columns
        if not 0 <= section < len(columns):
            return
        column = columns[section]
        if column.sort_key is None:
            self._say(f"The array cannot sort by {column.label}.")
            self._sync_sort_indicator()
            return
        current = self.model.sort_order
        # A click on the sorted column flips it; on another column it sorts ascending first.
        descending = not current[0][1] if current and current[0][0] == column.key else False
        self._restore = self._capture(keep_scroll=False)
        self.model.set_sort(column.key, descending)
        self._sync_sort_indicator()

    def _sync_sort_indicator(self) -> None:
        header = self.table.horizontalHeader()
        sort = self.model.sort_order
        keys = [c.key for c in self.model.shown_columns]
        self._syncing_sort = True
        try:
            if sort and sort[0][0] in keys:
                order = Qt.SortOrder.DescendingOrder if sort[0][1] else Qt.SortOrder.AscendingOrder
                header.setSortIndicator(keys.index(sort[0][0]), order)
            else:
                header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        finally:
            self._syncing_sort = False

    def _header_menu(self, pos: QPoint) -> None:
        header = self.table.horizontalHeader()
        section = header.logicalIndexAt(pos)
        menu = QMenu(self)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        columns = self.model.shown_columns
        if 0 <= section < len(columns) and len(columns) > 1:
            column = columns[section]
            hide = menu.addAction(f"Hide “{column.label}”")
            hide.triggered.connect(
                lambda: self.set_columns(k for k in self._visual_keys() if k != column.key)
            )
        menu.addAction("Choose columns…").triggered.connect(self.choose_columns)
        defaults = self._pres.default_columns(self._type, self.model.base_filter)
        menu.addAction("Default columns").triggered.connect(lambda: self.set_columns(defaults))
        menu.addAction("Fit columns to contents").triggered.connect(self._fit_columns)
        menu.popup(header.mapToGlobal(pos))

    def _fit_columns(self) -> None:
        self.table.resizeColumnsToContents()
        self._remember_widths()

    def _visual_keys(self) -> list[str]:
        header = self.table.horizontalHeader()
        columns = self.model.shown_columns
        if header.count() != len(columns) or self.model.column_keys != [c.key for c in columns]:
            return self.model.column_keys
        return [columns[header.logicalIndex(v)].key for v in range(header.count())]

    def _apply_visual(self, keys: list[str] | None) -> None:
        header = self.table.horizontalHeader()
        shown = [c.key for c in self.model.shown_columns]
        order = [k for k in (keys or shown) if k in shown] + [k for k in shown if k not in (keys or [])]
        header.blockSignals(True)
        try:
            for position, key in enumerate(order):
                logical = shown.index(key)
                visual = header.visualIndex(logical)
                if visual != position:
                    header.moveSection(visual, position)
        finally:
            header.blockSignals(False)

    def _section_moved(self, logical: int, old: int, new: int) -> None:
        self._visual = self._visual_keys()

    def _section_resized(self, logical: int, old: int, new: int) -> None:
        columns = self.model.shown_columns
        if 0 <= logical < len(columns) and new > 0 and not self._applying_widths:
            self._widths[columns[logical].key] = new
            self._fill_last()

    def _apply_widths(self) -> None:
        """Each column as wide as the user made it, else fitted to its label and first rows (once,
        so that sorting or paging does not make columns jump), else a width for its kind; the last
        one also fills what is left of the table."""
        header = self.table.horizontalHeader()
        rows = min(self.model.rowCount(), FIT_SAMPLE_ROWS)
        self._applying_widths = True
        try:
            for logical, column in enumerate(self.model.shown_columns):
                width = self._own_width(logical, column, rows)
                if header.sectionSize(logical) != width:
                    header.resizeSection(logical, width)
        finally:
            self._applying_widths = False
        self._fill_last()

    def _own_width(self, logical: int, column: Column, rows: int) -> int:
        char = max(self.table.fontMetrics().horizontalAdvance("0"), 6)
        # The label and the sort arrow always fit; the name gets room for names further down (the
        # first rows, sorted by name, are often the short ones).
        least = self.table.horizontalHeader().fontMetrics().horizontalAdvance(column.label) + 30
        named = self.model.shows_names(logical)  # ids now, names once looked up
        if column.key == "name" or named:
            least = max(least, NAME_MIN_CHARS * char + 16)
        width = self._widths.get(column.key) or self._fitted.get(column.key)
        if width is None and rows and not named:
            width = self._fitted[column.key] = max(
                least, min(self._content_width(logical, rows), FIT_MAX_CHARS * char) + 16
            )
        if width is None:
            width = least if named else max(least, column.width_chars * char + 16)
        return width

    def _fill_last(self) -> None:
        """The last column on screen reaches the table's right edge, but is never wider than its
        own width when the columns do not fit anyway (Qt's stretchLastSection keeps a stretched
        width when the table narrows, and then scrolls for nothing). A column that was last before
        a move goes back to its own width."""
        header = self.table.horizontalHeader()
        columns = self.model.shown_columns
        if header.count() == 0 or header.count() != len(columns):
            return
        rows = min(self.model.rowCount(), FIT_SAMPLE_ROWS)
        last = header.logicalIndex(header.count() - 1)
        sizes: dict[int, int] = {}
        if self._filled is not None and self._filled != last and self._filled < len(columns):
            sizes[self._filled] = self._own_width(self._filled, columns[self._filled], rows)
        others = sum(sizes.get(i, header.sectionSize(i)) for i in range(header.count()) if i != last)
        sizes[last] = max(self._own_width(last, columns[last], rows), self.table.viewport().width() - others)
        self._filled = last
        self._applying_widths = True
        try:
            for logical, width in sizes.items():
                if header.sectionSize(logical) != width:
                    header.resizeSection(logical, width)
        finally:
            self._applying_widths = False

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize and watched is self.table.viewport():
            self._fill_last()
            if self.empty_label.isVisible():
                self.empty_label.setGeometry(self.table.viewport().rect())
        return False

    def _content_width(self, logical: int, rows: int) -> int:
        metrics = self.table.fontMetrics()
        model = self.model
        return max(
            (metrics.horizontalAdvance(model.text(row, logical)) for row in range(rows)),
            default=0,
        )

    def _remember_widths(self) -> None:
        header = self.table.horizontalHeader()
        for logical, column in enumerate(self.model.shown_columns):
            if logical == self._filled:
                continue  # its width is partly the table's leftover space; a drag was recorded as made
            if logical < header.count() and header.sectionSize(logical) > 0:
                self._widths[column.key] = header.sectionSize(logical)

    # -- selection and scroll ----------------------------------------------------------------------

    def _capture(self, *, keep_scroll: bool) -> dict[str, Any]:
        return {
            "selected": self.selected_ids(),
            "current": self.current_id(),
            "scroll": self.table.verticalScrollBar().value() if keep_scroll else 0,
            "hscroll": self.table.horizontalScrollBar().value(),
        }

    def _apply_capture(self, capture: Mapping[str, Any]) -> None:
        rows = [r for r in (self.model.row_of(i) for i in capture.get("selected", [])) if r is not None]
        current = self.model.row_of(capture.get("current"))
        self._select_rows(rows, current=current, scroll=False)
        self.table.verticalScrollBar().setValue(int(capture.get("scroll", 0)))
        self.table.horizontalScrollBar().setValue(int(capture.get("hscroll", 0)))

    def _select_rows(self, rows: list[int], *, current: int | None = None, scroll: bool = True) -> None:
        selection_model = self.table.selectionModel()
        selection = QItemSelection()
        last = self.model.columnCount() - 1
        for row in sorted(set(rows)):
            selection.select(self.model.index(row, 0), self.model.index(row, max(last, 0)))
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
        if current is not None:
            selection_model.setCurrentIndex(
                self.model.index(current, 0), QItemSelectionModel.SelectionFlag.NoUpdate
            )
        selection_model.select(selection, flags)
        if current is not None and scroll:
            self.table.scrollTo(self.model.index(current, 0), QAbstractItemView.ScrollHint.PositionAtCenter)

    def _selection_changed(self, *args: object) -> None:
        count = len(self.table.selectionModel().selectedRows())
        self.detail.show_count(count)
        self.selectionChanged.emit()

    def _current_changed(self, current: QModelIndex, previous: QModelIndex) -> None:
        if not self.detail.isVisibleTo(self):
            return
        self.detail.show_id(self.model.row_id(current.row()) if current.isValid() else None)

    # -- exports -----------------------------------------------------------------------------------

    def _export_done(self, export: CsvExport, message: str) -> None:
        if export in self._exports:
            self._exports.remove(export)
        export.deleteLater()
        self._say(message, error=message.startswith("Export failed"))


def _is_size(value: object) -> bool:
    """A width or height a saved state may bring back (a settings file is user-editable)."""
    return isinstance(value, int) and not isinstance(value, bool) and MIN_SIZE <= value <= MAX_SIZE


class ElidedTextTooltips(QStyledItemDelegate):
    """Cells paint as usual; a cell whose text is cut off shows it whole in its tooltip (above the
    model's own tooltip, such as exact bytes)."""

    def helpEvent(
        self,
        event: QHelpEvent,
        view: QAbstractItemView,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> bool:
        if event.type() != QEvent.Type.ToolTip or not index.isValid():
            return super().helpEvent(event, view, option, index)
        text = index.data(Qt.ItemDataRole.DisplayRole)
        tip = index.data(Qt.ItemDataRole.ToolTipRole)
        shown = view.visualRect(index).width() - 2 * CELL_TEXT_MARGIN
        if isinstance(text, str) and text and option.fontMetrics.horizontalAdvance(text) > shown:
            tip = text if not tip or tip == text else f"{text}\n{tip}"
        if tip:
            QToolTip.showText(event.globalPos(), str(tip), view.viewport(), view.visualRect(index))
        else:
            QToolTip.hideText()
        return True
