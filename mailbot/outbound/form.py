"""The reply form (docs/reply-form.md): pure rendering from a snapshot and the campaign rules.

Shared vocabulary with the parser (`mailbot/replies/parse.py`): marker syntax, new-record keywords, switch
labels and how each field type is displayed.
"""
from __future__ import annotations

import functools
import re
import textwrap
import unicodedata
from dataclasses import dataclass, field as dataclass_field
from decimal import Decimal

from mailbot.outbound.render import euros
from mailbot.rules import FieldRule, ReferenceLists, Rules, fold

FORM_START = "#### DÉBUT DU FORMULAIRE ATLAS {token} ####"
FORM_END = "#### FIN DU FORMULAIRE ATLAS ####"
DELETE_LABEL = "Supprimer cette fiche (oui/non)"
MOVE_LABEL = "C'est une coopération décentralisée (oui/non)"
PARENT_LABEL = "Coopération ou action (référence)"
APD_BLOCK = "APD"
# Version 2: the APD block and the empty blocks carry the collectivité's code (`#### APD · COM-35238 ·
# …`), so that a block pasted from another collectivité's form is refused like an unknown reference.
# Snapshots record the version of the form they were shown with (`form_version`).
FORM_VERSION = 2
# The shape of a collectivité code on a marker line (store.models.KIND_PREFIX: REG-53, DEP-2A, COM-35238…).
OWNER_RE = re.compile(r"^(?:REG|DEP|COM|EPCI)-[0-9A-Z]{1,14}$")
MARKER_SEPARATOR = "·"
LOCKED_SUFFIX = "(non modifiable)"
# Several values of one field (themes): a semicolon, which no label holds (labels hold commas and « et »)
SEVERAL_SEPARATOR = " ; "
MANDATORY_NOTE = "Les champs marqués d'un astérisque (*) sont obligatoires."
# A line that lists a field's allowed values, after the field; the parser reads it as nothing
HINT_LABEL = "Valeurs possibles"
HINT_LINE = HINT_LABEL + " ({label}) : {values}"
HINT_WIDTH = 76  # under the width at which clients re-wrap

# part key (rules file) → keyword of its empty block, description of existing and new blocks
NEW_KEYWORDS = {
    "contact": "NOUVEAU-CONTACT",
    "reseau": "NOUVEAU-RÉSEAU",
    "cooperation": "NOUVELLE-COOPÉRATION",
    "projet": "NOUVEAU-PROJET",
    "action": "NOUVELLE-ACTION",
}
# keyed by the unaccented keyword: the parser folds what it reads (the forms sent before the accents,
# and clients that lose them, write NOUVEAU-RESEAU); references of created records use this form too
KEYWORD_PARTS = {unicodedata.normalize("NFKD", keyword).encode("ascii", "ignore").decode(): part
                 for part, keyword in NEW_KEYWORDS.items()}
BLOCK_TITLES = {
    "contact": "Élu ou cadre",
    "reseau": "Association ou réseau",
    "cooperation": "Coopération décentralisée",
    "projet": "Projet",
    "action": "Action extérieure",
}
NEW_TITLES = {part: "à remplir" for part in NEW_KEYWORDS}  # short: with the code, markers stay under 60 characters
SECTIONS = (
    ("contact", "1. ÉLUS ET CADRES TERRITORIAUX"),
    ("reseau", "2. ASSOCIATIONS ET RÉSEAUX INTERNATIONAUX"),
    ("apd", "3. AIDE PUBLIQUE AU DÉVELOPPEMENT"),
    ("cooperation", "4. COOPÉRATIONS DÉCENTRALISÉES (par pays)"),
    ("action", "5. AUTRES ACTIONS EXTÉRIEURES (par pays)"),
)
COUNTRY_HEADING = "---- {country} ----"
# where each part's records sit in a snapshot (store.queries.record_data)
SNAPSHOT_KEYS = {"contact": "contacts", "reseau": "reseaux", "cooperation": "cooperations", "action": "actions"}

MARKER_RE = re.compile(r"^#{3,}\s*(?P<ref>[A-Z][A-Z0-9-]*)\b(?P<rest>.*?)#*\s*$")


@dataclass(frozen=True)
class FormContext:
    rules: Rules
    references: ReferenceLists
    hints: dict = dataclass_field(default_factory=dict, compare=False, repr=False)  # each hint line, made once


def marker(ref: str, description: str, owner: str | None = None) -> str:
    """`#### CT-7K3Q9A · Élu ou cadre ####`; with `owner`, `#### APD · COM-35238 · montants ####`."""
    if owner:
        return f"#### {ref} {MARKER_SEPARATOR} {owner} {MARKER_SEPARATOR} {description} ####"
    return f"#### {ref} {MARKER_SEPARATOR} {description} ####"


def form_labels(rules: Rules) -> dict[str, frozenset[str]]:
    """Each part's label keys (folded as the parser folds them), for the parser: a `Label : value`
    line whose label is not one of its block's is prose, not a field."""
    return {key: frozenset(label_key(f.label) for f in part.fields) for key, part in rules.parts.items()}


