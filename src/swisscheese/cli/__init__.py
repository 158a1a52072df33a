"""Command line: ``swisscheese --help``."""

from swisscheese.cli._app import app as app


def main() -> None:
    app()


__all__ = ["app", "main"]
