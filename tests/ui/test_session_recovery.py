"""Array sessions in the real window against simulators over TLS: certificate trust on first use
and the changed-certificate alarm, no keyring, a lost connection and its recovery, and a password
changed during the session (re-login in place, views keep their state)."""

from __future__ import annotations

import hashlib
import socket

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from PySide6.QtCore import Qt

from console.connections import TRUST_PINNED, Connection
from console.secrets import SERVICE, SecretStore, account
from console.ui.array_session import State
from tests.keyrings import MemoryKeyring, installed, no_keyring
from tests.simulator.process import SimulatorProcess
from tests.ui.conftest import run
from tests.ui.shell_support import (
    ADMIN_PASSWORD,
    QT_NOISE,
    FlakyArray,
    close_window,
    closed_at_end,
    make_window,
    shoot,
    sim_connection,
    wait_loaded,
    wait_state,
    window_with_saved_array,
)

pytestmark = pytest.mark.qt_log_ignore(QT_NOISE)


def server_fingerprint(sim: SimulatorProcess) -> str:
    pem = (sim.ca_path.parent / "server-cert.pem").read_bytes()
    der = x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)
    return hashlib.sha256(der).digest().hex(":").upper()


def control_stats(sim: SimulatorProcess) -> dict:
    with httpx_client(sim) as client:
        return client.get(f"{sim.origin}/__control/stats").json()


def httpx_client(sim: SimulatorProcess):
    import httpx

    return httpx.Client(verify=sim.ssl_context(), timeout=10)


@pytest.fixture
def keyring_backend():
    with installed(MemoryKeyring()) as backend:
        yield backend


def test_trust_on_first_use_shows_the_certificate_and_pins_it(qtbot, tmp_path, ui_simulator, keyring_backend):
    window, connection = window_with_saved_array(qtbot, tmp_path, ui_simulator, "tofu", trusted_ca=False)
    session = window.connect_saved(connection.id)
    wait_state(qtbot, session, State.TRUST_NEEDED)
    dialog = window.trust_dialogs[connection.id]
    assert dialog.isVisible()
    assert not dialog.request.changed
    expected = server_fingerprint(ui_simulator)
    assert dialog.fingerprint_label.text().replace("\n", ":") == expected
    assert (
        "CN=" in dialog.findChild(type(dialog.validity_label), "").text()
        or dialog.request.certificate.subject
    )
    assert " to " in dialog.validity_label.text()
    assert dialog.pin_button.isEnabled()
    assert "Certificate not trusted" in window.status.state_label.text()
    shoot(dialog, "trust-first-use")

    qtbot.mouseClick(dialog.pin_button, Qt.MouseButton.LeftButton)
    wait_state(qtbot, session, State.CONNECTED)
    saved = window.store.get(connection.id)
    assert saved.trust_mode == TRUST_PINNED
    assert saved.fingerprint == expected
    wait_loaded(qtbot, window.view_of(connection.id, "volumes"))
    close_window(qtbot, window)


def test_a_pin_made_while_the_connection_manager_is_open_survives_its_next_save(
    qtbot, tmp_path, ui_simulator, keyring_backend
):
    window, connection = window_with_saved_array(qtbot, tmp_path, ui_simulator, "tofu", trusted_ca=False)
    manager = window.show_connections(select=connection.id)
    manager.colour.setCurrentIndex((manager.colour.currentIndex() + 1) % manager.colour.count())  # unsaved
    session = window.connect_saved(connection.id)
    wait_state(qtbot, session, State.TRUST_NEEDED)
    qtbot.mouseClick(window.trust_dialogs[connection.id].pin_button, Qt.MouseButton.LeftButton)
    wait_state(qtbot, session, State.CONNECTED)
    # The open form now shows the pin, and saving the colour keeps it.
    assert manager.trust.currentData() == TRUST_PINNED
    assert manager.fingerprint.text() == server_fingerprint(ui_simulator)
    assert manager.save()
    saved = window.store.get(connection.id)
    assert saved.trust_mode == TRUST_PINNED
    assert saved.fingerprint == server_fingerprint(ui_simulator)
    assert saved.colour == manager.colour.currentData()
    manager.close()
    close_window(qtbot, window)


