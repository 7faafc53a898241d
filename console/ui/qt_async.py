"""Our one doorway to qasync: the asyncio loop inside Qt, tasks that are tracked and cancelled at
quit, and errors from async slots that are never swallowed.

Rules this module enforces for the rest of the UI (the usual qasync pitfalls):
- start coroutines with ``start()`` (or ``@async_slot`` on methods), never bare ``create_task``,
  so every task is referenced until it ends and ``cancel_all()`` can stop them at quit;
- an exception that escapes a task is logged and handed to the error handlers (the main window's
  error panel), never lost;
- no modal ``exec()`` and no nested event loop inside a coroutine.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

os.environ.setdefault("QT_API", "pyside6")

import qasync  # after QT_API is set: qasync picks its Qt binding on import
from PySide6.QtCore import Slot
from PySide6.QtWidgets import QApplication

log = logging.getLogger(__name__)

ErrorHandler = Callable[[BaseException], None]
T = TypeVar("T")

_handlers: list[ErrorHandler] = []
_tasks: set[asyncio.Task[Any]] = set()


def install_loop(app: QApplication, *, already_running: bool = False) -> asyncio.AbstractEventLoop:
    """Make a qasync loop on ``app`` the current asyncio loop (call once, before any ``start``).

    ``already_running``: Qt's event loop is driven by someone else (pytest-qt's ``qtbot.wait*``),
    so asyncio work runs whenever Qt processes events."""
    loop = qasync.QEventLoop(app, already_running=already_running)
    asyncio.set_event_loop(loop)
    loop.set_exception_handler(_loop_exception)
    return loop


def add_error_handler(handler: ErrorHandler) -> None:
    _handlers.append(handler)


def remove_error_handler(handler: ErrorHandler) -> None:
    if handler in _handlers:
        _handlers.remove(handler)


def report(exc: BaseException, context: str = "") -> None:
    """Log an unexpected exception and show it through every installed handler."""
    log.error("unhandled error%s", f" in {context}" if context else "", exc_info=exc)
    for handler in list(_handlers):
        try:
            handler(exc)
        except Exception:
            log.exception("an error handler failed")


def start(coro: Coroutine[Any, Any, T], *, name: str | None = None) -> asyncio.Task[T]:
    """Run ``coro`` on the loop as a tracked task; its exception, if any, is reported."""
    task = asyncio.get_event_loop().create_task(coro, name=name)
    _tasks.add(task)
    task.add_done_callback(_finished)
    return task


def running_tasks() -> set[asyncio.Task[Any]]:
    return {t for t in _tasks if not t.done()}


def cancel_all() -> list[asyncio.Task[Any]]:
    """Cancel every task started here (at quit, and between tests); returns them so the caller
    can wait for them to finish."""
    tasks = [t for t in _tasks if not t.done()]
    for task in tasks:
        task.cancel()
    return tasks


def async_slot(*types: type) -> Callable[[Callable[..., Awaitable[Any]]], Callable[..., None]]:
    """Decorate an ``async def`` method so that Qt can call it as a slot: each call starts a
    tracked task. Use on methods only (a plain function would lose its owner's lifetime)."""

    def decorate(method: Callable[..., Awaitable[Any]]) -> Callable[..., None]:
        @Slot(*types)
        @functools.wraps(method)
        def slot(self: Any, *args: Any) -> None:
            start(_awaited(method(self, *args)), name=f"{type(self).__name__}.{method.__name__}")

        return slot

    return decorate


async def _awaited(awaitable: Awaitable[T]) -> T:
    return await awaitable


def _finished(task: asyncio.Task[Any]) -> None:
    _tasks.discard(task)
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        report(exc, task.get_name())


def _loop_exception(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    exc = context.get("exception")
    if isinstance(exc, BaseException):
        report(exc, str(context.get("message", "")))
    else:
        log.error("asyncio: %s", context.get("message"))
