"""The rules file as typed data: parts, fields, choices, conditions, and the results of a check."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping, NamedTuple

# ---- the rules ----------------------------------------------------------------------------------


class Choice(NamedTuple):
    """One allowed value of a one-of/several-of field; `dict(field.choices)` gives code → label."""

    code: str
    label: str


@dataclass(frozen=True)
class Condition:
    """`mandatory_when = { status = "termine" }`: the field is mandatory when `field` holds one of `codes`."""

    field: str
    codes: tuple[str, ...]


@dataclass(frozen=True)
class FieldRule:
    key: str  # the model attribute (store.models) the value goes to
    label: str  # French, as on the form line `Libellé : valeur` (a `*` is added for mandatory fields)
    type: str  # one of FIELD_TYPES
    mandatory: bool = False
    choices: tuple[Choice, ...] = ()
    choices_from: str | None = None  # name of a ReferenceLists attribute: "themes" | "networks"
    max_length: int | None = None
    normalise: str | None = None  # partner_name only: "titlecase" rewrites capitals instead of refusing
    mandatory_when: Condition | None = None


@dataclass(frozen=True)
class Part:
    key: str  # contact | reseau | apd | cooperation | projet | action
    title: str  # French
    fields: tuple[FieldRule, ...]  # in form order
    within: tuple[str, ...] = ()  # parts whose records hold this part's records (projet) ; () = a section
    max_new: int = 30  # new records of this part one reply may propose; the blocks past it are reported, not read

    def field(self, key: str) -> FieldRule:
        for rule in self.fields:
            if rule.key == key:
                return rule
        raise KeyError(f"part {self.key!r} has no field {key!r}")


@dataclass(frozen=True)
class CampaignContact:
    """Who answers the collectivités' questions (the circular's section III)."""

    name: str
    title: str
    email: str


@dataclass(frozen=True)
class Plausibility:
    """The `[plausibility]` table: what looks wrong to a reviewer though the rules accept it. These are
    warnings, never errors: shown with the set, and a set with one is left out of bulk approval. A
    check absent from the table is off (a file without the table warns of nothing)."""

    apd_factor: float | None = None  # an APD amount multiplied or divided by more than this
    email_domain: bool = False  # a contact's address moving to a domain none of the collectivité's uses
    partner_capitals: bool = False  # a partner name in capitals (the circular: « en lettres minuscules »)
    last_contact: bool = False  # a set deleting the collectivité's last contact
    project_dates: bool = False  # a project ending before it started


@dataclass(frozen=True)
class Rules:
    name: str
    title: str
    year: int
    apd_editable_year: int
    apd_shown_years: tuple[int, ...]  # ascending; all but the editable year are read-only
    reminder_min_days: int
    reminder_max_count: int
    contact: CampaignContact
    parts: dict[str, Part]  # in the circular's order
    source: str = ""  # the file the rules came from, for messages
    plausibility: Plausibility = Plausibility()

    @property
    def sections(self) -> tuple[Part, ...]:
        """The parts that are sections of the form (the circular's a. to e.), in order."""
        return tuple(part for part in self.parts.values() if not part.within)


@dataclass(frozen=True)
class ReferenceLists:
    """Reference lists a field may take its choices from (`choices_from`), code → French label."""

    themes: Mapping[str, str] = field(default_factory=dict)
    networks: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RuleError:
    field: str  # the field key (or "year" for the APD year)
    code: str  # missing | bad_email | bad_amount | negative_amount | bad_year | locked_year | unknown_choice
    #            | bad_yesno | unknown_country | capitals | too_long | too_many
    message: str  # French, for the agent: what is wrong and what to write instead


@dataclass(frozen=True)
class FuzzyMatch:
    """A value read as something it does not spell exactly, shown to reviewers."""

    field: str
    written: str
    code: str
    label: str
    score: float  # 0–100


@dataclass(frozen=True)
class CheckResult:
    values: dict[str, object]  # field key → typed value (str, Decimal, int, bool, list of codes, None)
    errors: tuple[RuleError, ...] = ()
    matches: tuple[FuzzyMatch, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors


class RulesFileError(ValueError):
    """A rules file that cannot be used; the message names the file and every problem found."""

    def __init__(self, source: str, problems: Iterable[str]):
        self.source = source
        self.problems = tuple(problems)
        if len(self.problems) == 1:
            text = f"{source} : {self.problems[0]}"
        else:
            text = f"{source} : {len(self.problems)} problèmes :\n" + "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(text)


class ValueRejected(ValueError):
    """A value a reader cannot accept: `code` as in RuleError, `message` in French for the agent."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


# Every value is bounded before it is read: fuzzy matching costs in proportion to the length of what
# it compares, so a 100 KB « Pays » must be refused, not matched. A rules file's `max_length` narrows
# these (it may not widen them).
MAX_LENGTH_BY_TYPE = {"text": 10_000, "email": 254, "euros": 40, "year": 20, "yesno": 20, "one-of": 200,
                      "several-of": 1000, "country": 100, "partner_name": 200}
RAW_LENGTH_FACTOR = 4  # what a value may weigh before whitespace normalisation
MAX_SEVERAL = 40  # values in one several-of field
MAX_NOTE_LENGTH = 10_000  # of the agent's own words kept with a reply (what reviewers read)


def max_length(rule: FieldRule) -> int:
    """The most characters a value of `rule` may have: the rules file's `max_length`, else its type's."""
    return rule.max_length if rule.max_length is not None else MAX_LENGTH_BY_TYPE[rule.type]