def test_f5_while_new_connection_settings_are_applied_is_no_problem(
    qtbot, tmp_path, ui_simulator, keyring_backend
):
    window, connection = window_with_saved_array(qtbot, tmp_path, ui_simulator, "prod-a")
    session = window.connect_saved(connection.id)
    wait_state(qtbot, session, State.CONNECTED)
    view = window.view_of(connection.id, "volumes")
    wait_loaded(qtbot, view)
    # The admin points the connection at a copy of the CA file, then Array > Reconnect now, then F5.
    copy = tmp_path / "ca-copy.pem"
    copy.write_bytes(ui_simulator.ca_path.read_bytes())
    window.store.update(window.store.get(connection.id).replace(ca_file=str(copy)))
    assert session.update_connection(window.store.get(connection.id))
    old_client = session.client
    window.reconnect_now(session.id)
    qtbot.waitUntil(lambda: session.client is not old_client, timeout=5000)  # on its way out
    view.reload()
    wait_state(qtbot, session, State.CONNECTED)
    rebuilt = window.view_of(connection.id, "volumes")
    wait_loaded(qtbot, rebuilt)
    assert window.errors.count() == 0
    close_window(qtbot, window)


def test_cancelling_the_first_use_prompt_leaves_the_array_offline(
    qtbot, tmp_path, ui_simulator, keyring_backend
):
    window = make_window(qtbot, tmp_path)
    session = window.open_connection(
        sim_connection(ui_simulator, trusted_ca=False), password=ADMIN_PASSWORD, transient=True
    )
    wait_state(qtbot, session, State.TRUST_NEEDED)
    dialog = window.trust_dialogs[session.id]
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    wait_state(qtbot, session, State.OFFLINE)
    assert "not trusted" in session.detail
    assert window.tabs.count() == 0
    assert session.client is None
    close_window(qtbot, window)


def test_importing_the_ca_file_from_the_prompt_connects(qtbot, tmp_path, ui_simulator, keyring_backend):
    window = make_window(qtbot, tmp_path)
    session = window.open_connection(
        sim_connection(ui_simulator, trusted_ca=False), password=ADMIN_PASSWORD, transient=True
    )
    wait_state(qtbot, session, State.TRUST_NEEDED)
    window.trust_dialogs[session.id].use_ca_file(str(ui_simulator.ca_path))
    wait_state(qtbot, session, State.CONNECTED)
    assert session.connection.ca_file == str(ui_simulator.ca_path)
    close_window(qtbot, window)


