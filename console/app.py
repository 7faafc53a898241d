"""``powerstore-console``: start Qt and the asyncio loop together (qasync) and open the main window.

    powerstore-console                        the last arrays, tabs, geometry and docks
    powerstore-console --demo                 the embedded simulator, connected and trusted
    powerstore-console --connect NAME         a saved connection
    powerstore-console --demo --screenshot out.png
                                              save a PNG once the first table loaded, then exit

Exit status: 0; 1 when a ``--screenshot`` run could not load a table (the message says why);
2 for a bad command line.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import logging.handlers
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import console
from console import paths
from console import settings as settings_module
from console.connections import Connection, ConnectionStore
from console.secrets import SecretStore

PROG = "powerstore-console"
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_BYTES = 2 * 1024 * 1024
LOG_BACKUPS = 3

log = logging.getLogger("console")
# Qt messages that say nothing about the console (the offscreen platform's missing window manager).
QT_NOISE = ("does not support propagateSizeHints", "does not support raise()")


class UsageError(Exception):
    pass


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Desktop console for Dell PowerStore arrays.",
        epilog="Without options the console reopens the arrays, tabs and layout of the last session.",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="start the embedded PowerStore simulator and connect to it",
    )
    parser.add_argument(
        "--connect",
        metavar="NAME",
        help="connect to the saved connection NAME (instead of the last session's arrays)",
    )
    parser.add_argument(
        "--screenshot",
        metavar="FILE",
        type=Path,
        help="once the first table has loaded, save a PNG of the window to FILE and exit "
        "(needs --demo or a saved connection; exit status 1 if loading fails)",
    )
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default="info",
        help="detail of the log file (default: %(default)s); the log never holds a password",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {console.__version__}")
    return parser


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.demo and args.connect:
        parser.error("--demo and --connect exclude each other")
    if args.screenshot is not None:
        try:
            args.screenshot = check_screenshot_path(args.screenshot)
        except UsageError as exc:
            parser.error(f"argument --screenshot: {exc}")
    return args


def check_screenshot_path(path: Path) -> Path:
    """The absolute path to write the PNG to; raises ``UsageError`` when it cannot be written."""
    path = path.expanduser()
    if path.suffix.lower() != ".png":
        raise UsageError(f"{path} must end in .png (the screenshot is a PNG image)")
    if path.is_dir():
        raise UsageError(f"{path} is a directory")
    folder = path.parent if str(path.parent) else Path.cwd()
    if not folder.is_dir():
        raise UsageError(f"the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise UsageError(f"the folder {folder} is not writable")
    return path.resolve()


def setup_logging(level: str) -> logging.Handler | None:
    """The log file in the per-user log directory (rotated), and warnings on stderr. Returns the
    file handler (None when the file cannot be opened; stderr still works)."""
    from console.api.redaction import RedactingFilter, install_log_redaction

    install_log_redaction()
    root = logging.getLogger()
    root.setLevel(getattr(logging, level.upper()))
    if level != "debug":
        # The client logs every exchange itself; httpx's own line per request only repeats it.
        logging.getLogger("httpx").setLevel(logging.WARNING)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setLevel(logging.WARNING)
    stderr.setFormatter(logging.Formatter(f"{PROG}: %(levelname)s: %(message)s"))
    stderr.addFilter(RedactingFilter())
    root.addHandler(stderr)
    try:
        paths.ensure_dir(paths.log_dir())
        handler: logging.Handler | None = logging.handlers.RotatingFileHandler(
            paths.log_file(), maxBytes=LOG_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
        )
    except OSError as exc:
        log.warning("no log file (%s)", exc)
        return None
    assert handler is not None
    handler.setFormatter(formatter)
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    return handler


def _route_qt_messages() -> None:
    from PySide6.QtCore import QtMsgType, qInstallMessageHandler

    qt_log = logging.getLogger("qt")
    levels = {
        QtMsgType.QtDebugMsg: logging.DEBUG,
        QtMsgType.QtInfoMsg: logging.INFO,
        QtMsgType.QtWarningMsg: logging.WARNING,
        QtMsgType.QtCriticalMsg: logging.ERROR,
        QtMsgType.QtFatalMsg: logging.CRITICAL,
    }

    def handler(kind: QtMsgType, _context: object, message: str) -> None:
        level = levels.get(kind, logging.WARNING)
        if any(noise in message for noise in QT_NOISE):
            level = logging.DEBUG
        qt_log.log(level, "%s", message)

    qInstallMessageHandler(handler)


def _report_slot_errors() -> None:
    """An exception escaping a plain (not async) Qt slot is logged and shown in the problems
    panel, like those of async slots, instead of only printed by PySide."""
    from console.ui import qt_async

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, exc, tb)
            return
        qt_async.report(exc.with_traceback(tb), "a Qt slot")

    sys.excepthook = hook


def _print_error(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(argv)
    except SystemExit as exc:  # argparse has printed the usage message
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    os.environ.setdefault("QT_API", "pyside6")
    store = ConnectionStore()
    chosen = None
    if args.connect:
        chosen = store.by_name(args.connect)
        if chosen is None:
            names = ", ".join(repr(c.name) for c in store) or "none"
            _print_error(f"no saved connection named {args.connect!r} (saved: {names})")
            return EXIT_USAGE
    elif args.screenshot is not None and not args.demo:
        chosen = _connection_for_screenshot(store)
        if chosen is None:
            _print_error(
                "--screenshot needs --demo, --connect NAME, or saved connections to reopen "
                f"({store.load_error or 'none is saved'})"
            )
            return EXIT_USAGE
    setup_logging(args.log_level)
    if store.load_error:
        log.error("the saved connections could not be read: %s", store.load_error)
    try:
        return _run(args, store, SecretStore(), chosen)
    except Exception as exc:
        log.exception("the console failed")
        _print_error(f"{type(exc).__name__}: {exc}")
        return EXIT_FAILURE


def _fall_back_to_offscreen_without_a_display() -> None:
    """On a Linux box without a display Qt would abort; run offscreen instead, and say so."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    print(
        f"{PROG}: no display found (DISPLAY and WAYLAND_DISPLAY are unset): running offscreen. "
        "Use --screenshot FILE to see the window, or start it on a desktop.",
        file=sys.stderr,
        flush=True,
    )


