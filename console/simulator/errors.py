"""Refusals in the PowerStore error shape (``error_response``: a list of messages)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SEVERITY_L10N = {"Info": "Info", "Warning": "Warning", "Error": "Error"}

# Message codes. Those the reference documents are used as documented; the others follow the same
# 0xE0... form and are stable within this simulator.
CODE_UNKNOWN_PROPERTY = "0xE04040030001"
CODE_BAD_REQUEST = "0xE04040010001"
CODE_INVALID_VALUE = "0xE04040030002"
CODE_MISSING_REQUIRED = "0xE04040030003"
CODE_BAD_JSON = "0xE04040030004"
CODE_BAD_FILTER = "0xE04040030005"
CODE_RANGE = "0xE04040030006"
CODE_NOT_FOUND = "0xE04040020001"
CODE_JOB_NOT_FOUND = "0xE04040020009"
CODE_VOLUME_NOT_FOUND = "0xE0A07001000C"
CODE_NAME_IN_USE = "0xE0A070010010"
CODE_HOST_GROUP_NAME_IN_USE = "0xE0A030010010"
CODE_IN_USE = "0xE0A070010020"
CODE_VOLUME_NOT_MAPPED = "0xE0A08001000F"
CODE_FS_HAS_SNAPSHOTS = "0xE08010080003"
CODE_UNAUTHENTICATED = "0xE09040010001"
CODE_SESSION_EXPIRED = "0xE09040010002"
CODE_FORBIDDEN = "0xE09040020001"
CODE_CSRF = "0xE09040020002"
CODE_METHOD_NOT_ALLOWED = "0xE04040010005"
CODE_NOT_ACCEPTABLE = "0xE04040010006"
CODE_UNSUPPORTED_MEDIA = "0xE04040010007"
CODE_BODY_TOO_LARGE = "0xE04040010008"
CODE_BUSY = "0xE04040050001"
CODE_INTERNAL = "0xE04040060001"
CODE_RULE = "0xE0A0700100FF"


@dataclass(frozen=True)
class Message:
    code: str
    text: str
    arguments: tuple[str, ...] = ()
    severity: str = "Error"

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "code": self.code,
            "severity": self.severity,
            "message_l10n": self.text,
            "severity_l10n": SEVERITY_L10N.get(self.severity, self.severity),
        }
        if self.arguments:
            body["arguments"] = list(self.arguments)
        return body


@dataclass
class ApiFault(Exception):
    """A refusal: raised anywhere in the simulator, answered as ``error_response`` with ``status``."""

    status: int
    messages: list[Message] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.status}: " + "; ".join(m.text for m in self.messages)

    def to_json(self) -> dict[str, Any]:
        return {"messages": [m.to_json() for m in self.messages]}


def fault(status: int, code: str, text: str, *arguments: object) -> ApiFault:
    return ApiFault(status, [Message(code, text, tuple(str(a) for a in arguments))])


def bad_request(text: str, *arguments: object, code: str = CODE_BAD_REQUEST) -> ApiFault:
    return fault(400, code, text, *arguments)


def not_found(text: str, *arguments: object, code: str = CODE_NOT_FOUND) -> ApiFault:
    return fault(404, code, text, *arguments)


def unprocessable(text: str, *arguments: object, code: str = CODE_RULE) -> ApiFault:
    return fault(422, code, text, *arguments)
