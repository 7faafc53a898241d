"""The connection manager: add, edit, remove, connect; import and export; errors lose nothing."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt

from console.connections import TRUST_CA_FILE, TRUST_PINNED, ConnectionStore
from console.secrets import SERVICE, SecretStore, account
from console.ui.array_session import State
from console.ui.connection_dialog import ConnectionDialog
from tests.keyrings import MemoryKeyring, installed, no_keyring
from tests.ui.shell_support import (
    ADMIN_PASSWORD,
    QT_NOISE,
    close_window,
    make_window,
    shoot,
    sim_host,
    wait_state,
)

pytestmark = pytest.mark.qt_log_ignore(QT_NOISE)


@pytest.fixture
def keyring_backend():
    with installed(MemoryKeyring()) as backend:
        yield backend


def open_dialog(qtbot, tmp_path, secrets=None):
    store = ConnectionStore(tmp_path / "connections.json")
    dialog = ConnectionDialog(store, secrets or SecretStore())
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def fill(qtbot, dialog, **values):
    for field, text in values.items():
        edit = getattr(dialog, field)
        edit.clear()
        qtbot.keyClicks(edit, text)


def test_add_a_connection_with_a_password_for_the_keyring(qtbot, tmp_path, keyring_backend):
    dialog = open_dialog(qtbot, tmp_path)
    assert dialog.list.count() == 0
    assert dialog.user.text() == "admin"
    fill(qtbot, dialog, name="prod-a", host="Array-A.example.com:8443", password="Secret#123")
    dialog.colour.setCurrentIndex(1)
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    (saved,) = dialog.store.all()
    assert (saved.name, saved.host, saved.user, saved.colour) == (
        "prod-a",
        "array-a.example.com:8443",
        "admin",
        "#d62728",
    )
    assert keyring_backend.entries == {(SERVICE, account(saved.id)): "Secret#123"}
    assert dialog.password.text() == ""
    assert "in the OS keyring" in dialog.message.text()
    assert dialog.list.count() == 1
    assert "Secret#123" not in (tmp_path / "connections.json").read_text()
    assert "A password is saved" in dialog.password_note.text()
    shoot(dialog, "dialog-connections")


def test_bad_entries_are_explained_and_nothing_typed_is_lost(qtbot, tmp_path, keyring_backend):
    dialog = open_dialog(qtbot, tmp_path)
    fill(qtbot, dialog, name="lab", host="http://lab-array")
    assert not dialog.save()
    assert "HTTPS" in dialog.message.text()
    assert dialog.host.hasFocus() or dialog.host.selectedText() == "http://lab-array"
    assert (dialog.name.text(), dialog.host.text()) == ("lab", "http://lab-array")
    assert len(dialog.store) == 0
    shoot(dialog, "dialog-connections-error")

    fill(qtbot, dialog, host="lab-array:99999")
    assert not dialog.save()
    assert "1 to 65535" in dialog.message.text()
    dialog.trust.setCurrentIndex(dialog.trust.findData(TRUST_PINNED))
    fill(qtbot, dialog, host="lab-array")
    assert not dialog.save()
    assert "fingerprint" in dialog.message.text()
    fill(qtbot, dialog, fingerprint="AB" * 32)
    assert dialog.save()
    assert dialog.store.all()[0].fingerprint == ":".join(["AB"] * 32)


def test_moving_away_from_invalid_changes_is_refused(qtbot, tmp_path, keyring_backend):
    dialog = open_dialog(qtbot, tmp_path)
    fill(qtbot, dialog, name="one", host="one")
    assert dialog.save()
    dialog.new_connection()
    fill(qtbot, dialog, name="two", host="two")
    assert dialog.save()
    dialog.list.setCurrentRow(0)
    assert dialog.name.text() == "one"
    fill(qtbot, dialog, host="bad host")
    dialog.list.setCurrentRow(1)
    # Still on "one", with what was typed.
    assert dialog.name.text() == "one"
    assert dialog.host.text() == "bad host"
    assert dialog.list.currentRow() == 0
    assert "no spaces" in dialog.message.text()
    # A name already taken is refused too.
    fill(qtbot, dialog, host="one", name="TWO")
    assert not dialog.save()
    assert "exists already" in dialog.message.text()


def test_edit_and_remove(qtbot, tmp_path, keyring_backend):
    secrets = SecretStore()
    dialog = open_dialog(qtbot, tmp_path, secrets)
    fill(qtbot, dialog, name="prod", host="prod", password="Secret#1")
    assert dialog.save()
    connection_id = dialog.store.all()[0].id
    saved = []
    dialog.connectionSaved.connect(saved.append)
    fill(qtbot, dialog, name="prod-renamed")
    dialog.trust.setCurrentIndex(dialog.trust.findData(TRUST_CA_FILE))
    fill(qtbot, dialog, ca_file="/etc/ssl/array-ca.pem")
    assert dialog.save()
    assert saved[0].id == connection_id
    assert dialog.store.get(connection_id).ca_file == "/etc/ssl/array-ca.pem"
    assert secrets.get(connection_id) == "Secret#1"  # editing without typing a password keeps it
    removed = []
    dialog.connectionRemoved.connect(removed.append)
    dialog.remove_current(confirm=False)
    assert removed == [connection_id]
    assert len(dialog.store) == 0
    assert keyring_backend.entries == {}


def test_remove_asks_first(qtbot, tmp_path, keyring_backend):
    from PySide6.QtWidgets import QMessageBox

    dialog = open_dialog(qtbot, tmp_path)
    fill(qtbot, dialog, name="prod", host="prod")
    assert dialog.save()
    qtbot.mouseClick(dialog.remove_button, Qt.MouseButton.LeftButton)
    box = dialog.findChild(QMessageBox)
    assert box is not None
    assert box.isVisible()
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert len(dialog.store) == 1
    qtbot.mouseClick(dialog.remove_button, Qt.MouseButton.LeftButton)
    box = next(b for b in dialog.findChildren(QMessageBox) if b.isVisible())
    box.button(QMessageBox.StandardButton.Yes).click()
    assert len(dialog.store) == 0


def test_export_and_import_through_the_dialog(qtbot, tmp_path, keyring_backend):
    dialog = open_dialog(qtbot, tmp_path)
    fill(qtbot, dialog, name="prod", host="prod", password="Secret#1")
    assert dialog.save()
    exported = tmp_path / "export.json"
    assert dialog.export_to(exported)
    assert "no passwords" in dialog.message.text()
    assert "Secret#1" not in exported.read_text()

    bad = tmp_path / "bad.json"
    bad.write_text('[{"name": "x", "host": "bad host", "user": "admin"}]')
    assert dialog.import_from(bad) == []
    assert "Nothing was imported" in dialog.message.text()
    assert "no spaces" in dialog.message.text()
    assert [c.name for c in dialog.store] == ["prod"]

    added = dialog.import_from(exported)
    assert [c.name for c in added] == ["prod (2)"]
    assert dialog.list.count() == 2
    assert dialog.name.text() == "prod (2)"
    assert "Imported 1 connection" in dialog.message.text()
    assert json.loads((tmp_path / "connections.json").read_text())["connections"][1]["name"] == "prod (2)"


def test_without_a_keyring_the_dialog_says_why_and_keeps_the_password_for_the_session(qtbot, tmp_path):
    with installed(no_keyring()):
        secrets = SecretStore()
        dialog = open_dialog(qtbot, tmp_path, secrets)
        assert not dialog.remember.isEnabled()
        assert "No usable OS keyring" in dialog.password_note.text()
        fill(qtbot, dialog, name="prod", host="prod", password="Secret#1")
        assert dialog.save()
        assert "for this session only" in dialog.message.text()
        connection_id = dialog.store.all()[0].id
        assert secrets.get(connection_id) == "Secret#1"
        assert SecretStore().get(connection_id) is None
        shoot(dialog, "dialog-connections-no-keyring")


def test_connect_from_the_manager_opens_the_array_in_the_window(
    qtbot, tmp_path, ui_simulator, keyring_backend
):
    window = make_window(qtbot, tmp_path)
    dialog = window.show_connections()
    fill(qtbot, dialog, name="from-dialog", host=sim_host(ui_simulator), password=ADMIN_PASSWORD)
    dialog.trust.setCurrentIndex(dialog.trust.findData(TRUST_CA_FILE))
    fill(qtbot, dialog, ca_file=str(ui_simulator.ca_path))
    # Enter in the form connects (it is not "New", whichever button had the focus last).
    dialog.password.setFocus()
    qtbot.keyClick(dialog.password, Qt.Key.Key_Return)
    (connection,) = window.store.all()
    session = window.sessions[connection.id]
    wait_state(qtbot, session, State.CONNECTED)
    # Renaming a connected array shows at once in the tree and the tabs.
    dialog.colour.setCurrentIndex(3)
    fill(qtbot, dialog, name="renamed")
    assert dialog.save()
    assert window.tree.tree_model.item(0).text() == "renamed"
    assert window.tabs.tabText(0) == "Volumes · renamed"
    # Another user applies at the next reconnect, with the tables rebuilt for the new client.
    old_view = window.view_of(connection.id, "volumes")
    fill(qtbot, dialog, user="storage.admin", password="Storage#Admin1")
    assert dialog.save()
    assert "apply when it reconnects" in window.statusBar().currentMessage()
    assert session.user == "admin"
    window.reconnect_now(connection.id)
    qtbot.waitUntil(
        lambda: session.user == "storage.admin" and session.state is State.CONNECTED, timeout=10000
    )
    qtbot.waitUntil(lambda: window.view_of(connection.id, "volumes") not in (None, old_view), timeout=10000)
    assert window.status.user_label.text() == "storage.admin (Storage Administrator)"
    assert window.errors.count() == 0
    # Removing it disconnects it.
    dialog.remove_current(confirm=False)
    qtbot.waitUntil(lambda: session.closed, timeout=10000)
    assert window.tabs.count() == 0
    dialog.close()
    close_window(qtbot, window)
