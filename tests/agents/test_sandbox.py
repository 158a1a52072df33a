"""An agent's code tool cannot reach the host: each escape is tried for real, in a real
bubblewrap sandbox, and fails."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from swisscheese.agents import Limits, Sandbox, SandboxError


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    try:
        return Sandbox(Limits(timeout_s=8, memory_mb=256, processes=32))
    except SandboxError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs bubblewrap: {exc}")
        pytest.skip(str(exc))


def test_code_runs_and_writes_only_its_work_directory(sandbox: Sandbox) -> None:
    # Under /tmp, not pytest's private directory: the sandbox's user must reach it.
    work = Path(tempfile.mkdtemp(prefix="swisscheese-work-"))
    result = sandbox.run_python(
        "import pathlib; pathlib.Path('out.txt').write_text('hello'); print(2 + 2)", work
    )
    assert result.ok, result.stderr
    assert result.stdout == "4\n"
    assert (work / "out.txt").read_text() == "hello"
    shutil.rmtree(work)


@pytest.mark.parametrize(
    "target", ["/usr/bin/evil", "/etc/evil", "/evil", "/work/../evil", "/proc/sys/kernel/x"]
)
def test_writing_outside_the_work_directory_fails(sandbox: Sandbox, target: str) -> None:
    result = sandbox.run_shell(f"echo owned > {target} && echo WROTE")
    assert "WROTE" not in result.stdout
    assert not Path(target).exists() or target.startswith("/proc")


def test_the_sandbox_tmp_is_not_the_hosts(sandbox: Sandbox) -> None:
    marker = f"/tmp/swisscheese-sandbox-marker-{os.getpid()}"
    assert sandbox.run_shell(f"echo x > {marker} && cat {marker}").stdout == "x\n"
    assert not Path(marker).exists()


@pytest.mark.parametrize("path", ["/etc/shadow", "/etc/passwd", "/root", "/home", "/work/.."])
def test_host_files_are_not_there(sandbox: Sandbox, path: str) -> None:
    result = sandbox.run_shell(f"ls -a {path} && cat {path}/shadow {path} 2>/dev/null; true")
    assert "root:" not in result.stdout
    if path != "/work/..":
        assert "No such file or directory" in result.stderr


@pytest.fixture
def host_server() -> Iterator[int]:
    """A TCP server on the host's loopback; nothing from the sandbox may reach it."""
    server = socket.create_server(("127.0.0.1", 0))
    reached = threading.Event()

    def accept() -> None:
        server.settimeout(10)
        try:
            conn, _ = server.accept()
            reached.set()
            conn.close()
        except OSError:
            pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    server.shutdown(socket.SHUT_RDWR)  # wakes the waiting accept (close alone does not)
    server.close()
    thread.join(timeout=11)
    assert not reached.is_set(), "the sandbox reached a host port"


def test_there_is_no_network(sandbox: Sandbox, host_server: int) -> None:
    code = (
        "import socket\n"
        f"for host, port in [('127.0.0.1', {host_server}), ('1.1.1.1', 53), ('10.0.0.1', 80)]:\n"
        "    try:\n"
        "        socket.create_connection((host, port), timeout=2)\n"
        "        print('CONNECTED', host)\n"
        "    except OSError as exc:\n"
        "        print('refused', host, type(exc).__name__)\n"
    )
    result = sandbox.run_python(code)
    assert "CONNECTED" not in result.stdout, result.stdout
    assert result.stdout.count("refused") == 3


def test_a_fork_bomb_is_contained_and_the_host_still_forks(sandbox: Sandbox) -> None:
    result = sandbox.run_shell("bomb() { bomb | bomb & }; bomb; sleep 2; echo survived")
    assert "fork" in result.stderr  # the process limit stopped it from spreading
    # bash retries a failed fork with back-off, so the script may finish or hit the time
    # limit; either way the whole tree is gone by the time limit.
    assert result.duration_ms < (sandbox.limits.timeout_s + 5) * 1000
    assert sandbox.run_shell("echo next").stdout == "next\n"  # no leftover bomb holds slots
    # The host is unharmed: it can still start processes.
    assert subprocess.run(["true"], check=False).returncode == 0


def test_memory_and_time_are_limited(sandbox: Sandbox) -> None:
    hog = sandbox.run_python("x = bytearray(2 * 1024 ** 3)\nprint('ALLOCATED')")
    assert "ALLOCATED" not in hog.stdout
    assert "MemoryError" in hog.stderr
    impatient = Sandbox(replace(sandbox.limits, timeout_s=2))
    sleeper = impatient.run_shell("sleep 60; echo WOKE")
    assert sleeper.timed_out
    assert "WOKE" not in sleeper.stdout
    assert sleeper.duration_ms < 12_000


def test_the_sandbox_cannot_see_or_signal_host_processes(sandbox: Sandbox) -> None:
    result = sandbox.run_shell(f"ls /proc | grep -c '^[0-9]'; kill -9 {os.getpid()}; echo sent")
    visible = int(result.stdout.splitlines()[0])
    assert visible < 10  # its own few processes, not the host's
    assert "No such process" in result.stderr or "sent" in result.stdout  # and we live on
