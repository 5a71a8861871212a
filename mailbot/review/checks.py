"""What an approval would write, checked against the campaign's rules before it is written (pure).

A change usually carries the errors the rules found when the reply was read, and a change with an
error cannot be approved. But some changes are made elsewhere (a stranger proposed as a new contact
from their From header, a value corrected by a reviewer) and a record must never reach the Atlas
without its mandatory fields or in a format the rules refuse. So approval checks the values once
more, the way the reply route does: each typed value is written back as the form shows it
(`display_value`, which the parser reads back exactly) and read by the rules engine. A created
record is checked whole (its mandatory fields present); an update, the field it changes.

Not checked here: the APD year lock (what agents may change on the form, not the shape of a
record: a revert may put back any year), and reverts themselves (they put back what was there).
"""
from __future__ import annotations

from typing import Protocol

from mailbot.outbound.form import display_value
from mailbot.rules import ReferenceLists, Rules, check_record

VALUE_OPS = ("create", "update")


class ProposedValue(Protocol):
    """The part of a change that says what would be written (a store.review_models.Change fits)."""

    op: str
    entity: str
    ref: str
    field: str | None
    new: object


def _placeholder_apd(change: ProposedValue) -> bool:
    return change.entity == "apd" and change.op == "create" and not isinstance(change.new, dict)


def rule_errors(rules: Rules, references: ReferenceLists, change: ProposedValue) -> list[dict]:
    """The rules' errors for what approving `change` writes: `{"field", "code", "message"}` dicts,
    messages in French; [] when it may be written (deletes and moves write no value)."""
    if change.op not in VALUE_OPS or change.entity not in rules.parts:
        return []
    part = rules.parts[change.entity]
    by_key = {rule.key: rule for rule in part.fields}
    if change.op == "update" or _placeholder_apd(change):
        key = change.field or part.fields[0].key
        if key not in by_key:
            return []  # not a form field (a move's `kind`): nothing the rules describe
        written, partial = {key: display_value(by_key[key], change.new, references)}, True
    else:
        values = change.new if isinstance(change.new, dict) else {}
        written = {key: display_value(rule, values.get(key), references) for key, rule in by_key.items()
                   if values.get(key) not in (None, "", [])}
        partial = False  # a new record: every mandatory field must be there
    result = check_record(rules, change.entity, written, references, partial=partial)
    return [{"field": e.field, "code": e.code, "message": e.message} for e in result.errors]