def test_a_changed_pinned_certificate_raises_the_alarm_and_nothing_is_sent(qtbot, tmp_path, keyring_backend):
    certs_a, certs_b = tmp_path / "certs-a", tmp_path / "certs-b"
    sim_a = SimulatorProcess(cert_dir=certs_a, args=["--volumes", "20", "--control"]).start()
    port = sim_a.port
    window = make_window(qtbot, tmp_path)
    try:
        pinned = server_fingerprint(sim_a)
        connection = window.store.add(
            sim_connection(sim_a, "pinned", trusted_ca=False, trust_mode=TRUST_PINNED, fingerprint=pinned)
        )
        window.secrets.remember(connection.id, ADMIN_PASSWORD, persist=True)
        session = window.connect_saved(connection.id)
        wait_state(qtbot, session, State.CONNECTED)
        view = window.view_of(connection.id, "volumes")
        wait_loaded(qtbot, view)
        sim_a.stop()

        # Another certificate (another CA) on the same host and port.
        sim_b = SimulatorProcess(cert_dir=certs_b, port=port, args=["--volumes", "20", "--control"]).start()
        try:
            presented = server_fingerprint(sim_b)
            assert presented != pinned
            view.reload()
            wait_state(qtbot, session, State.TRUST_NEEDED)
            dialog = window.trust_dialogs[connection.id]
            assert dialog.request.changed
            assert dialog.request.expected_fingerprint == pinned
            assert "WARNING" in dialog.findChild(type(dialog.validity_label), "trustBanner").text()
            assert dialog.fingerprint_label.text().replace("\n", ":") == presented
            assert (
                dialog.findChild(type(dialog.validity_label), "pinnedFingerprint").text().replace("\n", ":")
                == pinned
            )
            assert not dialog.pin_button.isEnabled()
            assert dialog.cancel_button.isDefault()
            assert session.client is None
            assert "Certificate not trusted" in window.status.state_label.text()
            assert "changed" in session.detail
            shoot(dialog, "trust-changed")
            # No credentials and no request reached the impostor while the user decides.
            stats = control_stats(sim_b)
            assert stats["logins"] == 0
            assert not stats["requests"]
            # The tables stay, with their rows, until the user decides.
            assert window.view_of(connection.id, "volumes") is view
            assert view.model.rowCount() > 0

            # Cancel first: the array stays offline, the tables keep their rows.
            qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
            wait_state(qtbot, session, State.OFFLINE)
            assert view.model.rowCount() > 0
            assert control_stats(sim_b)["logins"] == 0
            # Reconnecting asks again: still no connection without a decision.
            window.reconnect_now(connection.id)
            wait_state(qtbot, session, State.TRUST_NEEDED)
            dialog = window.trust_dialogs[connection.id]
            assert dialog.request.changed
            dialog.confirm.setChecked(True)
            assert dialog.pin_button.isEnabled()
            qtbot.mouseClick(dialog.pin_button, Qt.MouseButton.LeftButton)
            wait_state(qtbot, session, State.CONNECTED)
            assert window.store.get(connection.id).fingerprint == presented
            rebuilt = window.view_of(connection.id, "volumes")
            assert rebuilt is not view
            wait_loaded(qtbot, rebuilt)
            assert rebuilt.client is session.client
            assert control_stats(sim_b)["logins"] == 1
            assert window.errors.count() == 0
        finally:
            close_window(qtbot, window)
            sim_b.stop()
    finally:
        if sim_a.returncode is None:
            sim_a.stop()


def test_without_a_keyring_the_password_is_asked_for_and_nothing_is_written(qtbot, tmp_path, ui_simulator):
    with installed(no_keyring()):
        secrets = SecretStore()
        window = make_window(qtbot, tmp_path, secrets=secrets)
        connection = window.store.add(sim_connection(ui_simulator, "headless"))
        session = window.connect_saved(connection.id)
        wait_state(qtbot, session, State.PASSWORD_NEEDED)
        prompt = window.password_prompts[connection.id]
        assert prompt.isVisible()
        assert "No usable OS keyring" in prompt.reason_label.text() + prompt.keyring_note.text()
        assert "once per session" in prompt.reason_label.text() + prompt.keyring_note.text()
        assert not prompt.remember.isEnabled()
        assert not prompt.remember.isChecked()
        shoot(prompt, "password-no-keyring")

        prompt.password.setText("Wrong#Pass1")
        qtbot.mouseClick(prompt.buttons.buttons()[0], Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: prompt.error_label.isVisible(), timeout=10000)
        assert "refused" in prompt.error_label.text()
        assert prompt.password.text() == ""
        prompt.password.setText(ADMIN_PASSWORD)
        prompt.buttons.accepted.emit()
        wait_state(qtbot, session, State.CONNECTED)
        assert connection.id not in window.password_prompts
        wait_loaded(qtbot, window.view_of(connection.id, "volumes"))
        close_window(qtbot, window)
        # A new session (a restart) asks again: the password was kept in memory only.
        assert SecretStore().get(connection.id) is None
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written
    for path in written:
        assert ADMIN_PASSWORD not in path.read_text(errors="replace"), path


