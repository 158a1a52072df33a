"""Tables as people paste them: benign text for the injection detector that is all structure.

A table is rows of short cells, numbers and names with separators between them, and nothing in
it is addressed to anyone. Without any in training, the multilingual encoder's head read
Wikipedia tables (BIPIA's clean contexts) as attacks: a third of them above its 1% threshold.
Two kinds: tables generated here on everyday themes, written out as a Markdown, CSV, TSV or
space-aligned table; and the tables of inspect-evals' documentation and data files (MIT).
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["csv_tables", "generated_tables", "markdown_tables", "render"]

Cell = Callable[[random.Random, int], str]
"""A column's value in row i."""


def _pick(*values: str) -> Cell:
    return lambda rng, _: rng.choice(values)


def _number(low: int, high: int, fmt: str = "{}") -> Cell:
    return lambda rng, _: fmt.format(rng.randint(low, high))


def _decimal(low: float, high: float, places: int = 2, fmt: str = "{}") -> Cell:
    return lambda rng, _: fmt.format(f"{rng.uniform(low, high):.{places}f}")


def _rank(rng: random.Random, i: int) -> str:
    return str(i + 1)


def _time(rng: random.Random, i: int) -> str:
    return f"{8 + i % 10:02d}:{rng.choice(('00', '15', '30', '45'))}"


_PLACES = ("Lisbon", "Oslo", "Nairobi", "Osaka", "Lyon", "Leeds", "Austin", "Porto Alegre",
           "Kraków", "Valparaíso", "Da Nang", "Tampere", "Cork", "Ghent", "Hobart")  # fmt: skip
_NATIONS = ("Vietnam (VIE)", "Kenya (KEN)", "Norway (NOR)", "Brazil (BRA)", "Japan (JPN)",
            "Poland (POL)", "Chile (CHI)", "Ireland (IRL)", "Canada (CAN)", "Ghana (GHA)",
            "Italy (ITA)", "Mexico (MEX)", "Spain (ESP)", "India (IND)")  # fmt: skip
_PEOPLE = ("A. Okafor", "B. Lindqvist", "C. Moreau", "D. Nakamura", "E. Kowalski",
           "G. Rossi", "H. Oyelaran", "I. Novak", "J. Castillo", "K. Byrne",
           "L. Tanaka")  # fmt: skip
_TEAMS = ("Rovers", "United", "Athletic", "City", "Wanderers", "Harriers", "Falcons", "Tigers")

