"""The error panel: problems the console did not expect (an exception escaping an async slot, a
view that failed to load), listed as they happen, with the details, without stopping the user.

The main window puts it in a bottom dock and shows the dock when an error arrives; nothing here
is modal. The list keeps the newest ``MAX_ERRORS``.
"""

from __future__ import annotations

import datetime as dt
import traceback

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QHBoxLayout,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from console.api import ApiError

MAX_ERRORS = 200
_DETAIL_ROLE = Qt.ItemDataRole.UserRole


def describe(exc: BaseException) -> str:
    """One line for the list: the API's own message where there is one."""
    if isinstance(exc, ApiError):
        return str(exc)
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class ErrorPanel(QWidget):
    countChanged = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.list = QTreeWidget()
        self.list.setObjectName("errorList")
        self.list.setColumnCount(3)
        self.list.setHeaderLabels(["Time", "Where", "Problem"])
        self.list.setRootIsDecorated(False)
        self.list.setUniformRowHeights(True)
        self.list.setAlternatingRowColors(True)
        self.list.setColumnWidth(0, 80)
        self.list.setColumnWidth(1, 180)
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setObjectName("errorDetails")
        self.details.setPlaceholderText("Select a problem to see its details.")
        self.details.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.copy_button = QPushButton("Copy details")
        self.clear_button = QPushButton("Clear")
        self.copy_button.setEnabled(False)
        self.clear_button.setEnabled(False)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.list)
        splitter.addWidget(self.details)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.copy_button)
        buttons.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter, 1)
        layout.addLayout(buttons)

        self.list.currentItemChanged.connect(self._show_details)
        self.copy_button.clicked.connect(self._copy)
        self.clear_button.clicked.connect(self.clear)

    def count(self) -> int:
        return self.list.topLevelItemCount()

    def add_exception(self, exc: BaseException, where: str = "", message: str | None = None) -> None:
        """``message`` (default: the exception's own text) in the list, the traceback in the details."""
        details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        self.add(message or describe(exc), where=where, details=details)

    def add(self, message: str, *, where: str = "", details: str = "") -> None:
        now = dt.datetime.now().strftime("%H:%M:%S")
        item = QTreeWidgetItem([now, where, message])
        item.setToolTip(2, message)
        item.setData(0, _DETAIL_ROLE, f"{message}\n\n{details}".strip())
        self.list.insertTopLevelItem(0, item)
        while self.list.topLevelItemCount() > MAX_ERRORS:
            self.list.takeTopLevelItem(self.list.topLevelItemCount() - 1)
        self.list.setCurrentItem(item)
        self.clear_button.setEnabled(True)
        self.countChanged.emit(self.count())

    def clear(self) -> None:
        self.list.clear()
        self.details.clear()
        self.copy_button.setEnabled(False)
        self.clear_button.setEnabled(False)
        self.countChanged.emit(0)

    def messages(self) -> list[str]:
        items = (self.list.topLevelItem(i) for i in range(self.count()))
        return [item.text(2) for item in items if item is not None]

    def _show_details(
        self, current: QTreeWidgetItem | None, _previous: QTreeWidgetItem | None = None
    ) -> None:
        self.details.setPlainText(str(current.data(0, _DETAIL_ROLE)) if current is not None else "")
        self.copy_button.setEnabled(current is not None)

    def _copy(self) -> None:
        QGuiApplication.clipboard().setText(self.details.toPlainText())
