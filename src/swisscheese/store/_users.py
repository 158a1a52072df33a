"""Console users and their sessions. Passwords arrive hashed (the console's KDF); a session is
stored by the SHA-256 of its cookie value."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update

from swisscheese.store._access import _hash, _now
from swisscheese.store._engine import Database
from swisscheese.store._schema import console_sessions, console_users


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite gives back naive datetimes; every stored one is UTC."""
    return value if value is None or value.tzinfo else value.replace(tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class ConsoleUser:
    name: str
    role: str
    password: str
    """The KDF's encoded hash."""
    failures: int
    locked_until: dt.datetime | None
    created_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    user: str
    role: str
    csrf: str
    expires_at: dt.datetime


class UserStore:
    def __init__(self, db: Database | str | None = None) -> None:
        self.db = db if isinstance(db, Database) else Database(db)

    def close(self) -> None:
        self.db.close()

    # -- users --------------------------------------------------------------------------------

    def add_user(self, name: str, role: str, password_hash: str) -> bool:
        """False when an active user has that name."""
        with self.db.writer.begin() as conn:
            row = conn.execute(
                select(console_users.c.disabled_at).where(console_users.c.name == name)
            ).first()
            values = {
                "role": role,
                "password": password_hash,
                "failures": 0,
                "locked_until": None,
                "created_at": _now(),
                "disabled_at": None,
            }
            if row is None:
                conn.execute(insert(console_users).values(name=name, **values))
                return True
            if row.disabled_at is None:
                return False
            conn.execute(update(console_users).where(console_users.c.name == name).values(**values))
            return True

    def user(self, name: str) -> ConsoleUser | None:
        """The active user ``name``."""
        with self.db.reader.connect() as conn:
            row = conn.execute(
                select(console_users).where(
                    console_users.c.name == name, console_users.c.disabled_at.is_(None)
                )
            ).first()
        return None if row is None else _user(row)

    def users(self) -> list[ConsoleUser]:
        with self.db.reader.connect() as conn:
            rows = conn.execute(
                select(console_users)
                .where(console_users.c.disabled_at.is_(None))
                .order_by(console_users.c.name)
            ).all()
        return [_user(row) for row in rows]

    def set_password(self, name: str, password_hash: str) -> bool:
        return self._update(name, password=password_hash, failures=0, locked_until=None)

    def set_role(self, name: str, role: str) -> bool:
        changed = self._update(name, role=role)
        self.end_sessions(name)  # a changed role takes effect at the next sign-in
        return changed

    def remove_user(self, name: str) -> bool:
        changed = self._update(name, disabled_at=_now())
        self.end_sessions(name)
        return changed

    def record_failure(self, name: str, limit: int, lock_for: dt.timedelta) -> bool:
        """Count a failed sign-in; at ``limit`` consecutive failures the user is locked for
        ``lock_for``. True when this failure locked them."""
        with self.db.writer.begin() as conn:
            row = conn.execute(
                select(console_users.c.failures).where(console_users.c.name == name)
            ).first()
            if row is None:
                return False
            failures = int(row.failures) + 1
            locks = failures >= limit
            conn.execute(
                update(console_users)
                .where(console_users.c.name == name)
                .values(
                    failures=0 if locks else failures,
                    locked_until=_now() + lock_for if locks else None,
                )
            )
        return locks

    def record_success(self, name: str) -> None:
        self._update(name, failures=0, locked_until=None)

    def _update(self, name: str, **values: Any) -> bool:
        with self.db.writer.begin() as conn:
            result = conn.execute(
                update(console_users)
                .where(console_users.c.name == name, console_users.c.disabled_at.is_(None))
                .values(**values)
            )
        return bool(result.rowcount)

    # -- sessions -----------------------------------------------------------------------------

    def start_session(self, user: str, lifetime: dt.timedelta) -> tuple[str, str]:
        """A new session's cookie value and CSRF token (the cookie is not stored)."""
        cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = _now()
        with self.db.writer.begin() as conn:
            conn.execute(delete(console_sessions).where(console_sessions.c.expires_at < now))
            conn.execute(
                insert(console_sessions).values(
                    id_hash=_hash(cookie),
                    user=user,
                    csrf=csrf,
                    created_at=now,
                    expires_at=now + lifetime,
                )
            )
        return cookie, csrf

    def session(self, cookie: str) -> ConsoleSession | None:
        """The live session of a cookie, with its user's current role."""
        s, u = console_sessions, console_users
        with self.db.reader.connect() as conn:
            row = conn.execute(
                select(s.c.user, u.c.role, s.c.csrf, s.c.expires_at)
                .join(u, u.c.name == s.c.user)
                .where(s.c.id_hash == _hash(cookie), u.c.disabled_at.is_(None))
            ).first()
        if row is None:
            return None
        expires = _aware(row.expires_at)
        assert expires is not None
        if expires <= _now():
            return None
        return ConsoleSession(row.user, row.role, row.csrf, expires)

    def end_session(self, cookie: str) -> None:
        with self.db.writer.begin() as conn:
            conn.execute(
                delete(console_sessions).where(console_sessions.c.id_hash == _hash(cookie))
            )

    def end_sessions(self, user: str) -> None:
        with self.db.writer.begin() as conn:
            conn.execute(delete(console_sessions).where(console_sessions.c.user == user))


def _user(row: Any) -> ConsoleUser:
    return ConsoleUser(
        row.name,
        row.role,
        row.password,
        int(row.failures),
        _aware(row.locked_until),
        _aware(row.created_at),
    )
