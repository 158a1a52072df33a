"""Crash and concurrency behaviour of the recorder, with real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from swisscheese.recorder import Recorder
from swisscheese.store import LogStore
from tests.conftest import postgres_url, reset_postgres

APPENDER = textwrap.dedent("""
    import sys
    from swisscheese.recorder import Recorder
    from swisscheese.store import LogStore

    url, tag, total = sys.argv[1], sys.argv[2], int(sys.argv[3])
    recorder = Recorder(LogStore(url))
    sent = 0
    while total < 0 or sent < total:
        burst = [recorder.submit(recorder.prepare("test", {"tag": tag, "n": sent + i}))
                 for i in range(25)]
        for i, future in enumerate(burst):
            index = future.result()
            print(f"{index} {tag} {sent + i}", flush=True)
        sent += len(burst)
    recorder.close()
""")


def spawn(url: str, tag: str, total: int) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    return subprocess.Popen(
        [sys.executable, "-c", APPENDER, url, tag, str(total)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_acknowledged_appends_survive_sigkill(tmp_path: Path) -> None:
    url = str(tmp_path / "crash.db")
    LogStore(url).close()  # migrate before the child starts
    child = spawn(url, "c", -1)
    assert child.stdout is not None
    acked: dict[int, int] = {}
    for line in child.stdout:
        index, _, n = line.split()
        acked[int(index)] = int(n)
        if len(acked) >= 600:
            break
    os.kill(child.pid, signal.SIGKILL)
    child.communicate(timeout=30)  # reap it and close its pipes
    with Recorder(LogStore(url)) as recorder:
        assert recorder.size() >= len(acked)
        import json

        for entry in recorder.store.entries():
            if entry.index in acked:
                assert json.loads(entry.event)["n"] == acked[entry.index]
        missing = set(acked) - {e.index for e in recorder.store.entries()}
        assert missing == set()
        report = recorder.verify()
        assert report.ok, report.problems


def test_writers_in_several_processes_get_one_dense_order() -> None:
    url = postgres_url()
    assert url is not None
    reset_postgres(url)
    LogStore(url).close()
    children = [spawn(url, f"w{i}", 150) for i in range(4)]
    indexes: list[int] = []
    for child in children:
        out, err = child.communicate(timeout=300)
        assert child.returncode == 0, err[-2000:]
        indexes += [int(line.split()[0]) for line in out.splitlines()]
    assert sorted(indexes) == list(range(600))
    with Recorder(LogStore(url)) as recorder:
        assert recorder.size() == 600
        report = recorder.verify()
        assert report.ok, report.problems


@pytest.mark.parametrize("writers", [2])
def test_sqlite_file_writers_in_several_processes(tmp_path: Path, writers: int) -> None:
    url = str(tmp_path / "multi.db")
    LogStore(url).close()
    children = [spawn(url, f"w{i}", 100) for i in range(writers)]
    indexes: list[int] = []
    for child in children:
        out, err = child.communicate(timeout=300)
        assert child.returncode == 0, err[-2000:]
        indexes += [int(line.split()[0]) for line in out.splitlines()]
    assert sorted(indexes) == list(range(100 * writers))
    with Recorder(LogStore(url)) as recorder:
        assert recorder.verify().ok
