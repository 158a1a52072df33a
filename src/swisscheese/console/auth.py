"""Console roles and passwords: what each role may do, and a memory-hard password hash
(scrypt, 64 MiB per hash) so a stolen user table costs an attacker dearly per guess."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from enum import StrEnum

from swisscheese.core.errors import SwisscheeseError

# scrypt cost: N=2^16, r=8 (128 * N * r bytes = 64 MiB), p=1; about 0.2 s per hash here.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 1 << 16, 8, 1
MIN_PASSWORD = 12


class Role(StrEnum):
    VIEWER = "viewer"
    APPROVER = "approver"
    ADMIN = "admin"


class Permission(StrEnum):
    VIEW = "view"
    DECIDE = "decide"
    """Approve or deny an escalated request."""
    HALT = "halt"
    """Halt or resume a deployment."""


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset({Permission.VIEW}),
    Role.APPROVER: frozenset({Permission.VIEW, Permission.DECIDE}),
    Role.ADMIN: frozenset(Permission),
}


class PasswordError(SwisscheeseError, ValueError):
    """A password that may not be set."""


def may(role: str, permission: Permission) -> bool:
    try:
        return permission in GRANTS[Role(role)]
    except ValueError:
        return False  # a role this version does not know grants nothing


def check_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise PasswordError(f"a console password has at least {MIN_PASSWORD} characters")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * n * r * p, dklen=32
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str) -> str:
    """``scrypt$N$r$p$salt$hash`` (base64): the cost travels with the hash, so it can be
    raised later without breaking stored passwords."""
    salt = os.urandom(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def check_password(password: str, encoded: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        if scheme != "scrypt":
            return False
        found = _scrypt(password, _unb64(salt), int(n), int(r), int(p))
        return hmac.compare_digest(found, _unb64(digest))
    except ValueError:
        return False


# Checked when a name is unknown, so a wrong name costs as long as a wrong password (no user
# enumeration by timing).
DUMMY_HASH = "scrypt$65536$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
