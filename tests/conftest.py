"""Test-wide isolation: a temporary home, config and data directory for every run.

Nothing a test does may touch the developer's real settings, data or keyring.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

_HOME = Path(tempfile.mkdtemp(prefix="psc-test-home-"))
for _var, _sub in {
    "HOME": "",
    "XDG_CONFIG_HOME": ".config",
    "XDG_DATA_HOME": ".local/share",
    "XDG_CACHE_HOME": ".cache",
    "XDG_STATE_HOME": ".local/state",
    "XDG_RUNTIME_DIR": "run",
}.items():
    (_HOME / _sub).mkdir(parents=True, exist_ok=True)
    os.environ[_var] = str(_HOME / _sub)
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["QT_API"] = "pyside6"


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def test_home() -> Path:
    return _HOME
