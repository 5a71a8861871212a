"""Diffing a parsed form against the snapshot it answers, and validating each change (pure).

Only what the agent changed becomes a change. A block the client cut off, or a field line that is
missing, changes nothing: only an explicit `Supprimer : oui` deletes. Every change is validated by
the rules engine; a change with an error is kept with its error, never dropped.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from mailbot.outbound.form import (
    APD_BLOCK,
    KEYWORD_PARTS,
    SNAPSHOT_KEYS,
    describe,
    display_value,
    masked_snapshot,
    record_value,
)
from mailbot.replies.parse import ParsedBlock, ParsedForm, label_key, normalise_line
from mailbot.rules import FieldRule, ReferenceLists, Rules, check_apd_year, check_record, parse_yesno

ENTITY_OF_PART = {"contact": "contact", "reseau": "reseau", "apd": "apd", "cooperation": "cooperation",
                  "projet": "projet", "action": "action"}


@dataclass(frozen=True)
class ProposedChange:
    op: str  # create | update | delete | move
    entity: str  # contact | reseau | apd | cooperation | projet | action
    ref: str
    field: str | None = None
    old: object = None
    new: object = None
    base_version: int | None = None
    parent_ref: str | None = None
    errors: tuple[dict, ...] = ()
    matches: tuple[dict, ...] = ()
    label: str | None = None  # the form label, for messages to the agent
    description: str = ""  # whose record, for messages to the agent (« Marie Dupont »)


@dataclass(frozen=True)
class DiffResult:
    changes: tuple[ProposedChange, ...]
    problems: tuple[dict, ...] = ()  # block-level issues: unknown reference…


@dataclass
class _Index:
    by_ref: dict[str, tuple[str, dict, str | None]] = field(default_factory=dict)  # ref → (part, record, parent)


def index_snapshot(snapshot: dict) -> _Index:
    index = _Index()
    for part, key in SNAPSHOT_KEYS.items():
        for record in snapshot.get(key, []):
            index.by_ref[record["ref"]] = (part, record, None)
            for project in record.get("projects", []):
                index.by_ref[project["ref"]] = ("projet", project, record["ref"])
    return index


def to_jsonable(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    return value


def diff_form(form: ParsedForm, snapshot: dict, rules: Rules, references: ReferenceLists) -> DiffResult:
    """The changes a form asks for, against the snapshot of the message it answers. A value written
    as the form showed it is no change; a change's `old` is the stored value (for a masked address,
    the real one, not its mask)."""
    index = index_snapshot(snapshot)
    shown = index_snapshot(masked_snapshot(snapshot)) if snapshot.get("masked") else index
    changes: list[ProposedChange] = []
    problems: list[dict] = []
    new_counts: dict[str, int] = {}
    for block in form.blocks:
        if block.ref == APD_BLOCK:
            changes += _diff_apd(block, snapshot, rules, references)
        elif block.ref in KEYWORD_PARTS:
            new_counts[block.ref] = new_counts.get(block.ref, 0) + 1
            change = _create(block, KEYWORD_PARTS[block.ref], new_counts[block.ref], index, rules, references)
            if change is not None:
                changes.append(change)
        elif block.ref in index.by_ref:
            part, record, parent = index.by_ref[block.ref]
            changes += _diff_existing(block, part, record, shown.by_ref[block.ref][1], rules, references)
        else:
            problems.append({"code": "unknown_ref", "ref": block.ref,
                             "message": f"La référence {block.ref} ne correspond à aucune fiche de ce formulaire : "
                                        "ne modifiez pas les lignes qui commencent par ####."})
    return DiffResult(tuple(changes), tuple(problems))


def _field_for(rules: Rules, part: str, written_key: str) -> FieldRule | None:
    for rule in rules.parts[part].fields:
        if label_key(rule.label) == written_key:
            return rule
    return None


def _same_text(a: str, b: str) -> bool:
    """Same words, whatever the spacing; case counts (« DAKAR » → « Dakar » is a correction)."""
    return " ".join(normalise_line(a).split()) == " ".join(normalise_line(b).split())


def typed_value(part: str, rule: FieldRule, record: dict):
    """The snapshot's value in the engine's terms (a country is its ISO code, not its name)."""
    if rule.type == "country":
        return record.get("country_code")
    return to_jsonable(record_value(part, rule, record))


def _diff_existing(block: ParsedBlock, part: str, record: dict, shown: dict, rules: Rules,
                   references) -> list[ProposedChange]:
    entity = ENTITY_OF_PART[part]
    base = {"entity": entity, "ref": record["ref"], "base_version": record.get("version"),
            "description": describe(part, record)}
    if parse_yesno(block.fields.get("_delete", "")) is True:
        return [ProposedChange(op="delete", old=describe(part, record), **base)]
    if part == "action" and parse_yesno(block.fields.get("_move", "")) is True:
        return [ProposedChange(op="move", field="kind", old="action", new="cooperation", **base)]
    written = {rule.key: _written(block, rule) for rule in rules.parts[part].fields}
    written = {key: value for key, value in written.items() if value is not None}  # absent: not a change
    rules_by_key = {rule.key: rule for rule in rules.parts[part].fields}
    edited = {key for key, value in written.items()
              if not _same_text(value, display_value(rules_by_key[key], record_value(part, rules_by_key[key], shown), references))}
    if not edited:
        return []  # the block as it was sent: nothing, even if the stored record is incomplete
    # one check of the whole block, so that rules across fields (a finished project needs its year) apply;
    # after the test above, because most blocks come back untouched and checking is the costly part
    result = check_record(rules, part, written, references, partial=True)
    changes = []
    for rule in rules.parts[part].fields:
        if rule.key not in written:
            continue
        errors = tuple(_error_dict(e) for e in result.errors if e.field == rule.key)
        if rule.key not in edited and not errors:
            continue
        old = typed_value(part, rule, record)
        new = to_jsonable(result.values.get(rule.key, written[rule.key].strip() or None))
        if not errors and new == old:
            continue  # written differently, same value (« EN COURS » for « En cours »)
        changes.append(ProposedChange(
            op="update", field=rule.key, old=old, new=new, label=rule.label, errors=errors,
            matches=tuple(_match_dict(m) for m in result.matches if m.field == rule.key), **base))
    return changes


def _written(block: ParsedBlock, rule: FieldRule) -> str | None:
    return block.fields.get(label_key(rule.label))


def _create(block: ParsedBlock, part: str, number: int, index: _Index, rules: Rules, references) -> ProposedChange | None:
    values = {rule.key: _written(block, rule) for rule in rules.parts[part].fields}
    values = {k: v for k, v in values.items() if v is not None}
    parent = (block.fields.get("_parent") or "").strip().upper() or None
    if not any(v.strip() for v in values.values()):
        return None  # the empty template, untouched
    result = check_record(rules, part, values, references, partial=False)
    errors = [_error_dict(e) for e in result.errors]
    if part == "projet":
        if not parent:
            errors.append({"field": "_parent", "code": "missing",
                           "message": "Indiquez la référence (CO-…) de la coopération ou de l'action de ce projet."})
        elif index.by_ref.get(parent, ("",))[0] not in ("cooperation", "action"):
            errors.append({"field": "_parent", "code": "unknown_ref",
                           "message": f"La référence {parent} n'est pas une coopération ou une action de votre fiche."})
    keyword = next(k for k, p in KEYWORD_PARTS.items() if p == part)
    new = {k: to_jsonable(v) for k, v in result.values.items()}
    return ProposedChange(
        op="create", entity=ENTITY_OF_PART[part], ref=f"{keyword}#{number}", parent_ref=parent, new=new,
        errors=tuple(errors), matches=tuple(_match_dict(m) for m in result.matches),
        description=describe(part, {**new, "country": values.get(_key_of_type(rules, part, "country"))}),
    )


def _key_of_type(rules: Rules, part: str, kind: str) -> str | None:
    return next((r.key for r in rules.parts[part].fields if r.type == kind), None)


def _diff_apd(block: ParsedBlock, snapshot: dict, rules: Rules, references) -> list[ProposedChange]:
    rule = rules.parts["apd"].fields[0]
    by_year = {a["year"]: a for a in snapshot.get("apd", [])}
    changes = []
    for year in rules.apd_shown_years:
        row = by_year.get(year, {})
        editable = year == rules.apd_editable_year
        written = block.fields.get(label_key(rule.label)) if editable else block.fields.get(f"apd {year} (non modifiable)")
        if written is None:
            continue
        shown = display_value(rule, row.get("amount"), references)
        if _same_text(written, shown):
            continue
        result = check_record(rules, "apd", {rule.key: written}, references, partial=True)
        errors = [_error_dict(e) for e in result.errors]
        new = to_jsonable(result.values.get(rule.key))
        old = row.get("amount")
        if not errors and new == old:
            continue
        locked = check_apd_year(rules, year)
        if locked is not None:
            errors.insert(0, {"field": rule.key, "code": locked.code, "message": locked.message})
        changes.append(ProposedChange(
            op="update" if row else "create", entity="apd", ref=row.get("ref") or f"APD-{year}",
            field=rule.key, old=old, new=new, base_version=row.get("version"), label=f"APD {year}",
            errors=tuple(errors), description=str(year)))
    return changes


def _error_dict(error) -> dict:
    return {"field": error.field, "code": error.code, "message": error.message}


def _match_dict(match) -> dict:
    return {"field": match.field, "written": match.written, "code": match.code, "label": match.label,
            "score": match.score}
