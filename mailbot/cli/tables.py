"""Tables for people, drawn with rich: headers in French, numbers right-aligned, a totals line, and
never a cell cut short. Every cell is plain text (rich.text.Text): a name or a subject that came
from outside and holds « [bold] » is printed as written, not read as markup."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from mailbot.cli.terminal import printable


@dataclass(frozen=True)
class Column:
    header: str
    numeric: bool = False


def cell(value: Any) -> Text:
    # one line, nothing a terminal obeys (mailbot.cli.terminal): a cell may hold a subject or a name
    return Text("—" if value is None or value == "" else printable(value))


def build_table(columns: Sequence[Column], rows: Iterable[Sequence[Any]], *, totals: Sequence[Any] | None = None,
                title: str | None = None) -> Table:
    table = Table(box=box.SIMPLE_HEAD, title=title, title_justify="left", highlight=False)
    for column in columns:
        # fold, not ellipsis: a long word wraps onto the next line instead of losing its end
        table.add_column(column.header, justify="right" if column.numeric else "left", overflow="fold")
    rows = list(rows)
    for index, row in enumerate(rows):
        table.add_row(*(cell(v) for v in row), end_section=totals is not None and index == len(rows) - 1)
    if totals is not None:
        table.add_row(*(cell(v) for v in totals), style="bold")
    return table


def print_table(columns: Sequence[Column], rows: Iterable[Sequence[Any]], *, totals: Sequence[Any] | None = None,
                title: str | None = None) -> None:
    """Print the table on standard output as wide as it needs: no cell is wrapped or cut to fit a
    narrow terminal (the terminal folds the long lines; a pipe or a file gets them whole)."""
    table = build_table(columns, rows, totals=totals, title=title)
    console = Console(highlight=False)
    needed = Measurement.get(console, console.options.update_width(10_000), table).maximum
    if needed > console.width:
        console = Console(highlight=False, width=needed)
    console.print(table)


def echo_text(text: str | Text) -> None:
    """One line of human output that may carry outside text, printed without markup."""
    text = text if isinstance(text, Text) else Text(text)
    text.plain = printable(text.plain, keep_lines=True)  # what a terminal would obey goes (mailbot.cli.terminal)
    Console(highlight=False, soft_wrap=True).print(text)
