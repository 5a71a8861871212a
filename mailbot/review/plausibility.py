"""Plausibility warnings: what the rules accept but a reviewer should look at twice before approving.

An APD amount multiplied or divided by more than a factor (a digit lost: 120 000 € → 1 200 €), a
contact's address moving to a domain none of the collectivité's addresses use, a partner name in
capitals (the circular asks for « lettres minuscules »), the deletion of the collectivité's last
contact, a project ending before it started. Which of them apply, and the factor, are data: the
`[plausibility]` table of the campaign's rules file (docs/rules.md), checked when it loads.

Warnings are never errors: the agent is not told, and a reviewer may approve a warned set. But the
bulk form leaves warned sets out unless asked (`review approve --all-trusted-without-errors
--include-warned`), and `review show` (text and JSON) and the web console show them.

Interface for callers (the CLI, the bulk form, the web console):

    plausibility_warnings(session, changeset_or_id) -> list[PlausibilityWarning]
    warnings_by_set(session, changesets) -> {changeset id: [PlausibilityWarning, …]}   (a page, a batch)

Both read the set's campaign rules and the collectivité's record as it is now, in a few queries
whatever the number of sets; `find_warnings(settings, changes, facts)` is the pure core they share.
Only open changes (pending or in conflict) are looked at.
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Callable, Iterable, Mapping, Protocol, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot.outbound.render import euros
from mailbot.review.context import rules_of
from mailbot.rules import Plausibility, suggest_case, written_in_capitals
from store.models import ApdAmount, Contact, Project
from store.review_models import ChangeSet

OPEN_STATES = ("pending", "conflict")
CHUNK = 500  # ids per IN (…) when loading the records of many sets


@dataclass(frozen=True)
class PlausibilityWarning:
    code: str  # apd_factor | email_domain | partner_capitals | last_contact | project_dates (the rules' keys)
    change_id: int | None  # the change it is about
    message: str  # French, for the reviewer

    def as_dict(self) -> dict:
        return {"code": self.code, "change": self.change_id, "message": self.message}


class ChangeLike(Protocol):
    """What the checks read of a change (store.review_models.Change fits)."""

    id: int
    op: str
    entity: str
    ref: str
    field: str | None
    old: object
    new: object
    matches: list
    status: str


@dataclass(frozen=True)
class RecordFacts:
    """What the checks need of one collectivité's record as it is now."""

    contact_count: int = 0
    email_domains: frozenset[str] = frozenset()
    apd: Mapping[str, tuple[int, Decimal | None]] = field(default_factory=dict)  # ref → (year, amount)
    projects: Mapping[str, tuple[int | None, int | None, str]] = field(default_factory=dict)  # ref → (start, end, title)

    def apd_before(self, year: int) -> tuple[int, Decimal] | None:
        """The latest amount declared for a year before `year`: what a new year's amount is compared with."""
        earlier = sorted((y, a) for y, a in self.apd.values() if y < year and a is not None)
        return earlier[-1] if earlier else None


# --- the pure core -----------------------------------------------------------------------------------------

def find_warnings(settings: Plausibility, changes: Sequence[ChangeLike], facts: RecordFacts) -> list[PlausibilityWarning]:
    """Every warning `settings` asks for, about the open changes of one set (pure)."""
    open_changes = [c for c in changes if c.status in OPEN_STATES]
    found: list[PlausibilityWarning] = []
    for is_on, check in CHECKS:
        if is_on(settings):
            found += check(settings, open_changes, facts)
    return found


def _apd_factor(settings: Plausibility, changes: Sequence[ChangeLike], facts: RecordFacts) -> list[PlausibilityWarning]:
    found = []
    for change in changes:
        if change.entity != "apd" or (change.field or "amount") != "amount" or change.op not in ("create", "update"):
            continue
        year, new = _apd_year(change, facts), _decimal(change.new)
        before = (None, _decimal(change.old)) if change.old is not None else (facts.apd_before(year) if year else None)
        if new is None or before is None or before[1] is None or before[1] <= 0:
            continue
        earlier_year, old = before
        ratio = new / old
        if new and 1 / settings.apd_factor <= ratio <= settings.apd_factor:
            continue
        how = "ramené à 0 €" if not new else (f"multiplié par {_times(ratio)}" if ratio > 1 else f"divisé par {_times(1 / ratio)}")
        compared = f"celui de {earlier_year} ({euros(old)})" if earlier_year else f"celui qu'a vu l'agent ({euros(old)})"
        amount = f"Le montant d'APD {year}" if year else "Le montant d'APD"
        found.append(PlausibilityWarning("apd_factor", change.id, (
            f"{amount} demandé ({euros(new)}) est {how} par rapport à {compared} : vérifiez le nombre de chiffres.")))
    return found


