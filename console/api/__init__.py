"""The console's PowerStore REST client (asyncio, Qt-free).

    from console.api import F, PowerStoreClient, Trust

    async with PowerStoreClient("https://array", "admin", password, verify=Trust.pinned(fp)) as client:
        page = await client.query("volume", select="id,name,size", where=F("size") >= 1 << 30)
        job_id = await client.submit("POST", "volume", {"name": "db01", "size": 8 << 30})

See docs/client.md.
"""

from console.api.client import JOB_FIELDS, PowerStoreClient
from console.api.curl import render_curl
from console.api.errors import (
    ApiError,
    ApiMessage,
    AuthenticationFailed,
    ClientClosed,
    CompletedWithoutJob,
    ConnectionLost,
    NotFound,
    PermissionDenied,
    ServerBusy,
    TlsTrustError,
    ValidationRefused,
)
from console.api.expressions import Expression, F, Order, all_of, any_of
from console.api.paging import Page
from console.api.params import api_root, resource_path
from console.api.session import LoginInfo
from console.api.trust import PresentedCertificate, Trust, TrustMode, fetch_certificate, normalise_fingerprint

__all__ = [
    "JOB_FIELDS",
    "ApiError",
    "ApiMessage",
    "AuthenticationFailed",
    "ClientClosed",
    "CompletedWithoutJob",
    "ConnectionLost",
    "Expression",
    "F",
    "LoginInfo",
    "NotFound",
    "Order",
    "Page",
    "PermissionDenied",
    "PowerStoreClient",
    "PresentedCertificate",
    "ServerBusy",
    "TlsTrustError",
    "Trust",
    "TrustMode",
    "ValidationRefused",
    "all_of",
    "any_of",
    "api_root",
    "fetch_certificate",
    "normalise_fingerprint",
    "render_curl",
    "resource_path",
]
