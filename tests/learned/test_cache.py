"""Processes that start together make a cache entry once: the others wait, then use it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from swisscheese.learned.cache import made_once

MAKER = """
import sys, time
from pathlib import Path
from swisscheese.learned.cache import made_once

entry = Path(sys.argv[1])

def make():
    time.sleep(1.0)  # a slow conversion
    entry.write_text(sys.argv[2])
    return "made"

print(made_once(entry, lambda: "used" if entry.exists() else None, make))
"""


def test_processes_starting_together_make_the_entry_once(tmp_path: Path) -> None:
    entry = tmp_path / "cache" / "model"
    makers = [
        subprocess.Popen(
            [sys.executable, "-c", MAKER, str(entry), str(i)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(3)
    ]
    said = sorted(p.communicate(timeout=60)[0].split()[-1] for p in makers)
    assert said == ["made", "used", "used"]
    assert entry.read_text() in {"0", "1", "2"}


def test_a_cache_that_cannot_hold_a_lock_still_lets_the_entry_be_made(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("")  # the entry's folder would have to be a file: no lock file there
    entry = blocked / "model"
    assert made_once(entry, lambda: None, lambda: "made") == "made"
    assert not entry.exists()
