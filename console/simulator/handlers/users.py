"""Local user accounts and the built-in roles.

Passwords are kept only as salted PBKDF2 hashes in hidden fields (``_password_salt``,
``_password_hash``); ``check_password`` is what login uses.

Seeded accounts (name / password / role):

- ``admin`` / ``Password123#`` / Administrator (built-in; default password, so a change is due)
- ``storage.admin`` / ``Storage#Admin1`` / Storage Administrator
- ``operator`` / ``Operator#Pass1`` / Operator
- ``vm.admin`` / ``VmAdmin#Pass1`` / VM Administrator
- ``security.admin`` / ``Security#Admin1`` / Security Administrator
- ``contractor.ops`` / ``Contract#Pass1`` / Operator, locked

The spec forbids PATCHing the built-in ``admin``. Taken literally, admin could then never leave its
default password, so one exception is made: ``admin`` itself may change its own password with
``current_password`` (and nothing else in the same request). Everything else on ``admin`` is refused.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import Callable
from typing import Any

from console.simulator import errors
from console.simulator.config import DEFAULT_PASSWORD, DEFAULT_USER
from console.simulator.handlers.common import require_free_name, target
from console.simulator.operations import (
    ADMINISTRATOR,
    OPERATOR,
    SECURITY_ADMIN,
    STORAGE_ADMIN,
    USER_ROLES,
    VM_ADMIN,
    OpRequest,
    OpResult,
    Sim,
    created,
    done,
    operation,
)
from console.simulator.store import Record

ALL_ROLES = frozenset({ADMINISTRATOR, STORAGE_ADMIN, OPERATOR, VM_ADMIN, SECURITY_ADMIN})

# Short descriptions of our own (the spec's prose is not reused).
ROLES: tuple[tuple[str, str, str], ...] = (
    (ADMINISTRATOR, "Administrator", "Full control of the system, its users and its settings."),
    (STORAGE_ADMIN, "Storage Administrator", "Manages storage resources and their protection."),
    (OPERATOR, "Operator", "Views configuration and status; acknowledges alerts."),
    (VM_ADMIN, "VM Administrator", "Connects a vCenter to the system and views its storage."),
    (SECURITY_ADMIN, "Security Administrator", "Manages user accounts and security settings."),
)

SEED_USERS: tuple[tuple[str, str, str, bool], ...] = (
    ("storage.admin", "Storage#Admin1", STORAGE_ADMIN, False),
    ("operator", "Operator#Pass1", OPERATOR, False),
    ("vm.admin", "VmAdmin#Pass1", VM_ADMIN, False),
    ("security.admin", "Security#Admin1", SECURITY_ADMIN, False),
    ("contractor.ops", "Contract#Pass1", OPERATOR, True),
)

NAME_PATTERN = re.compile(r"[A-Za-z0-9.]{1,64}")
PASSWORD_SPECIALS = "!@#$%^*?_~"
PASSWORD_CHARS = re.compile(r"[A-Za-z0-9" + re.escape(PASSWORD_SPECIALS) + r"]*")
PASSWORD_MIN, PASSWORD_MAX = 8, 40
# Login checks a password on every session start; a modest work factor keeps tests and seeding fast
# while still never storing anything reversible.
PBKDF2_ITERATIONS = 20_000
SALT_BYTES = 16


# -- passwords ----------------------------------------------------------------------------------------


def _hash(password: str, salt: bytes) -> str:
    return hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, PBKDF2_ITERATIONS).hex()


def password_fields(
    sim: Sim, password: str, *, digest: Callable[[str, bytes], str] = _hash
) -> dict[str, str]:
    """The hidden fields that store ``password`` (a fresh salt from the simulator's random source)."""
    salt = sim.rng.randbytes(SALT_BYTES)
    return {"_password_salt": salt.hex(), "_password_hash": digest(password, salt)}


def check_password(sim: Sim, user_record: Record, password: str) -> bool:
    """Whether ``password`` is the account's password (constant-time comparison)."""
    salt_hex = user_record.get("_password_salt")
    stored = user_record.get("_password_hash")
    if not isinstance(salt_hex, str) or not isinstance(stored, str):
        return False
    try:
        salt = bytes.fromhex(salt_hex)
    except ValueError:
        return False
    return hmac.compare_digest(_hash(password, salt), stored)


def set_password(sim: Sim, user_id: str, password: str, *, is_default: bool = False) -> Record:
    """Store a new password for the account (no rule checks: callers validate first)."""
    return sim.update(
        "local_user", user_id, {**password_fields(sim, password), "is_default_password": is_default}
    )


def password_problem(password: str) -> str | None:
    """Why ``password`` breaks the account password rules, or None when it is acceptable."""
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        return f"A password must have {PASSWORD_MIN} to {PASSWORD_MAX} characters."
    if not PASSWORD_CHARS.fullmatch(password):
        return f"A password may contain only letters, digits and the characters {PASSWORD_SPECIALS}."
    missing = [
        what
        for what, ok in (
            ("an upper-case letter", any(c.isupper() for c in password)),
            ("a lower-case letter", any(c.islower() for c in password)),
            ("a digit", any(c.isdigit() for c in password)),
            (f"one of {PASSWORD_SPECIALS}", any(c in PASSWORD_SPECIALS for c in password)),
        )
        if not ok
    ]
    if missing:
        return "A password needs at least " + ", ".join(missing) + "."
    return None


def _require_good_password(password: str) -> None:
    problem = password_problem(password)
    if problem is not None:
        raise errors.bad_request(problem, code=errors.CODE_INVALID_VALUE)


# -- handlers -----------------------------------------------------------------------------------------


def _caller_record(sim: Sim, req: OpRequest) -> Record | None:
    return sim.store.find_by_name("local_user", req.caller.user)


def _is_builtin_admin(user: Record) -> bool:
    return bool(user.get("is_built_in")) and user.get("name") == DEFAULT_USER


@operation("local_user", "create", roles=USER_ROLES)
def create_local_user(sim: Sim, req: OpRequest) -> OpResult:
    body = req.body
    name = body["name"]
    if not NAME_PATTERN.fullmatch(name):
        raise errors.bad_request(
            "A user name has 1 to 64 characters: letters, digits and dots.",
            name,
            code=errors.CODE_INVALID_VALUE,
        )
    _require_good_password(body["password"])
    role = sim.store.require("role", body["role_id"], allow_name=False)
    require_free_name(sim, "local_user", name)
    user = sim.insert(
        "local_user",
        id=sim.new_id(),
        name=name,
        role_id=role["id"],
        is_built_in=False,
        is_locked=False,
        is_default_password=False,
        is_mfa_bypass=bool(body.get("is_mfa_bypass", False)),
        password_expiration_timestamp=None,
        mfa_alias=None,
        **password_fields(sim, body["password"]),
    )
    return created(user)


@operation("local_user", "modify", roles=ALL_ROLES)
def modify_local_user(sim: Sim, req: OpRequest) -> OpResult:
    # Every role may reach this handler (anyone changes their own password); the rest is checked here.
    user = target(sim, req)
    body = req.body
    is_self = user["name"] == req.caller.user
    if not is_self and req.caller.role_id not in USER_ROLES:
        raise errors.fault(
            403,
            errors.CODE_FORBIDDEN,
            f"Only an Administrator or Security Administrator may change {user['name']}.",
        )
    if _is_builtin_admin(user):
        _check_admin_patch(req, is_self)
    changes: dict[str, Any] = {}
    if "role_id" in body:
        role = sim.store.require("role", body["role_id"], allow_name=False)
        if is_self and role["id"] != user["role_id"]:
            raise errors.unprocessable("You cannot change the role of the account you are logged in with.")
        changes["role_id"] = role["id"]
    if "is_locked" in body:
        if is_self and body["is_locked"]:
            raise errors.unprocessable("You cannot lock the account you are logged in with.")
        changes["is_locked"] = body["is_locked"]
    if "is_mfa_bypass" in body:
        changes["is_mfa_bypass"] = body["is_mfa_bypass"]
    if "password" in body:
        changes.update(_password_change(sim, user, body, is_self))
    elif "current_password" in body:
        raise errors.bad_request(
            "current_password is only used together with password.", code=errors.CODE_INVALID_VALUE
        )
    if changes:
        user = sim.update("local_user", user["id"], changes)
    return done(user)


def _check_admin_patch(req: OpRequest, is_self: bool) -> None:
    """The built-in admin: only its own password change (see the module docstring)."""
    if is_self and set(req.body) <= {"password", "current_password"} and "password" in req.body:
        return
    raise errors.unprocessable(
        f"The built-in {DEFAULT_USER} account cannot be modified, except its own password change.",
        DEFAULT_USER,
    )


def _password_change(sim: Sim, user: Record, body: dict[str, Any], is_self: bool) -> dict[str, Any]:
    new = body["password"]
    _require_good_password(new)
    if is_self:
        current = body.get("current_password")
        if current is None:
            raise errors.bad_request(
                "Changing your own password needs current_password.",
                "current_password",
                code=errors.CODE_MISSING_REQUIRED,
            )
        if not check_password(sim, user, current):
            raise errors.unprocessable("The current password is not correct.")
    if check_password(sim, user, new):
        raise errors.unprocessable("The new password must differ from the current one.")
    return {**password_fields(sim, new), "is_default_password": False}


@operation("local_user", "delete", roles=USER_ROLES)
def delete_local_user(sim: Sim, req: OpRequest) -> OpResult:
    user = target(sim, req)
    if _is_builtin_admin(user):
        raise errors.unprocessable(f"The built-in {DEFAULT_USER} account cannot be deleted.", DEFAULT_USER)
    if user["name"] == req.caller.user:
        raise errors.unprocessable("You cannot delete the account you are logged in with.", user["name"])
    sim.store.delete("local_user", user["id"])
    return done(user)


# -- seed ---------------------------------------------------------------------------------------------


def seed(sim: Sim) -> None:
    """The five built-in roles and a few local accounts (see the module docstring)."""
    for role_id, name, description in ROLES:
        sim.insert("role", id=role_id, name=name, is_built_in=True, description=description)
    _seed_user(sim, DEFAULT_USER, DEFAULT_PASSWORD, ADMINISTRATOR, locked=False, built_in=True)
    for name, password, role_id, locked in SEED_USERS:
        _seed_user(sim, name, password, role_id, locked=locked, built_in=False)


# The seed passwords are public (above) and their salts follow from --seed, so their hashes can be
# reused across the many simulators a test run creates; login and changes never use this cache.
_seed_hash = functools.cache(_hash)


def _seed_user(sim: Sim, name: str, password: str, role_id: str, *, locked: bool, built_in: bool) -> None:
    sim.insert(
        "local_user",
        id=sim.new_id(),
        name=name,
        role_id=role_id,
        is_built_in=built_in,
        is_locked=locked,
        # Only the built-in account ships with a factory password that must be changed.
        is_default_password=built_in and password == DEFAULT_PASSWORD,
        is_mfa_bypass=False,
        password_expiration_timestamp=None,
        mfa_alias=None,
        **password_fields(sim, password, digest=_seed_hash),
    )
