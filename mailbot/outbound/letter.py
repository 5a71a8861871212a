"""The record a summary shows, as tables for the HTML letter (pure: a snapshot and the rules in, tables out).

The letter is for reading: each part of the record (the circular's five) is a table, values written
as the form writes them (labels, « oui »/« non », « 12 500 € »), never codes. The form below it, in
the shape the parser reads, is what the agent edits (`mailbot.outbound.form`).
"""
from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape

from mailbot.outbound.form import SECTIONS, SNAPSHOT_KEYS, FormContext, by_country, display_value, shown_values

EMPTY = "—"
REF_COLUMN = "Réf."
SECTION_TITLES = {part: title.split(". ", 1)[0] + ". " + title.split(". ", 1)[1].capitalize()
                  for part, title in SECTIONS}
NOTHING = {
    "contact": "Aucun élu ni cadre n'est enregistré.",
    "reseau": "Aucune adhésion n'est enregistrée.",
    "cooperation": "Aucune coopération décentralisée n'est enregistrée.",
    "action": "Aucune autre action extérieure n'est enregistrée.",
}


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str = ""
    vertical: bool = False  # one record, a row per field (label, value)


    def html(self) -> Markup:
        """The table as HTML: built here rather than by a template loop, and escaped in one call
        for all its cells (like `mailbot.outbound.render.html_form`), since a summary has some fifty
        cells and rendering summaries is the campaign's hot path. Styled by the template's
        stylesheet; a row a line (`compact_html` packs them)."""
        if self.vertical:
            head, start, cell_end, row_end = "", '<tr><th class="v">', "</th><td>", "</td></tr>\n"
        else:
            head = "<tr><th>" + "</th><th>".join(map(str, map(escape, self.columns))) + "</th></tr>\n"
            start, cell_end, row_end = "<tr><td>", "</td><td>", "</td></tr>\n"
        text = _ROW.join(_CELL.join(_plain(cell) for cell in row) for row in self.rows)
        body = str(escape(text)).replace(_CELL, cell_end).replace(_ROW, row_end + start)
        caption = f'<p class="c">{escape(self.caption)}</p>\n' if self.caption else ""
        return Markup(f"{caption}<table>\n{head}{start}{body}{row_end}</table>" if self.rows
                      else f"{caption}<table>\n{head}</table>")


_CELL, _ROW = "\x1f", "\x1e"  # unit and record separators: never in a value (_plain sees to it)


def _plain(cell: str) -> str:
    return cell.replace(_CELL, " ").replace(_ROW, " ") if "\x1e" in cell or "\x1f" in cell else cell


@dataclass(frozen=True)
class Section:
    title: str
    tables: tuple[Table, ...]
    empty: str = ""  # what to say when the part has no record


def record_sections(snapshot: dict, ctx: FormContext, memo: dict | None = None) -> list[Section]:
    """The five parts of the record, in the circular's order (`memo`: the values the form wrote)."""
    sections = []
    for part, _ in SECTIONS:
        title = SECTION_TITLES[part]
        if part == "apd":
            sections.append(Section(title, (_apd_table(snapshot, ctx),)))
            continue
        records = snapshot[SNAPSHOT_KEYS[part]]
        if part in ("cooperation", "action"):
            records = by_country(records, memo)  # in the form's order
        tables = [_records_table(part, records, ctx, memo)] if records else []
        if part in ("cooperation", "action"):
            tables += [_project_table(project, record, ctx, memo) for record in records
                       for project in record["projects"]]
        sections.append(Section(title, tuple(tables), "" if records else NOTHING[part]))
    return sections


def _values(part: str, record: dict, ctx: FormContext, memo: dict | None) -> tuple[str, ...]:
    return tuple(value or EMPTY for value in shown_values(part, record, ctx, memo))


def _records_table(part: str, records: list[dict], ctx: FormContext, memo: dict | None) -> Table:
    columns = tuple(field.label for field in ctx.rules.parts[part].fields) + (REF_COLUMN,)
    rows = tuple(_values(part, record, ctx, memo) + (record["ref"],) for record in records)
    return Table(columns, rows)


def _project_table(project: dict, parent: dict, ctx: FormContext, memo: dict | None) -> Table:
    labels = (field.label for field in ctx.rules.parts["projet"].fields)
    rows = tuple(zip(labels, _values("projet", project, ctx, memo))) + ((REF_COLUMN, project["ref"]),)
    caption = f"Projet « {project.get('title') or EMPTY} » ({parent.get('partner') or EMPTY}, " \
              f"{parent.get('country') or EMPTY})"
    return Table(("", ""), rows, caption, vertical=True)


def _apd_table(snapshot: dict, ctx: FormContext) -> Table:
    rules = ctx.rules
    field = rules.parts["apd"].fields[0]
    by_year = {a["year"]: a for a in snapshot["apd"]}
    rows = tuple(
        (str(year), display_value(field, by_year.get(year, {}).get("amount"), ctx.references) or EMPTY,
         "à vérifier ou compléter" if year == rules.apd_editable_year else "non modifiable")
        for year in rules.apd_shown_years)
    return Table(("Année", "Montant", ""), rows)
