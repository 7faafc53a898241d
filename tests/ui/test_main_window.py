"""The main window against the simulator over TLS: connect, navigate, restore, problems panel."""

from __future__ import annotations

import asyncio
import socket

import pytest

from console import settings as settings_module
from console.connections import Connection, ConnectionStore
from console.secrets import SecretStore
from console.ui import qt_async
from console.ui.array_session import State
from console.ui.navigation import ENTRY_ROLE, KIND_ENTRY, KIND_ROLE
from tests.keyrings import MemoryKeyring, installed
from tests.ui.shell_support import (
    ADMIN_PASSWORD,
    QT_NOISE,
    close_window,
    make_window,
    shoot,
    sim_connection,
    wait_loaded,
    wait_state,
    window_with_saved_array,
)

pytestmark = pytest.mark.qt_log_ignore(QT_NOISE)


@pytest.fixture
def keyring_backend():
    with installed(MemoryKeyring()) as backend:
        yield backend


def test_connect_with_the_keyring_password_shows_the_array_and_its_volumes(
    qtbot, qtmodeltester, tmp_path, ui_simulator, keyring_backend
):
    window, connection = window_with_saved_array(qtbot, tmp_path, ui_simulator, "prod-a")
    assert window.central.currentWidget() is window.welcome

    session = window.connect_saved(connection.id)
    wait_state(qtbot, session, State.CONNECTED)
    view = window.view_of(connection.id, "volumes")
    assert view is not None
    wait_loaded(qtbot, view)
    assert window.central.currentWidget() is window.tabs
    assert window.tabs.tabText(0) == "Volumes · prod-a"

    status = window.status
    assert "prod-a" in status.array_label.text()
    assert status.user_label.text() == "admin (Administrator)"
    assert status.version_label.text() == "API 4.1.0.0"
    assert "Connected" in status.state_label.text()
    assert window.windowTitle() == "prod-a · PowerStore Console"

    model = window.tree.tree_model
    qtmodeltester.check(model)
    array = model.item(0)
    assert array.text() == "prod-a"
    groups = [array.child(r).text() for r in range(array.rowCount())]
    assert groups == ["Storage", "Compute", "Protection", "Monitoring", "Settings", "System"]
    assert window.tree.currentIndex().data(ENTRY_ROLE) == "volumes"
    shoot(window, "main-window-connected")
    assert close_window(qtbot, window) == 0
    assert session.client is None


def test_every_navigation_entry_opens_a_table_that_loads(qtbot, tmp_path, ui_simulator, keyring_backend):
    window = make_window(qtbot, tmp_path)
    session = window.open_connection(sim_connection(ui_simulator), password=ADMIN_PASSWORD, transient=True)
    wait_state(qtbot, session, State.CONNECTED)
    for entry in window.navigation.entries():
        index = window.tree.entry_index(session.id, entry.id)
        assert index.data(KIND_ROLE) == KIND_ENTRY
        window.tree.clicked.emit(index)
        view = window.view_of(session.id, entry.id)
        assert view is not None, entry.id
        qtbot.waitUntil(lambda v=view: v.model.started and not v.model.is_loading, timeout=20000)
        assert view.model.error is None, (entry.id, view.model.error)
        assert window.tabs.currentWidget() is view
    assert window.tabs.count() == len(list(window.navigation.entries()))
    assert window.errors.count() == 0
    # Clicking an open entry again brings its tab forward instead of opening another.
    window.tree.clicked.emit(window.tree.entry_index(session.id, "hosts"))
    assert window.tabs.currentWidget() is window.view_of(session.id, "hosts")
    assert window.tabs.count() == len(list(window.navigation.entries()))
    close_window(qtbot, window)


