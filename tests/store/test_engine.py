"""Opening a store: an up-to-date schema is opened without Alembic; an older one is upgraded."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from swisscheese.store import Database, _engine


def version(url: str) -> list[str]:
    engine = create_engine(url)
    with engine.connect() as conn:
        found = list(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
    engine.dispose()
    return found


def test_the_known_head_is_alembics_newest_migration() -> None:
    head = ScriptDirectory.from_config(_engine.alembic_config()).get_current_head()
    assert head == _engine.SCHEMA_HEAD


def test_an_up_to_date_store_opens_without_migrating(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "log.db"
    Database(path).close()
    assert version(f"sqlite:///{path}") == [_engine.SCHEMA_HEAD]

    def no_migration(engine: object) -> None:
        raise AssertionError("an up-to-date schema was migrated again")

    monkeypatch.setattr(_engine, "migrate", no_migration)
    Database(path).close()


def test_a_store_behind_the_newest_migration_is_upgraded_on_open(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    engine = create_engine(url)
    _engine.migrate(engine, "0005")
    engine.dispose()
    assert version(url) == ["0005"]
    Database(url).close()
    assert version(url) == [_engine.SCHEMA_HEAD]
