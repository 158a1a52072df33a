"""Halts and resumes pushed to every process that shares a PostgreSQL store (LISTEN/NOTIFY).

``set_halted`` notifies on ``swisscheese_halt`` in the transaction that changes the state, so a
listener learns of it when it commits. The listener runs on a thread of its own with its own
connection; after connecting (or reconnecting: notifications sent while it was away are lost)
it reports ``*`` so the owner re-reads the state. SQLite has no push: owners poll.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from swisscheese.store._engine import Database

log = logging.getLogger(__name__)

CHANNEL = "swisscheese_halt"


class HaltListener:
    def __init__(self, db: Database, on_change: Callable[[str], None]) -> None:
        """``on_change(deployment)`` is called on the listener's thread (``*``: re-read all)."""
        if db.dialect != "postgresql":
            raise ValueError("pushed halts need PostgreSQL; SQLite owners poll")
        self.conninfo = db.writer.url.set(drivername="postgresql").render_as_string(
            hide_password=False
        )
        self.on_change = on_change
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="swisscheese-halts", daemon=True)
        self.connected = threading.Event()

    def start(self) -> HaltListener:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        import psycopg

        backoff = 0.1
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.connected.set()
                    self.on_change("*")
                    backoff = 0.1
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=0.5):
                            self.on_change(note.payload)
            except Exception as exc:  # the database went away: poll meanwhile, then reconnect
                self.connected.clear()
                log.warning("halt notifications interrupted (%s); reconnecting", exc)
                time.sleep(backoff)
                backoff = min(5.0, backoff * 2)