@functools.lru_cache(maxsize=4096)  # a form repeats the same few dozen labels: fold each once
def label_key(label: str) -> str:
    """Labels compare without case, accents, asterisks, punctuation spacing."""
    text = unicodedata.normalize("NFKD", label.replace("*", " "))
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    return " ".join(text.replace("\u2019", "'").split())


def field_line(field: FieldRule, value: str) -> str:
    star = "*" if field.mandatory else ""
    return f"{field.label}{star} : {value}".rstrip()


def apd_label(year: int, editable_year: int, rules: Rules) -> str:
    field = rules.parts["apd"].fields[0]
    if year == editable_year:
        return f"{field.label}"
    return f"APD {year} {LOCKED_SUFFIX}"


def display_value(field: FieldRule, value, references: ReferenceLists) -> str:
    """How a stored value is written on a form line (the parser reads the same spellings back)."""
    if value is None or value == "" or value == []:
        return ""
    kind = field.type
    if kind == "euros":
        # plain spaces: a reply re-encoded in a legacy charset must keep the value readable
        return euros(Decimal(str(value))).replace("\u202f", " ").replace("\u00a0", " ")
    if kind == "yesno":
        return "oui" if value else "non"
    if kind == "one-of":
        return _choice_label(field, value, references)
    if kind == "several-of":
        return SEVERAL_SEPARATOR.join(_choice_label(field, v, references) for v in value)
    return " ".join(str(value).split())  # one line, whatever the stored text holds


def _choice_label(field: FieldRule, code, references: ReferenceLists) -> str:
    choices = field_choices(field, references)
    return choices.get(code, str(code))


def field_choices(field: FieldRule, references: ReferenceLists) -> dict[str, str]:
    if field.choices_from:
        return dict(getattr(references, field.choices_from))
    return dict(field.choices or {})


def record_value(part: str, field: FieldRule, record: dict):
    """The snapshot value behind a form field (snapshot keys follow the models, see store.queries)."""
    if part in ("cooperation", "action") and field.type == "country":
        return record.get("country")
    if part in ("cooperation", "action") and field.type == "partner_name":
        return record.get("partner")
    return record.get(field.key)


def describe(part: str, record: dict) -> str:
    """Whose record, in words (« Marie Dupont », « Thiès (Sénégal) », a project's title): how the
    acknowledgement, the decision notice and the reminder name it."""
    if part == "contact":
        return f"{record.get('first_name', '')} {record.get('last_name', '')}".strip()
    if part == "reseau":
        return record.get("name") or record.get("network") or ""
    if part in ("cooperation", "action"):
        return f"{record.get('partner') or ''} ({record.get('country') or ''})".strip()
    if part == "projet":
        return record.get("title") or ""
    return ""


def mask_address(address: str) -> str:
    """`marie.dupont@ville.fr` → `m•••@ville.fr`: shown to senders not yet known as contacts."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}•••@{domain}" if domain else "•••"


def masked_snapshot(record: dict) -> dict:
    """The record as a summary for a stranger shows it: contacts' addresses masked."""
    masked = dict(record)
    masked["contacts"] = [
        {**c, "email": mask_address(c["email"]) if c.get("email") else c.get("email")} for c in record["contacts"]
    ]
    return masked


def shown_values(part: str, record: dict, ctx: FormContext, memo: dict | None = None) -> tuple[str, ...]:
    """How each field of a record is written (`display_value`), in the part's field order. `memo`
    (ref → values, for one summary) lets the letter's tables reuse what the form computed."""
    values = memo.get(record["ref"]) if memo is not None else None
    if values is None:
        values = tuple(display_value(field, record_value(part, field, record), ctx.references)
                       for field in _fields(ctx, part))
        if memo is not None:
            memo[record["ref"]] = values
    return values


def render_form(snapshot: dict, token: str, ctx: FormContext, memo: dict | None = None) -> list[str]:
    """The form's lines, in the circular's order, for one collectivité's snapshot."""
    lines = [FORM_START.format(token=token), "", MANDATORY_NOTE, ""]
    owner = snapshot["code"]
    for part, title in SECTIONS:
        lines += [f"==== {title} ====", ""]
        if part == "apd":
            lines += _apd_block(snapshot, ctx)
            continue
        if part in ("cooperation", "action"):
            lines += _by_country(part, snapshot[SNAPSHOT_KEYS[part]], ctx, memo)
        else:
            for record in snapshot[SNAPSHOT_KEYS[part]]:
                lines += _record_block(part, record, ctx, memo)
        if part in ("cooperation", "action") and snapshot[SNAPSHOT_KEYS[part]]:
            lines += _new_block("projet", ctx, owner)  # a project goes under an existing cooperation or action
        lines += _new_block(part, ctx, owner)
    lines.append(FORM_END)
    return lines


