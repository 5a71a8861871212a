"""Loading and checking a rules file when it loads, so a broken file stops a campaign before any summary goes out."""
from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

from mailbot.rules.matching import fold
from mailbot.rules.model import (
    MAX_LENGTH_BY_TYPE,
    CampaignContact,
    Choice,
    Condition,
    FieldRule,
    Part,
    Plausibility,
    ReferenceLists,
    Rules,
    RulesFileError,
    ValueRejected,
)
from mailbot.rules.values import CHOICE_TYPES, FIELD_TYPES, check_email

# ---- loading a rules file -----------------------------------------------------------------------

# What the store can hold for each part (store.models; checked by tests): a field key must be one.
PART_ATTRIBUTES: dict[str, frozenset[str]] = {
    "contact": frozenset({"first_name", "last_name", "title", "email", "role"}),
    "reseau": frozenset({"network"}),
    "apd": frozenset({"amount", "document_name"}),
    "cooperation": frozenset({"country_code", "partner", "twinning", "since_year"}),
    "projet": frozenset({"title", "themes", "status", "status_year", "description", "start_year", "end_year",
                         "budget", "operators", "beneficiaries"}),
    "action": frozenset({"country_code", "partner", "twinning", "since_year"}),
}
REFERENCE_LISTS = tuple(f.name for f in dataclasses.fields(ReferenceLists))
_TOP_KEYS = {"name", "title", "year", "apd", "reminders", "contact", "part", "plausibility"}
_PLAUSIBILITY_SWITCHES = ("email_domain", "partner_capitals", "last_contact", "project_dates")
_PART_KEYS = {"key", "title", "within", "field", "max_new"}
_FIELD_KEYS = {f.name for f in dataclasses.fields(FieldRule)}
_REQUIRED = object()


