"""UI test fixtures: one qasync loop for the session, and autouse checks (as napari does) that fail a
test which leaks a top-level widget, an asyncio task or a thread. Qt warnings fail tests through
pytest-qt's ``qt_log_level_fail`` (pyproject)."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, QEventLoop
from PySide6.QtWidgets import QApplication

from console.api import PowerStoreClient
from console.ui import qt_async
from tests.simulator.process import SimulatorProcess

T = TypeVar("T")


@pytest.fixture(scope="session")
def qt_session_loop(qapp: QApplication) -> asyncio.AbstractEventLoop:
    loop = qt_async.install_loop(qapp, already_running=True)
    asyncio.events._set_running_loop(None)
    asyncio.set_event_loop(None)
    return loop


@pytest.fixture
def qt_loop(qt_session_loop: asyncio.AbstractEventLoop) -> Iterator[asyncio.AbstractEventLoop]:
    """The qasync loop, marked running for this test only: Qt drives it while the test waits, and
    the asyncio tests that run after the UI tests find no loop already running."""
    asyncio.set_event_loop(qt_session_loop)
    asyncio.events._set_running_loop(qt_session_loop)
    yield qt_session_loop
    asyncio.events._set_running_loop(None)
    asyncio.set_event_loop(None)


def process_events_until(done: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Let Qt (and with it the qasync loop) work until ``done()`` or the timeout."""
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
    return done()


def _flush_deletes() -> None:
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    QCoreApplication.processEvents()
    gc.collect()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


@pytest.fixture(autouse=True)
def no_leaks(qapp: QApplication, qt_loop: asyncio.AbstractEventLoop) -> Iterator[None]:
    """Fail the test if it leaves a visible top-level widget, a running task or a new thread."""
    widgets_before = set(map(id, QApplication.topLevelWidgets()))
    threads_before = set(threading.enumerate())
    yield
    _flush_deletes()
    leaked_tasks = qt_async.running_tasks()
    cancelled = qt_async.cancel_all()
    process_events_until(lambda: all(t.done() for t in cancelled))
    leaked_widgets = [
        w for w in QApplication.topLevelWidgets() if id(w) not in widgets_before and w.isVisible()
    ]
    for widget in leaked_widgets:
        widget.close()
        widget.deleteLater()
    _flush_deletes()
    leaked_threads = [t for t in threading.enumerate() if t not in threads_before and t.is_alive()]
    assert not leaked_tasks, f"the test left asyncio tasks running: {leaked_tasks}"
    assert not leaked_widgets, f"the test left top-level widgets open: {leaked_widgets}"
    assert not leaked_threads, f"the test left threads running: {leaked_threads}"


@pytest.fixture(scope="session")
def ui_simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorProcess]:
    """One simulator process over TLS for the UI tests."""
    certs = tmp_path_factory.mktemp("ui-sim-certs")
    with SimulatorProcess(
        cert_dir=certs, args=["--control", "--volumes", "600", "--job-seconds", "0.3"]
    ) as sim:
        yield sim


def run(coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
    """Await ``coro`` from a synchronous UI test, letting Qt and the qasync loop work meanwhile."""
    task = qt_async.start(coro)
    if not process_events_until(task.done, timeout):
        task.cancel()
        raise AssertionError(f"{coro!r} did not finish within {timeout} s")
    return task.result()


@pytest.fixture
def ui_client(
    ui_simulator: SimulatorProcess, qt_loop: asyncio.AbstractEventLoop
) -> Iterator[PowerStoreClient]:
    """A logged-in admin client of the UI simulator, closed (logged out) after the test."""
    client = PowerStoreClient(
        ui_simulator.base_url, "admin", "Password123#", verify=str(ui_simulator.ca_path)
    )
    run(client.login())
    yield client
    run(client.aclose())
