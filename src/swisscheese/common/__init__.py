"""Helpers with I/O that any package may use (``core`` stays pure): files that installed
distributions ship."""

from swisscheese.common.packages import package_file as package_file

__all__ = ["package_file"]