def test_several_arrays_at_once_each_with_its_own_client_name_and_colour(
    qtbot, tmp_path, ui_simulator, keyring_backend
):
    secrets = SecretStore()
    window = make_window(qtbot, tmp_path, secrets=secrets)
    a = window.store.add(sim_connection(ui_simulator, "array-a", colour="#d62728"))
    b = window.store.add(sim_connection(ui_simulator, "array-b", colour="#2ca02c", user="storage.admin"))
    secrets.remember(a.id, ADMIN_PASSWORD, persist=True)
    secrets.remember(b.id, "Storage#Admin1", persist=True)
    first = window.connect_saved(a.id)
    second = window.connect_saved(b.id)
    wait_state(qtbot, first, State.CONNECTED)
    wait_state(qtbot, second, State.CONNECTED)
    assert first.client is not second.client
    assert second.role_text == "Storage Administrator"
    names = [window.tree.tree_model.item(r).text() for r in range(2)]
    assert names == ["array-a", "array-b"]
    assert window.tabs.count() == 2
    window.tabs.setCurrentIndex(1)
    assert window.status.session is second
    assert window.status.user_label.text() == "storage.admin (Storage Administrator)"
    window.tabs.setCurrentIndex(0)
    assert window.status.session is first

    window.disconnect_array(b.id)
    qtbot.waitUntil(lambda: second.closed and second.client is None, timeout=10000)
    assert window.tabs.count() == 1
    assert window.tree.session_ids() == [a.id]
    close_window(qtbot, window)


def test_geometry_docks_last_arrays_and_tabs_are_restored(qtbot, tmp_path, ui_simulator, keyring_backend):
    window, connection = window_with_saved_array(qtbot, tmp_path, ui_simulator, "prod-a")
    session = window.connect_saved(connection.id)
    wait_state(qtbot, session, State.CONNECTED)
    hosts = window.open_entry(connection.id, "hosts")
    wait_loaded(qtbot, hosts)
    hosts.set_columns(["name", "os_type"])
    # Within the offscreen platform's 800x600 screen, which restoreGeometry clamps to.
    window.resize(760, 560)
    window.nav_dock.hide()
    qtbot.wait(50)
    assert close_window(qtbot, window) == 0
    saved = settings_module.load(tmp_path / "settings.json")
    assert saved.last_connections == [connection.id]
    assert saved.open_views == {connection.id: ["volumes", "hosts"]}
    assert saved.current_view == [connection.id, "hosts"]
    assert saved.view_states["hosts"]["columns"][:2] == ["name", "os_type"]

    again = make_window(qtbot, tmp_path, secrets=window.secrets, store=window.store, resize=False)
    assert (again.width(), again.height()) == (760, 560)
    assert not again.nav_dock.isVisible()
    assert again.restore_last() == 1
    restored = again.sessions[connection.id]
    wait_state(qtbot, restored, State.CONNECTED)
    qtbot.waitUntil(lambda: again.tabs.count() == 2)
    assert [again.tabs.tabText(i) for i in range(2)] == ["Volumes · prod-a", "Hosts · prod-a"]
    assert again.current_view().entry.id == "hosts"
    assert again.view_of(connection.id, "hosts").model.column_keys[:2] == ["name", "os_type"]
    close_window(qtbot, again)