def test_a_lost_connection_counts_down_reconnects_and_reloads_the_views(qtbot, tmp_path, keyring_backend):
    window = make_window(qtbot, tmp_path)
    with FlakyArray(tmp_path) as array, closed_at_end(qtbot, window):
        session = window.open_connection(
            sim_connection(array.sim, "flaky"), password=ADMIN_PASSWORD, transient=True
        )
        wait_state(qtbot, session, State.CONNECTED)
        view = window.view_of(session.id, "volumes")
        wait_loaded(qtbot, view)
        view.table.selectRow(3)
        selected = view.selected_ids()
        qtbot.waitUntil(lambda: view.detail.record is not None, timeout=10000)
        array.down()

        view.reload()
        wait_state(qtbot, session, State.RECONNECTING, timeout=30000)
        qtbot.waitUntil(lambda: "Reconnecting in" in window.status.state_label.text(), timeout=5000)
        # The details of the selected row stay while the array is away (no error text in their place).
        qtbot.wait(300)
        assert view.detail.tabs.isVisible()
        assert str(view.detail.record["id"]) == str(selected[0])
        assert window.status.reconnect_button.isVisible()
        assert "flaky  ·  retry in" in window.tree.tree_model.item(0).text()
        assert window.errors.count() == 0  # a lost connection is a state, not a problem report
        first = session.countdown
        qtbot.waitUntil(lambda: session.countdown < first, timeout=3000)
        shoot(window, "main-window-reconnecting")

        array.up()
        qtbot.mouseClick(window.status.reconnect_button, Qt.MouseButton.LeftButton)
        wait_state(qtbot, session, State.CONNECTED, timeout=30000)
        wait_loaded(qtbot, view)
        assert window.view_of(session.id, "volumes") is view
        assert view.selected_ids() == selected
        assert "Connected" in window.status.state_label.text()
        assert not window.status.reconnect_button.isVisible()


def test_a_password_typed_while_the_array_is_unreachable_is_remembered_once_it_works(
    qtbot, tmp_path, keyring_backend
):
    window = make_window(qtbot, tmp_path)
    with FlakyArray(tmp_path) as array, closed_at_end(qtbot, window):
        connection = window.store.add(sim_connection(array.sim, "blip"))
        session = window.connect_saved(connection.id)  # no password saved: the prompt asks
        wait_state(qtbot, session, State.PASSWORD_NEEDED)
        prompt = window.password_prompts[connection.id]
        array.down()  # the network goes while the admin types
        prompt.password.setText(ADMIN_PASSWORD)
        prompt.remember.setChecked(True)
        prompt.buttons.button(prompt.buttons.StandardButton.Ok).click()
        wait_state(qtbot, session, State.RECONNECTING, timeout=30000)
        # The prompt says why nothing happened and can be used again.
        assert prompt.password.isEnabled()
        assert "Could not reach the array" in prompt.error_label.text()
        assert keyring_backend.get_password(SERVICE, account(connection.id)) is None

        array.up()
        session.reconnect_now()
        wait_state(qtbot, session, State.CONNECTED, timeout=30000)
        assert keyring_backend.get_password(SERVICE, account(connection.id)) == ADMIN_PASSWORD
        assert connection.id not in window.password_prompts
        assert session.user == "admin"


def test_an_array_down_at_the_first_connect_shows_user_and_role_once_it_is_back(
    qtbot, tmp_path, keyring_backend
):
    with FlakyArray(tmp_path) as array:
        array.down()  # its certificates and port stay: the array is down when the console starts
        window, connection = window_with_saved_array(qtbot, tmp_path, array.sim, "late")
        with closed_at_end(qtbot, window):
            session = window.connect_saved(connection.id)
            wait_state(qtbot, session, State.RECONNECTING, timeout=30000)
            array.up()
            qtbot.mouseClick(window.status.reconnect_button, Qt.MouseButton.LeftButton)
            wait_state(qtbot, session, State.CONNECTED, timeout=30000)
            assert window.status.user_label.text() == "admin (Administrator)"
            assert window.status.version_label.text() == "API 4.1.0.0"
            wait_loaded(qtbot, window.view_of(connection.id, "volumes"))


