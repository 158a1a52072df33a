"""Database URLs, engines and migrations; the SQLite and PostgreSQL differences in one place."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import Insert

from swisscheese.config.settings import Settings
from swisscheese.core.errors import SwisscheeseError

if TYPE_CHECKING:
    from alembic.config import Config

DB_ENV = "SWISSCHEESE_DB"
DEFAULT_DB = Path(".swisscheese") / "swisscheese.db"
_MIN_SQLITE = (3, 35, 0)


class StoreError(SwisscheeseError, RuntimeError):
    pass


def resolve_url(url: str | os.PathLike[str] | None = None, *, create: bool = True) -> str:
    """A SQLAlchemy URL from ``--db``, ``SWISSCHEESE_DB`` or the default file.

    A plain path is an SQLite file (its folder is created; with ``create`` False a missing
    file is a StoreError, so a mistyped path is not taken for an empty log); ``postgres://``
    and ``postgresql://`` use psycopg 3.
    """
    raw = str(url) if url is not None else Settings().db or str(DEFAULT_DB)
    if raw.startswith(("postgres://", "postgresql://")):
        return "postgresql+psycopg://" + raw.split("://", 1)[1]
    if "://" in raw:
        return raw
    if raw == ":memory:":
        return "sqlite://"
    path = Path(raw).expanduser().resolve()
    if not create and not path.is_file():
        raise StoreError(f"no database at {raw}")
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def create_engines(url: str) -> tuple[Engine, Engine]:
    """(writer, reader) engines. SQLite writers begin IMMEDIATE; readers never block them."""
    if url in ("sqlite://", "sqlite:///:memory:"):
        # One in-memory database lives in one connection: reads share the writer's. For tests
        # and throwaway use only.
        engine = _sqlite_engine(url, immediate=True)
        return engine, engine
    if url.startswith("sqlite"):
        return _sqlite_engine(url, immediate=True), _sqlite_engine(url, immediate=False)
    engine = create_engine(
        url, pool_pre_ping=True, isolation_level="READ COMMITTED", pool_size=5, max_overflow=5
    )
    return engine, engine


def _sqlite_engine(url: str, *, immediate: bool) -> Engine:
    memory = url in ("sqlite://", "sqlite:///:memory:")
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 30}}
    if memory:
        from sqlalchemy.pool import StaticPool

        kwargs["poolclass"] = StaticPool
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        import sqlite3

        if sqlite3.sqlite_version_info < _MIN_SQLITE:
            raise StoreError(f"SQLite {sqlite3.sqlite_version} is older than 3.35")
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk before it is acknowledged, even across a power cut.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def insert_ignoring_duplicates(engine: Engine, table: Any) -> Insert:
    if engine.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


SCHEMA_HEAD = "0006"  # the newest migration's revision (a test holds it to Alembic's head)


def at_head(engine: Engine) -> bool:
    """Whether the schema is already at the newest revision. Opening an up-to-date store then
    costs one query instead of importing Alembic and loading its scripts (a third of a second
    at every start of a command, the gateway or an MCP proxy)."""
    from sqlalchemy import inspect, text

    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return False
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return list(versions) == [SCHEMA_HEAD]


def alembic_config() -> Config:
    """Alembic's configuration of the store's migrations (one tree for both dialects)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision``, by default the newest."""
    from alembic import command

    config = alembic_config()
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        connection.commit()


_MIGRATION_LOCK = 0x5C15C7EE5E  # PostgreSQL advisory lock id for schema upgrades


class Database:
    """One database: its engines, its dialect, its schema brought up to date on open."""

    def __init__(self, url: str | os.PathLike[str] | None = None, *, create: bool = True) -> None:
        """``create`` False: open an existing database only (for commands that only read)."""
        self.url = resolve_url(url, create=create)
        self.writer, self.reader = create_engines(self.url)
        self.dialect = self.writer.dialect.name
        if at_head(self.reader):
            return
        if self.dialect == "postgresql":
            # Several replicas may start at once: one upgrades, the others wait.
            from sqlalchemy import text

            with self.writer.connect() as conn:
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _MIGRATION_LOCK})
                try:
                    migrate(self.writer)
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _MIGRATION_LOCK})
                    conn.commit()
        else:
            migrate(self.writer)

    def close(self) -> None:
        self.writer.dispose()
        if self.reader is not self.writer:
            self.reader.dispose()
