"""The qasync doorway: tasks run inside Qt's loop, errors reach the handlers, quit cancels tasks."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import QObject, Signal

from console.ui import qt_async


class Emitter(QObject):
    fired = Signal(int)

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[int] = []

    @qt_async.async_slot(int)
    async def on_fired(self, value: int) -> None:
        await asyncio.sleep(0.01)
        if value < 0:
            raise ValueError(f"negative {value}")
        self.seen.append(value)


def test_async_slots_run_while_qt_processes_events(qtbot):
    emitter = Emitter()
    emitter.fired.connect(emitter.on_fired)
    emitter.fired.emit(3)
    emitter.fired.emit(4)
    qtbot.waitUntil(lambda: emitter.seen == [3, 4], timeout=2000)


def test_errors_in_async_slots_reach_the_error_handlers(qtbot, caplog):
    errors: list[BaseException] = []
    qt_async.add_error_handler(errors.append)
    try:
        emitter = Emitter()
        emitter.fired.connect(emitter.on_fired)
        emitter.fired.emit(-1)
        qtbot.waitUntil(lambda: bool(errors), timeout=2000)
    finally:
        qt_async.remove_error_handler(errors.append)
    assert isinstance(errors[0], ValueError)
    assert "negative -1" in caplog.text


def test_cancel_all_stops_running_tasks(qtbot, qt_loop):
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.sleep(3600)

    task = qt_async.start(forever())
    qtbot.waitUntil(started.is_set, timeout=2000)
    assert qt_async.cancel_all() == [task]
    qtbot.waitUntil(task.done, timeout=2000)
    assert task.cancelled()
    assert not qt_async.running_tasks()


def test_the_ui_client_talks_to_the_simulator_inside_qt(ui_client):
    from tests.ui.conftest import run

    page = run(ui_client.query("volume", select="id,name", limit=5))
    assert len(page.items) == 5 and page.total > 5
