"""Choose and order the columns of a resource table.

A checkable list of every column the type offers (shown ones first, in their order), with a search
box, drag-and-drop or Up/Down to reorder, and a button back to the type's defaults. Opened with
``open()`` (never ``exec()``); the view reads ``chosen_keys()`` when it is accepted.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from console.presentation import Column

_KEY = int(Qt.ItemDataRole.UserRole)


class ColumnChooser(QDialog):
    def __init__(
        self,
        available: Sequence[Column],
        shown: Sequence[str],
        defaults: Sequence[str],
        parent: QWidget | None = None,
        *,
        title: str = "Columns",
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setObjectName("columnChooser")
        self._columns = {c.key: c for c in available}
        self._defaults = [k for k in defaults if k in self._columns]

        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Find a column")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._filter)
        self.list = QListWidget(self)
        self.list.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.itemChanged.connect(self._update_buttons)
        self.up_button = QPushButton("Up", self)
        self.up_button.clicked.connect(lambda: self._move(-1))
        self.down_button = QPushButton("Down", self)
        self.down_button.clicked.connect(lambda: self._move(1))
        self.defaults_button = QPushButton("Defaults", self)
        self.defaults_button.setToolTip("The columns this table starts with")
        self.defaults_button.clicked.connect(self.restore_defaults)
        self.count_label = QLabel(self)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        side = QVBoxLayout()
        side.addWidget(self.up_button)
        side.addWidget(self.down_button)
        side.addStretch(1)
        side.addWidget(self.defaults_button)
        body = QHBoxLayout()
        body.addWidget(self.list, 1)
        body.addLayout(side)
        layout = QVBoxLayout(self)
        layout.addWidget(self.search)
        layout.addLayout(body, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.count_label, 1)
        bottom.addWidget(self.buttons)
        layout.addLayout(bottom)
        self.resize(380, 480)
        self._fill(shown)

    def chosen_keys(self) -> list[str]:
        """The checked columns, in list order."""
        out = []
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item.checkState() == Qt.CheckState.Checked:
                out.append(str(item.data(_KEY)))
        return out

    def set_checked(self, key: str, checked: bool) -> None:
        item = self._item(key)
        if item is not None:
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)

    def restore_defaults(self) -> None:
        self._fill(self._defaults)

    def _fill(self, shown: Sequence[str]) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        shown = [k for k in shown if k in self._columns]
        rest = [k for k in self._columns if k not in shown]
        rest.sort(key=lambda k: self._columns[k].label.casefold())
        for key in [*shown, *rest]:
            column = self._columns[key]
            item = QListWidgetItem(column.label)
            item.setData(_KEY, key)
            item.setToolTip(key)
            item.setFlags(
                Qt.ItemFlag.ItemIsEnabled
                | Qt.ItemFlag.ItemIsSelectable
                | Qt.ItemFlag.ItemIsUserCheckable
                | Qt.ItemFlag.ItemIsDragEnabled
            )
            item.setCheckState(Qt.CheckState.Checked if key in shown else Qt.CheckState.Unchecked)
            self.list.addItem(item)
        self.list.blockSignals(False)
        self._filter(self.search.text())
        self._update_buttons()

    def _item(self, key: str) -> QListWidgetItem | None:
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item.data(_KEY) == key:
                return item
        return None

    def _filter(self, text: str) -> None:
        needle = text.strip().casefold()
        for i in range(self.list.count()):
            item = self.list.item(i)
            visible = not needle or needle in item.text().casefold() or needle in str(item.data(_KEY))
            item.setHidden(not visible)

    def _move(self, step: int) -> None:
        row = self.list.currentRow()
        target = row + step
        if row < 0 or not 0 <= target < self.list.count():
            return
        item = self.list.takeItem(row)
        self.list.insertItem(target, item)
        self.list.setCurrentRow(target)

    def _update_buttons(self) -> None:
        count = len(self.chosen_keys())
        self.count_label.setText(f"{count} of {self.list.count()} shown")
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(count > 0)
        ok.setToolTip("" if count else "Choose at least one column")
