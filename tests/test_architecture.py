"""Contracts of the code base: a Qt-free core, clean lint, resources found from an installed wheel."""

from __future__ import annotations

import os
import pkgutil
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import console

ROOT = Path(__file__).resolve().parents[1]
QT_FREE_PACKAGES = ["console.simulator", "console.api", "console.jobs"]
QT_FREE_MODULES = [
    "console.catalog",
    "console.comparison",
    "console.connections",
    "console.secrets",
    "console.paths",
    "console.settings",
    "console.navigation",
    "console.presentation",
    "console.demo",
]
QT_MODULES = ("PySide6", "shiboken6", "qasync")


def modules_of(package: str) -> list[str]:
    path = ROOT / Path(*package.split("."))
    if not path.exists():
        return []
    return [package] + [f"{package}.{m.name}" for m in pkgutil.walk_packages([str(path)])]


# Who may not import whom: the array (simulator) and the client know nothing of each other, and
# neither knows the job engine or the UI; the job engine knows the client, never the UI.
FORBIDDEN_IMPORTS = {
    "console.simulator": ("console.api", "console.jobs", "console.ui"),
    "console.api": ("console.simulator", "console.jobs", "console.ui"),
    "console.jobs": ("console.simulator", "console.ui"),
}


@pytest.mark.parametrize("package", sorted(FORBIDDEN_IMPORTS))
def test_layers_import_only_what_they_may(package):
    forbidden = FORBIDDEN_IMPORTS[package]
    script = (
        "import importlib, sys\n"
        f"for name in {modules_of(package)!r}: importlib.import_module(name)\n"
        f"print(sorted(m for m in sys.modules if m.startswith({forbidden!r})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert result.stdout.strip() == "[]"


def test_the_core_never_imports_qt():
    modules = [m for p in QT_FREE_PACKAGES for m in modules_of(p)] + QT_FREE_MODULES
    assert "console.simulator.app" in modules
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {QT_MODULES!r}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert result.stdout.strip() == "[]"


def test_ruff_is_clean():
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.fail("ruff is part of the test extra and must be installed")
    result = subprocess.run([ruff, "check", "."], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_resources_ship_inside_the_wheel_and_load_from_an_installed_copy(tmp_path):
    wheel_dir = tmp_path / "wheel"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheel_dir), str(ROOT)],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = wheel_dir.glob("powerstore_console-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "console/_resources/catalog.json" in names
    sources = {p.relative_to(ROOT).as_posix() for p in (ROOT / "console").rglob("*.py")}
    assert sources - set(names) == set(), "modules missing from the wheel: list their package in pyproject"
    assert not any(n.startswith("tests/") for n in names)

    target = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(target)
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    script = (
        "import console.resource_files as r, console.catalog as c\n"
        "print(r.resource_root())\n"
        "print(len(c.load_catalog().types))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(target), "PYTHONSAFEPATH": "1"}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=elsewhere, env=env
    )
    assert result.returncode == 0, result.stderr
    root, count = result.stdout.split()
    assert Path(root).is_relative_to(target), "resources must come from the installed copy"
    assert int(count) > 100
    assert Path(console.__file__).is_relative_to(ROOT)


@pytest.mark.slow
def test_mypy_is_clean():
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-error-summary"], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0, result.stdout + result.stderr
