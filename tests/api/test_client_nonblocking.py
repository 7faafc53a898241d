"""console.api runs on the GUI's event loop: no blocking call, no thread, no synchronous HTTP."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

API_DIR = Path(__file__).resolve().parents[2] / "console" / "api"
FORBIDDEN_CALLS = {
    "time.sleep",
    "open",
    "input",
    "httpx.Client",
    "httpx.get",
    "httpx.post",
    "httpx.request",
    "httpx.HTTPTransport",
    "socket.create_connection",
    "ssl.get_server_certificate",
    "os.system",
}
FORBIDDEN_METHODS = {"read_text", "read_bytes", "write_text", "write_bytes", "run_until_complete"}
FORBIDDEN_MODULES = {"threading", "subprocess", "requests", "urllib3", "concurrent", "multiprocessing"}


def dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{dotted(node.value)}.{node.attr}"
    return ""


@pytest.mark.parametrize("path", sorted(API_DIR.glob("*.py")), ids=lambda p: p.name)
def test_no_blocking_call(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            problems += [a.name for a in node.names if a.name.split(".")[0] in FORBIDDEN_MODULES]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in FORBIDDEN_MODULES:
            problems.append(node.module or "")
        elif isinstance(node, ast.Call):
            name = dotted(node.func)
            if name in FORBIDDEN_CALLS or name.rsplit(".", 1)[-1] in FORBIDDEN_METHODS:
                problems.append(f"{name}() on line {node.lineno}")
    assert problems == []
