"""What a person reads instead of internal codes (pure): field labels, choice labels (statuses, roles,
themes, networks, countries), yes/no, amounts, whole records, and the names of the review's states.

Used wherever a change is told to a person: the acknowledgement, the decision notice, `review show`.
Codes stay in the store, the `--json` output and the logs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from mailbot.outbound.render import euros, french_date
from mailbot.rules import ReferenceLists, Rules, choices_for, country_name

EMPTY = "(vide)"
ENTITY_NAMES = {
    "contact": "contact",
    "reseau": "adhésion à un réseau",
    "apd": "aide publique au développement",
    "cooperation": "coopération décentralisée",
    "projet": "projet",
    "action": "action extérieure",
}
OPERATIONS = {"update": "modification", "create": "ajout", "delete": "suppression", "move": "déplacement"}
CHANGE_STATES = {"pending": "en attente", "applied": "appliquée", "rejected": "rejetée", "conflict": "en conflit",
                 "superseded": "remplacée"}
SET_STATES = {"pending": "en attente", "approved": "approuvé", "rejected": "rejeté", "partial": "en partie approuvé",
              "superseded": "remplacé", "reverted": "annulé"}
YES_NO = {True: "oui", False: "non"}
# snapshot keys that are not form fields, and how they read (store.queries.record_data)
EXTRA_KEYS = {"country": "Pays", "partner": "Collectivité partenaire", "name": "Nom", "year": "Année",
              "network": "Association ou réseau"}
_HIDDEN_KEYS = {"ref", "version", "kind", "email_state", "projects", "partner_ref", "country_code", "id"}
_AMOUNT_TYPES = ("euros",)


@dataclass(frozen=True)
class Labels:
    """(entity, field key) → the field's label, its type, and its choices (code → label)."""

    fields: dict[tuple[str, str], str] = field(default_factory=dict)
    types: dict[tuple[str, str], str] = field(default_factory=dict)
    choices: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)

    def field(self, entity: str, key: str | None) -> str:
        if not key:
            return ENTITY_NAMES.get(entity, entity)
        return self.fields.get((entity, key)) or EXTRA_KEYS.get(key) or key.replace("_", " ")

    def value(self, entity: str, key: str | None, value) -> str:
        """One value as the form writes it: a choice's label, « oui »/« non », « 12 500 € », « (vide) »."""
        if value is None or value == "" or value == []:
            return EMPTY
        kind = self.types.get((entity, key or ""))
        if isinstance(value, bool):
            return YES_NO[value]
        if isinstance(value, dict):
            return self.record(entity, value)
        choices = self.choices.get((entity, key or ""))
        if isinstance(value, list):
            return " ; ".join(choices.get(str(v), str(v)) if choices else str(v) for v in value)
        if choices:
            return choices.get(str(value), str(value))
        if kind == "country":
            return _country(str(value))
        if kind in _AMOUNT_TYPES:
            try:
                return euros(Decimal(str(value)))
            except InvalidOperation:
                return str(value)
        return str(value)

    def record(self, entity: str, values: dict) -> str:
        """A whole record in words: « Prénom : Marie, Nom : Dupont, Fonction : Élu »."""
        shown = []
        for key, value in values.items():
            if key in _HIDDEN_KEYS or value in (None, "", []):
                continue
            if key == "country_code" or (key == "country" and "country_code" in values):
                continue
            shown.append(f"{self.field(entity, key)} : {self.value(entity, key, value)}")
        if "country_code" in values and values["country_code"]:
            shown.insert(0, f"Pays : {_country(values['country_code'])}")
        return ", ".join(shown) or EMPTY


def labels_for(rules: Rules | None, references: ReferenceLists | None = None) -> Labels:
    """Every field of the rules with its label, type and choices (a reference list's for `choices_from`)."""
    if rules is None:
        return Labels()
    references = references or ReferenceLists()
    fields, types, choices = {}, {}, {}
    for part_key, part in rules.parts.items():
        for rule in part.fields:
            fields[(part_key, rule.key)] = rule.label
            types[(part_key, rule.key)] = rule.type
            if rule.choices or rule.choices_from:
                choices[(part_key, rule.key)] = dict(choices_for(rule, references))
    return Labels(fields, types, choices)


def _country(code: str) -> str:
    try:
        return country_name(code)
    except KeyError:
        return code


# --- a change set as a reviewer reads it (`mailbot review show`) ---------------------------------------

PARIS = "Europe/Paris"


def when(iso: str | None) -> str:
    """« 3 avril 2012 à 10 h 14 », in Paris time (the store keeps UTC)."""
    if not iso:
        return "—"
    moment = datetime.fromisoformat(iso)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    local = moment.astimezone(ZoneInfo(PARIS))
    return f"{french_date(local.date())} à {local:%H} h {local:%M}"


def change_lines(change: dict, labels: Labels, names: dict[str, str] | None = None,
                 apd_years: dict[str, int] | None = None) -> list[str]:
    """One change of a set for a reviewer: what, whose, before → after in labels, then its matches,
    errors and conflict, each on its own line."""
    names, apd_years = names or {}, apd_years or {}
    entity, key, ref = change["entity"], change.get("field"), change["ref"]
    whose = names.get(ref)
    what = labels.field(entity, key) if key else ENTITY_NAMES.get(entity, entity)
    if entity == "apd" and (apd_years.get(ref) or ref[4:].isdigit()):
        what = f"APD {apd_years.get(ref) or ref[4:]}"
    target = f"{what} de {whose} ({ref})" if whose else f"{what} ({ref})"
    value = lambda v: labels.value(entity, key, v)  # noqa: E731
    state = CHANGE_STATES.get(change["status"], change["status"])
    operation = OPERATIONS.get(change["op"], change["op"])
    if change["op"] == "update":
        body = f"{target} : {value(change['old'])} → {value(change['new'])}"
    elif change["op"] == "create":
        body = f"{ENTITY_NAMES.get(entity, entity)} : {value(change['new'])}"
    elif change["op"] == "delete":
        body = f"{ENTITY_NAMES.get(entity, entity)} {whose or ''} ({ref}) : {value(change['old'])}"
    else:
        body = f"l'action extérieure {whose or ''} ({ref}) devient une coopération décentralisée"
    lines = [f"  [{change['id']}] {state} — {operation} : {' '.join(body.split())}"]
    if change.get("asked") is not None:
        lines.append(f"           corrigé par {change['edited_by']} ; l'agent avait écrit « {value(change['asked'])} »")
    for match in change.get("matches") or []:
        lines.append(f"           « {match['written']} » compris comme « {match['label']} » "
                     f"(ressemblance {match['score']:.0f} %)")
    for error in change.get("errors") or []:
        lines.append(f"           ERREUR : {error['message']}")
    if change["status"] == "conflict":
        lines.append(f"           CONFLIT ({change['reason']}) — vu par l'agent : {value(change['old'])} ; "
                     f"dans l'Atlas maintenant : {value(change['current'])} ; demandé : {value(change['new'])}")
        lines.append(f"           trancher : mailbot review resolve {change['id']} --take asked|current")
    elif change.get("reason") and change["status"] == "rejected":
        lines.append(f"           rejetée : {change['reason']}")
    return lines
