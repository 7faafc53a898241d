"""The navigation tree: one node per connected array (its name and colour, its state when not
connected), under it the groups of ``resources/navigation.json`` (Storage, Compute, Protection,
Monitoring, Settings, System) and their entries. Clicking an entry opens its table."""

from __future__ import annotations

import functools
from collections.abc import Callable

from PySide6.QtCore import QModelIndex, QPoint, QSize, Qt, Signal
from PySide6.QtGui import QFont, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QAbstractItemView, QMenu, QTreeView, QWidget

from console.navigation import Navigation
from console.ui.array_session import ArraySession, State
from console.ui.style import colour_icon

KIND_ROLE = Qt.ItemDataRole.UserRole + 1
SESSION_ROLE = Qt.ItemDataRole.UserRole + 2
ENTRY_ROLE = Qt.ItemDataRole.UserRole + 3

KIND_ARRAY = "array"
KIND_GROUP = "group"
KIND_ENTRY = "entry"

NAV_WIDTH = 190
"""The navigation's width at first (the user may drag it; the width is remembered)."""


class NavigationTree(QTreeView):
    entryActivated = Signal(str, str)
    """Connection id, navigation entry id."""
    arraySelected = Signal(str)
    reconnectRequested = Signal(str)
    disconnectRequested = Signal(str)
    editRequested = Signal(str)

    def sizeHint(self) -> QSize:
        # As wide as its labels need (Qt's default for a tree is 256 px), the rest for the tables.
        return QSize(NAV_WIDTH, super().sizeHint().height())

    def __init__(self, navigation: Navigation, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("navigationTree")
        self.navigation = navigation
        self.tree_model = QStandardItemModel(self)
        self.setModel(self.tree_model)
        self.setHeaderHidden(True)
        self.setUniformRowHeights(True)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.setExpandsOnDoubleClick(False)
        self.customContextMenuRequested.connect(self._context_menu)
        self.clicked.connect(self._activate)
        self.activated.connect(self._activate)
        self._sessions: dict[str, ArraySession] = {}
        self._slots: dict[str, Callable[[], None]] = {}

    # -- arrays ------------------------------------------------------------------------------------

    def add_session(self, session: ArraySession) -> None:
        if session.id in self._sessions:
            return
        self._sessions[session.id] = session
        array = QStandardItem()
        array.setData(KIND_ARRAY, KIND_ROLE)
        array.setData(session.id, SESSION_ROLE)
        array.setSelectable(True)
        font = QFont(array.font())
        font.setBold(True)
        array.setFont(font)
        for group in self.navigation.groups:
            group_item = QStandardItem(group.label)
            group_item.setData(KIND_GROUP, KIND_ROLE)
            group_item.setData(session.id, SESSION_ROLE)
            group_item.setData(group.id, ENTRY_ROLE)
            group_item.setSelectable(False)
            for entry in group.entries:
                item = QStandardItem(entry.label)
                item.setData(KIND_ENTRY, KIND_ROLE)
                item.setData(session.id, SESSION_ROLE)
                item.setData(entry.id, ENTRY_ROLE)
                item.setToolTip(f"{entry.label} on {session.name}")
                group_item.appendRow(item)
            array.appendRow(group_item)
        self.tree_model.appendRow(array)
        self._describe(array, session)
        slot = functools.partial(self.refresh_session, session)
        self._slots[session.id] = slot
        session.stateChanged.connect(slot)
        self.expandRecursively(array.index())

    def remove_session(self, session_id: str) -> None:
        session = self._sessions.pop(session_id, None)
        item = self._array_item(session_id)
        if item is not None:
            self.tree_model.removeRow(item.row())
        slot = self._slots.pop(session_id, None)
        if session is not None and slot is not None:
            session.stateChanged.disconnect(slot)

    def refresh_session(self, session: ArraySession) -> None:
        item = self._array_item(session.id)
        if item is not None:
            self._describe(item, session)

    def select_entry(self, session_id: str, entry_id: str) -> None:
        item = self._entry_item(session_id, entry_id)
        if item is not None:
            self.setCurrentIndex(item.index())

    def session_ids(self) -> list[str]:
        return [str(self.tree_model.item(r).data(SESSION_ROLE)) for r in range(self.tree_model.rowCount())]

    def entry_index(self, session_id: str, entry_id: str) -> QModelIndex:
        item = self._entry_item(session_id, entry_id)
        return item.index() if item is not None else QModelIndex()

    # -- internals ---------------------------------------------------------------------------------

    def _describe(self, item: QStandardItem, session: ArraySession) -> None:
        connection = session.connection
        state = session.state
        short = session.short_state()
        item.setText(f"{connection.name}  ·  {short}" if short else connection.name)
        item.setIcon(colour_icon(connection.colour, 12))
        tip = f"{connection.name}: {connection.user}@{connection.host}\n{session.state_text()}"
        item.setToolTip(f"{tip}\n{session.detail}" if session.detail else tip)
        enabled = state is State.CONNECTED
        for row in range(item.rowCount()):
            group = item.child(row)
            group.setEnabled(enabled)
            for child in range(group.rowCount()):
                group.child(child).setEnabled(enabled)

    def _array_item(self, session_id: str) -> QStandardItem | None:
        for row in range(self.tree_model.rowCount()):
            item = self.tree_model.item(row)
            if item.data(SESSION_ROLE) == session_id:
                return item
        return None

    def _entry_item(self, session_id: str, entry_id: str) -> QStandardItem | None:
        array = self._array_item(session_id)
        if array is None:
            return None
        for row in range(array.rowCount()):
            group = array.child(row)
            for child in range(group.rowCount()):
                item = group.child(child)
                if item.data(ENTRY_ROLE) == entry_id:
                    return item
        return None

    def _activate(self, index: QModelIndex) -> None:
        kind = index.data(KIND_ROLE)
        session_id = index.data(SESSION_ROLE)
        if kind == KIND_ENTRY and index.flags() & Qt.ItemFlag.ItemIsEnabled:
            self.entryActivated.emit(str(session_id), str(index.data(ENTRY_ROLE)))
        elif kind == KIND_ARRAY:
            self.arraySelected.emit(str(session_id))

    def _context_menu(self, point: QPoint) -> None:
        index = self.indexAt(point)
        if not index.isValid():
            return
        session_id = str(index.data(SESSION_ROLE))
        session = self._sessions.get(session_id)
        if session is None:
            return
        menu = QMenu(self)
        reconnect = menu.addAction("Reconnect now")
        reconnect.setEnabled(session.state in (State.RECONNECTING, State.OFFLINE) or session.stale_client)
        reconnect.triggered.connect(lambda: self.reconnectRequested.emit(session_id))
        edit = menu.addAction("Edit connection…")
        edit.triggered.connect(lambda: self.editRequested.emit(session_id))
        menu.addSeparator()
        disconnect = menu.addAction("Disconnect")
        disconnect.triggered.connect(lambda: self.disconnectRequested.emit(session_id))
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.popup(self.viewport().mapToGlobal(point))