def by_country(records: list[dict], memo: dict | None = None) -> list[dict]:
    """Cooperations and actions in the circular's order: by country, then partner, in French order
    (sorted once per summary when a `memo` is given: the form and the letter both list them)."""
    key = ("by_country", id(records))
    ordered = memo.get(key) if memo is not None else None
    if ordered is None:
        ordered = sorted(records, key=lambda r: (fold(r.get("country") or ""), fold(r.get("partner") or "")))
        if memo is not None:
            memo[key] = ordered
    return ordered


def _by_country(part: str, records: list[dict], ctx: FormContext, memo: dict | None) -> list[str]:
    """Sections 4 and 5 list their records by country, as the circular does: a heading line per
    country (no colon and after a blank line, so the parser passes over it), each record followed
    by its projects."""
    lines: list[str] = []
    country = None
    for record in by_country(records, memo):
        if record.get("country") != country:
            country = record.get("country")
            lines += [COUNTRY_HEADING.format(country=country or "Pays non renseigné"), ""]
        lines += _record_block(part, record, ctx, memo)
        for project in record["projects"]:
            lines += _project_block(project, record["ref"], ctx, memo)
    return lines


def _fields(ctx: FormContext, part: str) -> tuple[FieldRule, ...]:
    return ctx.rules.parts[part].fields


def hint_lines(part: str, field: FieldRule, ctx: FormContext, *, new: bool) -> tuple[str, ...]:
    """The allowed values of a choice or yes/no field, for the lines after it (none: nothing to list).
    Statuses, roles and yes/no are listed in every block; a long reference list (networks, themes)
    only in the block that adds a record, the other blocks pointing to it (a summary lists the
    themes once per section, not under each of a collectivité's projects)."""
    if field.type not in ("one-of", "several-of", "yesno") or \
            (field.choices_from and field.type == "one-of" and not new):
        return ()
    if field.choices_from and not new:  # a long list (the themes): in full in the block that adds a record
        pointer = ("see", part, field.key)
        if pointer not in ctx.hints:
            ctx.hints[pointer] = (HINT_LINE.format(label=field.label, values=f"celles du bloc {NEW_KEYWORDS[part]}"),)
        return ctx.hints[pointer]
    key = (field.key, field.label, field.type, field.choices_from)
    hint = ctx.hints.get(key)
    if hint is None:
        values = ("oui", "non") if field.type == "yesno" else field_choices(field, ctx.references).values()
        text = HINT_LINE.format(label=field.label, values=SEVERAL_SEPARATOR.join(values))
        # wrapped here rather than by the agent's client; the parser reads the continuation as nothing
        hint = ctx.hints[key] = tuple(textwrap.wrap(text, HINT_WIDTH, subsequent_indent="    ",
                                                    break_long_words=False, break_on_hyphens=False))
    return hint


def _field_lines(part: str, field: FieldRule, value: str, ctx: FormContext, *, new: bool = False) -> list[str]:
    return [field_line(field, value), *hint_lines(part, field, ctx, new=new)]


def _record_block(part: str, record: dict, ctx: FormContext, memo: dict | None = None) -> list[str]:
    lines = [marker(record["ref"], BLOCK_TITLES[part])]
    for field, value in zip(_fields(ctx, part), shown_values(part, record, ctx, memo)):
        lines += _field_lines(part, field, value, ctx)
    if part == "action":
        lines.append(f"{MOVE_LABEL} : non")
    lines += [f"{DELETE_LABEL} : non", ""]
    return lines


def _project_block(project: dict, parent_ref: str, ctx: FormContext, memo: dict | None = None) -> list[str]:
    lines = [marker(project["ref"], f"Projet de {parent_ref}")]
    for field, value in zip(_fields(ctx, "projet"), shown_values("projet", project, ctx, memo)):
        lines += _field_lines("projet", field, value, ctx)
    lines += [f"{DELETE_LABEL} : non", ""]
    return lines


def _new_block(part: str, ctx: FormContext, owner: str) -> list[str]:
    lines = [marker(NEW_KEYWORDS[part], NEW_TITLES[part], owner)]
    if part == "projet":
        lines.append(f"{PARENT_LABEL}* :")
    for field in _fields(ctx, part):
        lines += _field_lines(part, field, "", ctx, new=True)
    lines.append("")
    return lines


def _apd_block(snapshot: dict, ctx: FormContext) -> list[str]:
    rules = ctx.rules
    field = rules.parts["apd"].fields[0]
    by_year = {a["year"]: a for a in snapshot["apd"]}
    lines = [marker(APD_BLOCK, "montants", snapshot["code"])]
    for year in rules.apd_shown_years:
        amount = by_year.get(year, {}).get("amount")
        value = display_value(field, amount, ctx.references)
        if year == rules.apd_editable_year:
            lines.append(field_line(field, value))
        else:
            lines.append(f"APD {year} {LOCKED_SUFFIX} : {value}".rstrip())
    lines.append("")
    return lines
