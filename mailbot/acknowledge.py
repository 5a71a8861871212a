"""What we tell the agent we understood (pure: proposed changes in, French sentences out)."""
from __future__ import annotations

from dataclasses import dataclass

from mailbot.diff import ProposedChange

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
    if isinstance(value, dict):
        return ", ".join(str(v) for v in value.values() if v not in (None, "", []))
    return str(value)


def sentence(change: ProposedChange) -> str:
    who = f" de {change.description}" if change.description else ""
    if change.op == "update":
        return f"{change.label or change.field}{who} : {show(change.old)} → {show(change.new)}"
    if change.op == "delete":
        return f"Suppression : {ENTITY_NAMES[change.entity]} {change.description}".rstrip()
    if change.op == "move":
        return f"L'action extérieure {change.description} devient une coopération décentralisée"
    parent = f" (rattaché à {change.parent_ref})" if change.parent_ref else ""
    return f"{NEW_NAMES[change.entity]} : {show(change.new)}{parent}"


def error_sentences(change: ProposedChange) -> list[str]:
    where = change.label or change.field or ENTITY_NAMES[change.entity]
    who = f" ({change.description})" if change.description else ""
    written = f" « {show(change.new)} »" if change.op == "update" and change.new not in (None, "") else ""
    return [f"{where}{who}{written} : {error['message']}" for error in change.errors]


def acknowledge(changes: list[ProposedChange], problems: list[dict] | tuple = ()) -> Acknowledgement:
    understood = [sentence(c) for c in changes if not c.errors]
    errors = [line for c in changes for line in error_sentences(c)]
    errors += [p["message"] for p in problems]
    fuzzy = [f"« {m['written']} » compris comme « {m['label']} »"
             for c in changes for m in c.matches if m.get("written") and m.get("label")
             and m["written"].strip().casefold() != m["label"].casefold()]
    return Acknowledgement(tuple(understood), tuple(errors), tuple(fuzzy),
                           confirmation=not changes and not problems)
