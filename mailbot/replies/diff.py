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
    FORM_VERSION,
    KEYWORD_PARTS,
    SNAPSHOT_KEYS,
    describe,
    display_value,
    masked_snapshot,
    record_value,
)
from mailbot.replies.parse import ParsedBlock, ParsedForm, label_key, normalise_line
from mailbot.rules import FieldRule, ReferenceLists, Rules, check_apd_year, check_record, fold, parse_yesno

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


MAX_COPIES = 3  # differing copies of one record's block read; past it the block is only reported


def diff_form(form: ParsedForm, snapshot: dict, rules: Rules, references: ReferenceLists) -> DiffResult:
    """The changes a form asks for, against the snapshot of the message it answers. A value written
    as the form showed it is no change; a change's `old` is the stored value (for a masked address,
    the real one, not its mask). Every block is bound to the snapshot's collectivité: a record
    reference it does not hold, or an APD or new-record block carrying another collectivité's code,
    is reported and never diffed.

    What one reply may ask is bounded before anything is checked (checking is the costly part): a
    record's block written several times is read once per distinct copy, at most MAX_COPIES; new
    records past their part's `max_new` are reported, not read."""
    index = index_snapshot(snapshot)
    shown = index_snapshot(masked_snapshot(snapshot)) if snapshot.get("masked") else index
    problems: list[dict] = []
    ordered: list[str | ProposedChange] = []  # a record's reference where its first copy was, or a creation
    copies: dict[str, list[ParsedBlock]] = {}
    new_counts: dict[str, int] = {}
    names = _local_names(form, snapshot) if _names_a_new_parent(form, index) else {}
    for block in form.blocks:
        foreign = _foreign(block, snapshot)
        if foreign is not None:
            problems.append(foreign)
        elif block.ref in KEYWORD_PARTS:
            change, problem = _new_record(block, new_counts, index, rules, references, names)
            ordered += [change] if change is not None else []
            problems += [problem] if problem is not None else []
        elif block.ref == APD_BLOCK or block.ref in index.by_ref:
            if block.ref not in copies:
                ordered.append(block.ref)
            kept = copies.setdefault(block.ref, [])
            if len(kept) <= MAX_COPIES and all(block.fields != copy.fields for copy in kept):
                kept.append(block)  # one past MAX_COPIES: the sign that there were more
        else:
            problems.append({"code": "unknown_ref", "ref": block.ref,
                             "message": f"La référence {block.ref} ne correspond à aucune fiche de ce formulaire : "
                                        "ne modifiez pas les lignes qui commencent par ####."})
    by_ref: dict[str, list[ProposedChange]] = {}
    for ref, blocks in copies.items():
        edited = [found for found in (_diff_record(b, snapshot, index, shown, rules, references)
                                      for b in blocks[:MAX_COPIES]) if found]
        by_ref[ref] = edited[0] if edited else []
        if len(edited) > 1 or len(blocks) > MAX_COPIES:
            problems.append(_repeated(ref))
    changes = [c for item in ordered for c in (by_ref[item] if isinstance(item, str) else [item])]
    # a project under a cooperation created by the same reply comes after it (applied in this order)
    changes.sort(key=lambda c: c.op == "create" and c.entity == "projet" and _is_new_ref(c.parent_ref))
    return DiffResult(tuple(changes), tuple(problems))


def _diff_record(block: ParsedBlock, snapshot: dict, index: _Index, shown: _Index, rules: Rules,
                 references) -> list[ProposedChange]:
    if block.ref == APD_BLOCK:
        return _diff_apd(block, snapshot, rules, references)
    part, record, _parent = index.by_ref[block.ref]
    return _diff_existing(block, part, record, shown.by_ref[block.ref][1], rules, references)