def test_a_password_changed_meanwhile_prompts_in_place_and_views_keep_their_state(
    qtbot, tmp_path, ui_simulator, ui_client, keyring_backend
):
    from console.api import F

    user, old, new = "shell.relogin", "Relogin#Pass1", "Relogin#Pass2"
    created = run(
        ui_client.request("POST", "local_user", body={"name": user, "password": old, "role_id": "3"})
    )
    user_id = created["id"]
    try:
        secrets = SecretStore()
        window = make_window(qtbot, tmp_path, secrets=secrets)
        connection = window.store.add(sim_connection(ui_simulator, "operator-view", user=user))
        secrets.remember(connection.id, old, persist=True)
        session = window.connect_saved(connection.id)
        wait_state(qtbot, session, State.CONNECTED)
        assert session.role_text == "Operator"
        view = window.view_of(connection.id, "volumes")
        wait_loaded(qtbot, view)
        view.model.set_sort("size", True)
        view.set_quick_filter("esx")
        view.apply_quick_filter()
        wait_loaded(qtbot, view)
        view.table.selectRow(40)
        view.table.scrollTo(view.model.index(40, 0))
        qtbot.wait(50)
        state_before = view.save_state()
        selected = view.selected_ids()
        scroll = view.table.verticalScrollBar().value()
        assert scroll > 0
        hosts = window.open_entry(connection.id, "hosts")
        wait_loaded(qtbot, hosts)
        window.tabs.setCurrentWidget(view)

        # Someone changes the password (which ends the user's sessions on the array).
        run(ui_client.request("PATCH", f"local_user/{user_id}", body={"password": new}))
        view.reload()
        wait_state(qtbot, session, State.PASSWORD_NEEDED)
        prompt = window.password_prompts[connection.id]
        assert "no longer accepts" in prompt.reason_label.text()
        assert prompt.remember.isChecked()
        assert window.view_of(connection.id, "volumes") is view
        assert window.tabs.count() == 2
        shoot(window, "main-window-relogin")

        # As a person would, answer once the table has given up (the detail pane may fail first);
        # a reload cancelling a request mid-TLS-handshake leaks its socket (see shell_support).
        qtbot.waitUntil(lambda: not view.model.is_loading, timeout=10000)
        prompt.password.setText(new)
        qtbot.mouseClick(prompt.buttons.buttons()[0], Qt.MouseButton.LeftButton)
        wait_state(qtbot, session, State.CONNECTED)
        wait_loaded(qtbot, view)
        qtbot.waitUntil(lambda: view.selected_ids() == selected, timeout=10000)
        after = view.save_state()
        for key in ("columns", "sort", "quick_filter", "filter"):
            assert after[key] == state_before[key], key
        assert view.quick_filter.text() == "esx"
        assert abs(view.table.verticalScrollBar().value() - scroll) <= 1
        assert window.view_of(connection.id, "hosts") is hosts
        # The keyring now holds the new password, and nothing else does.
        assert keyring_backend.entries[(SERVICE, account(connection.id))] == new
        matching = (F("type") != "Snapshot") & F("name").ilike("*esx*")
        assert run(ui_client.query("volume", where=matching, limit=1)).total == view.model.total
        close_window(qtbot, window)
    finally:
        run(ui_client.request("DELETE", f"local_user/{user_id}"))


def test_an_array_down_from_the_start_is_retried_less_and_less_often(qtbot, tmp_path, keyring_backend):
    with socket.socket() as probe:  # nothing listens there: the array is down
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    window = make_window(qtbot, tmp_path)
    session = window.open_connection(
        Connection.create("down", f"127.0.0.1:{port}", "admin"), password=ADMIN_PASSWORD, transient=True
    )
    countdowns = []

    def failed_again() -> bool:  # the attempt is over and the next one counted down
        return session.state is State.RECONNECTING and session.countdown > 0 and not session.busy

    for _ in range(3):
        qtbot.waitUntil(failed_again, timeout=10000)
        countdowns.append(session.countdown)
        session.reconnect_now()  # as the "Reconnect now" button does
    qtbot.waitUntil(failed_again, timeout=10000)
    countdowns.append(session.countdown)
    assert countdowns == [3, 5, 10, 20], countdowns
    close_window(qtbot, window)
