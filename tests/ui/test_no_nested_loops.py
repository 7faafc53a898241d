"""The UI never waits: no modal exec(), no nested event loop, no processEvents() and no blocking
network or sleep anywhere in console/ui. Dialogs are opened with open()/show() and answer through
signals; network I/O is a task on the qasync loop."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.api.test_client_nonblocking import dotted

UI_DIR = Path(__file__).resolve().parents[2] / "console" / "ui"
FORBIDDEN_METHODS = {
    "exec",
    "exec_",
    "processEvents",
    "run_until_complete",
    "run_forever",
    "waitForFinished",
    "waitForReadyRead",
    "waitForConnected",
}
FORBIDDEN_CALLS = {"time.sleep", "asyncio.run", "httpx.Client", "httpx.get", "httpx.post", "QEventLoop"}
# The one place that makes the loop (qasync's QEventLoop is the app's only loop).
ALLOWED = {("qt_async.py", "qasync.QEventLoop")}


@pytest.mark.parametrize("path", sorted(UI_DIR.glob("*.py")), ids=lambda p: p.name)
def test_no_nested_loop_or_blocking_wait(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    problems = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = dotted(node.func)
        if (path.name, name) in ALLOWED:
            continue
        last = name.rsplit(".", 1)[-1]
        if name in FORBIDDEN_CALLS or last in FORBIDDEN_METHODS or last == "QEventLoop":
            problems.append(f"{name}() on line {node.lineno}")
    assert problems == []


def test_the_scan_sees_a_modal_exec():
    tree = ast.parse("dialog.exec()\nQApplication.processEvents()\n")
    names = [dotted(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)]
    assert {name.rsplit(".", 1)[-1] for name in names} <= FORBIDDEN_METHODS
