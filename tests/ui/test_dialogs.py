"""The shell's dialogs and panels on their own: trust, password, status bar, error panel."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from PySide6.QtCore import Qt

from console.api import PresentedCertificate
from console.api.trust import describe_certificate
from console.connections import Connection
from console.secrets import KeyringStatus, SecretStore
from console.ui.array_session import ArraySession, State, TrustChoice, TrustRequest
from console.ui.error_panel import ErrorPanel
from console.ui.password_prompt import PasswordPrompt
from console.ui.status_bar import StatusBar
from console.ui.trust_dialog import TrustDialog, fingerprint_lines, validity
from tests.ui.shell_support import QT_NOISE, shoot

pytestmark = pytest.mark.qt_log_ignore(QT_NOISE)

CONNECTION = Connection.create("prod-a", "array-a.example.com", "admin", colour="#d62728")


def certificate(*, days_left: int = 300, cn: str = "array-a.example.com") -> PresentedCertificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, cn), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Dell")]
    )
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=400))
        .not_valid_after(now + dt.timedelta(days=days_left))
        .sign(key, hashes.SHA256())
    )
    return describe_certificate(cert.public_bytes(Encoding.DER))


def test_first_use_offers_pin_ca_file_or_cancel(qtbot):
    cert = certificate()
    dialog = TrustDialog(TrustRequest(CONNECTION, cert, None, "not trusted"))
    qtbot.addWidget(dialog)
    answers = []
    dialog.decided.connect(lambda choice, path: answers.append((choice, path)))
    dialog.open()
    assert "Trust the certificate of prod-a" in dialog.windowTitle()
    assert dialog.fingerprint_label.text() == fingerprint_lines(cert.fingerprint)
    assert "(self-signed)" in "".join(
        label.text() for label in dialog.findChildren(type(dialog.fingerprint_label))
    )
    assert not dialog.confirm.isVisible()
    assert dialog.pin_button.isDefault()
    shoot(dialog, "dialog-trust-first-use")
    # Enter answers with the default button, wherever the focus is (not "Import CA file…").
    dialog.ca_button.setFocus()
    qtbot.keyClick(dialog, Qt.Key.Key_Return)
    assert answers == [(TrustChoice.PIN, None)]
    assert not dialog.isVisible()


def test_an_expired_certificate_says_so(qtbot):
    dialog = TrustDialog(TrustRequest(CONNECTION, certificate(days_left=-3), None, "expired"))
    qtbot.addWidget(dialog)
    assert "(EXPIRED)" in dialog.validity_label.text()
    before, after = validity(dialog.request.certificate.der)
    assert before < after


def test_ca_file_and_cancel_answers(qtbot, tmp_path):
    answers = []
    dialog = TrustDialog(TrustRequest(CONNECTION, certificate(), None, "x"))
    qtbot.addWidget(dialog)
    dialog.decided.connect(lambda choice, path: answers.append((choice, path)))
    dialog.use_ca_file(str(tmp_path / "ca.pem"))
    assert answers == [(TrustChoice.CA_FILE, str(tmp_path / "ca.pem"))]
    other = TrustDialog(TrustRequest(CONNECTION, certificate(), None, "x"))
    qtbot.addWidget(other)
    other.decided.connect(lambda choice, path: answers.append((choice, path)))
    other.open()
    qtbot.keyClick(other, Qt.Key.Key_Escape)
    assert answers[-1] == (TrustChoice.CANCEL, None)
    # A closed dialog answers once only.
    other.reject()
    assert len(answers) == 2


def test_a_changed_certificate_needs_a_confirmation_and_defaults_to_cancel(qtbot):
    old, new = certificate(), certificate()
    dialog = TrustDialog(TrustRequest(CONNECTION, new, old.fingerprint, "changed"))
    qtbot.addWidget(dialog)
    answers = []
    dialog.decided.connect(lambda choice, path: answers.append(choice))
    dialog.open()
    assert dialog.windowTitle().startswith("Certificate CHANGED")
    assert dialog.cancel_button.isDefault()
    assert not dialog.pin_button.isEnabled()
    dialog.trust_and_pin()
    assert answers == []
    dialog.ca_button.setFocus()
    qtbot.keyClick(dialog.ca_button, Qt.Key.Key_Return)  # Enter is never a file dialog or a trust
    assert answers == [TrustChoice.CANCEL]
    dialog = TrustDialog(TrustRequest(CONNECTION, new, old.fingerprint, "changed"))
    qtbot.addWidget(dialog)
    dialog.decided.connect(lambda choice, path: answers.append(choice))
    answers.clear()
    dialog.open()
    shoot(dialog, "dialog-trust-changed")
    qtbot.mouseClick(dialog.confirm, Qt.MouseButton.LeftButton)
    assert dialog.pin_button.isEnabled()
    qtbot.mouseClick(dialog.pin_button, Qt.MouseButton.LeftButton)
    assert answers == [TrustChoice.PIN]


def test_password_prompt_hands_the_password_on_and_forgets_it(qtbot):
    prompt = PasswordPrompt(CONNECTION, KeyringStatus(True, "memory", ""), "The array refused the password.")
    qtbot.addWidget(prompt)
    prompt.show()
    answers = []
    prompt.submitted.connect(lambda password, remember: answers.append((password, remember)))
    qtbot.mouseClick(prompt.buttons.buttons()[0], Qt.MouseButton.LeftButton)
    assert answers == []
    assert prompt.error_label.text() == "Enter the password."
    qtbot.keyClicks(prompt.password, "Secret#123")
    prompt.remember.setChecked(False)
    qtbot.keyClick(prompt.password, Qt.Key.Key_Return)
    assert answers == [("Secret#123", False)]
    assert prompt.password.text() == ""
    assert not prompt.password.isEnabled()  # busy until the answer comes
    prompt.show_error("Refused again.")
    assert prompt.password.isEnabled()
    shoot(prompt, "dialog-password")
    cancelled = []
    prompt.cancelled.connect(lambda: cancelled.append(True))
    prompt.reject()
    assert cancelled == [True]


def test_status_bar_follows_the_session(qtbot):
    bar = StatusBar()
    qtbot.addWidget(bar)
    assert bar.array_label.text() == "No array connected"
    session = ArraySession(CONNECTION, SecretStore())
    bar.show_session(session)
    assert "prod-a" in bar.array_label.text()
    assert "Offline" in bar.state_label.text()
    assert not bar.user_label.isVisible()
    session.user, session.roles, session.api_version = "admin", ["Administrator"], "4.1.0.0"
    session.state = State.CONNECTED
    session.infoChanged.emit()
    assert bar.user_label.text() == "admin (Administrator)"
    assert bar.version_label.text() == "API 4.1.0.0"
    assert "Connected" in bar.state_label.text()
    session.state, session.countdown = State.RECONNECTING, 7
    session.countdownChanged.emit(7)
    assert "Reconnecting in 7 s" in bar.state_label.text()
    assert not bar.reconnect_button.isHidden()
    asked = []
    bar.reconnectRequested.connect(lambda: asked.append(True))
    bar.reconnect_button.click()
    assert asked == [True]
    bar.show_session(None)
    session.stateChanged.emit()  # no longer followed
    assert bar.array_label.text() == "No array connected"
    bar.set_error_count(3)
    assert bar.errors_button.text() == "⚠ 3 problems"


def test_error_panel_lists_newest_first_with_details(qtbot):
    panel = ErrorPanel()
    qtbot.addWidget(panel)
    counts = []
    panel.countChanged.connect(counts.append)
    try:
        raise ValueError("first")
    except ValueError as exc:
        panel.add_exception(exc, where="here")
    panel.add("second", where="there", details="more")
    assert panel.messages() == ["second", "ValueError: first"]
    assert counts == [1, 2]
    panel.list.setCurrentItem(panel.list.topLevelItem(1))
    assert "Traceback" in panel.details.toPlainText()
    panel.clear()
    assert panel.count() == 0
    assert counts[-1] == 0
