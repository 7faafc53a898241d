"""Start the simulator as a real child process (``python -m console.simulator``) for tests.

    with SimulatorProcess(cert_dir=tmp_path / "certs", args=["--control"]) as sim:
        with sim.client() as client:
            client.get("login_session", auth=("admin", "Password123#"))

``base_url`` is the API root the simulator printed (``https://127.0.0.1:PORT/api/rest``);
``origin`` is scheme, host and port alone (for ``/__control/...``).
"""

from __future__ import annotations

import os
import re
import signal
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]
LISTENING = re.compile(
    r"listening on (?P<url>(?P<origin>https?://\S+?)/api/rest)(?: \(CA certificate: (?P<ca>.+)\))?$"
)


class SimulatorStartError(RuntimeError):
    pass


class SimulatorProcess:
    """A simulator child process listening on a free loopback port.

    ``args`` are extra command-line flags. ``tls=False`` adds ``--no-tls``. ``port`` defaults to 0.
    ``launcher`` replaces ``-m console.simulator`` (e.g. ``-c SCRIPT`` running a patched simulator).
    """

    def __init__(
        self,
        cert_dir: Path | None = None,
        args: Sequence[str] = (),
        *,
        tls: bool = True,
        port: int = 0,
        startup_timeout: float = 30.0,
        env: dict[str, str] | None = None,
        launcher: Sequence[str] = ("-m", "console.simulator"),
    ) -> None:
        if tls and cert_dir is None:
            raise ValueError(
                "cert_dir is required with TLS, so tests never touch the user's own certificates"
            )
        self.command = [sys.executable, *launcher, "--port", str(port)]
        if cert_dir is not None:
            self.command += ["--cert-dir", str(cert_dir)]
        if not tls:
            self.command.append("--no-tls")
        self.command += list(args)
        self.startup_timeout = startup_timeout
        self.env = env
        self.process: subprocess.Popen[str] | None = None
        self.base_url = ""
        self.origin = ""
        self.ca_path: Path | None = None
        self.listening_line = ""
        self._stdout: list[str] = []
        self._stderr: list[str] = []
        self._listening = threading.Event()
        self._readers: list[threading.Thread] = []

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> SimulatorProcess:
        env = dict(os.environ if self.env is None else self.env)
        # The child must import this checkout's package whether or not it is installed.
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        env.setdefault("PYTHONUNBUFFERED", "1")
        self.process = subprocess.Popen(
            self.command,
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        # Both pipes are drained all the time, so a chatty child never blocks on a full pipe.
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        self._readers = [
            threading.Thread(target=self._read, args=(self.process.stdout, self._stdout, True), daemon=True),
            threading.Thread(target=self._read, args=(self.process.stderr, self._stderr, False), daemon=True),
        ]
        for reader in self._readers:
            reader.start()
        deadline = time.monotonic() + self.startup_timeout
        while not self._listening.wait(0.05):
            if self.process.poll() is not None:
                self._join_readers()
                status = self.process.returncode
                raise SimulatorStartError(
                    f"the simulator exited with {status} before listening\n{self._describe()}"
                )
            if time.monotonic() > deadline:
                self.kill()
                raise SimulatorStartError(
                    f"the simulator did not listen within {self.startup_timeout} s\n{self._describe()}"
                )
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0, expect: int | None = 0) -> int:
        """Ask the simulator to stop with ``sig``, wait, check its exit status (unless ``expect`` is None)."""
        process = self._running()
        if process.poll() is None:
            if sys.platform == "win32" and sig != signal.SIGTERM:
                raise NotImplementedError("only SIGTERM (terminate) can be sent on Windows")
            process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"the simulator did not stop within {timeout} s\n{self._describe()}"
            ) from None
        self._join_readers()
        if expect is not None:
            assert process.returncode == expect, (
                f"the simulator exited with {process.returncode}, expected {expect}\n{self._describe()}"
            )
        return process.returncode

    def kill(self) -> None:
        process = self._running()
        if process.poll() is None:
            process.kill()
        process.wait(10)
        self._join_readers()

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def __enter__(self) -> SimulatorProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        if exc_type is None:
            self.stop()
        else:
            self.kill()

    # -- output ----------------------------------------------------------------------------------------

    @property
    def stdout(self) -> str:
        return "".join(self._stdout)

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)

    # -- clients ---------------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return httpx.URL(self.origin).port or 0

    def ssl_context(self) -> ssl.SSLContext:
        """A client context trusting only the simulator's CA."""
        if self.ca_path is None:
            raise ValueError("the simulator runs without TLS")
        return ssl.create_default_context(cafile=str(self.ca_path))

    @property
    def verify(self) -> ssl.SSLContext | bool:
        return self.ssl_context() if self.ca_path is not None else True

    def client(self, **kwargs: Any) -> httpx.Client:
        """An httpx client for the API root, trusting the simulator's CA."""
        kwargs.setdefault("base_url", self.base_url + "/")
        kwargs.setdefault("verify", self.verify)
        kwargs.setdefault("timeout", 10.0)
        return httpx.Client(**kwargs)

    def async_client(self, **kwargs: Any) -> httpx.AsyncClient:
        kwargs.setdefault("base_url", self.base_url + "/")
        kwargs.setdefault("verify", self.verify)
        kwargs.setdefault("timeout", 10.0)
        return httpx.AsyncClient(**kwargs)

    # -- internals -------------------------------------------------------------------------------------

    def _running(self) -> subprocess.Popen[str]:
        if self.process is None:
            raise RuntimeError("the simulator was not started")
        return self.process

    def _read(self, stream: Any, sink: list[str], watch: bool) -> None:
        for line in stream:
            sink.append(line)
            if watch and not self._listening.is_set():
                match = LISTENING.search(line.rstrip("\r\n"))
                if match:
                    self.listening_line = line.rstrip("\r\n")
                    self.base_url = match["url"]
                    self.origin = match["origin"]
                    self.ca_path = Path(match["ca"]) if match["ca"] else None
                    self._listening.set()
        stream.close()

    def _join_readers(self) -> None:
        for reader in self._readers:
            reader.join(10)

    def _describe(self) -> str:
        return (
            f"command: {' '.join(self.command)}\n--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"
        )
