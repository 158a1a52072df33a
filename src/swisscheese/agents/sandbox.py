"""Run an agent's code tool (``run_shell``, ``run_python``) where it cannot reach the host.

bubblewrap (Debian's ``bubblewrap``) gives the code new namespaces of every kind: no network
(an empty network namespace), its own process tree (it cannot see or signal the host's), a
read-only view of ``/usr`` and nothing else of the host's files (no ``/etc``, no home, no
``/root``), a fresh ``/tmp`` and one writable work directory. Limits come from the kernel:
address space (memory), processes (fork bombs), output file size, CPU time, and a wall-clock
timeout after which the whole tree is killed. Run as root, the code runs as ``nobody``: root is
exempt from the process limit, and nothing in the sandbox should be root anyway.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from swisscheese.core.errors import SwisscheeseError

NOBODY = 65534
WORKDIR = "/work"


class SandboxError(SwisscheeseError, RuntimeError):
    """The sandbox cannot be set up here (no bubblewrap, no user namespaces)."""


@dataclass(frozen=True, slots=True)
class Limits:
    timeout_s: float = 10.0
    """Wall-clock time; then the whole process tree is killed."""
    cpu_s: int = 10
    memory_mb: int = 512
    """Address space per process."""
    processes: int = 64
    """Processes and threads the code may have at once (a fork bomb stops here)."""
    file_mb: int = 64
    """The largest file the code may write."""
    output_bytes: int = 64 * 1024
    """Standard output and error kept, each."""


@dataclass(frozen=True, slots=True)
class RunResult:
    exit_code: int
    stdout: str
    stderr: str
    timed_out: bool
    duration_ms: float

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


class Sandbox:
    """Build once; ``run_shell`` and ``run_python`` each start a fresh sandbox."""

    def __init__(self, limits: Limits | None = None, *, bwrap: str | None = None) -> None:
        self.limits = limits or Limits()
        found = bwrap or shutil.which("bwrap")
        if found is None:
            raise SandboxError("bubblewrap is not installed (Debian: apt-get install bubblewrap)")
        self.bwrap = found
        self.python = shutil.which("python3", path="/usr/bin:/usr/local/bin")
        probe = self._run(["/bin/true"], None)
        if probe.exit_code != 0:
            raise SandboxError(f"bubblewrap cannot create a sandbox here: {probe.stderr.strip()}")

    def run_shell(self, script: str, workdir: Path | None = None) -> RunResult:
        """``/bin/sh -c script`` in the sandbox; ``workdir`` (default: a fresh temporary one)
        is its writable /work. Run as root, the directory is handed to nobody, who must be
        able to reach it (bubblewrap runs as nobody)."""
        return self._run(["/bin/sh", "-c", script], workdir)

    def run_python(self, code: str, workdir: Path | None = None) -> RunResult:
        """Python code in the sandbox, with the system's Python 3 (isolated mode)."""
        if self.python is None or not self.python.startswith("/usr/"):
            raise SandboxError("no system python3 under /usr to run in the sandbox")
        return self._run([self.python, "-I", "-c", code], workdir)

    def command(self, argv: Sequence[str], workdir: Path) -> list[str]:
        """The bubblewrap command line that runs ``argv`` with ``workdir`` as /work."""
        args = [
            self.bwrap,
            "--unshare-all",
            "--die-with-parent",
            "--new-session",
            "--cap-drop", "ALL",
            "--hostname", "sandbox",
            "--ro-bind", "/usr", "/usr",
            "--proc", "/proc",
            "--dev", "/dev",
            "--tmpfs", "/tmp",
            "--bind", str(workdir), WORKDIR,
            "--chdir", WORKDIR,
            "--clearenv",
            "--setenv", "PATH", "/usr/bin:/bin",
            "--setenv", "HOME", WORKDIR,
            "--setenv", "LANG", "C.UTF-8",
        ]  # fmt: skip
        for name in ("bin", "lib", "lib64", "sbin"):
            target = Path("/") / name
            if target.is_symlink():
                args += ["--symlink", os.readlink(target), f"/{name}"]
            elif target.is_dir():
                args += ["--ro-bind", str(target), f"/{name}"]
        # Nothing but /tmp and /work stays writable, not even the sandbox's own root.
        return [*args, "--remount-ro", "/", "--", *argv]

    def _run(self, argv: Sequence[str], workdir: Path | None) -> RunResult:
        with tempfile.TemporaryDirectory(prefix="swisscheese-sandbox-") as scratch:
            work = workdir or Path(scratch)
            as_root = os.geteuid() == 0
            if as_root:
                os.chown(work, NOBODY, NOBODY)  # the code runs as nobody and writes here
            started = time.perf_counter()
            process = subprocess.Popen(
                self.command(argv, work),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                user=NOBODY if as_root else None,
                group=NOBODY if as_root else None,
                extra_groups=[] if as_root else None,
                preexec_fn=self._limit,
                start_new_session=True,
            )
            timed_out = False
            try:
                out, err = process.communicate(timeout=self.limits.timeout_s)
            except subprocess.TimeoutExpired:
                timed_out = True
                os.killpg(process.pid, signal.SIGKILL)
                out, err = process.communicate()
            keep = self.limits.output_bytes
            return RunResult(
                process.returncode,
                out[:keep].decode("utf-8", "replace"),
                err[:keep].decode("utf-8", "replace"),
                timed_out,
                (time.perf_counter() - started) * 1000,
            )

    def _limit(self) -> None:
        """In the child, before bubblewrap starts: the kernel's limits, inherited by all."""
        mb = 1024 * 1024
        limits = self.limits
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_mb * mb,) * 2)
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_s,) * 2)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_mb * mb,) * 2)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        # Counted per user: as nobody, the sandbox's own processes are all there are.
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes,) * 2)
