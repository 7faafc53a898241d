"""The filter builder: conditions on any field of a resource type, with the operators its kind allows.

Each row is field, operator, value. Values are typed as people write them (``100 GiB``, ``2024-05-01
13:30``, enum labels, comma-separated lists) and checked before anything is sent; the conditions
are ANDed and applied on the server (``console.presentation.FilterCondition``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from PySide6.QtCore import QDateTime, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDateTimeEdit,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from console.api import Expression
from console.presentation import (
    BYTES,
    DATETIME,
    ENUM,
    LIST,
    RATE,
    FilterCondition,
    FilterField,
    FilterValueError,
    Presentation,
    conditions_expression,
    enum_text,
    format_bytes,
    parse_local_datetime,
    parse_value,
    split_list,
)

_PLACEHOLDERS = {
    BYTES: "e.g. 100 GiB",
    RATE: "e.g. 100 MiB",
    DATETIME: "",
}


class ConditionRow(QWidget):
    """One condition: field, operator and value editor, and a button to remove it."""

    removeRequested = Signal(object)
    submitted = Signal()

    def __init__(self, fields: Sequence[FilterField], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._fields = {f.attr: f for f in fields}
        self.field_box = QComboBox(self)
        self.field_box.setMaxVisibleItems(20)
        self.field_box.setMinimumContentsLength(16)
        self.field_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        for f in fields:
            self.field_box.addItem(f.label, f.attr)
        self.op_box = QComboBox(self)
        self.op_box.setMinimumContentsLength(10)
        self.text_edit = QLineEdit(self)
        self.text_edit.setClearButtonEnabled(True)
        self.text_edit.returnPressed.connect(self.submitted)
        self.enum_box = QComboBox(self)
        self.date_edit = QDateTimeEdit(self)
        self.date_edit.setCalendarPopup(True)
        self.date_edit.setDisplayFormat("yyyy-MM-dd HH:mm")
        self.date_edit.setDateTime(QDateTime.currentDateTime().addDays(-1))
        self.none_label = QLabel("", self)
        self.value_stack = QStackedWidget(self)
        for editor in (self.text_edit, self.enum_box, self.date_edit, self.none_label):
            self.value_stack.addWidget(editor)
        self.value_stack.setMinimumWidth(180)
        self.remove_button = QToolButton(self)
        self.remove_button.setText("✕")
        self.remove_button.setToolTip("Remove this condition")
        self.remove_button.setAutoRaise(True)
        self.remove_button.clicked.connect(lambda: self.removeRequested.emit(self))

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.field_box, 2)
        layout.addWidget(self.op_box, 1)
        layout.addWidget(self.value_stack, 3)
        layout.addWidget(self.remove_button)

        self.field_box.currentIndexChanged.connect(self._field_changed)
        self.op_box.currentIndexChanged.connect(self._op_changed)
        self._field_changed()

    # -- reading and writing -----------------------------------------------------------------------

    @property
    def field(self) -> FilterField:
        return self._fields[str(self.field_box.currentData())]

    @property
    def op(self) -> str:
        return str(self.op_box.currentData())

    def set_condition(self, condition: FilterCondition) -> None:
        index = self.field_box.findData(condition.attr)
        if index < 0:
            raise FilterValueError(f"no field {condition.attr!r} to filter on")
        self.field_box.setCurrentIndex(index)
        op_index = self.op_box.findData(condition.op)
        if op_index < 0:
            raise FilterValueError(f"{self.field.label} cannot be filtered with {condition.op!r}")
        self.op_box.setCurrentIndex(op_index)
        self._show_value(condition.value)

    def condition(self) -> FilterCondition:
        """The condition as entered; raises ``FilterValueError`` for a value that does not fit."""
        f, op = self.field, self.op
        arity = next(o.arity for o in f.operators if o.key == op)
        if arity == "none":
            return FilterCondition(f.attr, op)
        page = self.value_stack.currentWidget()
        if page is self.enum_box:
            return FilterCondition(f.attr, op, self.enum_box.currentData())
        if page is self.date_edit:
            # Local wall-clock time as the user picked it, sent with the local offset.
            stamp = dt.datetime.fromtimestamp(self.date_edit.dateTime().toSecsSinceEpoch()).astimezone()
            return FilterCondition(f.attr, op, stamp.isoformat(timespec="milliseconds"))
        text = self.text_edit.text()
        item_kind = (f.item_kind or "text") if f.kind == LIST else f.kind
        try:
            if arity == "list":
                parts = split_list(text)
                if not parts:
                    raise FilterValueError("give one or more values, separated by commas")
                return FilterCondition(f.attr, op, [parse_value(item_kind, p, f.enum) for p in parts])
            return FilterCondition(f.attr, op, parse_value(f.kind, text, f.enum))
        except FilterValueError as exc:
            raise FilterValueError(f"{f.label}: {exc}") from None

    def mark_invalid(self, invalid: bool) -> None:
        self.text_edit.setStyleSheet("QLineEdit { border: 1px solid #c62828; }" if invalid else "")

    # -- editors -----------------------------------------------------------------------------------

    def _field_changed(self) -> None:
        f = self.field
        current = self.op_box.currentData()
        self.op_box.blockSignals(True)
        self.op_box.clear()
        for op in f.operators:
            self.op_box.addItem(op.label, op.key)
        index = self.op_box.findData(current)
        self.op_box.setCurrentIndex(max(index, 0))
        self.op_box.blockSignals(False)
        self.enum_box.clear()
        if f.enum is not None:
            for value in f.enum.values:
                self.enum_box.addItem(enum_text(value, f.enum), value)
        self._op_changed()

    def _op_changed(self) -> None:
        f = self.field
        arity = next((o.arity for o in f.operators if o.key == self.op), "one")
        self.mark_invalid(False)
        if arity == "none":
            self.value_stack.setCurrentWidget(self.none_label)
        elif f.kind == ENUM and arity == "one":
            self.value_stack.setCurrentWidget(self.enum_box)
        elif f.kind == DATETIME:
            self.value_stack.setCurrentWidget(self.date_edit)
        else:
            self.value_stack.setCurrentWidget(self.text_edit)
            if arity == "list" and f.enum is not None:
                options = ", ".join(enum_text(v, f.enum) for v in f.enum.values)
                self.text_edit.setPlaceholderText("values, separated by commas")
                self.text_edit.setToolTip(f"One or more of: {options}")
            else:
                self.text_edit.setPlaceholderText(
                    "values, separated by commas" if arity == "list" else _PLACEHOLDERS.get(f.kind, "")
                )
                self.text_edit.setToolTip("")

    def _show_value(self, value: object) -> None:
        f = self.field
        page = self.value_stack.currentWidget()
        if page is self.enum_box:
            self.enum_box.setCurrentIndex(max(self.enum_box.findData(value), 0))
        elif page is self.date_edit and isinstance(value, str):
            stamp = parse_local_datetime(value)
            self.date_edit.setDateTime(QDateTime.fromMSecsSinceEpoch(round(stamp.timestamp() * 1000)))
        elif page is self.text_edit:
            values = value if isinstance(value, list) else [value] if value is not None else []

            def text(v: object) -> str:
                if f.kind in (BYTES, RATE) and isinstance(v, int | float):
                    return format_bytes(v)
                if f.enum is not None and isinstance(v, str):
                    return enum_text(v, f.enum)
                return str(v)

            self.text_edit.setText(", ".join(text(v) for v in values))


class FilterBuilder(QFrame):
    """Conditions on the fields of one type; ``applied`` is emitted when the applied set changes."""

    applied = Signal()

    def __init__(self, pres: Presentation, type_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("filterBuilder")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self._fields = pres.filter_fields(type_name)
        self._by_attr = {f.attr: f for f in self._fields}
        self._applied: list[FilterCondition] = []
        self._rows: list[ConditionRow] = []

        self._rows_layout = QVBoxLayout()
        self._rows_layout.setSpacing(4)
        self.add_button = QPushButton("Add condition", self)
        self.add_button.clicked.connect(lambda: self.add_row())
        self.apply_button = QPushButton("Apply", self)
        self.apply_button.setDefault(True)
        self.apply_button.clicked.connect(self.apply)
        self.clear_button = QPushButton("Clear", self)
        self.clear_button.clicked.connect(self.clear)
        self.error_label = QLabel("", self)
        self.error_label.setStyleSheet("color: #c62828;")
        self.error_label.setWordWrap(True)
        self.empty_label = QLabel("No conditions: every row is shown.", self)
        self.empty_label.setEnabled(False)

        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.error_label, 1)
        buttons.addWidget(self.clear_button)
        buttons.addWidget(self.apply_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.addWidget(self.empty_label)
        layout.addLayout(self._rows_layout)
        layout.addLayout(buttons)

    @property
    def fields(self) -> list[FilterField]:
        return list(self._fields)

    def field(self, attr: str) -> FilterField | None:
        return self._by_attr.get(attr)

    def rows(self) -> list[ConditionRow]:
        return list(self._rows)

    def conditions(self) -> list[FilterCondition]:
        """The applied conditions (what the table shows)."""
        return list(self._applied)

    def expression(self) -> Expression | None:
        return conditions_expression(self._applied, self._by_attr)

    def describe(self) -> str:
        return "\n".join(c.describe(self._by_attr.get(c.attr)) for c in self._applied)

    def add_row(self, condition: FilterCondition | None = None) -> ConditionRow:
        row = ConditionRow(self._fields, self)
        if condition is not None:
            try:
                row.set_condition(condition)
            except FilterValueError:
                row.deleteLater()  # never shown: no stray row left behind
                raise
        row.removeRequested.connect(self._remove_row)
        row.submitted.connect(self.apply)
        self._rows.append(row)
        self._rows_layout.addWidget(row)
        self.empty_label.setVisible(False)
        if condition is None:
            row.text_edit.setFocus()
        return row

    def set_conditions(self, conditions: Sequence[FilterCondition], *, apply: bool = True) -> None:
        """Replace the rows (conditions on unknown fields or operators are dropped)."""
        for row in list(self._rows):
            self._drop(row)
        for condition in conditions:
            try:
                self.add_row(condition)
            except FilterValueError:
                continue
        if apply:
            self.apply()

    def apply(self) -> bool:
        """Check every row; apply them all, or none and say what is wrong."""
        conditions = []
        problems = []
        for row in self._rows:
            try:
                conditions.append(row.condition())
                row.mark_invalid(False)
            except FilterValueError as exc:
                row.mark_invalid(True)
                problems.append(str(exc))
        if problems:
            self.error_label.setText(problems[0])
            return False
        self.error_label.setText("")
        if conditions != self._applied:
            self._applied = conditions
            self.applied.emit()
        return True

    def clear(self) -> None:
        self.set_conditions([], apply=True)

    def _remove_row(self, row: ConditionRow) -> None:
        self._drop(row)
        self.apply()

    def _drop(self, row: ConditionRow) -> None:
        if row in self._rows:
            self._rows.remove(row)
        self._rows_layout.removeWidget(row)
        row.hide()
        row.deleteLater()
        self.empty_label.setVisible(not self._rows)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.apply()
            return
        super().keyPressEvent(event)
