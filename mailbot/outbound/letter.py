"""The record a summary shows, as tables for the HTML letter (pure: a snapshot and the rules in, tables out).

The letter is for reading: each part of the record (the circular's five) is a table, values written
as the form writes them (labels, « oui »/« non », « 12 500 € »), never codes. The form below it, in
the shape the parser reads, is what the agent edits (`mailbot.outbound.form`).
"""
from __future__ import annotations

from dataclasses import dataclass

from mailbot.outbound.form import SECTIONS, SNAPSHOT_KEYS, FormContext, display_value, record_value

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


@dataclass(frozen=True)
class Section:
    title: str
    tables: tuple[Table, ...]
    empty: str = ""  # what to say when the part has no record


def record_sections(snapshot: dict, ctx: FormContext) -> list[Section]:
    """The five parts of the record, in the circular's order."""
    sections = []
    for part, _ in SECTIONS:
        title = SECTION_TITLES[part]
        if part == "apd":
            sections.append(Section(title, (_apd_table(snapshot, ctx),)))
            continue
        records = snapshot[SNAPSHOT_KEYS[part]]
        tables = [_records_table(part, records, ctx)] if records else []
        if part in ("cooperation", "action"):
            tables += [_project_table(project, record, ctx) for record in records for project in record["projects"]]
        sections.append(Section(title, tuple(tables), "" if records else NOTHING[part]))
    return sections


def _value(part: str, field, record: dict, ctx: FormContext) -> str:
    return display_value(field, record_value(part, field, record), ctx.references) or EMPTY


def _records_table(part: str, records: list[dict], ctx: FormContext) -> Table:
    fields = ctx.rules.parts[part].fields
    columns = tuple(field.label for field in fields) + (REF_COLUMN,)
    rows = tuple(tuple(_value(part, field, record, ctx) for field in fields) + (record["ref"],) for record in records)
    return Table(columns, rows)


def _project_table(project: dict, parent: dict, ctx: FormContext) -> Table:
    fields = ctx.rules.parts["projet"].fields
    rows = tuple((field.label, _value("projet", field, project, ctx)) for field in fields) + \
        ((REF_COLUMN, project["ref"]),)
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
