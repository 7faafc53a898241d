"""UI table benchmark (run by hand, offscreen; the figures go to docs/ui-tables.md).

Starts the simulator as a real process over TLS with N volumes and, as the app does at start-up,
shows the main window (Fusion style, 1400x900, offscreen) and freezes the garbage collector's view
of what exists then. Then, as a click on Volumes in the navigation does, it opens the Volumes view
(``ResourceView`` of ``volume`` without snapshots) as a tab of that window, and measures:

- from showing the view to the first rows painted, and from the first page's answer to that paint;
- the time to scroll to row 50,000 the way the view lets a user: scrolling to the bottom whenever
  rows arrive, pages fetched on the way (with the view's prefetch), then the scroll to that row;
- the peak memory of this process (``ru_maxrss``), and what it held before the view existed;
- the event loop's largest stall in each phase: a precise 5 ms ``QTimer`` records how late each
  tick comes (a tick is late by however long the loop was busy elsewhere).

The simulator runs niced (``--sim-nice``, default 10): against an array it would be another
machine, here it shares the CPUs, and its sorting of 100,000 rows per page request would otherwise
be counted against the UI.

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_ui_table.py [--volumes 100000] [--target 50000]
        [--page-size 1000] [--first-page 200] [--repeat 1]

With ``--sweep`` it runs one child process per page size (500, 1000, 2000) so that each one's
memory peak is its own.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keyring.backends.fail
from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import QApplication

from console.api import F, PowerStoreClient
from console.connections import ConnectionStore
from console.secrets import SecretStore
from console.ui import qt_async, resource_model
from console.ui.main_window import MainWindow
from console.ui.resource_view import ResourceView
from tests.simulator.process import SimulatorProcess

USER, PASSWORD = "admin", "Password123#"
TICK_MS = 5


class PageCosts:
    """Times the two synchronous steps a page costs the loop: decoding the JSON answer (in the
    client) and turning its items into rows (in the model)."""

    def __init__(self) -> None:
        self.decode_ms: list[float] = []
        self.rows_ms: list[float] = []
        import console.api.client as client_module

        self._client_module = client_module
        self._items = client_module._items
        self._append = resource_model._append

        def items(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return self._items(*args, **kwargs)
            finally:
                self.decode_ms.append((time.perf_counter() - started) * 1000)

        def append(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return self._append(*args, **kwargs)
            finally:
                self.rows_ms.append((time.perf_counter() - started) * 1000)

        client_module._items = items
        resource_model._append = append

    def summary(self) -> dict[str, float]:
        return {
            "decode_ms_median": statistics.median(self.decode_ms) if self.decode_ms else 0,
            "decode_ms_max": max(self.decode_ms, default=0),
            "rows_ms_median": statistics.median(self.rows_ms) if self.rows_ms else 0,
            "rows_ms_max": max(self.rows_ms, default=0),
        }

    def close(self) -> None:
        self._client_module._items = self._items
        resource_model._append = self._append


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / (1 << 20)


class StallMeter(QObject):
    """A precise timer every 5 ms; how late each tick comes is how long the loop was held up."""

    def __init__(self) -> None:
        super().__init__()
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        self.last = 0.0
        self.last_cpu = 0.0
        self.lates: list[float] = []
        self.busy: list[float] = []

    def start(self) -> None:
        self.lates = []
        self.busy = []
        self.last = time.perf_counter()
        self.last_cpu = time.process_time()
        self.timer.start()

    def phase(self) -> dict[str, float]:
        """Lateness figures since the last call, in ms; starts a new phase.

        ``max_ms`` is wall-clock lateness. On a shared machine part of it is time the process
        waited for a CPU; ``busy_max_ms`` is the most CPU this process used between two ticks,
        i.e. its longest stretch of own work (a late tick with little CPU used was starved, not
        blocked)."""
        lates = sorted(self.lates) or [0.0]
        self.lates = []
        busy = max(self.busy, default=0.0)
        self.busy = []
        return {
            "max_ms": lates[-1],
            "p99_ms": lates[min(len(lates) - 1, int(len(lates) * 0.99))],
            "over_50ms": sum(1 for x in lates if x > 50),
            "busy_max_ms": busy,
            "ticks": len(lates),
        }

    def _tick(self) -> None:
        now = time.perf_counter()
        cpu = time.process_time()
        self.lates.append(max(0.0, (now - self.last) * 1000 - TICK_MS))
        self.busy.append((cpu - self.last_cpu) * 1000)
        self.last = now
        self.last_cpu = cpu


class PaintWatch(QObject):
    """Notes when the table's viewport has painted rows (the moment after the paint finished)."""

    def __init__(self, view: ResourceView) -> None:
        super().__init__()
        self.view = view
        self.painted_at: float | None = None
        self.waiters: list[asyncio.Future[float]] = []
        view.table.viewport().installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint and self.view.model.rowCount() > 0:
            # Noted once the paint is done: a zero timer runs after this event is handled.
            QTimer.singleShot(0, self._painted)
        return False

    def _painted(self) -> None:
        self.painted_at = time.perf_counter()
        for waiter in self.waiters:
            if not waiter.done():
                waiter.set_result(self.painted_at)
        self.waiters = []

    async def next_paint(self) -> float:
        waiter = asyncio.get_event_loop().create_future()
        self.waiters.append(waiter)
        return await waiter


