"""``powerstore-console``: the command line, and ``--demo --screenshot`` in a real process."""

from __future__ import annotations

import base64
import json
import os
import signal
import struct
import subprocess
import sys
import time
import tomllib
import zipfile
from pathlib import Path

import pytest

from console import app
from tests.simulator.process import REPO_ROOT

DEMO_PASSWORD = "Password123#"


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def fresh_home(root: Path) -> dict[str, str]:
    """An environment with its own home, config, data and state directories, and no keyring."""
    env = dict(os.environ)
    for var, sub in {
        "HOME": "home",
        "XDG_CONFIG_HOME": "home/.config",
        "XDG_DATA_HOME": "home/.local/share",
        "XDG_STATE_HOME": "home/.local/state",
        "XDG_CACHE_HOME": "home/.cache",
    }.items():
        (root / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(root / sub)
    env["QT_QPA_PLATFORM"] = "offscreen"
    # Never the developer's keyring, whatever this machine has.
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


def run_console(args: list[str], env: dict[str, str], cwd: Path, *, launcher: list[str] | None = None):
    command = (launcher or [sys.executable, "-m", "console.app"]) + args
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=180)


def processes_mentioning(text: str) -> list[int]:
    """Pids whose command line contains ``text`` (Linux; empty elsewhere)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if text in (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def all_text_under(root: Path) -> str:
    return "\n".join(p.read_bytes().decode("utf-8", errors="replace") for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["--screenshot"], "expected one argument"),
        (["--screenshot", "out.jpg"], "must end in .png"),
        (["--screenshot", "/no/such/folder/out.png"], "does not exist"),
        (["--demo", "--connect", "lab"], "exclude each other"),
        (["--log-level", "loud"], "invalid choice"),
        (["--connect", "nowhere"], "no saved connection named 'nowhere'"),
    ],
)
def test_bad_command_lines_exit_2_with_a_message(argv, words, capsys):
    assert app.main(argv) == 2
    assert words in capsys.readouterr().err


def test_screenshot_into_a_directory_is_refused(tmp_path, capsys):
    (tmp_path / "dir.png").mkdir()
    assert app.main(["--screenshot", str(tmp_path / "dir.png")]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_version_and_help(capsys):
    assert app.main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("powerstore-console ")
    assert app.main(["--help"]) == 0
    assert "--screenshot FILE" in capsys.readouterr().out


def test_demo_screenshot_in_a_real_process_and_no_password_on_disk(tmp_path):
    env = fresh_home(tmp_path)
    out = tmp_path / "shot.png"
    result = run_console(["--demo", "--screenshot", "shot.png"], env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert png_size(out) == (1280, 760)
    assert out.stat().st_size < 150_000
    home = tmp_path / "home"
    log = home / ".local/state/powerstore-console/log/console.log"
    assert "screenshot saved" in log.read_text()
    assert "POST logout -> 204" in log.read_text()  # logged out before quitting
    # The demo's certificates went to the per-user data directory; no password went anywhere.
    assert (home / ".local/share/powerstore-console/simulator/certs/ca-cert.pem").exists()
    everything = all_text_under(home)
    assert DEMO_PASSWORD not in everything
    assert base64.b64encode(f"admin:{DEMO_PASSWORD}".encode()).decode() not in everything
    assert DEMO_PASSWORD not in result.stderr + result.stdout
    # Closing the window stopped the demo simulator.
    assert not processes_mentioning(str(home)), "the demo simulator is still running"


def test_screenshot_of_a_saved_connection_that_needs_a_password_fails_with_a_message(tmp_path):
    env = fresh_home(tmp_path)
    config = tmp_path / "home/.config/powerstore-console"
    config.mkdir(parents=True)
    entry = {"id": "lab1", "name": "lab", "host": "127.0.0.1:9", "user": "admin"}
    (config / "connections.json").write_text(json.dumps({"format": 1, "connections": [entry]}))
    result = run_console(["--screenshot", "shot.png"], env, cwd=tmp_path)
    assert result.returncode == 1
    assert "lab: a password is needed and --screenshot cannot ask" in result.stderr
    assert not (tmp_path / "shot.png").exists()


def test_screenshot_without_anything_to_show_is_a_usage_error(tmp_path):
    result = run_console(["--screenshot", "shot.png"], fresh_home(tmp_path), cwd=tmp_path)
    assert result.returncode == 2
    assert "--screenshot needs --demo" in result.stderr


def _declared_script() -> str | None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    return project.get("scripts", {}).get("powerstore-console")


@pytest.mark.slow
@pytest.mark.skipif(_declared_script() is None, reason="pyproject does not declare powerstore-console yet")
def test_the_installed_console_script_takes_a_demo_screenshot(tmp_path):
    assert _declared_script() == "console.app:main"
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(REPO_ROOT)],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = wheels.glob("powerstore_console-*.whl")
    assert "console/_resources/navigation.json" in zipfile.ZipFile(wheel).namelist()
    venv = tmp_path / "venv"
    # The dependencies come from this interpreter's site-packages; the package itself from the wheel.
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    bindir = venv / ("Scripts" if sys.platform == "win32" else "bin")
    install = subprocess.run(
        [str(bindir / "python"), "-m", "pip", "install", "--no-deps", "-q", str(wheel)],
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stderr
    env = fresh_home(tmp_path)
    del env["PYTHONPATH"]
    env["PYTHONSAFEPATH"] = "1"
    result = run_console(
        ["--demo", "--screenshot", "shot.png"],
        env,
        cwd=tmp_path,
        launcher=[str(bindir / "powerstore-console")],
    )
    assert result.returncode == 0, result.stderr
    assert png_size(tmp_path / "shot.png") == (1280, 760)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_closes_the_console_properly(tmp_path, signum):
    env = fresh_home(tmp_path)
    home = tmp_path / "home"
    log = home / ".local/state/powerstore-console/log/console.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "console.app", "--demo"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while "GET volume" not in (log.read_text() if log.exists() else ""):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the demo array did not show its volumes"
            time.sleep(0.2)
        process.send_signal(signum)
        _out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "POST logout -> 204" in log.read_text()  # logged out, as closing the window does
    assert "Traceback" not in err
    assert not processes_mentioning(str(home)), "the demo simulator is still running"
    assert (home / ".config/powerstore-console/settings.json").exists()  # the window's settings saved
