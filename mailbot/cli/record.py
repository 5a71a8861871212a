"""`mailbot show CODE` for people: a collectivité's record with the labels of a campaign's rules file
(« Rôle : Élu », « Statut : En cours », themes by name, « oui »/« non »), never the internal codes the
store keeps. `--json` prints the record itself (store.queries), codes and English keys included.

Pure: the record, the rules and the reference lists in, the text out. Which rules to use (the newest
campaign's, else the shipped file) is decided by the command (mailbot.cli.atlas).
"""
from __future__ import annotations

from mailbot.outbound.form import display_value, field_choices, record_value
from mailbot.outbound.render import euros
from mailbot.rules import FieldRule, Part, ReferenceLists, Rules
from store.queries import KIND_WORDS

# the record's lists, by rules part; projects are read inside cooperations and actions
_SECTIONS = (("contact", "contacts"), ("reseau", "reseaux"), ("apd", "apd"), ("cooperation", "cooperations"),
             ("action", "actions"))
_EMAIL_STATES = {"bouncing": "adresse en échec", "ok": None}
EMPTY = "—"


def record_text(record: dict, rules: Rules, references: ReferenceLists) -> str:
    where = [KIND_WORDS.get(record["kind"], record["kind"])]
    where += [f"{word} {record[key]}" for word, key in (("dép.", "departement"), ("rég.", "region")) if record.get(key)]
    lines = [f"{record['name']} ({record['code']}, {', '.join(where)})"]
    for part_key, record_key in _SECTIONS:
        part = rules.parts[part_key]
        lines += ["", f"{part.title} :"]
        items = record.get(record_key) or []
        if not items:
            lines.append("  (rien)")
        for item in items:
            lines += _item_lines(part_key, part, item, rules, references, indent="  ")
    return "\n".join(lines)


def _item_lines(part_key: str, part: Part, item: dict, rules: Rules, references: ReferenceLists,
                indent: str) -> list[str]:
    if part_key == "apd":
        # one line per year: the rules' label names only the editable year
        document = f" — document joint : {item['document_name']}" if item.get("document_name") else ""
        return [f"{indent}[{item['ref']}] {item['year']} : {euros(item.get('amount'))}{document}"]
    lines = [f"{indent}[{item['ref']}]"]
    lines += [f"{indent}  {field.label} : {_value(part_key, field, item, references)}" for field in part.fields]
    state = _EMAIL_STATES.get(item.get("email_state"), item.get("email_state")) if part_key == "contact" else None
    if state:
        lines.append(f"{indent}  État de l'adresse : {state}")
    if part_key in ("cooperation", "action"):
        projects = rules.parts["projet"]
        lines.append(f"{indent}  {projects.title} :" if item.get("projects") else f"{indent}  {projects.title} : (aucun)")
        for project in item.get("projects") or []:
            lines += _item_lines("projet", projects, project, rules, references, indent=indent + "    ")
    return lines


def _value(part_key: str, field: FieldRule, item: dict, references: ReferenceLists) -> str:
    value = record_value(part_key, field, item)
    if field.type == "several-of" and value:
        # « ; » between labels: a theme's label may itself hold a comma
        choices = field_choices(field, references)
        return " ; ".join(choices.get(code, str(code)) for code in value)
    if field.type == "yesno" and value is None:
        return EMPTY
    return display_value(field, value, references) or EMPTY