def main_window(config: Path) -> MainWindow:
    """The app's window as it stands before the user clicks anything (no array, no keyring)."""
    window = MainWindow(
        store=ConnectionStore(config / "connections.json"),
        secrets=SecretStore(keyring.backends.fail.Keyring()),
        settings_path=config / "settings.json",
    )
    window.save_settings_on_close = False
    window.resize(1400, 900)
    window.show()
    return window


async def one_run(
    window: MainWindow, base_url: str, ca: str, target: int, freeze: bool = False
) -> dict[str, Any]:
    client = PowerStoreClient(base_url, USER, PASSWORD, verify=ca, timeout=300)
    await client.login()
    answers: list[tuple[float, float, int, int]] = []
    original = client.query

    async def timed(*args: Any, **kwargs: Any) -> Any:
        sent = time.perf_counter()
        page = await original(*args, **kwargs)
        answers.append((sent, time.perf_counter(), kwargs.get("offset", 0), len(page.items)))
        return page

    client.query = timed  # type: ignore[method-assign]
    costs = PageCosts()
    meter = StallMeter()
    memory_before = current_mb()
    meter.start()

    # Phase 1: open the view as a tab (what the main window does on a click), wait for the first rows
    # on screen.
    shown = time.perf_counter()
    view = ResourceView(client, "volume", base_filter=F("type") != "Snapshot", title="Volumes")
    watch = PaintWatch(view)
    window.tabs.setCurrentIndex(window.tabs.addTab(view, "Volumes"))
    window.central.setCurrentWidget(window.tabs)
    first_paint = asyncio.ensure_future(watch.next_paint())
    await asyncio.wait_for(asyncio.shield(first_paint), 60)
    while view.model.rowCount() == 0:
        await watch.next_paint()
    painted = watch.painted_at or time.perf_counter()
    first_answer = answers[0][1]
    first = {
        "show_to_paint_ms": (painted - shown) * 1000,
        "answer_to_paint_ms": (painted - first_answer) * 1000,
        "request_ms": (answers[0][1] - answers[0][0]) * 1000,
        "total": view.model.total,
        "stall": meter.phase(),
    }

    # Phase 2: a user holding the scroll bar at the bottom (moved there every frame, 16 ms) until the
    # target row is loaded.
    started = time.perf_counter()
    bar = view.table.verticalScrollBar()
    model = view.model
    reached = asyncio.Event()

    def drag() -> None:
        if model.rowCount() > target or not (model.canFetchMore(view.table.rootIndex()) or model.is_loading):
            reached.set()
            return
        bar.setValue(bar.maximum())

    user = QTimer()
    user.setInterval(16)
    user.timeout.connect(drag)
    user.start()
    await reached.wait()
    user.stop()
    index = model.index(target, 0)
    view.table.scrollTo(index)
    await watch.next_paint()
    scrolled = time.perf_counter()
    pages = [a for a in answers[1:]]
    scroll = {
        "to_row": target,
        "rows_loaded": model.rowCount(),
        "seconds": scrolled - started,
        "pages": len(pages),
        "page_request_ms_median": statistics.median((a[1] - a[0]) * 1000 for a in pages) if pages else 0,
        "stall": meter.phase(),
    }
    meter.timer.stop()
    costs.close()
    view.shutdown()
    window.tabs.removeTab(window.tabs.indexOf(view))
    view.deleteLater()
    await client.aclose()
    return {
        "page_size": resource_model.PAGE_SIZE,
        "first_page": resource_model.FIRST_PAGE,
        "first": first,
        "scroll": scroll,
        "memory_before_mb": memory_before,
        "memory_after_mb": current_mb(),
        "peak_mb": peak_mb(),
        "gc_freeze": freeze,
        "page_costs": costs.summary(),
    }


