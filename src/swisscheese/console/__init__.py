"""The operator console: a server-rendered web page for the people who run a deployment
(live traffic, records and their proofs, approvals, halts, evaluations, incidents, the safety
case and the framework gate), with local users in three roles."""

from swisscheese.console._web import ConsoleSettings as ConsoleSettings
from swisscheese.console.app import MOUNT as MOUNT
from swisscheese.console.app import create_console as create_console
from swisscheese.console.app import mount_console as mount_console
from swisscheese.console.app import standalone as standalone

__all__ = ["MOUNT", "ConsoleSettings", "create_console", "mount_console", "standalone"]
