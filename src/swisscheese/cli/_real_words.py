"""`swisscheese real-words`: write the list of words the decoder's misspelt reading leaves
alone (candidate misspellings that ordinary text uses)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from swisscheese.cli._common import out


def real_words_command(
    out_file: Annotated[
        Path | None,
        typer.Option("--out", help="Where the list goes (default: the shipped one)."),
    ] = None,
    min_count: Annotated[int, typer.Option(min=1, help="Uses that make a word.")] = 2,
) -> None:
    """Write the misspelt reading's candidates that are words, one to a line: common English
    words (pyspellchecker's list), English words met --min-count times in ordinary text from
    installed packages (chat, writing tasks, documentation, source files), and names source
    code uses that often."""
    # Imported here: `swisscheese --help` loads no monitor (and none of their dependencies).
    from swisscheese.monitors import _typos
    from swisscheese.training.real_words import (
        derive,
        english_words,
        ordinary_code,
        ordinary_prose,
    )

    target = out_file or Path(_typos.__file__).parent / _typos.REAL_WORDS_FILE
    words = derive(
        _typos.candidate,
        prose=ordinary_prose(),
        code=ordinary_code(),
        dictionary=english_words(),
        never=_typos.OVERRIDE_WORDS,
        min_count=min_count,
    )
    header = (
        "# Words one edit from a word the `misspelt` reading watches that are English words or "
        f"names code uses ({min_count} uses\n# or more): written by `swisscheese real-words` "
        "(swisscheese.training.real_words says from what).\n"
    )
    target.write_text(header + "\n".join(words) + "\n", encoding="utf-8")
    out.print(f"{len(words)} words written to {target}")


def register(app: typer.Typer) -> None:
    app.command("real-words")(real_words_command)
