"""Keeping secrets out of logs: passwords in bodies, and the session's cookie, token and credentials.

The client itself only ever logs redacted headers and bodies. httpcore, underneath httpx, logs
whole response headers (``Set-Cookie``, ``DELL-EMC-TOKEN``) at DEBUG; ``install_log_redaction``
puts a filter on its loggers that masks them, so turning on DEBUG everywhere leaks nothing.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from typing import Any

MASK = "***"
# Debug logs show at most this much of a body.
MAX_LOGGED_BODY = 4000

SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie", "dell-emc-token"})
# A body key is secret when its name contains one of these (password, current_password,
# chap_single_password, domain_password, secret_key, passphrase...).
_SECRET_WORDS = ("password", "passwd", "secret", "passphrase", "token", "private_key", "credential")

# Header tuples in httpcore's trace lines: (b'set-cookie', b'auth_cookie=...').
_TRACE_HEADER = re.compile(
    r"""\((b?)(['"])(authorization|proxy-authorization|cookie|set-cookie|dell-emc-token)\2,\s*b?(['"]).*?(?<!\\)\4\)""",
    re.IGNORECASE,
)
_COOKIE_VALUE = re.compile(r"(auth_cookie=)[^;\s'\"]+", re.IGNORECASE)
_BASIC = re.compile(r"(Basic\s+)[A-Za-z0-9+/=]{8,}")
_LOGGERS = ("httpcore", "httpcore.http11", "httpcore.http2", "httpcore.connection", "httpcore.proxy", "httpx")


def is_secret_key(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in _SECRET_WORDS)


def redact(value: Any) -> Any:
    """A copy of a JSON value with the values of secret keys masked, at any depth."""
    if isinstance(value, dict):
        return {k: (MASK if is_secret_key(str(k)) and v is not None else redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def redact_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, MASK if k.lower() in SECRET_HEADERS else v) for k, v in headers]


def body_for_log(content: bytes | None) -> str:
    """A body as a debug log shows it: JSON with secrets masked, cut to a readable length."""
    if not content:
        return "(no body)"
    try:
        shown = json.dumps(redact(json.loads(content)), ensure_ascii=False)
    except (ValueError, UnicodeDecodeError):
        shown = scrub(content.decode("utf-8", errors="replace"))
    if len(shown) > MAX_LOGGED_BODY:
        shown = shown[:MAX_LOGGED_BODY] + f"… ({len(content)} bytes)"
    return shown


def scrub(text: str) -> str:
    """Text with session cookies, secret header values and Basic credentials masked."""
    text = _TRACE_HEADER.sub(lambda m: f"({m[1]}{m[2]}{m[3]}{m[2]}, b'{MASK}')", text)
    text = _COOKIE_VALUE.sub(rf"\g<1>{MASK}", text)
    return _BASIC.sub(rf"\g<1>{MASK}", text)


class RedactingFilter(logging.Filter):
    """Masks secrets in every record of the logger it is attached to (records pass, rewritten)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        cleaned = scrub(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        return True


def install_log_redaction() -> None:
    """Attach ``RedactingFilter`` to the HTTP libraries' loggers (once; safe to call often)."""
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())