def test_unhandled_errors_in_async_slots_show_in_the_panel_and_the_app_keeps_running(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    assert not window.error_dock.isVisible()

    async def broken() -> None:
        await asyncio.sleep(0)
        raise RuntimeError("something unexpected")

    qt_async.start(broken(), name="broken")
    qtbot.waitUntil(lambda: window.errors.count() == 1, timeout=3000)
    assert window.error_dock.isVisible()
    assert window.errors.messages() == ["RuntimeError: something unexpected"]
    assert "Traceback" in window.errors.details.toPlainText()
    assert window.status.errors_button.isVisible()
    assert "1 problem" in window.status.errors_button.text()
    shoot(window, "main-window-problem")
    # Still working: another task runs, and the panel can be cleared.
    done = qt_async.start(asyncio.sleep(0.01))
    qtbot.waitUntil(done.done, timeout=2000)
    window.errors.clear()
    assert not window.status.errors_button.isVisible()
    close_window(qtbot, window)
    # The window's handler is gone once it closed.
    assert window._async_error not in qt_async._handlers


def test_a_view_that_fails_for_another_reason_reports_it_without_disturbing_the_session(
    qtbot, tmp_path, ui_simulator, keyring_backend
):
    from console.api import ValidationRefused

    window = make_window(qtbot, tmp_path)
    session = window.open_connection(sim_connection(ui_simulator), password=ADMIN_PASSWORD, transient=True)
    wait_state(qtbot, session, State.CONNECTED)
    view = window.view_of(session.id, "volumes")
    view.loadFailed.emit(ValidationRefused(400, [], "GET", "volume"))
    assert window.errors.count() == 1
    assert window.errors.messages()[0].startswith("Loading Volumes failed")
    assert session.state is State.CONNECTED
    close_window(qtbot, window)


def test_related_links_open_the_right_table_and_select_the_row(qtbot, tmp_path, ui_simulator, ui_client):
    from tests.ui.conftest import run

    snapshot = run(ui_client.query("volume", select="id", where=None, limit=1, order="id"))
    snap = run(ui_client.query("volume", select="id,name", limit=1, **{}))
    del snapshot, snap
    from console.api import F

    snap_id = run(ui_client.query("volume", select="id", where=F("type") == "Snapshot", limit=1)).items[0][
        "id"
    ]
    host_id = run(ui_client.query("host", select="id", limit=1)).items[0]["id"]
    window = make_window(qtbot, tmp_path)
    session = window.open_connection(sim_connection(ui_simulator), password=ADMIN_PASSWORD, transient=True)
    wait_state(qtbot, session, State.CONNECTED)
    volumes = window.view_of(session.id, "volumes")
    wait_loaded(qtbot, volumes)

    volumes.relatedRequested.emit("host", host_id)
    qtbot.waitUntil(lambda: window.view_of(session.id, "hosts") is not None, timeout=5000)
    hosts = window.view_of(session.id, "hosts")
    qtbot.waitUntil(lambda: hosts.current_id() == host_id, timeout=10000)

    volumes.relatedRequested.emit("volume", snap_id)
    qtbot.waitUntil(lambda: window.view_of(session.id, "snapshots") is not None, timeout=5000)
    snapshots = window.view_of(session.id, "snapshots")
    assert window.tabs.currentWidget() is snapshots
    qtbot.waitUntil(lambda: snapshots.current_id() == snap_id, timeout=10000)

    volumes.relatedRequested.emit("host_volume_mapping", "whatever")
    qtbot.waitUntil(lambda: window.view_of(session.id, "type:host_volume_mapping") is not None, timeout=5000)
    assert window.tabs.tabText(window.tabs.currentIndex()) == "Host Volume Mappings · sim"
    close_window(qtbot, window)


def test_screenshot_mode_saves_a_png_once_the_first_table_loaded(qtbot, tmp_path, ui_simulator):
    shot = tmp_path / "shot.png"
    fatal: list[str] = []
    window = make_window(qtbot, tmp_path, resize=False, screenshot=shot, on_fatal=fatal.append)
    codes: list[int] = []
    window.closed.connect(codes.append)
    window.open_connection(sim_connection(ui_simulator), password=ADMIN_PASSWORD, transient=True)
    qtbot.waitUntil(lambda: bool(codes), timeout=30000)
    assert codes == [0]
    assert fatal == []
    assert shot.read_bytes()[:4] == b"\x89PNG"
    assert not (tmp_path / "settings.json").exists()  # a screenshot run changes no settings


def test_screenshot_mode_fails_with_a_message_on_an_unexpected_error(qtbot, tmp_path, ui_simulator):
    def broken_factory(client, entry, parent):
        raise RuntimeError("no table today")

    fatal: list[str] = []
    window = make_window(
        qtbot, tmp_path, screenshot=tmp_path / "shot.png", on_fatal=fatal.append, view_factory=broken_factory
    )
    codes: list[int] = []
    window.closed.connect(codes.append)
    window.open_connection(sim_connection(ui_simulator), password=ADMIN_PASSWORD, transient=True)
    qtbot.waitUntil(lambda: bool(codes), timeout=30000)
    assert codes == [1]
    assert fatal == ["The Volumes table could not be opened: no table today"]
    assert not (tmp_path / "shot.png").exists()


def test_disconnecting_the_only_array_then_connecting_it_again(
    qtbot, tmp_path, ui_simulator, keyring_backend
):
    window, connection = window_with_saved_array(qtbot, tmp_path, ui_simulator, "prod-a")
    old = window.connect_saved(connection.id)
    wait_state(qtbot, old, State.CONNECTED)
    wait_loaded(qtbot, window.view_of(connection.id, "volumes"))

    window.disconnect_array(connection.id)
    qtbot.waitUntil(lambda: not window._disconnecting, timeout=10000)
    # The logout's "offline" must not bring the removed session back into the status bar.
    assert window.status.session is None
    assert window.status.array_label.text() == "No array connected"
    assert window.windowTitle() == "PowerStore Console"
    assert not window.disconnect_action.isEnabled()

    again = window.connect_saved(connection.id)
    wait_state(qtbot, again, State.CONNECTED)
    assert window.status.session is again
    assert "Connected" in window.status.state_label.text()
    assert window.errors.count() == 0
    assert close_window(qtbot, window) == 0


def test_a_late_signal_of_a_disconnected_session_changes_nothing(
    qtbot, tmp_path, ui_simulator, keyring_backend
):
    window, connection = window_with_saved_array(qtbot, tmp_path, ui_simulator, "prod-a")
    old = window.connect_saved(connection.id)
    wait_state(qtbot, old, State.CONNECTED)
    old.deleteLater = lambda: None  # kept alive, as one still logging out from a slow array is
    window.disconnect_array(connection.id)
    qtbot.waitUntil(lambda: connection.id not in window.sessions, timeout=5000)
    again = window.connect_saved(connection.id)
    assert again is not old
    wait_state(qtbot, again, State.CONNECTED)
    qtbot.waitUntil(lambda: not window._disconnecting, timeout=10000)
    assert old.state is State.OFFLINE

    old.stateChanged.emit()  # the old session's logout ending after the new one connected
    item = window.tree.tree_model.item(0)
    assert item.text() == "prod-a"
    assert item.child(0).child(0).isEnabled()
    assert window.status.session is again
    assert close_window(qtbot, window) == 0


def test_tabs_of_an_array_still_down_at_quit_are_kept(qtbot, tmp_path, keyring_backend):
    with socket.socket() as probe:  # a port where nothing listens: the array is down
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    secrets = SecretStore()
    store = ConnectionStore(tmp_path / "connections.json")
    connection = store.add(Connection.create("prod-a", f"127.0.0.1:{port}", "admin"))
    secrets.remember(connection.id, ADMIN_PASSWORD, persist=True)
    path = tmp_path / "settings.json"
    settings_module.save(
        settings_module.Settings(
            last_connections=[connection.id],
            open_views={connection.id: ["hosts", "alerts", "volumes"]},
            current_view=[connection.id, "alerts"],
        ),
        path,
    )
    window = make_window(qtbot, tmp_path, secrets=secrets, store=store, settings_path=path)
    assert window.restore_last() == 1
    wait_state(qtbot, window.sessions[connection.id], State.RECONNECTING)
    assert close_window(qtbot, window) == 0  # quit before the array is back
    saved = settings_module.load(path)
    assert saved.open_views == {connection.id: ["hosts", "alerts", "volumes"]}
    assert saved.current_view == [connection.id, "alerts"]
    assert saved.last_connections == [connection.id]
