"""Console users and sign-in: each change and each attempt a recorded event."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from swisscheese.console.auth import (
    DUMMY_HASH,
    Role,
    check_new_password,
    check_password,
    hash_password,
)
from swisscheese.core.errors import SwisscheeseError
from swisscheese.recorder import Recorder
from swisscheese.recorder.events import ConsoleSignIn, ConsoleUserChanged, Event
from swisscheese.store import ConsoleSession, ConsoleUser, UserStore

LOCK_AFTER = 5
"""Consecutive failed sign-ins that lock a user out."""
LOCK_FOR = dt.timedelta(minutes=15)
SESSION_LIFETIME = dt.timedelta(hours=8)


class UserError(SwisscheeseError, ValueError):
    """A user change that cannot apply; nothing changed."""


class SignInRefused(SwisscheeseError):
    """Wrong name or password, or locked out: the page says which only for a lock-out."""

    def __init__(self, message: str, locked: bool = False) -> None:
        super().__init__(message)
        self.locked = locked


@dataclass(frozen=True)
class SignedIn:
    cookie: str
    session: ConsoleSession


class ConsoleUsers:
    def __init__(self, store: UserStore, recorder: Recorder | None) -> None:
        self.store = store
        self.recorder = recorder

    def _record(self, event: Event) -> None:
        if self.recorder is not None:
            self.recorder.record(event)

    # -- administration -----------------------------------------------------------------------

    def add(self, name: str, role: str, password: str, by: str) -> ConsoleUser:
        if not name or len(name) > 64 or not name.replace("-", "").replace("_", "").isalnum():
            raise UserError("a user name is 1-64 letters, digits, '-' or '_'")
        chosen = _role(role)
        check_new_password(password)
        if not self.store.add_user(name, chosen.value, hash_password(password)):
            raise UserError(f"a user named {name!r} exists")
        self._record(ConsoleUserChanged(user=name, change="added", role=chosen.value, by=by))
        user = self.store.user(name)
        assert user is not None
        return user

    def remove(self, name: str, by: str) -> None:
        if not self.store.remove_user(name):
            raise UserError(f"no user named {name!r}")
        self._record(ConsoleUserChanged(user=name, change="removed", by=by))

    def set_role(self, name: str, role: str, by: str) -> None:
        chosen = _role(role)
        if not self.store.set_role(name, chosen.value):
            raise UserError(f"no user named {name!r}")
        self._record(ConsoleUserChanged(user=name, change="role", role=chosen.value, by=by))

    def set_password(self, name: str, password: str, by: str) -> None:
        check_new_password(password)
        if not self.store.set_password(name, hash_password(password)):
            raise UserError(f"no user named {name!r}")
        self.store.end_sessions(name)
        self._record(ConsoleUserChanged(user=name, change="password", by=by))

    # -- sign-in ------------------------------------------------------------------------------

    def sign_in(self, name: str, password: str, address: str | None = None) -> SignedIn:
        user = self.store.user(name)
        now = dt.datetime.now(dt.UTC)
        if user is not None and user.locked_until is not None and user.locked_until > now:
            self._record(ConsoleSignIn(user=name, outcome="refused_locked", address=address))
            raise SignInRefused("too many failed sign-ins: try again later", locked=True)
        if not check_password(password, user.password if user else DUMMY_HASH) or user is None:
            locked = user is not None and self.store.record_failure(name, LOCK_AFTER, LOCK_FOR)
            self._record(
                ConsoleSignIn(
                    user=name[:64], outcome="locked_out" if locked else "failed", address=address
                )
            )
            if locked:
                raise SignInRefused("too many failed sign-ins: try again later", locked=True)
            raise SignInRefused("wrong name or password")
        self.store.record_success(name)
        cookie, _ = self.store.start_session(name, SESSION_LIFETIME)
        session = self.store.session(cookie)
        assert session is not None
        self._record(ConsoleSignIn(user=name, outcome="signed_in", address=address))
        return SignedIn(cookie, session)

    def sign_out(self, cookie: str, user: str) -> None:
        self.store.end_session(cookie)
        self._record(ConsoleSignIn(user=user, outcome="signed_out"))


def _role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise UserError(
            f"unknown role {role!r} (one of: {', '.join(r.value for r in Role)})"
        ) from None
