"""What we tell the agent we understood (pure: proposed changes in, French sentences out)."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from mailbot.labels import ENTITY_NAMES, Labels
from mailbot.outbound.render import euros
from mailbot.replies.diff import ProposedChange

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
    confirmation: bool  # nothing changed: the record is confirmed


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
    if change.op == "update":
        if change.entity == "apd" or (change.entity, change.field) in AMOUNT_FIELDS and not labels.types:
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
