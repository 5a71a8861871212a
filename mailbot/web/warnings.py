"""Plausibility warnings of a change set, as the console shows them (set page, bulk preview).

The rules engine is being built separately (`mailbot/review/plausibility.py`, warnings defined as data
in the rules file). This module is the one place the console reads warnings from: when that engine
lands, `set_warnings` calls it and every page and the bulk preview show its warnings unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Warning:
    """One warning on one change: the change's id, a short code, the sentence shown to reviewers."""

    change_id: int
    code: str
    message: str


def set_warnings(changeset: dict, record: dict | None) -> list[Warning]:
    """The plausibility warnings of one change set.

    `changeset` is the set as `store.review_queries.changeset_data` gives it (its changes with old and
    new values), `record` the collectivité's current record (`store.queries.collectivite_record`) or
    None when the caller has not loaded it. Returns one `Warning` per doubtful change, in the changes'
    order. A set with warnings is left out of bulk approval unless the reviewer asks for it.

    Returns an empty list until the plausibility rules engine (`mailbot/review/plausibility.py`) lands.
    """
    return []