def _connection_for_screenshot(store: ConnectionStore) -> Connection | None:
    for connection_id in settings_module.load().last_connections:
        found = store.get(connection_id)
        if found is not None:
            return found
    saved = store.all()
    return saved[0] if len(saved) == 1 else None


def _run(
    args: argparse.Namespace, store: ConnectionStore, secrets: SecretStore, chosen: Connection | None
) -> int:
    _fall_back_to_offscreen_without_a_display()
    # Qt is imported only now, so that --help and a bad command line answer at once.
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from console.ui import qt_async
    from console.ui.main_window import MainWindow

    _route_qt_messages()
    _report_slot_errors()
    app = QApplication.instance() or QApplication([PROG])
    assert isinstance(app, QApplication)
    app.setApplicationName("PowerStore Console")
    app.setApplicationVersion(console.__version__)
    app.setOrganizationName(PROG)
    app.setDesktopFileName(PROG)
    app.setStyle("Fusion")
    loop = qt_async.install_loop(app)

    window = MainWindow(store=store, secrets=secrets, screenshot=args.screenshot, on_fatal=_print_error)
    finished: asyncio.Future[int] = loop.create_future()

    def closed(code: int) -> None:
        if not finished.done():
            finished.set_result(code)

    window.closed.connect(closed)

    # Ctrl+C and SIGTERM close the window properly (logging out); the timer lets Python see them.
    for signum in (signal.SIGINT, signal.SIGTERM):
        # From the event loop, not inside whatever Python code the signal interrupted.
        signal.signal(signum, lambda *_: QTimer.singleShot(0, window.close))
    wake = QTimer()
    wake.start(250)
    wake.timeout.connect(lambda: None)

    window.show()
    # Everything allocated so far lives as long as the app: keep the collector from walking it
    # again and again (a full collection over it stalled the loop for 100+ ms).
    gc.collect()
    gc.freeze()
    if args.demo:
        qt_async.start(window.start_demo(), name="start_demo")
    elif chosen is not None:
        window.connect_saved(chosen.id)
    elif window.restore_last() == 0 and len(store) == 0:
        window.show_connections()

    try:
        code = loop.run_until_complete(finished)
        leftovers = qt_async.cancel_all()
        if leftovers:
            loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
    finally:
        wake.stop()
        loop.close()
    if window.demo is not None:
        window.demo.stop()
    return code


if __name__ == "__main__":
    sys.exit(main())