class _Problems(list):
    """Every problem of a rules file, so that one run shows them all."""

    def take(self, table: dict, key: str, kind: type, where: str, default=_REQUIRED):
        if key not in table:
            if default is _REQUIRED:
                self.append(f"{where} : `{key}` manque")
                return None
            return default
        value = table[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            self.append(f"{where} : `{key}` doit être {_KIND_NAMES[kind]}, pas {value!r}")
            return None if default is _REQUIRED else default
        return value

    def unknown(self, table: dict, allowed: set[str], where: str) -> None:
        for key in sorted(set(table) - allowed):
            self.append(f"{where} : clé inconnue `{key}` (permises : {', '.join(sorted(allowed))})")


_KIND_NAMES = {str: "une chaîne", int: "un entier", bool: "true ou false", list: "une liste", dict: "une table"}


def load_rules(path: str | Path) -> Rules:
    """Read and check a rules file; raises RulesFileError naming the file and each problem."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesFileError(str(path), [f"impossible de lire le fichier : {exc}"]) from None
    return parse_rules_text(text, source=str(path))


def parse_rules_text(text: str, source: str = "<rules>") -> Rules:
    """Check and build rules from TOML text (`source` names it in messages): see load_rules."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesFileError(source, [f"TOML invalide : {exc}"]) from None
    problems = _Problems()
    rules = _read_rules(data, problems, source)
    if problems:
        raise RulesFileError(source, problems)
    return rules


def _read_rules(data: dict, p: _Problems, source: str) -> Rules | None:
    p.unknown(data, _TOP_KEYS, "premier niveau")
    name, title = p.take(data, "name", str, "premier niveau"), p.take(data, "title", str, "premier niveau")
    year = p.take(data, "year", int, "premier niveau")
    apd = p.take(data, "apd", dict, "premier niveau") or {}
    p.unknown(apd, {"editable_year", "shown_years"}, "[apd]")
    editable, shown = p.take(apd, "editable_year", int, "[apd]"), p.take(apd, "shown_years", list, "[apd]")
    _check_years(year, editable, shown, p)
    reminders = p.take(data, "reminders", dict, "premier niveau") or {}
    p.unknown(reminders, {"min_days_between", "max_count"}, "[reminders]")
    min_days = p.take(reminders, "min_days_between", int, "[reminders]")
    max_count = p.take(reminders, "max_count", int, "[reminders]")
    if any(n is not None and n < 0 for n in (min_days, max_count)):
        p.append("[reminders] : `min_days_between` et `max_count` ne peuvent pas être négatifs")
    contact = _read_contact(p.take(data, "contact", dict, "premier niveau") or {}, p)
    parts = _read_parts(p.take(data, "part", list, "premier niveau") or [], p)
    if "apd" in parts and editable is not None:
        _check_apd_part(parts["apd"], editable, p)
    plausibility = _read_plausibility(p.take(data, "plausibility", dict, "premier niveau", {}), p)
    if p:
        return None
    return Rules(name=name, title=title, year=year, apd_editable_year=editable, apd_shown_years=tuple(shown),
                 reminder_min_days=min_days, reminder_max_count=max_count, contact=contact, parts=parts,
                 source=source, plausibility=plausibility)


def _read_plausibility(table: dict, p: _Problems) -> Plausibility:
    where = "[plausibility]"
    p.unknown(table, {"apd_factor", *_PLAUSIBILITY_SWITCHES}, where)
    factor = table.get("apd_factor")
    if factor is not None and (isinstance(factor, bool) or not isinstance(factor, (int, float)) or factor <= 1):
        p.append(f"{where} : `apd_factor` doit être un nombre supérieur à 1 (10 : un montant multiplié ou divisé par plus "
                 f"de dix), pas {factor!r}")
        factor = None
    switches = {key: p.take(table, key, bool, where, False) for key in _PLAUSIBILITY_SWITCHES}
    return Plausibility(apd_factor=float(factor) if factor is not None else None, **switches)


def _check_years(year, editable, shown, p: _Problems) -> None:
    for what, value in (("year", year), ("[apd] editable_year", editable)):
        if value is not None and not 1900 <= value <= 2100:
            p.append(f"{what} : {value} n'est pas une année entre 1900 et 2100")
    if shown is None or editable is None:
        return
    if not shown or not all(isinstance(y, int) and not isinstance(y, bool) for y in shown):
        p.append(f"[apd] shown_years : doit être une liste d'années non vide, pas {shown!r}")
    elif shown != sorted(set(shown)) or shown[-1] != editable:
        p.append(f"[apd] shown_years : {shown} doit être croissante, sans répétition, et finir par "
                 f"editable_year {editable} (les années antérieures sont en lecture seule)")
    if year is not None and editable > year:
        p.append(f"[apd] editable_year : {editable} est après l'année de la campagne {year}")


def _read_contact(table: dict, p: _Problems) -> CampaignContact | None:
    p.unknown(table, {"name", "title", "email"}, "[contact]")
    name, title, email = (p.take(table, key, str, "[contact]") for key in ("name", "title", "email"))
    if email is not None:
        try:
            check_email(email)
        except ValueRejected:
            p.append(f"[contact] email : {email!r} n'est pas une adresse valable")
    return CampaignContact(name, title, email)


def _read_parts(tables: list, p: _Problems) -> dict[str, Part]:
    parts: dict[str, Part] = {}
    for number, table in enumerate(tables, 1):
        if not isinstance(table, dict):
            p.append(f"partie n° {number} : doit être une table ([[part]])")
            continue
        part = _read_part(table, f"partie n° {number}", p)
        if part is None:
            continue
        if part.key in parts:
            p.append(f"partie {part.key!r} : définie deux fois")
        parts[part.key] = part
    for missing in sorted(set(PART_ATTRIBUTES) - set(parts)):
        p.append(f"partie {missing!r} : manque (tout fichier de règles décrit le formulaire entier : "
                 f"{', '.join(PART_ATTRIBUTES)})")
    for part in parts.values():
        for outer in part.within:  # a missing part was reported above
            if outer not in PART_ATTRIBUTES or outer == part.key or (outer in parts and parts[outer].within):
                p.append(f"partie {part.key!r} : `within` nomme {outer!r}, qui n'est pas une partie à sections")
    return parts


def _read_part(table: dict, where: str, p: _Problems) -> Part | None:
    key = p.take(table, "key", str, where)
    if key is not None:
        where = f"partie {key!r}"
        if key not in PART_ATTRIBUTES:
            p.append(f"{where} : partie inconnue (connues : {', '.join(PART_ATTRIBUTES)})")
            return None
    p.unknown(table, _PART_KEYS, where)
    title = p.take(table, "title", str, where)
    within = p.take(table, "within", list, where, [])
    max_new = p.take(table, "max_new", int, where, Part.max_new)
    if max_new is not None and max_new < 1:
        p.append(f"{where} : `max_new` doit être un entier positif (lu : {max_new})")
    field_tables = p.take(table, "field", list, where, [])
    if not field_tables:
        p.append(f"{where} : n'a aucun champ ([[part.field]])")
    fields = [_read_field(t, where, n, key, p) for n, t in enumerate(field_tables, 1)]
    fields = tuple(f for f in fields if f is not None)
    _check_part_fields(fields, where, p)
    return Part(key, title, fields, tuple(str(w) for w in within), max_new or Part.max_new) if key else None


def _read_field(table, part_where: str, number: int, part_key: str | None, p: _Problems) -> FieldRule | None:
    where = f"{part_where}, champ n° {number}"
    if not isinstance(table, dict):
        p.append(f"{where} : doit être une table ([[part.field]])")
        return None
    key = p.take(table, "key", str, where)
    where = f"{part_where}, champ {key!r}" if key else where
    p.unknown(table, _FIELD_KEYS, where)
    if key and part_key in PART_ATTRIBUTES and key not in PART_ATTRIBUTES[part_key]:
        p.append(f"{where} : la base ne garde pas cet attribut pour cette partie "
                 f"(connus : {', '.join(sorted(PART_ATTRIBUTES[part_key]))})")
    label = p.take(table, "label", str, where)
    if label is not None and (not label.strip() or re.search(r"[:*\n]", label)):
        p.append(f"{where} : le libellé {label!r} doit être non vide, sur une ligne, sans ':' ni '*' "
                 "(la ligne du formulaire est `Libellé* : valeur`)")
    kind = p.take(table, "type", str, where)
    if kind is not None and kind not in FIELD_TYPES:
        p.append(f"{where} : type inconnu {kind!r} (connus : {', '.join(FIELD_TYPES)})")
    choices = _read_choices(table.get("choices", []), where, p)
    choices_from = p.take(table, "choices_from", str, where, None)
    _check_choices(kind, choices, choices_from, where, p)
    max_length = p.take(table, "max_length", int, where, None)
    if max_length is not None and max_length < 1:
        p.append(f"{where} : max_length doit valoir au moins 1")
    if max_length is not None and kind in MAX_LENGTH_BY_TYPE and max_length > MAX_LENGTH_BY_TYPE[kind]:
        p.append(f"{where} : max_length {max_length} dépasse les {MAX_LENGTH_BY_TYPE[kind]} permis pour les champs {kind}")
    normalise = p.take(table, "normalise", str, where, None)
    if normalise is not None and (kind != "partner_name" or normalise != "titlecase"):
        p.append(f"{where} : normalise = {normalise!r} : seulement `normalise = \"titlecase\"` sur un champ partner_name")
    condition = _read_condition(table.get("mandatory_when"), where, p)
    return FieldRule(key=key, label=label, type=kind, mandatory=p.take(table, "mandatory", bool, where, False),
                     choices=choices, choices_from=choices_from, max_length=max_length, normalise=normalise,
                     mandatory_when=condition)


def _read_choices(raw, where: str, p: _Problems) -> tuple[Choice, ...]:
    if not isinstance(raw, list):
        p.append(f"{where} : choices doit être une liste de {{ code = …, label = … }}")
        return ()
    choices = []
    for item in raw:
        if not (isinstance(item, dict) and set(item) == {"code", "label"}
                and all(isinstance(v, str) and v.strip() for v in item.values())):
            p.append(f"{where} : le choix {item!r} doit être {{ code = \"…\", label = \"…\" }}")
            continue
        choices.append(Choice(item["code"], item["label"]))
    codes = [c.code for c in choices]
    if len(set(codes)) != len(codes):
        p.append(f"{where} : codes de choix répétés : {codes}")
    return tuple(choices)


def _check_choices(kind, choices, choices_from, where: str, p: _Problems) -> None:
    if choices_from is not None and choices_from not in REFERENCE_LISTS:
        p.append(f"{where} : choices_from = {choices_from!r} : les listes connues sont {', '.join(REFERENCE_LISTS)}")
    if kind in CHOICE_TYPES and bool(choices) == (choices_from is not None):
        p.append(f"{where} : un champ {kind} demande `choices` ou `choices_from` (exactement l'un des deux)")
    if kind not in CHOICE_TYPES and (choices or choices_from is not None):
        p.append(f"{where} : seuls les champs one-of et several-of prennent des choix")


def _read_condition(raw, where: str, p: _Problems) -> Condition | None:
    if raw is None:
        return None
    if not (isinstance(raw, dict) and len(raw) == 1):
        p.append(f"{where} : mandatory_when doit nommer un seul champ, par exemple {{ status = \"termine\" }}")
        return None
    (other, codes), = raw.items()
    codes = [codes] if isinstance(codes, str) else codes
    if not (isinstance(codes, list) and codes and all(isinstance(c, str) for c in codes)):
        p.append(f"{where} : les valeurs de mandatory_when doivent être des codes de choix")
        return None
    return Condition(other, tuple(codes))


def _check_part_fields(fields: tuple[FieldRule, ...], where: str, p: _Problems) -> None:
    keys = [f.key for f in fields]
    for key in sorted({k for k in keys if keys.count(k) > 1}):
        p.append(f"{where} : le champ {key!r} est défini deux fois")
    labels = [fold(f.label) for f in fields if f.label]
    for label in sorted({l for l in labels if labels.count(l) > 1}):
        p.append(f"{where} : deux champs ont le libellé {label!r} (le lecteur trouve les champs par leur libellé)")
    by_key = {f.key: f for f in fields}
    for rule in fields:
        condition = rule.mandatory_when
        if condition is None:
            continue
        other = by_key.get(condition.field)
        if other is None or other.type != "one-of" or not other.choices:
            p.append(f"{where}, champ {rule.key!r} : mandatory_when nomme {condition.field!r}, "
                     "qui n'est pas un champ one-of avec ses propres choix dans cette partie")
        elif set(condition.codes) - {c.code for c in other.choices}:
            p.append(f"{where}, champ {rule.key!r} : les codes de mandatory_when {list(condition.codes)} ne sont pas tous "
                     f"des choix de {condition.field!r}")
        if rule.mandatory:
            p.append(f"{where}, champ {rule.key!r} : mandatory et mandatory_when ensemble n'ont pas de sens")


def _check_apd_part(part: Part, editable: int, p: _Problems) -> None:
    # The form prints the first APD field once per shown year, and the parser reads it back as the
    # amount: it has to be the amount, and a year in its label has to be the editable one.
    first = part.fields[0] if part.fields else None
    if first is None or first.key != "amount" or first.type != "euros":
        p.append("partie 'apd' : le premier champ doit être `amount`, de type euros (une ligne par année sur le formulaire)")
        return
    years = {int(y) for y in re.findall(r"\b(?:19|20)\d{2}\b", first.label or "")}
    if years - {editable}:
        p.append(f"partie 'apd', champ 'amount' : le libellé {first.label!r} nomme {sorted(years)[0]}, "
                 f"mais editable_year vaut {editable}")
