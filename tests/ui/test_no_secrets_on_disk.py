"""After a full session (connect with a password typed in the connection manager, a password
changed meanwhile and typed again, tabs, export, quit) with logging at DEBUG, no password is in any
file of the config, data and log directories."""

from __future__ import annotations

import base64
import logging

import pytest
from PySide6.QtCore import Qt

from console import app, paths
from console.connections import TRUST_CA_FILE, ConnectionStore
from console.secrets import SERVICE, SecretStore, account
from console.ui.array_session import State
from tests.keyrings import MemoryKeyring, installed
from tests.ui.conftest import run
from tests.ui.shell_support import (
    ADMIN_PASSWORD,
    QT_NOISE,
    close_window,
    make_window,
    sim_host,
    wait_loaded,
    wait_state,
)

pytestmark = pytest.mark.qt_log_ignore(QT_NOISE)

USER = "shell.audit"
FIRST, SECOND = "Audit#First1", "Audit#Second2"


@pytest.fixture
def debug_log():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    httpx_level = logging.getLogger("httpx").level
    handler = app.setup_logging("debug")
    try:
        yield handler
    finally:
        for added in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(added)
            added.close()
        root.setLevel(level)
        logging.getLogger("httpx").setLevel(httpx_level)


def forms(password: str, user: str) -> list[str]:
    """The password as it could leak: plain, and inside a Basic authorization header."""
    return [password, base64.b64encode(f"{user}:{password}".encode()).decode()]


def test_a_full_session_leaves_no_password_in_config_data_or_log(qtbot, ui_simulator, ui_client, debug_log):
    created = run(
        ui_client.request("POST", "local_user", body={"name": USER, "password": FIRST, "role_id": "2"})
    )
    try:
        with installed(MemoryKeyring()) as keyring_backend:
            window = make_window(
                qtbot, paths.config_dir(), secrets=SecretStore(), store=ConnectionStore(), settings_path=None
            )
            dialog = window.show_connections()
            dialog.new_connection()
            for edit, text in [
                (dialog.name, "audit"),
                (dialog.host, sim_host(ui_simulator)),
                (dialog.user, USER),
            ]:
                edit.setText(text)
            qtbot.keyClicks(dialog.password, FIRST)
            dialog.trust.setCurrentIndex(dialog.trust.findData(TRUST_CA_FILE))
            dialog.ca_file.setText(str(ui_simulator.ca_path))
            qtbot.mouseClick(dialog.connect_button, Qt.MouseButton.LeftButton)
            connection = window.store.by_name("audit")
            session = window.sessions[connection.id]
            wait_state(qtbot, session, State.CONNECTED)
            wait_loaded(qtbot, window.view_of(connection.id, "volumes"))
            wait_loaded(qtbot, window.open_entry(connection.id, "local_users"))

            run(ui_client.request("PATCH", f"local_user/{created['id']}", body={"password": SECOND}))
            window.view_of(connection.id, "local_users").reload()
            wait_state(qtbot, session, State.PASSWORD_NEEDED)
            prompt = window.password_prompts[connection.id]
            qtbot.keyClicks(prompt.password, SECOND)
            qtbot.keyClick(prompt.password, Qt.Key.Key_Return)
            wait_state(qtbot, session, State.CONNECTED)
            assert keyring_backend.entries[(SERVICE, account(connection.id))] == SECOND

            assert dialog.export_to(paths.config_dir() / "exported-connections.json")
            dialog.close()
            close_window(qtbot, window)
    finally:
        run(ui_client.request("DELETE", f"local_user/{created['id']}"))

    debug_log.flush()
    log_text = paths.log_file().read_text()
    assert f"logged in to 127.0.0.1 as {USER}" in log_text
    assert "GET local_user" in log_text
    secrets = [*forms(FIRST, USER), *forms(SECOND, USER), *forms(ADMIN_PASSWORD, "admin")]
    searched = 0
    for folder in (paths.config_dir(), paths.data_dir(), paths.log_dir()):
        for path in folder.rglob("*"):
            if path.is_file():
                searched += 1
                content = path.read_bytes().decode("utf-8", errors="replace")
                for secret in secrets:
                    assert secret not in content, f"{secret!r} found in {path}"
    assert searched >= 4  # connections, settings, export, log at least
    assert (paths.config_dir() / "connections.json").exists()
    assert (paths.config_dir() / "settings.json").exists()
