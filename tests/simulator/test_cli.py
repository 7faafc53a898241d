"""``python -m console.simulator``: flags, the listening line, serving, and stopping on signals."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
import tomllib
from pathlib import Path

import httpx
import pytest

from console.simulator.__main__ import main, parse_args
from console.simulator.config import SimulatorConfig
from console.simulator.server import GRACEFUL_SHUTDOWN_SECONDS
from tests.simulator.process import REPO_ROOT, SimulatorProcess, SimulatorStartError

POSIX = os.name == "posix"

HTTPS_LINE = re.compile(r"^listening on https://127\.0\.0\.1:(\d+)/api/rest \(CA certificate: (.+)\)$")
HTTP_LINE = re.compile(r"^listening on http://127\.0\.0\.1:(\d+)/api/rest$")

# A simulator whose app is replaced by one that records its lifespan in a file, to show that a
# stop signal runs the app's shutdown (where the real app saves its state).
LIFESPAN_PROBE = textwrap.dedent(
    """
    import contextlib, sys
    from pathlib import Path
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route
    import console.simulator.server as server

    marker = Path(sys.argv[1])

    def create_app(config):
        @contextlib.asynccontextmanager
        async def lifespan(app):
            marker.write_text("started")
            yield
            marker.write_text("stopped cleanly")

        async def ping(request):
            return JSONResponse({"volumes": config.volumes})

        return Starlette(routes=[Route("/api/rest/ping", ping)], lifespan=lifespan)

    server.create_app = create_app
    from console.simulator.__main__ import main
    sys.exit(main(sys.argv[2:]))
    """
)


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "console.simulator", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


# -- flags -------------------------------------------------------------------------------------------------


def test_flags_map_onto_the_config_and_server_settings(tmp_path):
    state = str(tmp_path / "s.json")
    network = ["--host", "::1", "--port", "0", "--no-tls", "--cert-dir", str(tmp_path)]
    array = [
        "--volumes",
        "7",
        "--job-seconds",
        "0.5",
        "--idle-timeout",
        "60",
        "--state",
        state,
        "--seed",
        "9",
    ]
    testing = [
        "--fault-rate",
        "0.2",
        "--latency-ms",
        "15",
        "--control",
        "--log-level",
        "info",
        "--access-log",
    ]
    config, settings = parse_args([*network, *array, *testing])
    assert config == SimulatorConfig(
        volumes=7,
        job_seconds=0.5,
        idle_timeout=60,
        seed=9,
        state_file=tmp_path / "s.json",
        fault_rate=0.2,
        latency_ms=15,
        control=True,
    )
    assert (settings.host, settings.port, settings.tls, settings.cert_dir) == ("::1", 0, False, tmp_path)
    assert (settings.log_level, settings.access_log) == ("info", True)


def test_defaults_are_the_config_defaults_and_safe_network_settings():
    config, settings = parse_args([])
    assert config == SimulatorConfig()
    assert (settings.host, settings.port, settings.tls, settings.cert_dir) == ("127.0.0.1", 8443, True, None)
    assert (settings.log_level, settings.access_log) == ("warning", False)


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--volumes", "-1"], "--volumes"),
        (["--volumes", "many"], "--volumes"),
        (["--job-seconds", "-0.5"], "--job-seconds"),
        (["--idle-timeout", "0"], "--idle-timeout"),
        (["--idle-timeout", "1.5"], "--idle-timeout"),
        (["--fault-rate", "1.5"], "--fault-rate"),
        (["--fault-rate", "-0.1"], "--fault-rate"),
        (["--fault-rate", "nan"], "--fault-rate"),
        (["--latency-ms", "-5"], "--latency-ms"),
        (["--latency-ms", "inf"], "--latency-ms"),
        (["--port", "65536"], "--port"),
        (["--port", "-1"], "--port"),
        (["--seed", "x"], "--seed"),
        (["--log-level", "loud"], "--log-level"),
        (["--bogus"], "unrecognized arguments"),
    ],
)
def test_bad_flags_exit_2_with_a_message(args, complaint, capsys):
    with pytest.raises(SystemExit) as exited:
        main(args)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert complaint in err
    assert "error:" in err


def test_state_that_is_a_directory_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--state", str(tmp_path)])
    assert exited.value.code == 2
    assert "--state" in capsys.readouterr().err


def test_bad_flag_from_the_command_line_exits_2_without_starting():
    result = run_cli("--fault-rate", "2")
    assert result.returncode == 2
    assert "--fault-rate" in result.stderr
    assert "must be from 0 to 1" in result.stderr
    assert result.stdout == ""


def test_help_lists_the_contract_flags():
    result = run_cli("--help")
    assert result.returncode == 0
    for flag in [
        "--host", "--port", "--no-tls", "--cert-dir", "--volumes", "--job-seconds", "--idle-timeout",
        "--state", "--seed", "--fault-rate", "--latency-ms", "--control", "--log-level",
    ]:  # fmt: skip
        assert flag in result.stdout


def test_console_script_points_at_main():
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    target = pyproject["project"]["scripts"]["powerstore-simulator"]
    module_name, _, attribute = target.partition(":")
    module = __import__(module_name, fromlist=[attribute])
    assert getattr(module, attribute) is main


# -- starting -------------------------------------------------------------------------------------------


def test_https_start_prints_exactly_one_listening_line_with_the_ca(tmp_path):
    cert_dir = tmp_path / "certs"
    with SimulatorProcess(cert_dir=cert_dir) as sim:
        match = HTTPS_LINE.match(sim.listening_line)
        assert match, sim.listening_line
        assert int(match[1]) == sim.port
        assert Path(match[2]) == cert_dir / "ca-cert.pem"
        assert Path(match[2]).is_file()
        sim.stop()
    assert sim.stdout.splitlines() == [sim.listening_line]


def test_port_0_picks_a_free_port_that_answers(tmp_path):
    with SimulatorProcess(tls=False) as first, SimulatorProcess(tls=False) as second:
        assert first.port not in (0, 8443)
        assert first.port != second.port
        for sim in (first, second):
            with sim.client() as client:
                assert client.get("login_session").status_code < 500


def test_no_tls_line_and_plain_http(tmp_path):
    with SimulatorProcess(tls=False) as sim:
        assert HTTP_LINE.match(sim.listening_line), sim.listening_line
        assert sim.ca_path is None
        response = httpx.get(sim.base_url + "/login_session", auth=("admin", "Password123#"), timeout=10)
        assert response.status_code == 200
        sim.stop()
    assert sim.stdout.splitlines() == [sim.listening_line]


def test_fixed_port_is_used(tmp_path):
    port = _free_port()
    with SimulatorProcess(tls=False, port=port) as sim:
        assert sim.port == port
        assert sim.base_url == f"http://127.0.0.1:{port}/api/rest"


def test_port_in_use_is_a_one_line_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("--no-tls", "--port", str(port))
    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"powerstore-simulator: error: cannot listen on 127.0.0.1:{port}: the port is already in use"
    ]


def test_unusable_cert_dir_exits_2_with_a_message(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = run_cli("--port", "0", "--cert-dir", str(blocker / "certs"))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "cannot use certificate directory" in lines[0]
    assert str(blocker / "certs") in lines[0]


@pytest.mark.skipif(not POSIX or os.geteuid() == 0, reason="needs POSIX permissions that bind non-root users")
def test_read_only_cert_dir_exits_2(tmp_path):
    parent = tmp_path / "ro"
    parent.mkdir(mode=0o500)
    result = run_cli("--port", "0", "--cert-dir", str(parent / "certs"))
    assert result.returncode == 2
    assert "cannot use certificate directory" in result.stderr


def test_unknown_host_is_a_clear_error():
    result = run_cli("--no-tls", "--port", "0", "--host", "no-such-host.invalid")
    assert result.returncode != 0
    assert "cannot listen on no-such-host.invalid" in result.stderr
    assert "Traceback" not in result.stderr


def test_start_failure_reports_output_and_exit_status(tmp_path):
    with pytest.raises(SimulatorStartError, match="exited with 2 before listening"):
        SimulatorProcess(tls=False, args=["--volumes", "-3"]).start()


# -- logging -----------------------------------------------------------------------------------------------


def test_quiet_by_default(tmp_path):
    with SimulatorProcess(cert_dir=tmp_path) as sim, sim.client() as client:
        for _ in range(3):
            client.get("login_session", auth=("admin", "Password123#"))
        sim.stop()
    assert sim.stderr == ""
    assert sim.stdout.splitlines() == [sim.listening_line]


def test_access_log_goes_to_stderr_and_keeps_stdout_clean(tmp_path):
    with (
        SimulatorProcess(tls=False, args=["--access-log", "--log-level", "info"]) as sim,
        sim.client() as client,
    ):
        client.get("login_session", auth=("admin", "Password123#"))
        sim.stop()
    assert "GET /api/rest/login_session" in sim.stderr
    assert sim.stdout.splitlines() == [sim.listening_line]


# -- stopping ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sig",
    [
        signal.SIGTERM,
        pytest.param(
            getattr(signal, "SIGINT", None), marks=pytest.mark.skipif(not POSIX, reason="POSIX signal")
        ),
    ],
    ids=["SIGTERM", "SIGINT"],
)
def test_stop_signal_exits_0_after_the_app_shutdown(tmp_path, sig):
    marker = tmp_path / "lifespan"
    launcher = ("-c", LIFESPAN_PROBE, str(marker))
    with SimulatorProcess(tls=False, launcher=launcher, args=["--volumes", "3"]) as sim:
        assert marker.read_text() == "started"
        with sim.client() as client:
            assert client.get("ping").json() == {"volumes": 3}
        assert sim.stop(sig) == 0
    assert marker.read_text() == "stopped cleanly"
    assert "Traceback" not in sim.stderr
    assert "KeyboardInterrupt" not in sim.stderr


@pytest.mark.parametrize(
    "sig", [signal.SIGTERM, getattr(signal, "SIGINT", signal.SIGTERM)], ids=["TERM", "INT"]
)
@pytest.mark.skipif(not POSIX, reason="POSIX signals")
def test_real_simulator_keeps_a_change_made_just_before_a_stop(tmp_path, sig):
    state = tmp_path / "state.json"
    args = ["--state", str(state)]
    with SimulatorProcess(cert_dir=tmp_path / "certs", args=args) as sim, sim.client() as client:
        _login(client)
        created = client.post("volume", json={"name": "kept-across-restart", "size": 1024**3})
        assert created.status_code == 201, created.text
        assert sim.stop(sig) == 0
    assert "Traceback" not in sim.stderr

    with SimulatorProcess(cert_dir=tmp_path / "certs", args=args) as sim, sim.client() as client:
        _login(client)
        found = client.get("volume", params={"name": "eq.kept-across-restart", "select": "id"}).json()
    assert found == [{"id": created.json()["id"]}]


def _login(client: httpx.Client) -> None:
    response = client.get("login_session", auth=("admin", "Password123#"))
    assert response.status_code == 200, response.text
    client.headers["DELL-EMC-TOKEN"] = response.headers["DELL-EMC-TOKEN"]


@pytest.mark.parametrize("tls", [True, False], ids=["https", "http"])
def test_idle_kept_alive_connections_do_not_hold_up_a_stop(tmp_path, tls):
    with SimulatorProcess(cert_dir=tmp_path, tls=tls) as sim, sim.client() as client:
        client.get("login_session")
        started = time.monotonic()
        assert sim.stop() == 0
        assert time.monotonic() - started < GRACEFUL_SHUTDOWN_SECONDS
        # The server is gone: the next request fails at the transport level instead of hanging.
        with pytest.raises(httpx.TransportError):
            client.get("login_session")
    assert sim.stderr == ""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_unreadable_state_file_is_a_one_line_error(tmp_path):
    state = tmp_path / "state.json"
    state.write_text("not json")
    result = run_cli("--no-tls", "--port", "0", "--state", str(state))
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("powerstore-simulator: error: cannot read the simulator state file")


def test_the_listening_socket_disables_nagle_so_responses_are_not_delayed():
    import socket

    from console.simulator.server import bind_socket

    sock = bind_socket("127.0.0.1", 0)
    try:
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        sock.close()
