"""Gateway processes sharing one store: `swisscheese serve` run as real processes."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

from tests.helpers.servers import free_port


@contextmanager
def gateway_process(
    upstream: str, db: str, log: Path, *extra: str, timeout: float = 60, step: float = 0.1
) -> Iterator[str]:
    """One `swisscheese serve --no-auth` on a free port; yields its base URL once its
    /healthz answers (asked every ``step`` seconds)."""
    port = free_port()
    command = [
        sys.executable, "-m", "swisscheese", "serve", "--no-auth", "--port", str(port),
        "--upstream", upstream, "--db", db, *extra,
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    httpx.get(url + "/healthz", timeout=1)
                    break
                except httpx.HTTPError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(
                            f"the gateway did not start: {log.read_text()}"
                        ) from None
                    time.sleep(step)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


@contextmanager
def fleet(upstream: str, db: str, logs: Path, size: int, *extra: str) -> Iterator[list[str]]:
    """``size`` gateway processes on one store."""
    with ExitStack() as stack:
        yield [
            stack.enter_context(gateway_process(upstream, db, logs / f"gw{i}.log", *extra))
            for i in range(size)
        ]


def wait_ready(urls: list[str], status: int, timeout: float = 5.0, step: float = 0.002) -> float:
    """Seconds until every gateway's /readyz answers ``status`` (raises TimeoutError)."""
    started = time.monotonic()
    pending = set(urls)
    with httpx.Client(timeout=2) as client:
        while pending:
            for url in list(pending):
                if client.get(url + "/readyz").status_code == status:
                    pending.discard(url)
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"{sorted(pending)} still not {status} after {timeout} s")
            if pending:
                time.sleep(step)
    return time.monotonic() - started
