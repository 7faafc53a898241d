"""The httpx transport of a client: a connection pool whose connections pass the trust check.

httpcore opens a connection in two steps, TCP then ``start_tls``; the request is written only after
both. ``TrustingBackend`` wraps httpcore's network backend so that ``start_tls`` also checks the
certificate (the pin, or a clear error with the presented certificate when verification failed)
before it returns, which is before any request byte, credentials included, is sent.
"""

from __future__ import annotations

import logging
import ssl
from typing import Any

import anyio
import httpcore
import httpx

from console.api.errors import ConnectionLost, TlsTrustError
from console.api.trust import (
    PresentedCertificate,
    Trust,
    TrustMode,
    describe_certificate,
    fetch_certificate,
    peer_der,
)

log = logging.getLogger(__name__)

# Idle kept-alive connections are closed after this long (well inside common server limits).
KEEPALIVE_SECONDS = 30.0


def build_transport(
    trust: Trust, *, max_connections: int
) -> tuple[httpx.AsyncHTTPTransport, TrustingBackend]:
    """An ``httpx.AsyncHTTPTransport`` verifying as ``trust`` says, and its network backend.

    httpx has no public way to give its pool a network backend, so the pool it builds is replaced
    by an equivalent one that has ours; ``_pool`` is what the transport sends through.
    """
    context = trust.ssl_context()
    backend = TrustingBackend(trust)
    limits = httpx.Limits(
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
        keepalive_expiry=KEEPALIVE_SECONDS,
    )
    transport = httpx.AsyncHTTPTransport(verify=context, limits=limits, trust_env=False)
    if not isinstance(getattr(transport, "_pool", None), httpcore.AsyncConnectionPool):
        raise RuntimeError("this httpx builds its transport differently; update console.api.transport")
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=context,
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        http1=True,
        http2=False,
        network_backend=backend,
    )
    return transport, backend


class TrustingBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend with the trust check between handshake and first request byte.

    The method signatures are httpcore's (timeouts are arguments there).
    """

    def __init__(self, trust: Trust, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self.trust = trust
        self.inner = inner if inner is not None else httpcore.AnyIOBackend()
        self.last_certificate: PresentedCertificate | None = None
        """The certificate of the most recent accepted connection."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self.inner.connect_tcp(
            host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )
        return _CheckedStream(stream, self, host, port)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        return await self.inner.connect_unix_socket(path, timeout=timeout, socket_options=socket_options)

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)

    def check(self, stream: httpcore.AsyncNetworkStream, host: str) -> None:
        """Refuse a completed handshake whose certificate is not the pinned one."""
        presented = describe_certificate(peer_der(stream))
        mode = self.trust.mode
        if mode is TrustMode.PINNED and presented.fingerprint != self.trust.fingerprint:
            raise TlsTrustError(
                f"the certificate of {host} is not the trusted one: its SHA-256 fingerprint is "
                f"{presented.fingerprint}, the pinned one is {self.trust.fingerprint}",
                fingerprint=presented.fingerprint,
                subject=presented.subject,
                expected_fingerprint=self.trust.fingerprint,
                host=host,
            )
        if mode is TrustMode.INSECURE:
            log.warning(
                "TLS verification is off: connected to %s without checking its certificate (%s, SHA-256 %s)",
                host,
                presented.subject or "no subject",
                presented.fingerprint,
            )
        self.last_certificate = presented

    async def untrusted(
        self,
        failure: ssl.SSLCertVerificationError,
        host: str,
        port: int,
        timeout: float | None,  # noqa: ASYNC109
    ) -> TlsTrustError:
        """The trust error for a failed verification, with the certificate the array presents
        (read over a second, unverified connection on which nothing is sent)."""
        reason = getattr(failure, "verify_message", None) or str(failure)
        try:
            presented = await fetch_certificate(host, port, timeout=timeout or 10.0, backend=self.inner)
        except (ConnectionLost, TlsTrustError):
            presented = None
        return TlsTrustError(
            f"the certificate of {host} is not trusted ({reason}; checked against {self.trust.describe()})",
            fingerprint=presented.fingerprint if presented else "",
            subject=presented.subject if presented else "",
            host=host,
        )


class _CheckedStream(httpcore.AsyncNetworkStream):
    def __init__(
        self, stream: httpcore.AsyncNetworkStream, backend: TrustingBackend, host: str, port: int
    ) -> None:
        self._stream = stream
        self._backend = backend
        self._host = host
        self._port = port

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        return await self._stream.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        await self._stream.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._stream.aclose()

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> httpcore.AsyncNetworkStream:
        try:
            tls = await self._stream.start_tls(ssl_context, server_hostname, timeout)
        except httpcore.ConnectError as exc:
            failure = _verification_failure(exc)
            if failure is None:
                raise
            raise await self._backend.untrusted(failure, self._host, self._port, timeout) from exc
        except BaseException:
            # httpcore closes the socket on errors but not on cancellation (a view reloaded or the
            # console quitting mid-handshake): close it here, shielded, or it leaks.
            with anyio.CancelScope(shield=True):
                await self._stream.aclose()
            raise
        try:
            self._backend.check(tls, self._host)
        except BaseException:
            await tls.aclose()
            raise
        return tls


def _verification_failure(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLCertVerificationError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
