"""``--demo``: the embedded simulator as a child process on a free loopback port.

The child is ``python -m console.simulator --host 127.0.0.1 --port 0`` with its certificates in the
per-user data directory; it prints the port it got and the path of the CA it created, and the
console trusts exactly that CA. Both output pipes are drained by reader threads (a chatty child
never blocks on a full pipe); ``stop()`` ends the child (SIGTERM, then kill) and is also registered
with ``atexit`` so that an abnormal exit of the console does not leave it behind. No Qt here.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import ctypes
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import console
from console import paths

# The simulator's seeded account (console.simulator.config; not imported: it would load the server).
DEMO_USER = "admin"
DEMO_PASSWORD = "Password123#"
DEMO_NAME = "Demo array"
DEMO_VOLUMES = 250
STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
PR_SET_PDEATHSIG = 1

_LISTENING = re.compile(
    r"listening on (?P<url>(?P<origin>https://\S+?)/api/rest) \(CA certificate: (?P<ca>.+)\)\s*$"
)


def _end_with_parent() -> None:
    """In the child, before exec (Linux): get SIGTERM when the console dies, even by SIGKILL,
    which ``atexit`` cannot cover."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # best effort: atexit and stop() still end the child in every ordinary case


class DemoError(RuntimeError):
    """The demo simulator could not start; the message is meant for the user."""


@dataclass(frozen=True)
class DemoArray:
    origin: str
    """``https://127.0.0.1:PORT``."""
    ca_path: Path
    user: str = DEMO_USER
    password: str = DEMO_PASSWORD

    @property
    def host(self) -> str:
        return self.origin.removeprefix("https://")


class DemoSimulator:
    """A simulator child process. ``await start()`` returns where it listens; ``stop()`` ends it."""

    def __init__(
        self,
        *,
        cert_dir: Path | None = None,
        volumes: int = DEMO_VOLUMES,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.cert_dir = cert_dir if cert_dir is not None else paths.demo_cert_dir()
        self.command = [
            sys.executable,
            "-m",
            "console.simulator",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--cert-dir",
            str(self.cert_dir),
            "--volumes",
            str(volumes),
            *extra_args,
        ]
        self.process: subprocess.Popen[str] | None = None
        self.array: DemoArray | None = None
        self._output: collections.deque[str] = collections.deque(maxlen=40)
        self._ready = threading.Event()
        self._readers: list[threading.Thread] = []

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    async def start(self, timeout: float = STARTUP_TIMEOUT) -> DemoArray:  # noqa: ASYNC109
        """Start the child and wait (without blocking the loop) until it listens."""
        self.launch()
        deadline = time.monotonic() + timeout
        while not self._ready.is_set():
            assert self.process is not None
            if self.process.poll() is not None:
                self._join()
                raise DemoError(
                    f"the demo simulator exited with status {self.process.returncode} before it was ready"
                    f"{self._tail()}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise DemoError(f"the demo simulator did not start within {timeout:g} s{self._tail()}")
            await asyncio.sleep(0.05)
        assert self.array is not None
        return self.array

    def launch(self) -> None:
        if self.process is not None:
            raise RuntimeError("the demo simulator was started already")
        try:
            paths.ensure_dir(self.cert_dir)
        except OSError as exc:
            raise DemoError(
                f"cannot use {self.cert_dir} for the demo certificates: {exc.strerror or exc}"
            ) from exc
        env = dict(os.environ)
        # The child imports this very package, whether it is installed or run from a checkout.
        package_root = str(Path(console.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        env["PYTHONUNBUFFERED"] = "1"
        try:
            self.process = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                encoding="utf-8",
                errors="replace",
                env=env,
                preexec_fn=_end_with_parent if sys.platform.startswith("linux") else None,
            )
        except OSError as exc:
            raise DemoError(f"cannot start the demo simulator: {exc.strerror or exc}") from exc
        atexit.register(self.stop)
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        self._readers = [
            threading.Thread(target=self._read, args=(self.process.stdout, True), daemon=True),
            threading.Thread(target=self._read, args=(self.process.stderr, False), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """End the child (politely, then by force) and wait for it. Returns its exit status."""
        process = self.process
        if process is None:
            return None
        atexit.unregister(self.stop)
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        self._join()
        return process.returncode

    def _read(self, stream: IO[str], watch: bool) -> None:
        for line in stream:
            text = line.rstrip("\r\n")
            self._output.append(text)
            if watch and not self._ready.is_set():
                match = _LISTENING.search(text)
                if match:
                    self.array = DemoArray(origin=match["origin"], ca_path=Path(match["ca"]))
                    self._ready.set()
        stream.close()

    def _join(self) -> None:
        for reader in self._readers:
            reader.join(5)

    def _tail(self) -> str:
        lines = [line for line in self._output if line.strip()]
        return (":\n" + "\n".join(lines[-10:])) if lines else "."
