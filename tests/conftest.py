from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from swisscheese import Guard

# No third-party plugins leak into the tests from the environment.
os.environ.setdefault("SWISSCHEESE_LOAD_PLUGINS", "")


@pytest.fixture(scope="session")
def guard() -> Iterator[Guard]:
    g = Guard()
    yield g
    g.close()
