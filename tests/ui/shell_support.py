"""Helpers for the shell's UI tests: a main window on temporary files, simulator connections."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import httpx

from console.connections import TRUST_CA_FILE, TRUST_SYSTEM, Connection, ConnectionStore
from console.secrets import SecretStore
from console.ui import qt_async
from console.ui.array_session import ArraySession, State
from console.ui.main_window import MainWindow
from tests.simulator.process import SimulatorProcess

ADMIN_PASSWORD = "Password123#"
# The offscreen platform has no window manager and says so whenever a window is shown.
QT_NOISE = r"This plugin does not support (propagateSizeHints|raise)\(\)"


def sim_host(sim: SimulatorProcess) -> str:
    return httpx.URL(sim.origin).netloc.decode()


def sim_connection(
    sim: SimulatorProcess,
    name: str = "sim",
    *,
    user: str = "admin",
    trusted_ca: bool = True,
    **changes: object,
) -> Connection:
    """A connection to ``sim``: trusting its CA file, or (``trusted_ca=False``) the system store,
    which does not know the simulator's private CA (so trust on first use applies)."""
    connection = Connection.create(
        name,
        sim_host(sim),
        user,
        trust_mode=TRUST_CA_FILE if trusted_ca else TRUST_SYSTEM,
        ca_file=str(sim.ca_path) if trusted_ca else None,
    )
    return connection.replace(**changes) if changes else connection


def make_window(
    qtbot, tmp_path: Path, *, secrets: SecretStore | None = None, resize: bool = True, **kwargs: object
) -> MainWindow:
    store = kwargs.pop("store", None) or ConnectionStore(tmp_path / "connections.json")
    window = MainWindow(
        store=store,  # type: ignore[arg-type]
        secrets=secrets if secrets is not None else SecretStore(),
        settings_path=kwargs.pop("settings_path", tmp_path / "settings.json"),  # type: ignore[arg-type]
        **kwargs,  # type: ignore[arg-type]
    )
    qtbot.addWidget(window)
    if resize:
        window.resize(1200, 760)
    window.show()
    return window


def window_with_saved_array(
    qtbot, tmp_path: Path, sim: SimulatorProcess, name: str = "prod-a", **connection_options: object
) -> tuple[MainWindow, Connection]:
    """A window whose store holds a connection to ``sim``, its password in the (test) keyring."""
    secrets = SecretStore()
    window = make_window(qtbot, tmp_path, secrets=secrets)
    connection = window.store.add(sim_connection(sim, name, **connection_options))  # type: ignore[arg-type]
    secrets.remember(connection.id, ADMIN_PASSWORD, persist=True)
    return window, connection


class FlakyArray:
    """A simulator process that can go down and come back: same port, same certificates (so the
    console's connection and trust stay valid). ``with FlakyArray(dir) as array``; ``array.sim``."""

    ARGS = ("--volumes", "30")

    def __init__(self, root: Path) -> None:
        self.certs = root / "flaky-certs"
        self.sim = SimulatorProcess(cert_dir=self.certs, args=list(self.ARGS)).start()
        self.port = self.sim.port

    def down(self) -> None:
        self.sim.stop()

    def up(self) -> None:
        self.sim = SimulatorProcess(cert_dir=self.certs, port=self.port, args=list(self.ARGS)).start()

    def __enter__(self) -> FlakyArray:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.sim.returncode is None:
            self.sim.stop()


@contextlib.contextmanager
def closed_at_end(qtbot, window: MainWindow) -> Iterator[MainWindow]:
    """The window, closed as the user would (logging out) when the block ends, failing or not."""
    try:
        yield window
    finally:
        close_window(qtbot, window)


def close_window(qtbot, window: MainWindow, timeout: int = 15000) -> int:
    """Close as the user would (sessions log out) and wait until the window is really closed."""
    # Let requests in flight finish first: one cancelled during its TLS handshake leaks its socket
    # (httpcore closes the raw stream on Exception only, not on cancellation).
    qtbot.waitUntil(lambda: not qt_async.running_tasks(), timeout=timeout)
    codes: list[int] = []
    window.closed.connect(codes.append)
    window.close()
    qtbot.waitUntil(lambda: bool(codes), timeout=timeout)
    return codes[0]


def wait_state(qtbot, session: ArraySession, state: State, timeout: int = 20000) -> None:
    qtbot.waitUntil(lambda: session.state is state, timeout=timeout)


def wait_loaded(qtbot, view, timeout: int = 20000) -> None:
    qtbot.waitUntil(lambda: view.model.rowCount() > 0 and not view.model.is_loading, timeout=timeout)


def shoot(widget, name: str) -> Path:
    """Save a picture of ``widget`` under /tmp for looking at it."""
    folder = Path("/tmp/psc-shell-shots")
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.png"
    widget.grab().save(str(path))
    return path
