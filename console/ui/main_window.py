"""The main window: the navigation tree (arrays and their resource types) on the left, the open
tables as tabs in the middle, the problems panel at the bottom, the status bar below.

It owns the array sessions and answers what they ask for: a password (a prompt that leaves every
view as it is), a certificate decision (the trust dialog), a reconnect (the views reload when the
array is back). It remembers the window's geometry and docks, the arrays that were connected and
their open tabs, and each table's columns, sort and filter.

``--screenshot`` mode (``screenshot=path``): once the first table has loaded, the window saves a PNG
of itself and closes with exit code 0; anything that needs the user (a password, a certificate
decision) or fails ends it with exit code 1 and a message instead.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QImage, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QTabWidget,
    QWidget,
)

import console
from console import settings as settings_module
from console.api import ApiError, PowerStoreClient, expressions
from console.connections import PALETTE, TRUST_CA_FILE, Connection, ConnectionStore
from console.demo import DEMO_NAME, DemoError, DemoSimulator
from console.navigation import Entry, Navigation, load_navigation
from console.secrets import SecretStore
from console.settings import Settings
from console.ui import qt_async
from console.ui.array_session import ArraySession, State, TrustChoice, TrustRequest
from console.ui.connection_dialog import ConnectionDialog
from console.ui.error_panel import ErrorPanel
from console.ui.navigation import NavigationTree
from console.ui.password_prompt import PasswordPrompt
from console.ui.status_bar import StatusBar
from console.ui.style import colour_icon
from console.ui.trust_dialog import TrustDialog

log = logging.getLogger(__name__)

ViewFactory = Callable[[PowerStoreClient, Entry, QWidget | None], QWidget]
"""Builds the table of a navigation entry: ``ResourceView(client, type, parent, base_filter, title)``."""

SCREENSHOT_SIZE = QSize(1280, 760)
SCREENSHOT_TIMEOUT_MS = 120_000
# After the first rows arrived, how long the details of the selected row may take before the grab.
SCREENSHOT_SETTLE_MAX = 5.0
# Logging out of every array at quit may take this long before the window closes anyway.
SHUTDOWN_TIMEOUT = 6.0
DEMO_ID = "demo"


def default_view_factory(client: PowerStoreClient, entry: Entry, parent: QWidget | None) -> QWidget:
    from console.ui.resource_view import ResourceView

    return ResourceView(client, entry.type, parent, base_filter=entry.base_filter, title=entry.label)


@dataclass
class OpenView:
    session: ArraySession
    entry: Entry
    view: Any
    """A ``ResourceView`` (or a stand-in honouring its contract)."""
    loaded: bool = False


class MainWindow(QMainWindow):
    closed = Signal(int)
    """Emitted once the window has closed (sessions logged out): the exit code."""

    def __init__(
        self,
        *,
        store: ConnectionStore,
        secrets: SecretStore,
        settings: Settings | None = None,
        settings_path: Path | None = None,
        navigation: Navigation | None = None,
        view_factory: ViewFactory | None = None,
        screenshot: Path | None = None,
        on_fatal: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.setWindowTitle("PowerStore Console")
        self.store = store
        self.secrets = secrets
        self.settings_path = settings_path
        self.settings = settings if settings is not None else settings_module.load(settings_path)
        self.navigation = navigation if navigation is not None else load_navigation()
        self.view_factory = view_factory if view_factory is not None else default_view_factory
        self.screenshot = screenshot
        self.on_fatal = on_fatal
        self.save_settings_on_close = screenshot is None
        self.exit_code = 0
        self.sessions: dict[str, ArraySession] = {}
        self.views: list[OpenView] = []
        self.transient: set[str] = set()
        self.demo: DemoSimulator | None = None
        self.password_prompts: dict[str, PasswordPrompt] = {}
        self.trust_dialogs: dict[str, TrustDialog] = {}
        self.connection_dialog: ConnectionDialog | None = None
        self._pending_views: dict[str, list[str]] = {}
        self._initialised: set[str] = set()
        self._disconnecting: set[asyncio.Task[None]] = set()
        self._shutting_down = False
        self._shutdown_done = False
        self._screenshot_taken = False
        self._quiet_deadline = 0.0

        self._build()
        qt_async.add_error_handler(self._async_error)
        if self.screenshot is not None:
            self.resize(SCREENSHOT_SIZE)
            QTimer.singleShot(SCREENSHOT_TIMEOUT_MS, self._screenshot_timeout)
        else:
            self._restore_geometry()
        if store.load_error:
            self.errors.add(
                f"The saved connections could not be read: {store.load_error}", where="Connections"
            )
            self.error_dock.show()

    # -- building ----------------------------------------------------------------------------------

    def _build(self) -> None:
        self.tree = NavigationTree(self.navigation)
        self.tree.entryActivated.connect(self.open_entry)
        self.tree.arraySelected.connect(lambda sid: self._show_status_for(self.sessions.get(sid)))
        self.tree.reconnectRequested.connect(self.reconnect_now)
        self.tree.disconnectRequested.connect(self.disconnect_array)
        self.tree.editRequested.connect(self.show_connections)
        self.nav_dock = QDockWidget("Navigation", self)
        self.nav_dock.setObjectName("navigationDock")
        self.nav_dock.setWidget(self.tree)
        self.nav_dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.nav_dock)

        self.errors = ErrorPanel()
        self.error_dock = QDockWidget("Problems", self)
        self.error_dock.setObjectName("errorDock")
        self.error_dock.setWidget(self.errors)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.error_dock)
        self.error_dock.hide()

        self.tabs = QTabWidget()
        self.tabs.setObjectName("viewTabs")
        self.tabs.setTabsClosable(True)
        self.tabs.setMovable(True)
        self.tabs.setDocumentMode(True)
        self.tabs.tabCloseRequested.connect(self._close_tab_at)
        self.tabs.currentChanged.connect(self._current_tab_changed)
        self.welcome = QLabel(
            "<h2>PowerStore Console</h2>"
            "<p>No array is connected.</p>"
            "<p>Open <b>File ▸ Connections…</b> (Ctrl+Shift+N) to add or connect an array,<br>"
            "or start the console with <code>powerstore-console --demo</code> to explore a simulated one.</p>"
        )
        self.welcome.setObjectName("welcome")
        self.welcome.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.welcome.setStyleSheet("color: #444")
        self.central = QStackedWidget()
        self.central.addWidget(self.welcome)
        self.central.addWidget(self.tabs)
        self.setCentralWidget(self.central)

        self.status = StatusBar()
        self.setStatusBar(self.status)
        self.status.reconnectRequested.connect(self._reconnect_shown)
        self.status.errorsClicked.connect(self._toggle_errors)
        self.errors.countChanged.connect(self.status.set_error_count)
        self._build_menus()

    def _build_menus(self) -> None:
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        self.connections_action = QAction("&Connections…", self)
        self.connections_action.setShortcut(QKeySequence("Ctrl+Shift+N"))
        self.connections_action.triggered.connect(lambda: self.show_connections())
        file_menu.addAction(self.connections_action)
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)

        array_menu = menu.addMenu("&Array")
        self.reconnect_action = QAction("&Reconnect now", self)
        self.reconnect_action.triggered.connect(self._reconnect_current)
        self.disconnect_action = QAction("&Disconnect", self)
        self.disconnect_action.triggered.connect(self._disconnect_current)
        array_menu.addAction(self.reconnect_action)
        array_menu.addAction(self.disconnect_action)

        view_menu = menu.addMenu("&View")
        refresh = QAction("&Refresh table", self)
        refresh.triggered.connect(self.refresh_current)
        view_menu.addAction(refresh)
        close_tab = QAction("&Close tab", self)
        close_tab.setShortcut(QKeySequence.StandardKey.Close)
        close_tab.triggered.connect(lambda: self._close_tab_at(self.tabs.currentIndex()))
        view_menu.addAction(close_tab)
        view_menu.addSeparator()
        view_menu.addAction(self.nav_dock.toggleViewAction())
        errors_toggle = self.error_dock.toggleViewAction()
        errors_toggle.setText("Problems panel")
        view_menu.addAction(errors_toggle)

        help_menu = menu.addMenu("&Help")
        about = QAction("&About PowerStore Console", self)
        about.triggered.connect(self._about)
        help_menu.addAction(about)

    # -- sessions ----------------------------------------------------------------------------------

    def open_connection(
        self, connection: Connection, *, password: str | None = None, transient: bool = False
    ) -> ArraySession:
        """Connect to an array (or bring its session forward if it has one)."""
        existing = self.sessions.get(connection.id)
        if existing is not None:
            existing.reconnect_now()
            self._show_status_for(existing)
            return existing
        session = ArraySession(connection, self.secrets, password=password, parent=self)
        self.sessions[connection.id] = session
        if transient:
            self.transient.add(connection.id)
        for signal, handler in (
            (session.stateChanged, self._session_state_changed),
            (session.infoChanged, self._session_state_changed),
            (session.passwordNeeded, self._password_needed),
            (session.trustNeeded, self._trust_needed),
            (session.recovered, self._recovered),
            (session.clientReplaced, self._rebuild_views),
            (session.connectionChanged, self._connection_changed),
        ):
            signal.connect(functools.partial(self._from_session, session, handler))
        self.tree.add_session(session)
        self._show_status_for(session)
        session.start()
        return session

    def _from_session(self, session: ArraySession, handler: Callable[..., None], *args: Any) -> None:
        # A disconnected session still signals while it logs out (its state going offline); by then
        # another session of the same array may be in its place, whose tree node and status it must
        # not overwrite.
        if self.sessions.get(session.id) is session:
            handler(session, *args)

    def connect_saved(self, connection_id: str) -> ArraySession | None:
        connection = self.store.get(connection_id)
        if connection is None:
            return None
        return self.open_connection(connection)

    def restore_last(self) -> int:
        """Reconnect the arrays that were connected at the last quit; returns how many."""
        count = 0
        for connection_id in self.settings.last_connections:
            connection = self.store.get(connection_id)
            if connection is None:
                continue
            self._pending_views[connection.id] = list(self.settings.open_views.get(connection.id, []))
            self.open_connection(connection)
            count += 1
        return count

    async def start_demo(self, simulator: DemoSimulator | None = None) -> ArraySession | None:
        """Start the embedded simulator and connect to it, trusting exactly its CA."""
        self.demo = simulator if simulator is not None else DemoSimulator()
        self.statusBar().showMessage("Starting the demo array…")
        try:
            array = await self.demo.start()
        except DemoError as exc:
            self.statusBar().clearMessage()
            self.report_problem(f"The demo array did not start: {exc}", where="Demo")
            return None
        self.statusBar().clearMessage()
        if self._shutting_down:
            # Closed while the demo array started: nothing to connect, and no array left running.
            self.demo.stop()
            return None
        connection = Connection.create(
            DEMO_NAME,
            array.host,
            array.user,
            trust_mode=TRUST_CA_FILE,
            ca_file=str(array.ca_path),
            colour=PALETTE[2],
            remember_password=False,
            id=DEMO_ID,
        )
        self._pending_views[connection.id] = list(self.settings.open_views.get(DEMO_ID, []))
        return self.open_connection(connection, password=array.password, transient=True)

    def _reconnect_current(self) -> None:
        session = self.current_session()
        if session is not None:
            self.reconnect_now(session.id)

    def _disconnect_current(self) -> None:
        session = self.current_session()
        if session is not None:
            self.disconnect_array(session.id)

    def _reconnect_shown(self) -> None:
        if self.status.session is not None:
            self.reconnect_now(self.status.session.id)

    def reconnect_now(self, session_id: str) -> None:
        session = self.sessions.get(session_id)
        if session is not None:
            session.reconnect_now()

    def disconnect_array(self, session_id: str) -> None:
        task = qt_async.start(self._disconnect(session_id), name="MainWindow.disconnect")
        self._disconnecting.add(task)
        task.add_done_callback(self._disconnecting.discard)

    async def _disconnect(self, session_id: str) -> None:
        session = self.sessions.pop(session_id, None)
        if session is None:
            return
        self._initialised.discard(session_id)
        for open_view in [v for v in self.views if v.session is session]:
            self._close_view(open_view)
        self._close_prompts(session_id)
        self.tree.remove_session(session_id)
        self._show_status_for(self.current_session())
        await session.close()
        session.deleteLater()

    def current_session(self) -> ArraySession | None:
        open_view = self.current_view()
        if open_view is not None:
            return open_view.session
        if self.status.session is not None and self.status.session.id in self.sessions:
            return self.status.session
        return next(iter(self.sessions.values()), None)

    def _session_state_changed(self, session: ArraySession) -> None:
        # The tree first, so that the entries are enabled before a view is opened and selected there.
        self.tree.refresh_session(session)
        if session.state is State.CONNECTED:
            prompt = self.password_prompts.pop(session.id, None)
            if prompt is not None:
                prompt.accept()
                prompt.deleteLater()
            if session.id not in self._initialised:
                self._initialised.add(session.id)
                self._open_initial_views(session, self._pending_views.pop(session.id, []))
        elif session.state in (State.OFFLINE, State.RECONNECTING):
            if self.screenshot is not None and not self._screenshot_taken:
                self.fail(f"{session.name}: {session.detail or 'not connected'}")
            prompt = self.password_prompts.get(session.id)
            if prompt is not None:
                # The password could not be tried (the array is unreachable): say so, and let the
                # user try again or cancel rather than wait at a greyed-out prompt.
                prompt.set_busy(False)
                prompt.show_error(f"Could not reach the array: {session.detail or 'not connected'}")
        if self.status.session is session or self.status.session is None:
            self._show_status_for(session)

    def _open_initial_views(self, session: ArraySession, entry_ids: list[str]) -> None:
        opened = [self.open_entry(session.id, e) for e in entry_ids if self.navigation.entry(e) is not None]
        if not opened:
            self.open_entry(session.id, self.navigation.default_entry.id)
        current = self.settings.current_view
        if len(current) == 2 and current[0] == session.id:
            self.open_entry(session.id, current[1])

    def _connection_changed(self, session: ArraySession, connection: Connection) -> None:
        if session.id not in self.transient and self.store.get(connection.id) is not None:
            try:
                self.store.update(connection)
            except (OSError, ValueError) as exc:
                self.report_problem(f"The connection settings could not be saved: {exc}", where=session.name)
            if self.connection_dialog is not None:
                self.connection_dialog.connection_changed(connection)
        self.tree.refresh_session(session)

    def _recovered(self, session: ArraySession) -> None:
        for open_view in self.views:
            if open_view.session is session:
                open_view.view.reload()

    def _rebuild_views(self, session: ArraySession) -> None:
        """The session has a new client: its tables are built again (state kept through save_state)."""
        entries = [v.entry.id for v in self.views if v.session is session]
        current = self.current_view()
        for open_view in [v for v in self.views if v.session is session]:
            self._close_view(open_view)
        for entry_id in entries:
            self.open_entry(session.id, entry_id)
        if current is not None and current.session is session:
            self.open_entry(session.id, current.entry.id)

    # -- prompts -----------------------------------------------------------------------------------

    def _password_needed(self, session: ArraySession, reason: str) -> None:
        if self.screenshot is not None:
            self.fail(f"{session.name}: a password is needed and --screenshot cannot ask for one. {reason}")
            return
        prompt = self.password_prompts.get(session.id)
        if prompt is not None:
            prompt.set_reason(reason)
            prompt.show_error("The array refused that password." if "refused" in reason else "")
            prompt.raise_()
            return
        prompt = PasswordPrompt(session.connection, self.secrets.status, reason, self)
        prompt.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        prompt.submitted.connect(session.submit_password)
        prompt.cancelled.connect(lambda: self._password_cancelled(session))
        self.password_prompts[session.id] = prompt
        prompt.show()

    def _password_cancelled(self, session: ArraySession) -> None:
        self.password_prompts.pop(session.id, None)
        session.password_cancelled()

    def _trust_needed(self, session: ArraySession, request: TrustRequest) -> None:
        if self.screenshot is not None:
            self.fail(
                f"{session.name}: the array's certificate is not trusted ({request.reason}); "
                "--screenshot cannot ask. Connect once interactively and trust it."
            )
            return
        old = self.trust_dialogs.pop(session.id, None)
        if old is not None:
            old.blockSignals(True)  # replaced, not answered: its close is no "cancel"
            old.close()
        dialog = TrustDialog(request, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.decided.connect(lambda choice, path: self._trust_decided(session, request, choice, path))
        self.trust_dialogs[session.id] = dialog
        dialog.open()

    def _trust_decided(
        self, session: ArraySession, request: TrustRequest, choice: TrustChoice, path: str | None
    ) -> None:
        self.trust_dialogs.pop(session.id, None)
        if session.id in self.sessions:
            session.decide_trust(request, choice, path)

    def _close_prompts(self, session_id: str) -> None:
        prompt = self.password_prompts.pop(session_id, None)
        if prompt is not None:
            prompt.blockSignals(True)
            prompt.close()
        dialog = self.trust_dialogs.pop(session_id, None)
        if dialog is not None:
            dialog.blockSignals(True)
            dialog.close()

    # -- views -------------------------------------------------------------------------------------

    def open_entry(self, session_id: str, entry_id: str) -> Any:
        """Bring the table of ``entry_id`` on that array to the front, opening it if needed."""
        session = self.sessions.get(session_id)
        entry = self.navigation.entry(entry_id)
        if entry is None and entry_id.startswith("type:"):
            entry = self.navigation.entry_for_type(entry_id.removeprefix("type:"))
        if session is None or entry is None or session.client is None:
            return None
        open_view = self._open(session, entry)
        return open_view.view if open_view is not None else None

    def _open(self, session: ArraySession, entry: Entry) -> OpenView | None:
        for open_view in self.views:
            if open_view.session is session and open_view.entry.id == entry.id:
                self.tabs.setCurrentWidget(open_view.view)
                return open_view
        assert session.client is not None
        try:
            view: Any = self.view_factory(session.client, entry, None)
        except Exception as exc:
            self.report_problem(
                f"The {entry.label} table could not be opened: {exc}", where=session.name, exc=exc
            )
            return None
        open_view = OpenView(session, entry, view)
        state = self.settings.view_states.get(entry.id)
        if state:
            try:
                view.restore_state(state)
            except Exception as exc:  # a state saved by an older version must not block the table
                log.warning("ignoring the saved state of %s: %s", entry.id, exc)
        view.firstPageLoaded.connect(lambda: self._view_loaded(open_view))
        view.loadFailed.connect(lambda exc: self._view_failed(open_view, exc))
        view.relatedRequested.connect(
            lambda type_name, ident: qt_async.start(
                self._navigate_related(session, type_name, ident), name="MainWindow.related"
            )
        )
        self.views.append(open_view)
        index = self.tabs.addTab(view, colour_icon(session.connection.colour, 10), self._tab_title(open_view))
        self.tabs.setTabToolTip(index, f"{entry.label} on {session.name} ({session.connection.host})")
        self.tabs.setCurrentIndex(index)
        self.central.setCurrentWidget(self.tabs)
        self.tree.select_entry(session.id, entry.id)
        return open_view

    def _tab_title(self, open_view: OpenView) -> str:
        return f"{open_view.entry.label} · {open_view.session.name}"

    def current_view(self) -> OpenView | None:
        widget = self.tabs.currentWidget()
        return next((v for v in self.views if v.view is widget), None)

    def view_of(self, session_id: str, entry_id: str) -> Any:
        return next(
            (v.view for v in self.views if v.session.id == session_id and v.entry.id == entry_id), None
        )

    def refresh_current(self) -> None:
        open_view = self.current_view()
        if open_view is not None:
            open_view.view.reload()

    def _close_tab_at(self, index: int) -> None:
        widget = self.tabs.widget(index)
        open_view = next((v for v in self.views if v.view is widget), None)
        if open_view is not None:
            self._close_view(open_view)

    def _close_view(self, open_view: OpenView) -> None:
        self._remember_view_state(open_view)
        self.views.remove(open_view)
        index = self.tabs.indexOf(open_view.view)
        if index >= 0:
            self.tabs.removeTab(index)
        shutdown = getattr(open_view.view, "shutdown", None)
        if callable(shutdown):
            shutdown()  # its fetches stop now rather than when Qt gets round to deleting it
        open_view.view.deleteLater()
        if not self.views:
            self.central.setCurrentWidget(self.welcome)

    def _remember_view_state(self, open_view: OpenView) -> None:
        try:
            state = open_view.view.save_state()
        except Exception as exc:
            log.warning("could not save the state of %s: %s", open_view.entry.id, exc)
            return
        if isinstance(state, dict):
            self.settings.view_states[open_view.entry.id] = state

    def _current_tab_changed(self, _index: int) -> None:
        open_view = self.current_view()
        if open_view is not None:
            self._show_status_for(open_view.session)
            self.tree.select_entry(open_view.session.id, open_view.entry.id)

    def _view_loaded(self, open_view: OpenView) -> None:
        open_view.loaded = True
        if self.screenshot is not None and not self._screenshot_taken:
            self._screenshot_taken = True
            # The first row selected, so the picture shows its details too.
            model = getattr(open_view.view, "model", None)
            if model is not None and hasattr(model, "row_id") and model.rowCount() > 0:
                open_view.view.select_id(model.row_id(0))
            self._quiet_deadline = time.monotonic() + SCREENSHOT_SETTLE_MAX
            QTimer.singleShot(300, self._screenshot_when_quiet)

    def _view_failed(self, open_view: OpenView, exc: BaseException) -> None:
        if self.screenshot is not None and not self._screenshot_taken:
            self.fail(f"loading {open_view.entry.label} from {open_view.session.name} failed: {exc}")
            return
        if open_view.session.report(exc):
            return
        if open_view.session.state is not State.CONNECTED:
            # The status bar and tree already say why (offline, untrusted, password needed).
            log.info("%s: %s failed while not connected: %s", open_view.session.name, open_view.entry.id, exc)
            return
        self.report_problem(
            f"Loading {open_view.entry.label} failed: {_describe(exc)}",
            where=open_view.session.name,
            exc=exc,
        )

    async def _navigate_related(self, session: ArraySession, type_name: str, ident: str) -> None:
        candidates = [e for e in self.navigation.entries() if e.type == type_name]
        entry = candidates[0] if candidates else self.navigation.entry_for_type(type_name)
        if len(candidates) > 1 and session.client is not None:
            entry = await self._entry_holding(session.client, candidates, ident) or entry
        if session.id not in self.sessions or session.client is None:
            return
        open_view = self._open(session, entry)
        if open_view is not None:
            open_view.view.select_id(ident)

    @staticmethod
    async def _entry_holding(client: PowerStoreClient, candidates: list[Entry], ident: str) -> Entry | None:
        """Which of several entries of one type lists the resource (a snapshot or a volume?)."""
        names = sorted({c.field for e in candidates for c in e.conditions})
        try:
            record = await client.get(candidates[0].type, ident, select=["id", *names])
        except ApiError as exc:
            log.info("cannot tell where %s %s is listed: %s", candidates[0].type, ident, exc)
            return None
        fields = client.catalog.instance_fields(candidates[0].type)
        for entry in candidates:
            if expressions.matches(entry.base_filter, record, fields, catalog=client.catalog):
                return entry
        return None

    # -- problems ----------------------------------------------------------------------------------

    def report_problem(self, message: str, *, where: str = "", exc: BaseException | None = None) -> None:
        if exc is not None:
            self.errors.add_exception(exc, where=where, message=message)
        else:
            self.errors.add(message, where=where)
        log.warning("%s%s", f"{where}: " if where else "", message)
        self.error_dock.show()
        if self.screenshot is not None and not self._screenshot_taken:
            self.fail(message)

    def _async_error(self, exc: BaseException) -> None:
        self.errors.add_exception(exc, where="Background task")
        self.error_dock.show()
        if self.screenshot is not None:
            self.fail(f"unexpected error: {type(exc).__name__}: {exc}")

    def _toggle_errors(self) -> None:
        self.error_dock.setVisible(not self.error_dock.isVisible())

    # -- status ------------------------------------------------------------------------------------

    def _show_status_for(self, session: ArraySession | None) -> None:
        self.status.show_session(session)
        self.reconnect_action.setEnabled(session is not None)
        self.disconnect_action.setEnabled(session is not None)
        if session is not None:
            self.setWindowTitle(f"{session.name} · PowerStore Console")
        else:
            self.setWindowTitle("PowerStore Console")

    # -- connection manager ------------------------------------------------------------------------

    def show_connections(self, select: str | None = None) -> ConnectionDialog:
        if self.connection_dialog is None:
            dialog = ConnectionDialog(self.store, self.secrets, self)
            dialog.connectRequested.connect(self.connect_saved)
            dialog.connectionSaved.connect(self._saved_in_manager)
            dialog.connectionRemoved.connect(self._removed_in_manager)
            dialog.finished.connect(lambda _result: setattr(self, "connection_dialog", None))
            dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            self.connection_dialog = dialog
        if select:
            self.connection_dialog.reload(select=select)
        self.connection_dialog.show()
        self.connection_dialog.raise_()
        return self.connection_dialog

    def _saved_in_manager(self, connection: Connection) -> None:
        session = self.sessions.get(connection.id)
        if session is None:
            return
        if session.update_connection(connection):
            self.statusBar().showMessage(
                f"The new host, user or certificate settings of {connection.name} apply when it "
                "reconnects (Array ▸ Reconnect now).",
                15000,
            )
        self.tree.refresh_session(session)
        for open_view in self.views:
            if open_view.session is session:
                index = self.tabs.indexOf(open_view.view)
                self.tabs.setTabText(index, self._tab_title(open_view))
                self.tabs.setTabIcon(index, colour_icon(connection.colour, 10))
        if self.status.session is session:
            self.status.refresh()

    def _removed_in_manager(self, connection_id: str) -> None:
        if connection_id in self.sessions:
            self.disconnect_array(connection_id)
        if connection_id in self.settings.last_connections:
            self.settings.last_connections.remove(connection_id)

    # -- screenshot --------------------------------------------------------------------------------

    def _screenshot_when_quiet(self) -> None:
        """Grab once no request is running (the details arrived), or after a few seconds anyway."""
        if self._shutting_down:
            return
        if qt_async.running_tasks() and time.monotonic() < self._quiet_deadline:
            QTimer.singleShot(100, self._screenshot_when_quiet)
            return
        # One more pass for layout and painting.
        QTimer.singleShot(200, self._take_screenshot)

    def _take_screenshot(self) -> None:
        assert self.screenshot is not None
        pixmap = self.grab()
        # A palette image at PNG's strongest compression: the window has few colours, and the file
        # goes into docs and the README (about a fifth of the size of a true-colour PNG).
        image = pixmap.toImage().convertToFormat(
            QImage.Format.Format_Indexed8,
            Qt.ImageConversionFlag.ThresholdDither | Qt.ImageConversionFlag.AvoidDither,
        )
        # The format follows from the name, which the command line checked ends in .png.
        if pixmap.isNull() or not image.save(str(self.screenshot), quality=0):
            self.fail(f"cannot write the screenshot to {self.screenshot}")
            return
        log.info("screenshot saved to %s", self.screenshot)
        self.exit_code = 0
        self.close()

    def _screenshot_timeout(self) -> None:
        if not self._shutting_down:
            self.fail(f"no table loaded within {SCREENSHOT_TIMEOUT_MS // 1000} s")

    def fail(self, message: str) -> None:
        """End a non-interactive run (``--screenshot``) with exit code 1 and ``message``."""
        if self._shutting_down:
            if not self._shutdown_done:
                self.exit_code = 1
            return
        log.error("%s", message)
        if self.on_fatal is not None:
            self.on_fatal(message)
        self.exit_code = 1
        self._screenshot_taken = True
        self.close()

    # -- settings and closing ----------------------------------------------------------------------

    def _restore_geometry(self) -> None:
        if self.settings.geometry:
            self.restoreGeometry(QByteArray(self.settings.geometry))
        else:
            self.resize(1280, 800)
        if self.settings.window_state:
            self.restoreState(QByteArray(self.settings.window_state))

        # The problems panel opens when there is something to show, not because it was open last time.
        self.error_dock.hide()

    def collect_settings(self) -> Settings:
        settings = self.settings
        settings.geometry = bytes(self.saveGeometry().data())
        settings.window_state = bytes(self.saveState().data())
        for open_view in self.views:
            self._remember_view_state(open_view)
        settings.last_connections = [sid for sid in self.sessions if sid not in self.transient]
        # An array that has not come up yet this run (down, waiting for a password or a trust
        # decision) keeps the tabs it is to open.
        waiting = {sid for sid in self.sessions if sid not in self._initialised}
        settings.open_views = {
            sid: (
                list(self._pending_views.get(sid, settings.open_views.get(sid, [])))
                if sid in waiting
                else [v.entry.id for v in self.views if v.session.id == sid]
            )
            for sid in self.sessions
        }
        current = self.current_view()
        if current is not None:
            settings.current_view = [current.session.id, current.entry.id]
        elif not (settings.current_view and settings.current_view[0] in waiting):
            settings.current_view = []
        return settings

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._shutdown_done:
            event.accept()
            qt_async.remove_error_handler(self._async_error)
            self.closed.emit(self.exit_code)
            return
        event.ignore()
        if not self._shutting_down:
            self._shutting_down = True
            if self.save_settings_on_close:
                try:
                    settings_module.save(self.collect_settings(), self.settings_path)
                except OSError as exc:
                    log.error("could not save the window settings: %s", exc)
            qt_async.start(self._shutdown(), name="MainWindow.shutdown")

    async def _shutdown(self) -> None:
        for session_id in list(self.sessions):
            self._close_prompts(session_id)
        if self.connection_dialog is not None:
            self.connection_dialog.close()
        sessions = list(self.sessions.values())
        for open_view in list(self.views):
            self._close_view(open_view)
        try:
            async with asyncio.timeout(SHUTDOWN_TIMEOUT):
                # Disconnects already under way finish too (their logouts).
                await asyncio.gather(
                    *(s.close() for s in sessions), *list(self._disconnecting), return_exceptions=True
                )
        except TimeoutError:
            log.warning("logging out took longer than %g s; closing anyway", SHUTDOWN_TIMEOUT)
        self.sessions.clear()
        if self.demo is not None:
            self.demo.stop()
        self._shutdown_done = True
        self.close()

    def _about(self) -> None:
        box = QMessageBox(self)
        box.setWindowTitle("About PowerStore Console")
        box.setText(
            f"<b>PowerStore Console</b> {console.__version__}<br>"
            "A desktop console for Dell PowerStore arrays, with an embedded REST simulator."
        )
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ApiError):
        return exc.text or str(exc)
    return str(exc) or type(exc).__name__
