"""The engine: a record part as written on form lines → typed values, French errors and fuzzy matches, as the rules file says."""
from __future__ import annotations

from typing import Callable, Mapping, NamedTuple

from mailbot.rules.matching import normalise_text
from mailbot.rules.model import (
    RAW_LENGTH_FACTOR,
    CheckResult,
    FieldRule,
    FuzzyMatch,
    Part,
    ReferenceLists,
    RuleError,
    Rules,
    ValueRejected,
    max_length,
)
from mailbot.rules.values import FIELD_TYPES, Parsed, parse_year

# ---- the engine ---------------------------------------------------------------------------------


def check_apd_year(rules: Rules, year: int | str) -> RuleError | None:
    """The APD lock: only the campaign's editable year may change (the circular, II.2.c)."""
    try:
        value = parse_year(str(year))
    except ValueRejected as exc:
        return RuleError("year", exc.code, exc.message)
    if value == rules.apd_editable_year:
        return None
    return RuleError("year", "locked_year", f"Le montant {value} ne peut plus être modifié : seule l'année "
                                            f"{rules.apd_editable_year} peut l'être. Laissez la ligne {value} "
                                            "telle quelle.")


class PartRule(NamedTuple):
    """A check over a record of one part beyond its fields; `keys` are the extra entries it reads."""

    keys: tuple[str, ...]
    check: Callable[[Rules, Mapping[str, str]], list[RuleError]]


def _apd_year_rule(rules: Rules, values: Mapping[str, str]) -> list[RuleError]:
    error = check_apd_year(rules, values["year"]) if "year" in values else None
    return [error] if error else []


PART_RULES: dict[str, tuple[PartRule, ...]] = {"apd": (PartRule(("year",), _apd_year_rule),)}


def check_record(
    rules: Rules, part_key: str, values: Mapping[str, str], references: ReferenceLists, *, partial: bool = False
) -> CheckResult:
    """Check one record of part `part_key` written on a form: raw strings in, typed values and errors out.

    `values` maps field keys to what the person wrote (for the APD part, an extra `year` entry names
    the year the amount is for and is checked against the lock). A blank value clears an optional
    field and is `missing` for a mandatory one. With `partial`, only the fields present are checked
    (an update of some fields); otherwise absent mandatory fields are `missing` too. Fields with an
    error are left out of `values`. Raises ValueError for a field key the part does not have.
    """
    part = rules.parts[part_key]
    part_rules = PART_RULES.get(part_key, ())
    known = {rule.key for rule in part.fields}.union(*(r.keys for r in part_rules))
    if set(values) - known:
        raise ValueError(f"part {part_key!r} has no field {sorted(set(values) - known)}")
    typed: dict[str, object] = {}
    errors: list[RuleError] = []
    matches: list[FuzzyMatch] = []
    for rule in part.fields:
        if rule.key in values:
            _check_field(rule, values[rule.key], references, typed, errors, matches)
        elif rule.mandatory and not partial:
            errors.append(_missing(rule))
    errors += _conditionally_missing(part, values, typed, errors, partial)
    for part_rule in part_rules:
        errors += part_rule.check(rules, values)
    return CheckResult(typed, tuple(errors), tuple(matches))


def _too_long(rule: FieldRule, length: int) -> RuleError:
    return RuleError(rule.key, "too_long", f"Le texte de « {rule.label} » est trop long ({length} caractères) : "
                                           f"raccourcissez-le à {max_length(rule)} caractères au plus.")


def _check_field(rule: FieldRule, raw: str, references: ReferenceLists, typed: dict,
                 errors: list[RuleError], matches: list[FuzzyMatch]) -> None:
    kind = FIELD_TYPES[rule.type]
    raw = raw or ""
    if len(raw) > RAW_LENGTH_FACTOR * max_length(rule):  # refused before normalising costs anything
        errors.append(_too_long(rule, len(raw)))
        return
    text = normalise_text(raw, keep_lines=kind.keeps_lines)
    if len(text) > max_length(rule):
        errors.append(_too_long(rule, len(text)))
        return
    try:
        parsed = kind.parse(text, rule, references) if text else Parsed(kind.empty())
    except ValueRejected as exc:
        errors.append(RuleError(rule.key, exc.code, exc.message))
        return
    if rule.mandatory and parsed.value in (None, "", []):  # blank, or only separators (« , »)
        errors.append(_missing(rule))
        return
    typed[rule.key] = parsed.value
    matches.extend(parsed.matches)


def _missing(rule: FieldRule, because: str = "") -> RuleError:
    return RuleError(rule.key, "missing", f"Le champ « {rule.label} » est obligatoire{because} : remplissez-le.")


def _conditionally_missing(part: Part, values: Mapping[str, str], typed: dict, errors: list[RuleError],
                           partial: bool) -> list[RuleError]:
    found = []
    for rule in part.fields:
        condition = rule.mandatory_when
        if condition is None or typed.get(condition.field) not in condition.codes:
            continue
        if typed.get(rule.key) not in (None, "", []) or any(e.field == rule.key for e in errors):
            continue
        if partial and rule.key not in values:
            continue  # an update of the status alone: the stored year is not ours to see
        other = part.field(condition.field)
        labels = " ou ".join(f"« {label} »" for code, label in other.choices if code in condition.codes)
        found.append(_missing(rule, f" quand « {other.label} » est {labels}"))
    return found
