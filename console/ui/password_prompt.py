"""The password prompt of one array: at connect when no password is saved (or there is no usable
keyring, which it explains), and in place when the array stops accepting the password during a
session. It is not modal: the other arrays and every open view stay usable, and keep their state.

The password lives in the line edit only until it is handed on; it is then cleared.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from console.connections import Connection
from console.secrets import KeyringStatus
from console.ui.style import colour_pixmap


class PasswordPrompt(QDialog):
    submitted = Signal(str, bool)
    """The password and whether to remember it in the keyring."""
    cancelled = Signal()

    def __init__(
        self, connection: Connection, keyring: KeyringStatus, reason: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("passwordPrompt")
        self.setWindowTitle(f"Password for {connection.name}")
        self.setModal(False)
        self.setMinimumWidth(460)
        self.connection = connection

        header = QLabel(f"<b>{_escape(connection.name)}</b>")
        swatch = QLabel()
        swatch.setPixmap(colour_pixmap(connection.colour, 14))
        self.reason_label = QLabel(reason)
        self.reason_label.setWordWrap(True)
        self.reason_label.setObjectName("passwordReason")
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setObjectName("passwordEdit")
        self.remember = QCheckBox("Remember in the OS keyring")
        self.remember.setObjectName("rememberPassword")
        self.keyring_note = QLabel()
        self.keyring_note.setWordWrap(True)
        self.keyring_note.setObjectName("keyringNote")
        self.keyring_note.setStyleSheet("color: #8a4b00")
        if keyring.usable:
            self.remember.setChecked(connection.remember_password)
            self.keyring_note.hide()
        else:
            self.remember.setChecked(False)
            self.remember.setEnabled(False)
            self.remember.setToolTip(keyring.reason)
            self.keyring_note.setText(
                "The password will be kept in memory for this session only. " + keyring.reason
                if keyring.reason not in reason
                else "The password will be kept in memory for this session only."
            )
        self.error_label = QLabel()
        self.error_label.setObjectName("passwordError")
        self.error_label.setStyleSheet("color: #c62828")
        self.error_label.setWordWrap(True)
        self.error_label.hide()

        form = QFormLayout()
        form.addRow("Array:", QLabel(f"{_escape(connection.host)}"))
        form.addRow("User:", QLabel(f"{_escape(connection.user)}"))
        form.addRow("Password:", self.password)
        form.addRow("", self.remember)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Log in")
        self.buttons.accepted.connect(self._submit)
        self.buttons.rejected.connect(self.reject)

        head = QHBoxLayout()
        head.addWidget(swatch)
        head.addWidget(header)
        head.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addWidget(self.reason_label)
        layout.addLayout(form)
        layout.addWidget(self.keyring_note)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)
        self.password.setFocus(Qt.FocusReason.OtherFocusReason)

    def set_reason(self, reason: str) -> None:
        self.reason_label.setText(reason)

    def show_error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.setVisible(bool(text))
        self.set_busy(False)

    def set_busy(self, busy: bool) -> None:
        self.password.setEnabled(not busy)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(not busy)

    def _submit(self) -> None:
        password = self.password.text()
        if not password:
            self.show_error("Enter the password.")
            return
        self.password.clear()
        self.error_label.hide()
        self.set_busy(True)
        self.submitted.emit(password, self.remember.isChecked())

    def reject(self) -> None:
        self.password.clear()
        self.cancelled.emit()
        super().reject()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
