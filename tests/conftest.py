from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest
from hypothesis import settings

from swisscheese import Guard

# No third-party plugins leak into the tests from the environment.
os.environ.setdefault("SWISSCHEESE_LOAD_PLUGINS", "")
# The embedding tier's ONNX export (about 90 MB) is cached per test session, never in the user's
# cache, and removed when the session ends: left behind, every run would cost the disk that much.
if "SWISSCHEESE_CACHE_DIR" not in os.environ:
    _session_cache = tempfile.mkdtemp(prefix="swisscheese-cache-")
    os.environ["SWISSCHEESE_CACHE_DIR"] = _session_cache
    atexit.register(shutil.rmtree, _session_cache, ignore_errors=True)

# Properties, not timings: hypothesis' per-example deadline (200 ms) failed properties that hold
# whenever the machine was busy (two trainings beside the suite). Speed is the benchmarks' job.
settings.register_profile("swisscheese", deadline=None)
settings.load_profile("swisscheese")


@pytest.fixture(scope="session")
def guard() -> Iterator[Guard]:
    g = Guard()
    yield g
    g.close()


@pytest.fixture(scope="session")
def ray_local() -> Iterator[None]:
    """One local Ray runtime for every test that runs work on Ray (starting one takes about ten
    seconds); the library uses a runtime that is already up, as it would a user's."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


POSTGRES_ENV = "SWISSCHEESE_TEST_POSTGRES"


def postgres_url() -> str | None:
    """The test server's URL; in CI (CI=true) a missing server fails instead of skipping. Each
    xdist worker gets a database of its own on that server, since the tests reset its tables."""
    url = os.environ.get(POSTGRES_ENV)
    if url:
        worker = os.environ.get("PYTEST_XDIST_WORKER")
        return _worker_database(url, worker) if worker else url
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI needs PostgreSQL: set {POSTGRES_ENV} (see .ci/postgres.sh)")
    pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV} (see .ci/postgres.sh)")
    return None


@functools.cache
def _worker_database(url: str, worker: str) -> str:
    """``url`` with its database name suffixed by the worker's id, created if it is missing."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from swisscheese.store import resolve_url

    base = make_url(resolve_url(url))
    name = f"{base.database}_{worker}"
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if exists.first() is None:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def reset_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text

    from swisscheese.store import resolve_url
    from swisscheese.store._schema import metadata

    engine = create_engine(resolve_url(url))
    with engine.begin() as conn:
        for table in [*reversed(metadata.sorted_tables), "alembic_version"]:
            conn.execute(text(f"DROP TABLE IF EXISTS {table} CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite-memory", "sqlite-file", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: object) -> str:
    """Every store test runs on in-memory SQLite, file SQLite (WAL) and real PostgreSQL."""
    if request.param == "sqlite-memory":
        return ":memory:"
    if request.param == "sqlite-file":
        return str(tmp_path) + "/log.db"
    url = postgres_url()
    assert url is not None
    reset_postgres(url)
    return url
