"""A request as an equivalent ``curl`` command, secrets left as shell variables ("copy as curl").

The session cookie, the CSRF token and secret body fields (passwords) appear as ``$PS_COOKIE``,
``$PS_TOKEN``, ``$PS_PASSWORD``…, never as their values; the user sets them first, e.g. from a login
made with ``curl -u admin -D - …/login_session``.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from typing import Any

from console.api.redaction import is_secret_key
from console.api.session import COOKIE_NAME, TOKEN_HEADER
from console.api.trust import Trust, TrustMode

COOKIE_VARIABLE = "PS_COOKIE"
TOKEN_VARIABLE = "PS_TOKEN"
PIN_VARIABLE = "PS_PUBKEY_PIN"
WRITE_METHODS = frozenset({"POST", "PATCH", "DELETE", "PUT"})
# Stands for a secret value while the body is encoded; JSON keeps it verbatim.
_MARK = "@@ps-console-secret@@"


def render_curl(
    method: str,
    url: str,
    body: Any = None,
    *,
    trust: Trust | None = None,
    pinned_public_key: str | None = None,
) -> str:
    """The curl command for ``method url`` with a JSON ``body``.

    ``trust`` says how curl should check the certificate: the system store (nothing to add), a CA
    file (``--cacert``), or a pin. curl pins public keys, not certificates, so a pin is rendered as
    ``--pinnedpubkey`` with ``pinned_public_key`` (``sha256//<base64>``), or ``$PS_PUBKEY_PIN`` before
    the client has seen the certificate.
    """
    method = method.upper()
    lines = [f"curl -X {method} {shlex.quote(url)}"]
    lines += _tls_options(trust, pinned_public_key)
    lines.append(f"-H {shlex.quote('Accept: application/json')}")
    lines.append(f'-H "Cookie: {COOKIE_NAME}=${COOKIE_VARIABLE}"')
    if method in WRITE_METHODS:
        lines.append(f'-H "{TOKEN_HEADER}: ${TOKEN_VARIABLE}"')
    if body is not None:
        lines.append(f"-H {shlex.quote('Content-Type: application/json')}")
        lines.append("--data " + _body_argument(body))
    return " \\\n  ".join(lines)


def secret_variable(key: str) -> str:
    return "PS_" + "".join(c if c.isalnum() else "_" for c in key).upper()


def _tls_options(trust: Trust | None, pinned_public_key: str | None) -> list[str]:
    if trust is None or trust.mode is TrustMode.SYSTEM:
        return []
    if trust.mode is TrustMode.CA_FILE:
        return [f"--cacert {shlex.quote(str(trust.ca_path))}"]
    if trust.mode is TrustMode.PINNED:
        if pinned_public_key:
            # curl still refuses any other key; --insecure only skips the CA chain of a self-signed cert.
            return ["--insecure", f"--pinnedpubkey {shlex.quote(pinned_public_key)}"]
        return ["--insecure", f'--pinnedpubkey "${PIN_VARIABLE}"']
    return ["--insecure"]


def _body_argument(body: Any) -> str:
    """The JSON body as one shell word, secret values spliced in as ``"$PS_…"`` variables."""
    variables: list[str] = []
    text = json.dumps(_mark_secrets(body, variables), ensure_ascii=False)
    if not variables:
        return shlex.quote(text)
    pieces = text.split(_MARK)
    word = shlex.quote(pieces[0])
    for variable, piece in zip(variables, pieces[1:], strict=True):
        word += f'"${variable}"' + shlex.quote(piece)
    return word


def _mark_secrets(value: Any, variables: list[str]) -> Any:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if is_secret_key(str(key)) and isinstance(item, str):
                variables.append(secret_variable(str(key)))
                out[key] = _MARK
            else:
                out[key] = _mark_secrets(item, variables)
        return out
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [_mark_secrets(v, variables) for v in value]
    return value
