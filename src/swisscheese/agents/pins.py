"""Pinned MCP tool definitions: trust on first use, and a changed definition waits for a human.

A server that showed a harmless ``add`` tool yesterday and today describes it with hidden
instructions (a "rug pull") is caught by comparing each tool's definition digest with the one
pinned when it was first seen. The pins live in one JSON file per deployment, written
atomically; a changed tool is kept under ``pending`` until ``swisscheese mcp pins accept``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from swisscheese.core import canonical_json

PinStatus = Literal["new", "same", "changed"]


def definition_digest(definition: Mapping[str, Any]) -> str:
    """SHA-256 of a tool definition's canonical JSON (RFC 8785): layout and key order aside."""
    return "sha256:" + hashlib.sha256(canonical_json(dict(definition))).hexdigest()


class PinError(ValueError):
    """A pin file that cannot be read (names the file and why)."""


@dataclass(frozen=True, slots=True)
class Pin:
    server: str
    tool: str
    digest: str
    pending: str | None
    """The digest of a changed definition waiting to be accepted."""


class ToolPins:
    """The pin file of one deployment. Safe across threads; each change is written at once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._data = self._load()

    def _load(self) -> dict[str, Any]:
        if not self.path.exists():
            return {"version": 1, "servers": {}}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise PinError(f"{self.path}: not a pin file ({exc})") from None
        if not isinstance(data, dict) or data.get("version") != 1:
            raise PinError(f"{self.path}: not a version-1 pin file")
        if not isinstance(data.get("servers"), dict):
            raise PinError(f"{self.path}: 'servers' is not an object")
        return data

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".pins-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(self._data, f, indent=2, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _server(self, server: str) -> dict[str, dict[str, str]]:
        entry = self._data["servers"].setdefault(server, {})
        entry.setdefault("pinned", {})
        entry.setdefault("pending", {})
        return entry  # type: ignore[no-any-return]

    def check(self, server: str, tool: str, digest: str) -> tuple[PinStatus, str | None]:
        """Compare a definition with its pin: (status, the pinned digest). A new tool is pinned;
        a changed one is kept pending (and stays changed until accepted)."""
        with self._lock:
            entry = self._server(server)
            pinned = entry["pinned"].get(tool)
            if pinned is None:
                entry["pinned"][tool] = digest
                self._save()
                return "new", None
            if pinned == digest:
                if entry["pending"].pop(tool, None) is not None:
                    self._save()  # changed back to what was pinned
                return "same", pinned
            if entry["pending"].get(tool) != digest:
                entry["pending"][tool] = digest
                self._save()
            return "changed", pinned

    def accept(self, server: str, tool: str) -> Pin:
        """Pin a changed tool's new definition (an operator's decision)."""
        with self._lock:
            entry = self._data["servers"].get(server)
            if entry is None or tool not in entry.get("pending", {}):
                raise PinError(f"no changed definition of {tool!r} from {server!r} is pending")
            old = entry["pinned"].get(tool)
            entry["pinned"][tool] = entry["pending"].pop(tool)
            self._save()
            return Pin(server, tool, entry["pinned"][tool], old)

    def pins(self) -> list[Pin]:
        with self._lock:
            return [
                Pin(server, tool, digest, entry.get("pending", {}).get(tool))
                for server, entry in sorted(self._data["servers"].items())
                for tool, digest in sorted(entry.get("pinned", {}).items())
            ]
