"""Persistence: SQLite by default, PostgreSQL for several writers; Alembic migrations."""

from swisscheese.store._access import AccessStore as AccessStore
from swisscheese.store._access import Approval as Approval
from swisscheese.store._access import ClientKey as ClientKey
from swisscheese.store._access import Deployment as Deployment
from swisscheese.store._engine import DB_ENV as DB_ENV
from swisscheese.store._engine import Database as Database
from swisscheese.store._engine import StoreError as StoreError
from swisscheese.store._engine import resolve_url as resolve_url
from swisscheese.store._log import Listing as Listing
from swisscheese.store._log import LogStore as LogStore
from swisscheese.store._log import NewEntry as NewEntry
from swisscheese.store._log import StoredEntry as StoredEntry
from swisscheese.store._log import TrafficFilter as TrafficFilter
from swisscheese.store._log import TrafficPage as TrafficPage
from swisscheese.store._notify import HaltListener as HaltListener
from swisscheese.store._users import ConsoleSession as ConsoleSession
from swisscheese.store._users import ConsoleUser as ConsoleUser
from swisscheese.store._users import UserStore as UserStore

__all__ = [
    "DB_ENV",
    "AccessStore",
    "Approval",
    "ClientKey",
    "ConsoleSession",
    "ConsoleUser",
    "Database",
    "Deployment",
    "HaltListener",
    "Listing",
    "LogStore",
    "NewEntry",
    "StoreError",
    "StoredEntry",
    "TrafficFilter",
    "TrafficPage",
    "UserStore",
    "resolve_url",
]
