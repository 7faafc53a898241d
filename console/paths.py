"""Where the console keeps its files: per-user config, data and log directories (platformdirs).

Config holds what the user chose (connections without secrets, window layout); data holds what the
console made (the demo simulator's certificates); the log directory holds the log. Secrets go to
none of them: passwords live in the OS keyring or, without one, in memory for the session only.
The directories are created on first use with owner-only permissions where the OS has them.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import platformdirs

APP_NAME = "powerstore-console"

CONNECTIONS_FILE = "connections.json"
SETTINGS_FILE = "settings.json"
LOG_FILE = "console.log"


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def log_dir() -> Path:
    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def connections_file() -> Path:
    return config_dir() / CONNECTIONS_FILE


def settings_file() -> Path:
    return config_dir() / SETTINGS_FILE


def log_file() -> Path:
    return log_dir() / LOG_FILE


def demo_cert_dir() -> Path:
    """The demo simulator's private CA and server certificate (the simulator's own default place,
    so ``powerstore-simulator`` and ``--demo`` share one CA)."""
    return data_dir() / "simulator" / "certs"


def ensure_dir(path: Path) -> Path:
    """Create ``path`` (and parents) readable by the owner only; return it."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so that a crash leaves the old or the new file, never half of one."""
    ensure_dir(path.parent)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