def _new_record(block: ParsedBlock, counts: dict[str, int], index: _Index, rules: Rules, references,
                names: dict[str, str | None]) -> tuple[ProposedChange | None, dict | None]:
    """The creation a NOUVEAU-… block asks for, or, for the first filled block past the part's
    `max_new`, the problem. `counts` numbers the blocks of each keyword (empty templates included,
    as the references of created records always have) and counts the filled ones."""
    part = rules.parts[KEYWORD_PARTS[block.ref]]
    filled = f"{block.ref} filled"
    if any(value.strip() for value in block.fields.values()):
        counts[filled] = counts.get(filled, 0) + 1
    if counts.get(filled, 0) > part.max_new:
        if counts[filled] > part.max_new + 1:
            return None, None  # reported once
        return None, {"code": "too_many_new", "ref": block.ref, "message": (
            f"Votre réponse contient plus de {part.max_new} blocs {block.ref} remplis : les suivants n'ont pas "
            "été lus. Envoyez-les dans un autre message.")}
    counts[block.ref] = counts.get(block.ref, 0) + 1
    return _create(block, part.key, counts[block.ref], index, rules, references, names), None


def _repeated(ref: str) -> dict:
    what = "Le bloc de l'aide publique au développement" if ref == APD_BLOCK else f"La fiche {ref}"
    return {"code": "repeated_ref", "ref": ref, "message": (
        f"{what} figure plusieurs fois dans votre réponse, avec des modifications différentes : seule la "
        "première a été lue. Gardez un seul bloc par fiche.")}


def _foreign(block: ParsedBlock, snapshot: dict) -> dict | None:
    """The problem of an APD or new-record block that is not this collectivité's: another code on
    its marker, or (form version 2, where every such marker carries one) no code at all."""
    if block.ref != APD_BLOCK and block.ref not in KEYWORD_PARTS:
        return None  # a record reference: bound through the snapshot's references
    code = snapshot.get("code")
    if block.owner is None and snapshot.get("form_version", 1) < FORM_VERSION:
        return None  # a form sent before markers carried the code
    if block.owner == code:
        return None
    if block.owner is None:
        return {"code": "unbound_block", "ref": block.ref,
                "message": f"Le bloc {block.ref} (ligne {block.line}) ne porte pas le code de votre collectivité "
                           f"({code}) : il n'a pas été pris en compte. Recopiez la ligne #### telle que nous l'avons envoyée."}
    return {"code": "foreign_block", "ref": block.ref, "owner": block.owner,
            "message": f"Le bloc {block.ref} (ligne {block.line}) vient du formulaire d'une autre collectivité "
                       f"({block.owner}) : il n'a pas été pris en compte pour {code}. Chaque collectivité "
                       "répond avec son propre formulaire."}


NEW_PARENT_KEYWORDS = tuple(k for k, part in KEYWORD_PARTS.items() if part in ("cooperation", "action"))


def _is_new_ref(ref: str | None) -> bool:
    return bool(ref) and ref.startswith(NEW_PARENT_KEYWORDS)


def _names_a_new_parent(form: ParsedForm, index: _Index) -> bool:
    """Whether a new project names something other than a record of the snapshot (most replies: no)."""
    return any(block.ref == PROJECT_KEYWORD and (block.fields.get("_parent") or "").strip()
               and block.fields["_parent"].strip().upper() not in index.by_ref for block in form.blocks)


PROJECT_KEYWORD = next(keyword for keyword, part in KEYWORD_PARTS.items() if part == "projet")


def _local_names(form: ParsedForm, snapshot: dict) -> dict[str, str | None]:
    """How new projects of this reply may name a new cooperation or action: « NOUVELLE-COOPERATION 1 »
    (or the name alone when no other new record has it) → the created record's placeholder
    reference (NOUVELLE-COOPERATION#2). A name given twice names nothing (None)."""
    names: dict[str, str | None] = {}
    counts: dict[str, int] = {}
    for block in form.blocks:
        if block.ref not in KEYWORD_PARTS or _foreign(block, snapshot):
            continue  # numbered as diff_form numbers the blocks it creates from
        counts[block.ref] = counts.get(block.ref, 0) + 1
        filled = any(value.strip() for key, value in block.fields.items() if not key.startswith("_"))
        if block.ref not in NEW_PARENT_KEYWORDS or not filled:
            continue
        placeholder = f"{block.ref}#{counts[block.ref]}"
        aliases = [block.ref] + ([f"{block.ref} {block.name}", block.name] if block.name else [])
        for alias in map(_name_key, aliases):
            names[alias] = None if alias in names and names[alias] != placeholder else placeholder
    return names