def _email_domain(settings: Plausibility, changes: Sequence[ChangeLike], facts: RecordFacts) -> list[PlausibilityWarning]:
    found = []
    for change in changes:
        if (change.entity, change.op, change.field) != ("contact", "update", "email") or "@" not in str(change.new or ""):
            continue
        domain = str(change.new).rsplit("@", 1)[1].lower()
        if facts.email_domains and domain not in facts.email_domains:
            found.append(PlausibilityWarning("email_domain", change.id, (
                f"La nouvelle adresse {change.new} est sur le domaine {domain}, qu'aucune adresse connue de la "
                f"collectivité n'utilise ({', '.join(sorted(facts.email_domains))}) : vérifiez qu'elle est exacte.")))
    return found


def _partner_capitals(settings: Plausibility, changes: Sequence[ChangeLike], facts: RecordFacts) -> list[PlausibilityWarning]:
    found = []
    for change in changes:
        if change.entity not in ("cooperation", "action") or change.op not in ("create", "update"):
            continue
        name = (change.new or {}).get("partner") if change.op == "create" else (
            change.new if change.field == "partner" else None)
        if isinstance(name, str) and written_in_capitals(name):
            found.append(PlausibilityWarning("partner_capitals", change.id, (
                f"Le nom du partenaire « {name} » est écrit en capitales : la circulaire demande des lettres "
                f"minuscules (par exemple {suggest_case(name)}).")))
            continue
        rewritten = [m for m in change.matches or [] if m.get("field") == "partner" and written_in_capitals(m["written"])]
        for match in rewritten:  # a rules file with normalise = "titlecase" rewrote it: accents are the agent's
            found.append(PlausibilityWarning("partner_capitals", change.id, (
                f"L'agent a écrit le partenaire en capitales (« {match['written']} ») ; il a été réécrit "
                f"« {match['label']} » : vérifiez les accents et les particules.")))
    return found


def _last_contact(settings: Plausibility, changes: Sequence[ChangeLike], facts: RecordFacts) -> list[PlausibilityWarning]:
    deletes = [c for c in changes if (c.entity, c.op) == ("contact", "delete")]
    creates = sum(1 for c in changes if (c.entity, c.op) == ("contact", "create"))
    if not deletes or facts.contact_count - len(deletes) + creates > 0:
        return []
    return [PlausibilityWarning("last_contact", deletes[-1].id, (
        "Cet ensemble supprime le dernier contact de la collectivité : plus personne n'y recevrait les messages "
        "de l'Atlas. Vérifiez qu'un autre contact est proposé."))]


def _project_dates(settings: Plausibility, changes: Sequence[ChangeLike], facts: RecordFacts) -> list[PlausibilityWarning]:
    found, seen = [], set()
    for change in changes:
        if change.entity == "projet" and change.op == "update" and change.ref in seen:
            continue  # both years changed: one warning for the project
        if change.entity == "projet" and change.op == "create" and isinstance(change.new, dict):
            start, end, title = _year(change.new.get("start_year")), _year(change.new.get("end_year")), change.new.get("title")
        elif change.entity == "projet" and change.op == "update" and change.field in ("start_year", "end_year"):
            seen.add(change.ref)
            start, end, title = facts.projects.get(change.ref, (None, None, ""))
            for other in changes:  # the set may change both years
                if other.entity == "projet" and other.ref == change.ref and other.op == "update":
                    start = _year(other.new) if other.field == "start_year" else start
                    end = _year(other.new) if other.field == "end_year" else end
        else:
            continue
        if start is not None and end is not None and end < start:
            found.append(PlausibilityWarning("project_dates", change.id, (
                f"Le projet « {title or change.ref} » finirait en {end}, avant d'avoir commencé ({start}) : "
                "vérifiez les deux années.")))
    return found