_THEMES: dict[str, dict[str, Cell]] = {
    "medals": {
        "Rank": _rank, "Nation": _pick(*_NATIONS), "Gold": _number(0, 9),
        "Silver": _number(0, 9), "Bronze": _number(0, 9), "Total": _number(1, 25),
    },
    "season": {
        "Year": _number(1988, 2024), "Team": _pick(*_TEAMS), "Games": _number(10, 82),
        "Points": _number(0, 2100), "Assists": _number(0, 600), "Rebounds": _number(0, 900),
        "Attendance": _number(4000, 21000, "{:,}"),
    },
    "timetable": {
        "Time": _time, "Monday": _pick("Maths", "French", "PE", "Chemistry", "Art", "—"),
        "Tuesday": _pick("History", "Biology", "Music", "Maths", "Free period"),
        "Wednesday": _pick("English", "Physics", "Geography", "Drama", "Lunch"),
        "Room": _pick("B12", "Lab 3", "Hall", "C4", "Library"),
    },
    "inventory": {
        "SKU": _number(10000, 99999, "SKU-{}"),
        "Item": _pick("M6 hex bolt", "Cable tie 200mm", "Hinge, brass", "Wood glue 250ml",
                      "Sandpaper P120", "LED strip 5m", "Drill bit 8mm", "Wall plug 6mm"),
        "Qty": _number(0, 1200), "Unit price": _decimal(0.05, 49.0, 2, "€{}"),
        "Location": _pick("Aisle 3", "Aisle 7", "Back store", "Shelf B", "Bin 14"),
    },
    "grades": {
        "Student": _pick(*_PEOPLE), "Maths": _number(35, 100), "English": _number(35, 100),
        "Science": _number(35, 100), "Attendance": _number(70, 100, "{}%"),
        "Grade": _pick("A", "A-", "B+", "B", "C", "Pass"),
    },
    "budget": {
        "Category": _pick("Rent", "Groceries", "Transport", "Utilities", "Childcare",
                          "Insurance", "Savings", "Eating out", "Phone"),
        "Jan": _number(20, 1500), "Feb": _number(20, 1500), "Mar": _number(20, 1500),
        "Change": _decimal(-30, 30, 1, "{}%"),
    },
    "cities": {
        "City": _pick(*_PLACES), "Population": _number(90_000, 9_000_000, "{:,}"),
        "Area (km²)": _decimal(40, 2500, 1), "Founded": _number(800, 1900),
        "Mayor": _pick(*_PEOPLE),
    },
    "weather": {
        "Day": _pick("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
        "High (°C)": _number(-5, 38), "Low (°C)": _number(-15, 25),
        "Rain (mm)": _decimal(0, 40, 1), "Wind": _pick("N 12 km/h", "SW 30 km/h", "calm", "E 8"),
    },
    "results": {
        "Date": _number(1, 28, "{} March"), "Home": _pick(*_TEAMS), "Score": _pick(
            "2–1", "0–0", "3–2", "1–4", "2–2", "5–0"), "Away": _pick(*_TEAMS),
        "Venue": _pick(*_PLACES), "Crowd": _number(800, 40000, "{:,}"),
    },
    "experiments": {
        "Run": _rank, "Learning rate": _pick("1e-3", "3e-4", "1e-4", "5e-5"),
        "Batch": _pick("16", "32", "64", "128"), "Loss": _decimal(0.1, 2.5, 3),
        "Accuracy": _decimal(0.5, 0.99, 3), "Time (s)": _number(30, 9000),
    },
    "conjugation": {
        "Person": _pick("1st sg", "2nd sg", "3rd sg", "1st pl", "2nd pl", "3rd pl"),
        "être": _pick("suis", "es", "est", "sommes", "êtes", "sont"),
        "avoir": _pick("ai", "as", "a", "avons", "avez", "ont"),
        "aller": _pick("vais", "vas", "va", "allons", "allez", "vont"),
    },
}  # fmt: skip


def render(header: Sequence[str], rows: Sequence[Sequence[str]], style: str) -> str:
    """A table as text: ``markdown`` (padded pipes), ``csv``, ``tsv`` or ``aligned`` (spaces)."""
    if style in ("csv", "tsv"):
        out = io.StringIO()
        writer = csv.writer(out, delimiter="," if style == "csv" else "\t", lineterminator="\n")
        writer.writerows([header, *rows])
        return out.getvalue().rstrip("\n")
    widths = [max(len(str(r[c])) for r in (header, *rows)) for c in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        padded = [str(cell).ljust(width) for cell, width in zip(cells, widths, strict=True)]
        return "| " + " | ".join(padded) + " |" if style == "markdown" else "  ".join(padded)

    rule = (
        ["| " + " | ".join("-" * w for w in widths) + " |"]
        if style == "markdown"
        else ["  ".join("-" * w for w in widths)]
    )
    return "\n".join([line(header), *rule, *(line(r) for r in rows)])


STYLES = ("markdown", "markdown", "csv", "tsv", "aligned")


def generated_tables(rng: random.Random, n: int) -> list[str]:
    """``n`` tables on the themes above, 3 to 15 rows, a random subset of each theme's columns
    (in order), each in one of ``STYLES``; some with a line of context before them."""
    out = []
    for _ in range(n):
        theme = _THEMES[rng.choice(sorted(_THEMES))]
        names = list(theme)
        keep = sorted(rng.sample(range(len(names)), rng.randint(min(3, len(names)), len(names))))
        header = [names[k] for k in keep]
        rows = [[theme[h](rng, i) for h in header] for i in range(rng.randint(3, 15))]
        table = render(header, rows, rng.choice(STYLES))
        lead = rng.choice(("", "", "Here's the table:\n", "Data (last export):\n", "Table 2.\n"))
        out.append(lead + table)
    return out


def markdown_tables(text: str, rows_per_table: int = 12) -> list[str]:
    """The Markdown tables of ``text`` (three lines or more of pipes), each cut to its header,
    its rule and ``rows_per_table`` rows."""
    out = []
    block: list[str] = []
    for line in [*text.splitlines(), ""]:
        stripped = line.strip()
        if stripped.startswith("|") and stripped.endswith("|") and len(stripped) > 1:
            block.append(line)
            continue
        if len(block) >= 3:
            out.append("\n".join(block[: rows_per_table + 2]))
        block = []
    return out


def csv_tables(root: Path, skip: Callable[[str, str], bool], rows_per_table: int = 12) -> list[str]:
    """The first rows of the ``.csv`` files under ``root`` as Markdown, CSV or aligned tables
    (cut to ``rows_per_table`` rows), leaving out any file for whose relative path and text
    ``skip`` says so."""
    out = []
    rng = random.Random(0)
    for path in sorted(root.rglob("*.csv")):
        text = path.read_text(encoding="utf-8", errors="replace")
        if skip(str(path.relative_to(root)), text):
            continue
        rows = list(csv.reader(io.StringIO(text)))[: rows_per_table + 1]
        if len(rows) >= 3 and len(rows[0]) >= 2:
            width = len(rows[0])
            # Cells of a data file can be paragraphs; a pasted table's are short.
            cut = [[cell[:60] for cell in (r + [""] * width)[:width]] for r in rows]
            out.append(render(cut[0], cut[1:], rng.choice(("markdown", "csv", "aligned"))))
    return out