def _name_key(text: str) -> str:
    """« Nouvelle coopération 1 », « NOUVELLE-COOPERATION 1 », « nouvelle-cooperation#1 »: the same name."""
    return fold(text)


def _field_for(rules: Rules, part: str, written_key: str) -> FieldRule | None:
    for rule in rules.parts[part].fields:
        if label_key(rule.label) == written_key:
            return rule
    return None


def _same_text(a: str, b: str) -> bool:
    """Same words, whatever the spacing; case counts (« DAKAR » → « Dakar » is a correction)."""
    if a == b:
        return True  # most values come back as they were sent
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
    moved = []
    if part == "action" and parse_yesno(block.fields.get("_move", "")) is True:
        # the move and the corrections written in the same block are both asked for
        moved = [ProposedChange(op="move", field="kind", old="action", new="cooperation", **base)]
    return moved + _diff_fields(block, part, record, shown, rules, references, base)


def _diff_fields(block: ParsedBlock, part: str, record: dict, shown: dict, rules: Rules, references,
                 base: dict) -> list[ProposedChange]:
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


def _create(block: ParsedBlock, part: str, number: int, index: _Index, rules: Rules, references,
            names: dict[str, str | None]) -> ProposedChange | None:
    values = {rule.key: _written(block, rule) for rule in rules.parts[part].fields}
    values = {k: v for k, v in values.items() if v is not None}
    parent = (block.fields.get("_parent") or "").strip().upper() or None
    if not any(v.strip() for v in values.values()):
        return None  # the empty template, untouched
    result = check_record(rules, part, values, references, partial=False)
    errors = [_error_dict(e) for e in result.errors]
    if part == "projet":
        parent, error = _project_parent(parent, index, names)
        if error:
            errors.append(error)
    keyword = next(k for k, p in KEYWORD_PARTS.items() if p == part)
    new = {k: to_jsonable(v) for k, v in result.values.items()}
    return ProposedChange(
        op="create", entity=ENTITY_OF_PART[part], ref=f"{keyword}#{number}", parent_ref=parent, new=new,
        errors=tuple(errors), matches=tuple(_match_dict(m) for m in result.matches),
        description=describe(part, {**new, "country": values.get(_key_of_type(rules, part, "country"))}),
    )


def _project_parent(written: str | None, index: _Index, names: dict[str, str | None]) -> tuple[str | None, dict | None]:
    """A new project's parent: a cooperation or action of the record (CO-…), or one created by the
    same reply under its local name (« NOUVELLE-COOPERATION 1 »)."""
    if not written:
        return None, {"field": "_parent", "code": "missing",
                      "message": "Indiquez la référence (CO-…) de la coopération ou de l'action de ce projet, "
                                 "ou le nom donné à une nouvelle coopération de votre réponse (NOUVELLE-COOPERATION 1)."}
    key = _name_key(written)
    if key in names:
        if names[key] is None:
            return written, {"field": "_parent", "code": "ambiguous_name",
                             "message": f"Plusieurs nouvelles fiches portent le nom {written} : donnez-leur des noms différents."}
        return names[key], None
    if index.by_ref.get(written, ("",))[0] in ("cooperation", "action"):
        return written, None
    return written, {"field": "_parent", "code": "unknown_ref",
                     "message": f"La référence {written} n'est pas une coopération ou une action de votre fiche, "
                                "ni le nom d'une nouvelle coopération de votre réponse."}


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