# each check with the switch that turns it on, in the order reviewers read them
CHECKS: tuple[tuple[Callable[[Plausibility], bool], Callable], ...] = (
    (lambda s: s.apd_factor is not None, _apd_factor),
    (lambda s: s.email_domain, _email_domain),
    (lambda s: s.partner_capitals, _partner_capitals),
    (lambda s: s.last_contact, _last_contact),
    (lambda s: s.project_dates, _project_dates),
)


def _decimal(value) -> Decimal | None:
    try:
        return None if value is None or isinstance(value, (dict, list, bool)) else Decimal(str(value))
    except InvalidOperation:
        return None


def _year(value) -> int | None:
    try:
        return None if value in (None, "") else int(value)
    except (TypeError, ValueError):
        return None


def _apd_year(change: ChangeLike, facts: RecordFacts) -> int | None:
    if change.ref in facts.apd:
        return facts.apd[change.ref][0]
    placeholder = re.fullmatch(r"APD-(\d{4})", change.ref or "")  # the form's block for a year without a row
    return int(placeholder.group(1)) if placeholder else None


def _times(ratio: Decimal) -> str:
    return f"{ratio:.0f}" if ratio >= 10 else f"{ratio:.1f}".replace(".", ",")


# --- reading the store -------------------------------------------------------------------------------------

def plausibility_warnings(session: Session, changeset: ChangeSet | int) -> list[PlausibilityWarning]:
    """The warnings of one set (a ChangeSet or its id; [] for an unknown id), with its campaign's rules
    and its collectivité's record as they are now."""
    if isinstance(changeset, int):
        changeset = session.get(ChangeSet, changeset)
        if changeset is None:
            return []
    return warnings_by_set(session, [changeset]).get(changeset.id, [])


def warnings_by_set(session: Session, changesets: Iterable[ChangeSet]) -> dict[int, list[PlausibilityWarning]]:
    """Warnings of many sets (a queue page, a bulk batch): set id → warnings, only sets that have some.
    The records are read in a few queries for all of them."""
    changesets = list(changesets)
    settings = {cs.id: rules.plausibility for cs in changesets if (rules := rules_of(session, cs)) is not None}
    wanted = [cs for cs in changesets if cs.id in settings and any(c.status in OPEN_STATES for c in cs.changes)]
    facts = load_facts(session, wanted)
    found = {cs.id: find_warnings(settings[cs.id], cs.changes, facts.get(cs.collectivite_id, RecordFacts()))
             for cs in wanted}
    return {set_id: warnings for set_id, warnings in found.items() if warnings}


def load_facts(session: Session, changesets: Sequence[ChangeSet]) -> dict[int, RecordFacts]:
    """collectivité id → RecordFacts, for the collectivités of `changesets` and the projects they name."""
    ids = sorted({cs.collectivite_id for cs in changesets})
    project_refs = sorted({c.ref for cs in changesets for c in cs.changes if c.entity == "projet" and c.op == "update"})
    contacts, domains = defaultdict(int), defaultdict(set)
    apd: dict[int, dict] = defaultdict(dict)
    for chunk in _chunks(ids):
        for coll, email in session.execute(select(Contact.collectivite_id, Contact.email)
                                           .where(Contact.collectivite_id.in_(chunk))):
            contacts[coll] += 1
            if email and "@" in email:
                domains[coll].add(email.rsplit("@", 1)[1].lower())
        for coll, ref, year, amount in session.execute(select(ApdAmount.collectivite_id, ApdAmount.ref,
                                                              ApdAmount.year, ApdAmount.amount)
                                                       .where(ApdAmount.collectivite_id.in_(chunk))):
            apd[coll][ref] = (year, amount)
    projects = {}
    for chunk in _chunks(project_refs):
        for ref, start, end, title in session.execute(select(Project.ref, Project.start_year, Project.end_year,
                                                             Project.title).where(Project.ref.in_(chunk))):
            projects[ref] = (start, end, title)
    return {coll: RecordFacts(contacts[coll], frozenset(domains[coll]), apd[coll], projects) for coll in ids}


def _chunks(values: list) -> Iterable[list]:
    for start in range(0, len(values), CHUNK):
        yield values[start:start + CHUNK]
