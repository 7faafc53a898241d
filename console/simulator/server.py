"""Serving the simulator app over HTTPS (or plain HTTP) with uvicorn, until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import signal
import socket
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.server import HANDLED_SIGNALS

from console.simulator.app import create_app
from console.simulator.config import SimulatorConfig
from console.simulator.faults import quiet_injected_disconnects
from console.simulator.tls import CertificatePaths, default_cert_dir, ensure_certificates

API_PATH = "/api/rest"
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
# Requests still running when a stop is asked for get this long before they are cancelled.
GRACEFUL_SHUTDOWN_SECONDS = 5
# How long a connection already told to close may take to do so before it is cut.
LINGER_SECONDS = 0.5


class ServerError(Exception):
    """The server cannot start; the message is one line meant for the user."""


@dataclass
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8443
    tls: bool = True
    cert_dir: Path | None = None
    """Where the CA and server certificate live (None: the per-user default)."""
    log_level: str = "warning"
    access_log: bool = False


def api_url(scheme: str, host: str, port: int) -> str:
    return f"{scheme}://{_authority(host, port)}{API_PATH}"


def _authority(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def listening_line(url: str, certificates: CertificatePaths | None) -> str:
    if certificates is None:
        return f"listening on {url}"
    return f"listening on {url} (CA certificate: {certificates.ca_cert})"


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket; binding here rather than in uvicorn makes port 0's real port known."""
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ServerError(f"cannot listen on {host}: {exc.strerror}") from exc
    family = infos[0][0]
    address = infos[0][4][:2]
    try:
        # create_server sets SO_REUSEADDR where that does not let another process steal the port.
        sock = socket.create_server(address, family=family)
    except OSError as exc:
        where = _authority(host, port)
        if exc.errno == errno.EADDRINUSE or getattr(exc, "winerror", None) == 10048:
            raise ServerError(f"cannot listen on {where}: the port is already in use") from exc
        raise ServerError(f"cannot listen on {where}: {exc.strerror or exc}") from exc
    # Accepted connections inherit this. Without it a response written in two parts (headers, then
    # body) waits for the client's delayed ACK: about 40 ms on every request.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def log_config(level: str) -> dict[str, Any]:
    """Everything to stderr, so stdout carries only the listening line a parent process waits for."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"}
        },
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
            "uvicorn.error": {"level": level.upper()},
            "uvicorn.access": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
            "console": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
        },
    }


class SimulatorServer(uvicorn.Server):
    """uvicorn's server, telling when it listens and ending with exit status 0 on a stop signal."""

    def __init__(
        self,
        config: uvicorn.Config,
        on_started: Callable[[], None] | None = None,
        *,
        handle_signals: bool = True,
    ) -> None:
        super().__init__(config)
        self._on_started = on_started
        self._handle_signals = handle_signals

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self._on_started is not None:
            self._on_started()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        reaper = asyncio.create_task(self._abort_lingering_closes())
        try:
            await super().shutdown(sockets)
        finally:
            reaper.cancel()

    async def _abort_lingering_closes(self) -> None:
        # Closing an idle kept-alive TLS connection waits for the client's close_notify, which a client
        # not reading its idle socket never sends: without this a stop would hang until the graceful
        # timeout and log an error. Connections still answering a request are not closing yet.
        while True:
            await asyncio.sleep(LINGER_SECONDS)
            for connection in list(self.server_state.connections):
                transport = getattr(connection, "transport", None)
                if transport is not None and transport.is_closing():
                    transport.abort()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # uvicorn raises a caught signal again after its shutdown, so the process would end by
        # KeyboardInterrupt or by SIGTERM itself; a requested stop is a success here.
        if not self._handle_signals or threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in HANDLED_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def serve(
    config: SimulatorConfig,
    settings: ServerSettings,
    *,
    announce: Callable[[str], None] | None = None,
) -> None:
    """Serve the simulator until a stop signal; ``announce`` gets the listening line once it listens.

    Raises ``ServerError`` (port taken, certificates unusable...) or ``CertificateError``.
    """
    certificates = None
    if settings.tls:
        cert_dir = settings.cert_dir if settings.cert_dir is not None else default_cert_dir()
        certificates = ensure_certificates(cert_dir, hosts=[settings.host])
    sock = bind_socket(settings.host, settings.port)
    try:
        try:
            app = create_app(config)
        except SystemExit as exc:
            # The app refuses a state file it cannot read this way, with the reason as the code.
            raise ServerError(str(exc.code)) from exc
        port = sock.getsockname()[1]
        url = api_url("https" if certificates else "http", settings.host, port)
        line = listening_line(url, certificates)

        def started() -> None:
            if announce is not None:
                announce(line)
            else:
                print(line, flush=True)

        uvicorn_config = uvicorn.Config(
            app,
            log_config=log_config(settings.log_level),
            log_level=settings.log_level,
            access_log=settings.access_log,
            # h11 on every machine, whether or not httptools happens to be installed: same behaviour.
            http="h11",
            ws="none",
            lifespan="on",
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
            server_header=False,
            ssl_certfile=str(certificates.server_cert) if certificates else None,
            ssl_keyfile=str(certificates.server_key) if certificates else None,
        )
        uvicorn_config.load()
        quiet_injected_disconnects()
        server = SimulatorServer(uvicorn_config, started)
        try:
            asyncio.run(server.serve(sockets=[sock]))
        except SystemExit as exc:
            # uvicorn exits this way when the app's startup fails, after logging why.
            raise ServerError("the simulator app failed to start (see the log above)") from exc
    finally:
        sock.close()