def run_in_process(args: argparse.Namespace, base_url: str, ca: str) -> list[dict[str, Any]]:
    resource_model.PAGE_SIZE = args.page_size
    resource_model.FIRST_PAGE = args.first_page
    app = QApplication.instance() or QApplication([])
    assert isinstance(app, QApplication)
    app.setQuitOnLastWindowClosed(False)
    app.setStyle("Fusion")
    loop = qt_async.install_loop(app)
    results = []
    with tempfile.TemporaryDirectory() as config:
        window = main_window(Path(config))
        loop.run_until_complete(asyncio.sleep(0.5))  # the window's first paints
        if args.gc_freeze:
            # As the app does once its window is up (console/app.py).
            gc.collect()
            gc.freeze()
        for _ in range(args.repeat):
            run = one_run(window, base_url, ca, args.target, args.gc_freeze)
            results.append(loop.run_until_complete(run))
        window.close()
        loop.run_until_complete(asyncio.sleep(0.2))
    return results


def show(result: dict[str, Any]) -> None:
    first, scroll = result["first"], result["scroll"]
    frozen = "" if result["gc_freeze"] else " (no gc.freeze)"
    print(
        f"pages {result['first_page']}/{result['page_size']}{frozen}: "
        f"first rows {first['show_to_paint_ms']:.0f} ms after show "
        f"({first['answer_to_paint_ms']:.0f} ms after the answer, request {first['request_ms']:.0f} ms), "
        f"stall max {first['stall']['max_ms']:.1f} ms (own work {first['stall']['busy_max_ms']:.1f} ms)"
    )
    print(
        f"  scroll to row {scroll['to_row']:,} of {first['total']:,}: {scroll['seconds']:.2f} s, "
        f"{scroll['pages']} pages (median request {scroll['page_request_ms_median']:.0f} ms), "
        f"stall max {scroll['stall']['max_ms']:.1f} ms (own work {scroll['stall']['busy_max_ms']:.1f} ms), "
        f"p99 {scroll['stall']['p99_ms']:.1f} ms, "
        f"{scroll['stall']['over_50ms']} ticks late by over 50 ms"
    )
    costs = result["page_costs"]
    print(
        f"  a page costs the loop: JSON decode {costs['decode_ms_median']:.1f} ms "
        f"(max {costs['decode_ms_max']:.1f}), rows {costs['rows_ms_median']:.1f} ms "
        f"(max {costs['rows_ms_max']:.1f})"
    )
    print(
        f"  memory: {result['memory_before_mb']:.0f} MB before the view, "
        f"{result['memory_after_mb']:.0f} MB after, peak {result['peak_mb']:.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--volumes", type=int, default=100_000)
    parser.add_argument("--target", type=int, default=50_000)
    parser.add_argument("--page-size", type=int, default=resource_model.PAGE_SIZE)
    parser.add_argument("--first-page", type=int, default=resource_model.FIRST_PAGE)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--sweep", action="store_true", help="one child process per page size")
    parser.add_argument("--url", help="use a running simulator (with --ca) instead of starting one")
    parser.add_argument("--ca", help="CA certificate of --url")
    parser.add_argument("--json", action="store_true", help="print results as JSON (used by --sweep)")
    parser.add_argument(
        "--no-gc-freeze",
        dest="gc_freeze",
        action="store_false",
        help="leave out the app's gc.freeze() after start-up (to see what it is worth)",
    )
    parser.add_argument(
        "--sim-nice",
        type=int,
        default=10,
        help="niceness of the simulator process (an array is another machine; here it shares the CPUs)",
    )
    args = parser.parse_args()

    if args.url:
        results = run_in_process(args, args.url, args.ca)
        print(json.dumps(results)) if args.json else [show(r) for r in results]
        return
    with tempfile.TemporaryDirectory() as certs:
        print(f"starting the simulator with {args.volumes:,} volumes…", flush=True)
        with SimulatorProcess(
            cert_dir=Path(certs), args=["--volumes", str(args.volumes)], startup_timeout=300
        ) as sim:
            assert sim.ca_path is not None and sim.process is not None
            if args.sim_nice:
                os.setpriority(os.PRIO_PROCESS, sim.process.pid, args.sim_nice)
            if not args.sweep:
                for result in run_in_process(args, sim.base_url, str(sim.ca_path)):
                    show(result)
                return
            for page_size in (500, 1000, 2000):
                command = [
                    sys.executable,
                    __file__,
                    "--url",
                    sim.base_url,
                    "--ca",
                    str(sim.ca_path),
                    "--target",
                    str(args.target),
                    "--page-size",
                    str(page_size),
                    "--first-page",
                    str(args.first_page),
                    "--repeat",
                    str(args.repeat),
                    "--json",
                    *([] if args.gc_freeze else ["--no-gc-freeze"]),
                ]
                out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
                for result in json.loads(out.strip().splitlines()[-1]):
                    show(result)


if __name__ == "__main__":
    main()
