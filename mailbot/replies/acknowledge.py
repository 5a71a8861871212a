"""What we tell the agent we understood (pure: changes in, French sentences out).

`acknowledge_stored` reads the change set as it was stored (the rows reviewers will see), the
problems recorded with the message, and whether the collectivité was counted as confirmed: the
acknowledgement says what was recorded, never what we assume."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from mailbot.outbound.render import euros
from mailbot.replies.diff import ProposedChange, describe, index_snapshot
from mailbot.replies.words import WORDS, read_words
from mailbot.labels import Labels, labels_for
from mailbot.rules import ReferenceLists, Rules

ENTITY_NAMES = {
    "contact": "contact",
    "reseau": "adhésion à un réseau",
    "apd": "aide publique au développement",
    "cooperation": "coopération décentralisée",
    "projet": "projet",
    "action": "action extérieure",
}
NEW_NAMES = {
    "contact": "Nouveau contact",
    "reseau": "Nouvelle adhésion",
    "apd": "Nouveau montant d'APD",
    "cooperation": "Nouvelle coopération décentralisée",
    "projet": "Nouveau projet",
    "action": "Nouvelle action extérieure",
}


AMOUNT_FIELDS = {("apd", "amount"), ("projet", "budget")}


@dataclass(frozen=True)
class Acknowledgement:
    understood: tuple[str, ...]
    errors: tuple[str, ...]
    fuzzy: tuple[str, ...]
    confirmation: bool  # the collectivité was counted as confirmed
    words: str = ""  # the agent's words passed on to reviewers (before their signature)


def show(value) -> str:
    if value is None or value == "" or value == []:
        return "(vide)"
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict) and "attachment_id" in value:
        return f"« {value.get('name') or 'pièce jointe'} » (pièce jointe)"  # a document sent with the reply
    if isinstance(value, dict):
        return ", ".join(str(v) for v in value.values() if v not in (None, "", []))
    return str(value)


def shown(entity: str, field_key: str | None, value) -> str:
    """A value as the agent writes it on the form: amounts in French format (« 12 500 € »)."""
    if (entity, field_key) in AMOUNT_FIELDS and value not in (None, ""):
        try:
            return euros(Decimal(str(value)))
        except InvalidOperation:
            pass
    return show(value)


def sentence(change: ProposedChange, labels: Labels | None = None) -> str:
    """One change in French, values as labels (« En cours → Terminé », « Fonction : Élu »), never codes."""
    labels = labels or Labels()
    # an APD line is already named by its year (« APD 2010 »): no « de 2010 » after it
    who = f" de {change.description}" if change.description and change.entity != "apd" else ""
    if change.op == "update" or change.entity == "apd" and change.op == "create":  # a year's amount, first written
        if change.entity == "apd" or not labels.types:
            value = lambda v: shown(change.entity, change.field, v)  # noqa: E731
        else:
            value = lambda v: labels.value(change.entity, change.field, v)  # noqa: E731
        label = change.label or labels.field(change.entity, change.field)
        return f"{label}{who} : {value(change.old)} → {value(change.new)}"
    if change.op == "delete":
        return f"Suppression : {ENTITY_NAMES[change.entity]} {change.description}".rstrip()
    if change.op == "move":
        return f"L'action extérieure {change.description} devient une coopération décentralisée"
    parent = f" (rattaché à {change.parent_ref})" if change.parent_ref else ""
    if change.parent_ref and change.parent_ref.startswith(("NOUVEAU", "NOUVELLE")):
        parent = f" (rattaché à la {NEW_NAMES['cooperation' if 'COOPERATION' in change.parent_ref else 'action'].lower()} de ce message)"
    new = labels.value(change.entity, None, change.new) if isinstance(change.new, dict) else show(change.new)
    return f"{NEW_NAMES[change.entity]} : {new}{parent}"


def error_sentences(change: ProposedChange, labels: Labels | None = None) -> list[str]:
    where = change.label or (labels.field(change.entity, change.field) if labels else change.field) \
        or ENTITY_NAMES[change.entity]
    who = f" ({change.description})" if change.description else ""
    written = f" « {show(change.new)} »" if change.op == "update" and change.new not in (None, "") else ""
    return [f"{where}{who}{written} : {error['message']}" for error in change.errors]


def acknowledge(changes: list[ProposedChange], problems: list[dict] | tuple = (),
                labels: Labels | None = None) -> Acknowledgement:
    understood = [sentence(c, labels) for c in changes if not c.errors]
    errors = [line for c in changes for line in error_sentences(c, labels)]
    errors += [p["message"] for p in problems]
    fuzzy = [f"« {m['written']} » compris comme « {m['label']} »"
             for c in changes for m in c.matches if m.get("written") and m.get("label")
             and m["written"].strip().casefold() != m["label"].casefold()]
    return Acknowledgement(tuple(understood), tuple(errors), tuple(fuzzy),
                           confirmation=not changes and not problems)


def acknowledge_stored(rows: list, problems: list[str], rules: Rules, snapshot: dict, *, confirmed: bool,
                       note: str | None, references: ReferenceLists | None = None) -> Acknowledgement:
    """The acknowledgement of one stored change set (`rows`: store.review_models.Change, or anything
    with the same attributes), named with the form's labels and the records the snapshot showed."""
    changes = [stored_change(row, rules, snapshot) for row in rows]
    ack = acknowledge(changes, [{"message": message} for message in problems], labels_for(rules, references))
    reading = read_words(note or "")
    return Acknowledgement(ack.understood, ack.errors, ack.fuzzy, confirmation=confirmed,
                           words=reading.words if reading.kind == WORDS else "")


def stored_change(row, rules: Rules, snapshot: dict) -> ProposedChange:
    """A stored change as the agent's sentence needs it: its form label and whose record it is."""
    record = index_snapshot(snapshot).by_ref.get(row.ref) if snapshot else None
    label, description = None, ""
    if row.entity == "apd":
        year = _apd_year(row.ref, snapshot)
        label, description = (f"APD {year}", str(year)) if year else (None, "")
    else:
        part = rules.parts.get(row.entity)
        rule = next((f for f in part.fields if f.key == row.field), None) if part is not None else None
        label = rule.label if rule is not None else None
        if record is not None:
            description = describe(record[0], record[1])
        elif row.op == "create" and isinstance(row.new, dict):
            description = describe(row.entity, row.new)
    return ProposedChange(op=row.op, entity=row.entity, ref=row.ref, field=row.field, old=row.old, new=row.new,
                          base_version=row.base_version, parent_ref=row.parent_ref, errors=tuple(row.errors or ()),
                          matches=tuple(row.matches or ()), label=label, description=description)


def _apd_year(ref: str, snapshot: dict) -> int | None:
    for row in (snapshot or {}).get("apd", []):
        if row.get("ref") == ref:
            return int(row["year"])
    tail = ref.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else None  # APD-2011: a year without a row yet
