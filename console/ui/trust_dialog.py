"""Certificate trust: the first connection to an array whose certificate the system does not
trust, and the alarm when a pinned certificate changes.

First use shows subject, issuer, validity and the SHA-256 fingerprint and offers: trust this
certificate (pin it for this connection), import a CA file, or cancel. A changed certificate gets
a red warning with both fingerprints; Cancel is the default, and trusting the new certificate
needs a tick confirming the fingerprint was checked. Nothing is sent to the array meanwhile.

The dialog is opened with ``open()`` (never ``exec()``) and answers through ``decided``.
"""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLayout,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from console.ui.array_session import TrustChoice, TrustRequest
from console.ui.file_choosers import open_ca_file
from console.ui.style import colour_pixmap


def validity(der: bytes) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The certificate's not-before and not-after times (UTC), None when it cannot be read."""
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return None, None
    return cert.not_valid_before_utc, cert.not_valid_after_utc


def _when(value: dt.datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M %Z") if value is not None else "unknown"


def fingerprint_lines(fingerprint: str) -> str:
    """``AB:CD:…`` in two lines of 16 pairs, easier to compare by eye."""
    pairs = fingerprint.split(":")
    return "\n".join(":".join(pairs[i : i + 16]) for i in range(0, len(pairs), 16))


class TrustDialog(QDialog):
    decided = Signal(object, object)
    """``TrustChoice`` and the CA file path (str) for ``TrustChoice.CA_FILE``, else None."""

    def __init__(self, request: TrustRequest, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.request = request
        self._answered = False
        connection = request.connection
        certificate = request.certificate
        self.setObjectName("trustDialog")
        self.setModal(False)
        changed = request.changed
        self.setWindowTitle(
            f"Certificate CHANGED: {connection.name}"
            if changed
            else f"Trust the certificate of {connection.name}?"
        )

        banner = QLabel()
        banner.setObjectName("trustBanner")
        banner.setWordWrap(True)
        banner.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        banner.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        banner.setMinimumWidth(620)
        banner.setTextFormat(Qt.TextFormat.RichText)
        if changed:
            banner.setText(
                "<b style='font-size:14pt'>⚠ WARNING: the array's certificate has changed</b><br>"
                f"<b>{_escape(connection.name)}</b> ({_escape(connection.host)}) presented a different "
                "certificate from the one you trusted. The certificate may have been replaced by the "
                "array's administrators, or someone may be intercepting the connection. "
                "The console does not connect until you decide."
            )
            banner.setStyleSheet(
                "QLabel { background: #c62828; color: white; padding: 10px; border-radius: 4px; }"
            )
        else:
            banner.setText(
                f"<b>{_escape(connection.name)}</b> ({_escape(connection.host)}) presented a certificate "
                "that is not signed by an authority this computer trusts (arrays usually have a "
                "self-signed one). Check its fingerprint with the array's administrator, then trust it "
                "for this connection, or import the CA certificate that signed it."
            )
            banner.setStyleSheet(
                "QLabel { background: #fff4e5; color: #4a2c00; padding: 10px; border-radius: 4px; }"
            )

        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        not_before, not_after = validity(certificate.der)
        now = dt.datetime.now(dt.UTC)
        validity_text = f"{_when(not_before)} to {_when(not_after)}"
        if not_after is not None and not_after < now:
            validity_text += "  (EXPIRED)"
        elif not_before is not None and not_before > now:
            validity_text += "  (NOT YET VALID)"

        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        swatch = QLabel()
        swatch.setPixmap(colour_pixmap(connection.colour, 12))
        array_row = QHBoxLayout()
        array_row.addWidget(swatch)
        array_row.addWidget(_selectable(f"{connection.name}  ({connection.base_url})"), 1)
        form.addRow("Array:", array_row)
        form.addRow("Subject:", _selectable(certificate.subject or "(unreadable)"))
        issuer = certificate.issuer or "(unreadable)"
        if certificate.self_signed:
            issuer += "  (self-signed)"
        form.addRow("Issuer:", _selectable(issuer))
        self.validity_label = _selectable(validity_text)
        form.addRow("Valid:", self.validity_label)
        self.fingerprint_label = _selectable(fingerprint_lines(certificate.fingerprint), mono)
        self.fingerprint_label.setObjectName("presentedFingerprint")
        form.addRow("SHA-256:", self.fingerprint_label)
        if changed:
            assert request.expected_fingerprint is not None
            pinned = _selectable(fingerprint_lines(request.expected_fingerprint), mono)
            pinned.setObjectName("pinnedFingerprint")
            pinned.setStyleSheet("color: #555")
            form.addRow("Pinned SHA-256:", pinned)
            bold = QFont(self.fingerprint_label.font())
            bold.setBold(True)
            self.fingerprint_label.setFont(bold)
            self.fingerprint_label.setStyleSheet("color: #c62828")

        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)

        self.confirm = QCheckBox("I have checked the new fingerprint with the array's administrators")
        self.confirm.setObjectName("confirmChange")
        self.confirm.setVisible(changed)

        self.pin_button = QPushButton(
            "Trust the new certificate" if changed else "Trust and pin this certificate"
        )
        self.pin_button.setObjectName("pinButton")
        self.ca_button = QPushButton("Import CA file…")
        self.ca_button.setObjectName("caButton")
        self.cancel_button = QPushButton("Cancel (stay disconnected)" if changed else "Cancel")
        self.cancel_button.setObjectName("cancelButton")
        # Enter answers with the default button only, whichever button has the focus.
        for button in (self.pin_button, self.ca_button, self.cancel_button):
            button.setAutoDefault(False)
        if changed:
            self.pin_button.setEnabled(False)
            self.confirm.toggled.connect(self.pin_button.setEnabled)
            self.cancel_button.setDefault(True)
        else:
            self.pin_button.setDefault(True)
        self.pin_button.clicked.connect(self.trust_and_pin)
        self.ca_button.clicked.connect(self._browse_ca_file)
        self.cancel_button.clicked.connect(self.reject)

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.ca_button)
        buttons.addWidget(self.pin_button)
        buttons.addWidget(self.cancel_button)

        layout = QVBoxLayout(self)
        # The dialog keeps the size its contents need; word-wrapped labels otherwise get spare height.
        layout.setSizeConstraint(QLayout.SizeConstraint.SetFixedSize)
        layout.addWidget(banner)
        layout.addLayout(form)
        layout.addWidget(line)
        layout.addWidget(self.confirm)
        layout.addLayout(buttons)
        self._file_dialog: QFileDialog | None = None

    def trust_and_pin(self) -> None:
        if self.request.changed and not self.confirm.isChecked():
            return
        self._answer(TrustChoice.PIN, None)
        self.accept()

    def use_ca_file(self, path: str) -> None:
        if path:
            self._answer(TrustChoice.CA_FILE, path)
            self.accept()

    def reject(self) -> None:
        self._answer(TrustChoice.CANCEL, None)
        super().reject()

    def _answer(self, choice: TrustChoice, path: str | None) -> None:
        if not self._answered:
            self._answered = True
            self.decided.emit(choice, path)

    def _browse_ca_file(self) -> None:
        self._file_dialog = open_ca_file(
            self, "CA certificate that signed the array's certificate", self.use_ca_file
        )


def _selectable(text: str, font: QFont | None = None) -> QLabel:
    label = QLabel(text)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setWordWrap(True)
    if font is not None:
        label.setFont(font)
        label.setWordWrap(False)
    return label


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
