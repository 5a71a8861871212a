"""Campaign rules as data (`rules/*.toml`, see docs/rules.md) and the small engine that applies them.

A rules file lists the parts of the Atlas form in the circular's order and, per part, its fields:
model attribute, French label, type, mandatory or not, allowed values. `load_rules` checks the whole
file when it loads, so a broken file stops a campaign before any summary goes out. `check_record`
turns what a person wrote on form lines into typed values and French errors, as data.

Pure: apart from `load_rules` reading its file, nothing here touches disk, network or database.
Reference lists (themes, networks) are passed in; countries come from pycountry and babel.

Value readers, also used on their own by the reply parser: `parse_euros`, `parse_year` and
`check_email` raise `ValueRejected` (code + French message); `parse_yesno`, `match_choice`,
`match_several` and `match_country` return None where nothing fits, because callers also use them
as plain look-ups (a `Supprimer` switch that is not a clear « oui » is simply not a deletion).
"""
from __future__ import annotations

import dataclasses
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, Mapping, NamedTuple

import pycountry
from babel import Locale
from email_validator import EmailNotValidError, validate_email
from rapidfuzz import fuzz

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
    #            | bad_yesno | unknown_country | capitals | too_long
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
            text = f"{source}: {self.problems[0]}"
        else:
            text = f"{source}: {len(self.problems)} problems:\n" + "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(text)


class ValueRejected(ValueError):
    """A value a reader cannot accept: `code` as in RuleError, `message` in French for the agent."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


# ---- text normalisation and matching ------------------------------------------------------------

_TYPOGRAPHIC = str.maketrans({
    "\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u201c": '"', "\u201d": '"', "\u200b": None, "\ufeff": None,
})
_GUILLEMETS = re.compile(r"«\s*|\s*»")
_STOPWORDS = frozenset("de du des la le les l d et en a au aux sur".split())


def normalise_text(text: str, *, keep_lines: bool = False) -> str:
    """NFC, typographic quotes made plain, every run of spaces (NBSP, tabs…) one space, trimmed."""
    text = _GUILLEMETS.sub('"', unicodedata.normalize("NFC", text).translate(_TYPOGRAPHIC))
    if keep_lines:
        return "\n".join(line for line in (" ".join(l.split()) for l in text.splitlines()) if line)
    return " ".join(text.split())


def fold(text: str) -> str:
    """Lowercase words without accents or punctuation: what matching compares."""
    text = unicodedata.normalize("NFKD", text.replace("œ", "oe").replace("Œ", "OE").replace("æ", "ae"))
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text).split())


def _key(text: str) -> str:
    return fold(text).replace(" ", "")  # « en  cours », « EN-COURS », « encours » are one key


class ChoiceMatch(NamedTuple):
    code: str
    label: str
    score: float  # 100 for an exact match
    exact: bool  # equal to a code or label but for case, accents, spaces and punctuation


FUZZY_THRESHOLD = 85  # below this a value is unknown rather than guessed
AMBIGUITY_MARGIN = 5  # a best match must beat the next candidate by this much
INFLECTED_SCORE = 95.0  # the same words but for feminine or plural endings


def _content(folded: str) -> str:
    return " ".join(word for word in folded.split() if word not in _STOPWORDS)


def _uninflected(folded: str) -> str:
    # French feminine and plural endings: « élue », « élus » for « Élu », « terminée » for « Terminé ».
    return " ".join(re.sub(r"(?<=\w{3})(?:ee|e)?s?$", "", word) for word in _content(folded).split())


def _similarity(written: str, candidate: str) -> float:
    # ratio catches typos (« termine » / « terminee »); token_set_ratio catches a label written
    # with extra or missing words (« santé publique » / « Santé »), stopwords aside so that « de »
    # alone does not fit every label that has one. A short word gets no typo tolerance: « ARF » is
    # not a misspelt « AIRF ».
    if _uninflected(written) and _uninflected(written) == _uninflected(candidate):
        return INFLECTED_SCORE
    if len(written.replace(" ", "")) < 5:
        words = set(_content(written).split())
        return 100.0 if words and words <= set(_content(candidate).split()) else 0.0
    return max(fuzz.ratio(written, candidate), fuzz.token_set_ratio(_content(written), _content(candidate)))


def _ranked(text: str, aliases: Mapping[str, Iterable[str]]) -> list[tuple[float, str]]:
    """(score, code) for every code, best first; `aliases` gives each code its folded spellings."""
    written = fold(text)
    scores = ((max(_similarity(written, alias) for alias in names), code) for code, names in aliases.items())
    return sorted(scores, key=lambda pair: -pair[0])


def _fuzzy(text: str, aliases: Mapping[str, Iterable[str]], min_key: int) -> tuple[str, float] | None:
    if len(_key(text)) < min_key:
        return None  # too short to guess from (« de », « SN » mistyped)
    ranked = _ranked(text, aliases)
    if not ranked or ranked[0][0] < FUZZY_THRESHOLD:
        return None
    if len(ranked) > 1 and ranked[0][0] - ranked[1][0] < AMBIGUITY_MARGIN:
        return None  # « développement » fits two themes: ask rather than pick
    return ranked[0][1], float(ranked[0][0])


def _choice_aliases(choices: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    return {code: (fold(label), fold(code.replace("_", " "))) for code, label in choices.items()}


def _exact_choice(text: str, choices: Mapping[str, str]) -> ChoiceMatch | None:
    wanted = _key(text)
    for code, label in choices.items():
        if wanted and wanted in (_key(code), _key(label)):
            return ChoiceMatch(code, label, 100.0, True)
    return None


def match_choice(text: str, choices: Mapping[str, str] | Iterable[Choice]) -> ChoiceMatch | None:
    """The choice `text` names: exact (case, accents, spaces, punctuation aside), else fuzzy, else None.

    `choices` is code → label (or Choice pairs); codes are accepted as spellings too (« en_cours »).
    """
    choices = dict(choices)
    exact = _exact_choice(text, choices)
    if exact is not None:
        return exact
    found = _fuzzy(text, _choice_aliases(choices), min_key=3)
    return None if found is None else ChoiceMatch(found[0], choices[found[0]], found[1], False)


def suggest_choices(text: str, choices: Mapping[str, str], limit: int = 3) -> list[str]:
    """Labels closest to `text`, for an error message."""
    choices = dict(choices)
    return [choices[code] for score, code in _ranked(text, _choice_aliases(choices))[:limit] if score >= 60]


_SEPARATOR = re.compile(r"(\s*(?:[,;/\n]|\bet\b)\s*)", re.IGNORECASE)


def match_several(text: str, choices: Mapping[str, str] | Iterable[Choice]) -> list[tuple[str, ChoiceMatch | None]]:
    """Split a several-of value (commas, semicolons, « et », slashes, newlines) and match each piece.

    Labels may themselves hold separators (« Eau et assainissement », « Éducation, formation »), so
    the longest run of pieces that spells a label exactly is taken first: a line written by the form
    renderer reads back exactly, without fuzzy matches. Returns (written piece, match or None).
    """
    choices = dict(choices)
    if ";" in text:  # the form's own separator, which no label holds: it alone splits (commas stay in labels)
        return [found for piece in re.split(r"\s*[;\n]\s*", text) if piece.strip()
                for found in _match_pieces(piece, choices)]
    return _match_pieces(text, choices)


def _match_pieces(text: str, choices: dict[str, str]) -> list[tuple[str, ChoiceMatch | None]]:
    """`match_several` without semicolons: commas, « et », slashes may each separate or belong to a label."""
    parts = _SEPARATOR.split(text)
    pieces, seps = parts[0::2], parts[1::2]
    longest = max((len(_SEPARATOR.split(label)) // 2 + 1 for label in choices.values()), default=1)
    found: list[tuple[str, ChoiceMatch | None]] = []
    i = 0
    while i < len(pieces):
        for j in range(min(len(pieces), i + longest), i + 1, -1):  # runs of two pieces or more
            span = pieces[i] + "".join(seps[k] + pieces[k + 1] for k in range(i, j - 1))
            exact = _exact_choice(span, choices)
            if exact is not None:
                found.append((span.strip(), exact))
                i = j
                break
        else:
            if pieces[i].strip():
                found.append((pieces[i].strip(), match_choice(pieces[i], choices)))
            i += 1
    return found


# ---- countries ----------------------------------------------------------------------------------

# French usage that neither CLDR nor ISO spells (checked by tests against the real index).
COUNTRY_ALIASES = {
    "RDC": "CD", "République démocratique du Congo": "CD", "Palestine": "PS", "Angleterre": "GB",
    "Grande-Bretagne": "GB", "République tchèque": "CZ", "Hollande": "NL", "Macédoine": "MK",
    "Swaziland": "SZ",
}
# Names that French speakers use for two countries: never read as one of them without asking.
AMBIGUOUS_COUNTRY_NAMES = ("Congo",)


@lru_cache(maxsize=1)
def _country_index() -> tuple[dict[str, str], dict[str, str], dict[str, tuple[str, ...]]]:
    """(key → code for exact look-ups, code → French name, code → folded names for fuzzy look-ups)."""
    french = Locale.parse("fr").territories
    exact: dict[str, str] = {}
    names: dict[str, str] = {}
    aliases: dict[str, tuple[str, ...]] = {}
    for country in pycountry.countries:
        code = country.alpha_2
        names[code] = french.get(code, country.name)
        optional = (getattr(country, "common_name", ""), getattr(country, "official_name", ""))
        spellings = [names[code], country.name, *filter(None, optional)]
        aliases[code] = tuple(fold(s) for s in spellings)
        for spelling in [code, country.alpha_3, *spellings]:
            exact.setdefault(_key(spelling), code)
    for spelling, code in COUNTRY_ALIASES.items():
        exact[_key(spelling)] = code
    for spelling in AMBIGUOUS_COUNTRY_NAMES:
        exact.pop(_key(spelling), None)
    return exact, names, aliases


def match_country(text: str) -> ChoiceMatch | None:
    """ISO 3166-1 alpha-2 code of the country `text` names (French or English, ISO codes), or None."""
    exact, names, aliases = _country_index()
    code = exact.get(_key(text))
    if code is not None:
        return ChoiceMatch(code, names[code], 100.0, True)
    found = _fuzzy(text, aliases, min_key=4)
    return None if found is None else ChoiceMatch(found[0], names[found[0]], found[1], False)


def suggest_countries(text: str, limit: int = 3) -> list[str]:
    """French names closest to `text`, for an error message."""
    _, names, aliases = _country_index()
    return [names[code] for score, code in _ranked(text, aliases)[:limit] if score >= 70]


def country_name(code: str) -> str:
    """French name of an ISO alpha-2 code (the name the form shows)."""
    return _country_index()[1][code]


# ---- value readers ------------------------------------------------------------------------------

_CURRENCY = re.compile(r"€|\beur(?:o?s?)?\b", re.IGNORECASE)
_GROUPING = re.compile(r"[\s'\u2019]+")  # spaces (any kind) and apostrophes only ever group thousands
_MAX_EUROS = Decimal("1e12")  # Numeric(14, 2) in the store


def _bad_amount(text: str) -> ValueRejected:
    return ValueRejected("bad_amount", f"« {text} » n'est pas un montant lisible : le montant doit être un nombre "
                                       "en euros, par exemple 12 500 ou 12 500,50.")


def parse_euros(text: str) -> Decimal:
    """An amount as people write it (`12 500 €`, `12500,00`, `12.500 EUR`, `1 234 567`) → Decimal, 2 places.

    A single `.` or `,` followed by exactly three digits groups thousands (euros have no third
    decimal); followed by one or two digits it is the decimal mark.
    """
    written = normalise_text(text)
    number = _CURRENCY.sub(" ", written).strip().rstrip(".").strip()
    negative = number[:1] in ("-", "\u2212")
    digits = _GROUPING.sub("_", number.lstrip("-\u2212").strip())
    value = _read_number(digits)
    if value is None:
        raise _bad_amount(written)
    if negative:
        raise ValueRejected("negative_amount", "Le montant ne peut pas être négatif : écrivez un nombre positif "
                                               "en euros, par exemple 12 500, ou 0 s'il n'y a rien eu.")
    if value >= _MAX_EUROS:
        raise ValueRejected("bad_amount", f"« {written} » est un montant trop grand : vérifiez le nombre de chiffres "
                                          "(par exemple 12 500 pour douze mille cinq cents euros).")
    return value.quantize(Decimal("0.01"))


def _read_number(text: str) -> Decimal | None:
    """Digits with at most one kind of grouping mark (`_` stands for spaces and apostrophes)."""
    decimal = re.search(r"[.,](\d{1,2})$", text)
    whole, cents = (text[: decimal.start()], decimal.group(1)) if decimal else (text, "0")
    marks = set(re.sub(r"\d", "", whole))
    if not marks:
        readable = re.fullmatch(r"\d+", whole)
    elif len(marks) == 1 and not (decimal and decimal.group(0)[0] in marks):
        readable = re.fullmatch(r"\d{1,3}(?:" + re.escape(next(iter(marks))) + r"\d{3})+", whole)
    else:
        readable = None  # « 1,234.567 », « 1.234.5 »: refusing is safer than guessing with money
    return Decimal(f"{re.sub(r'[^0-9]', '', whole)}.{cents}") if readable else None


def parse_year(text: str) -> int:
    """A year on four digits, 1900–2100."""
    written = normalise_text(text).rstrip(".")
    if re.fullmatch(r"\d{4}", written) and 1900 <= int(written) <= 2100:
        return int(written)
    raise ValueRejected("bad_year", f"« {written} » n'est pas une année : écrivez l'année sur quatre chiffres, "
                                    "par exemple 2010.")


_YES = frozenset({"oui", "o", "x", "[x]", "vrai", "yes", "y", "1"})
_NO = frozenset({"", "non", "n", "[]", "faux", "no", "0"})


def parse_yesno(text: str) -> bool | None:
    """oui/non, o/n, x, [x]/[ ], vrai/faux, yes/no (case and accents aside; empty is no); None otherwise."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    written = "".join(c for c in decomposed if not unicodedata.combining(c) and not c.isspace()).rstrip(".!")
    if written in _YES:
        return True
    return False if written in _NO else None


def check_email(text: str) -> str:
    """The address, normalised (domain in lowercase), checked for syntax only: no network."""
    written = normalise_text(text)
    try:
        return validate_email(written, check_deliverability=False).normalized
    except EmailNotValidError:
        message = (f"« {written} » n'est pas une adresse électronique valide : écrivez une seule adresse "
                   "complète, sans espace, par exemple prenom.nom@ville.fr.")
        raise ValueRejected("bad_email", message) from None


_PARTICLES = frozenset("de du des la le les et sur sous en es el al ad di da do dos das von van y".split())


def written_in_capitals(name: str) -> bool:
    letters = [c for c in name if c.isalpha()]
    return len(letters) >= 2 and all(c.isupper() for c in letters)


def suggest_case(name: str) -> str:
    """« SAINT-LOUIS DU SENEGAL » → « Saint-Louis du Senegal »: a suggestion, accents are the agent's job."""
    words = re.split(r"([\s'\-]+)", name.lower())
    out = [w if (i and w in _PARTICLES) else w[:1].upper() + w[1:] for i, w in enumerate(words)]
    return "".join(out)


# ---- field types --------------------------------------------------------------------------------

class Parsed(NamedTuple):
    value: object
    matches: tuple[FuzzyMatch, ...] = ()


def choices_for(rule: FieldRule, references: ReferenceLists) -> dict[str, str]:
    """code → label of a one-of/several-of field, from the rules or from a reference list."""
    if rule.choices_from:
        return dict(getattr(references, rule.choices_from))
    return dict(rule.choices)


def _unknown_choice(written: str, choices: Mapping[str, str]) -> ValueRejected:
    if len(choices) <= 12:
        listed = ", ".join(choices.values())
        return ValueRejected("unknown_choice", f"« {written} » ne fait pas partie des valeurs possibles : écrivez "
                                               f"l'une de celles-ci : {listed}.")
    close = suggest_choices(written, choices)
    hint = f"Vouliez-vous dire : {' ; '.join(close)} ? " if close else ""
    return ValueRejected("unknown_choice", f"« {written} » ne figure pas dans la liste. {hint}Écrivez le nom "
                                           "complet, tel que la liste le donne.")


def _as_text(text: str, rule: FieldRule, references: ReferenceLists) -> Parsed:
    return Parsed(text)


def _as_one_of(text: str, rule: FieldRule, references: ReferenceLists) -> Parsed:
    choices = choices_for(rule, references)
    found = match_choice(text, choices)
    if found is None:
        raise _unknown_choice(text, choices)
    return Parsed(found.code, _recorded(rule, text, found))


def _as_several_of(text: str, rule: FieldRule, references: ReferenceLists) -> Parsed:
    choices = choices_for(rule, references)
    found = match_several(text, choices)
    unknown = [written for written, match in found if match is None]
    if unknown:
        raise _unknown_choice(" ; ".join(unknown), choices)
    codes = list(dict.fromkeys(match.code for _, match in found))  # in the order written, once each
    return Parsed(codes, tuple(m for written, match in found for m in _recorded(rule, written, match)))


def _as_country(text: str, rule: FieldRule, references: ReferenceLists) -> Parsed:
    found = match_country(text)
    if found is None:
        close = suggest_countries(text)
        hint = f"Vouliez-vous dire : {' ; '.join(close)} ? " if close else ""
        raise ValueRejected("unknown_country", f"« {text} » n'est pas un pays reconnu. {hint}Écrivez le nom du pays "
                                               "en français, par exemple Sénégal ou Allemagne.")
    return Parsed(found.code, _recorded(rule, text, found))


def _as_partner_name(text: str, rule: FieldRule, references: ReferenceLists) -> Parsed:
    if not written_in_capitals(text):
        return Parsed(text)
    suggestion = suggest_case(text)
    if rule.normalise == "titlecase":
        return Parsed(suggestion, (FuzzyMatch(rule.key, text, suggestion, suggestion, 100.0),))
    raise ValueRejected("capitals", f"« {text} » est écrit en capitales : écrivez le nom en minuscules, "
                                    f"par exemple {suggestion}.")


def _as_yesno(text: str, rule: FieldRule, references: ReferenceLists) -> Parsed:
    value = parse_yesno(text)
    if value is None:
        raise ValueRejected("bad_yesno", f"« {text} » n'est pas une réponse oui/non : écrivez oui ou non.")
    return Parsed(value)


def _recorded(rule: FieldRule, written: str, found: ChoiceMatch) -> tuple[FuzzyMatch, ...]:
    return () if found.exact else (FuzzyMatch(rule.key, written, found.code, found.label, found.score),)


def _none() -> None:
    return None


class FieldType(NamedTuple):
    parse: Callable[[str, FieldRule, ReferenceLists], Parsed]  # raises ValueRejected
    empty: Callable[[], object]  # the value of a blank line (when the field is not mandatory)
    keeps_lines: bool = False  # several-of splits on line breaks, so they must survive normalisation


FIELD_TYPES: dict[str, FieldType] = {
    "text": FieldType(_as_text, _none),
    "email": FieldType(lambda text, rule, refs: Parsed(check_email(text)), _none),
    "euros": FieldType(lambda text, rule, refs: Parsed(parse_euros(text)), _none),
    "year": FieldType(lambda text, rule, refs: Parsed(parse_year(text)), _none),
    "yesno": FieldType(_as_yesno, bool),
    "one-of": FieldType(_as_one_of, _none),
    "several-of": FieldType(_as_several_of, list, keeps_lines=True),
    "country": FieldType(_as_country, _none),
    "partner_name": FieldType(_as_partner_name, _none),
}
CHOICE_TYPES = ("one-of", "several-of")


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


def _check_field(rule: FieldRule, raw: str, references: ReferenceLists, typed: dict,
                 errors: list[RuleError], matches: list[FuzzyMatch]) -> None:
    kind = FIELD_TYPES[rule.type]
    text = normalise_text(raw or "", keep_lines=kind.keeps_lines)
    if rule.max_length is not None and len(text) > rule.max_length:
        errors.append(RuleError(rule.key, "too_long", f"Le texte de « {rule.label} » est trop long ({len(text)} "
                                                      f"caractères) : raccourcissez-le à {rule.max_length} "
                                                      "caractères au plus."))
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
_TOP_KEYS = {"name", "title", "year", "apd", "reminders", "contact", "part"}
_PART_KEYS = {"key", "title", "within", "field"}
_FIELD_KEYS = {f.name for f in dataclasses.fields(FieldRule)}
_REQUIRED = object()


class _Problems(list):
    """Every problem of a rules file, so that one run shows them all."""

    def take(self, table: dict, key: str, kind: type, where: str, default=_REQUIRED):
        if key not in table:
            if default is _REQUIRED:
                self.append(f"{where}: missing `{key}`")
                return None
            return default
        value = table[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            self.append(f"{where}: `{key}` must be {_KIND_NAMES[kind]}, not {value!r}")
            return None if default is _REQUIRED else default
        return value

    def unknown(self, table: dict, allowed: set[str], where: str) -> None:
        for key in sorted(set(table) - allowed):
            self.append(f"{where}: unknown key `{key}` (allowed: {', '.join(sorted(allowed))})")


_KIND_NAMES = {str: "a string", int: "an integer", bool: "true or false", list: "a list", dict: "a table"}


def load_rules(path: str | Path) -> Rules:
    """Read and check a rules file; raises RulesFileError naming the file and each problem."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesFileError(str(path), [f"cannot read the file: {exc}"]) from None
    return parse_rules_text(text, source=str(path))


def parse_rules_text(text: str, source: str = "<rules>") -> Rules:
    """Check and build rules from TOML text (`source` names it in messages): see load_rules."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesFileError(source, [f"not valid TOML: {exc}"]) from None
    problems = _Problems()
    rules = _read_rules(data, problems, source)
    if problems:
        raise RulesFileError(source, problems)
    return rules


def _read_rules(data: dict, p: _Problems, source: str) -> Rules | None:
    p.unknown(data, _TOP_KEYS, "top level")
    name, title = p.take(data, "name", str, "top level"), p.take(data, "title", str, "top level")
    year = p.take(data, "year", int, "top level")
    apd = p.take(data, "apd", dict, "top level") or {}
    p.unknown(apd, {"editable_year", "shown_years"}, "[apd]")
    editable, shown = p.take(apd, "editable_year", int, "[apd]"), p.take(apd, "shown_years", list, "[apd]")
    _check_years(year, editable, shown, p)
    reminders = p.take(data, "reminders", dict, "top level") or {}
    p.unknown(reminders, {"min_days_between", "max_count"}, "[reminders]")
    min_days = p.take(reminders, "min_days_between", int, "[reminders]")
    max_count = p.take(reminders, "max_count", int, "[reminders]")
    if any(n is not None and n < 0 for n in (min_days, max_count)):
        p.append("[reminders]: `min_days_between` and `max_count` cannot be negative")
    contact = _read_contact(p.take(data, "contact", dict, "top level") or {}, p)
    parts = _read_parts(p.take(data, "part", list, "top level") or [], p)
    if "apd" in parts and editable is not None:
        _check_apd_part(parts["apd"], editable, p)
    if p:
        return None
    return Rules(name=name, title=title, year=year, apd_editable_year=editable, apd_shown_years=tuple(shown),
                 reminder_min_days=min_days, reminder_max_count=max_count, contact=contact, parts=parts,
                 source=source)


def _check_years(year, editable, shown, p: _Problems) -> None:
    for what, value in (("year", year), ("[apd] editable_year", editable)):
        if value is not None and not 1900 <= value <= 2100:
            p.append(f"{what}: {value} is not a year between 1900 and 2100")
    if shown is None or editable is None:
        return
    if not shown or not all(isinstance(y, int) and not isinstance(y, bool) for y in shown):
        p.append(f"[apd] shown_years: must be a non-empty list of years, not {shown!r}")
    elif shown != sorted(set(shown)) or shown[-1] != editable:
        p.append(f"[apd] shown_years: {shown} must be ascending, without repeats, and end with "
                 f"editable_year {editable} (earlier years are the read-only ones)")
    if year is not None and editable > year:
        p.append(f"[apd] editable_year: {editable} is after the campaign year {year}")


def _read_contact(table: dict, p: _Problems) -> CampaignContact | None:
    p.unknown(table, {"name", "title", "email"}, "[contact]")
    name, title, email = (p.take(table, key, str, "[contact]") for key in ("name", "title", "email"))
    if email is not None:
        try:
            check_email(email)
        except ValueRejected:
            p.append(f"[contact] email: {email!r} is not a valid address")
    return CampaignContact(name, title, email)


def _read_parts(tables: list, p: _Problems) -> dict[str, Part]:
    parts: dict[str, Part] = {}
    for number, table in enumerate(tables, 1):
        if not isinstance(table, dict):
            p.append(f"part #{number}: must be a table ([[part]])")
            continue
        part = _read_part(table, f"part #{number}", p)
        if part is None:
            continue
        if part.key in parts:
            p.append(f"part {part.key!r}: defined twice")
        parts[part.key] = part
    for missing in sorted(set(PART_ATTRIBUTES) - set(parts)):
        p.append(f"part {missing!r}: missing (every rules file describes the whole form: "
                 f"{', '.join(PART_ATTRIBUTES)})")
    for part in parts.values():
        for outer in part.within:  # a missing part was reported above
            if outer not in PART_ATTRIBUTES or outer == part.key or (outer in parts and parts[outer].within):
                p.append(f"part {part.key!r}: `within` names {outer!r}, which is not a section part")
    return parts


def _read_part(table: dict, where: str, p: _Problems) -> Part | None:
    key = p.take(table, "key", str, where)
    if key is not None:
        where = f"part {key!r}"
        if key not in PART_ATTRIBUTES:
            p.append(f"{where}: unknown part (known: {', '.join(PART_ATTRIBUTES)})")
            return None
    p.unknown(table, _PART_KEYS, where)
    title = p.take(table, "title", str, where)
    within = p.take(table, "within", list, where, [])
    field_tables = p.take(table, "field", list, where, [])
    if not field_tables:
        p.append(f"{where}: has no fields ([[part.field]])")
    fields = [_read_field(t, where, n, key, p) for n, t in enumerate(field_tables, 1)]
    fields = tuple(f for f in fields if f is not None)
    _check_part_fields(fields, where, p)
    return Part(key, title, fields, tuple(str(w) for w in within)) if key else None


def _read_field(table, part_where: str, number: int, part_key: str | None, p: _Problems) -> FieldRule | None:
    where = f"{part_where}, field #{number}"
    if not isinstance(table, dict):
        p.append(f"{where}: must be a table ([[part.field]])")
        return None
    key = p.take(table, "key", str, where)
    where = f"{part_where}, field {key!r}" if key else where
    p.unknown(table, _FIELD_KEYS, where)
    if key and part_key in PART_ATTRIBUTES and key not in PART_ATTRIBUTES[part_key]:
        p.append(f"{where}: not an attribute the store keeps for this part "
                 f"(known: {', '.join(sorted(PART_ATTRIBUTES[part_key]))})")
    label = p.take(table, "label", str, where)
    if label is not None and (not label.strip() or re.search(r"[:*\n]", label)):
        p.append(f"{where}: label {label!r} must be non-empty, on one line, without ':' or '*' "
                 "(the form line is `Libellé* : valeur`)")
    kind = p.take(table, "type", str, where)
    if kind is not None and kind not in FIELD_TYPES:
        p.append(f"{where}: unknown type {kind!r} (known: {', '.join(FIELD_TYPES)})")
    choices = _read_choices(table.get("choices", []), where, p)
    choices_from = p.take(table, "choices_from", str, where, None)
    _check_choices(kind, choices, choices_from, where, p)
    max_length = p.take(table, "max_length", int, where, None)
    if max_length is not None and max_length < 1:
        p.append(f"{where}: max_length must be at least 1")
    normalise = p.take(table, "normalise", str, where, None)
    if normalise is not None and (kind != "partner_name" or normalise != "titlecase"):
        p.append(f"{where}: normalise = {normalise!r}: only `normalise = \"titlecase\"` on a partner_name field")
    condition = _read_condition(table.get("mandatory_when"), where, p)
    return FieldRule(key=key, label=label, type=kind, mandatory=p.take(table, "mandatory", bool, where, False),
                     choices=choices, choices_from=choices_from, max_length=max_length, normalise=normalise,
                     mandatory_when=condition)


def _read_choices(raw, where: str, p: _Problems) -> tuple[Choice, ...]:
    if not isinstance(raw, list):
        p.append(f"{where}: choices must be a list of {{ code = …, label = … }}")
        return ()
    choices = []
    for item in raw:
        if not (isinstance(item, dict) and set(item) == {"code", "label"}
                and all(isinstance(v, str) and v.strip() for v in item.values())):
            p.append(f"{where}: choice {item!r} must be {{ code = \"…\", label = \"…\" }}")
            continue
        choices.append(Choice(item["code"], item["label"]))
    codes = [c.code for c in choices]
    if len(set(codes)) != len(codes):
        p.append(f"{where}: choice codes repeat: {codes}")
    return tuple(choices)


def _check_choices(kind, choices, choices_from, where: str, p: _Problems) -> None:
    if choices_from is not None and choices_from not in REFERENCE_LISTS:
        p.append(f"{where}: choices_from = {choices_from!r}: known lists are {', '.join(REFERENCE_LISTS)}")
    if kind in CHOICE_TYPES and bool(choices) == (choices_from is not None):
        p.append(f"{where}: a {kind} field needs either `choices` or `choices_from` (exactly one)")
    if kind not in CHOICE_TYPES and (choices or choices_from is not None):
        p.append(f"{where}: only one-of and several-of fields take choices")


def _read_condition(raw, where: str, p: _Problems) -> Condition | None:
    if raw is None:
        return None
    if not (isinstance(raw, dict) and len(raw) == 1):
        p.append(f"{where}: mandatory_when must name one field, e.g. {{ status = \"termine\" }}")
        return None
    (other, codes), = raw.items()
    codes = [codes] if isinstance(codes, str) else codes
    if not (isinstance(codes, list) and codes and all(isinstance(c, str) for c in codes)):
        p.append(f"{where}: mandatory_when values must be choice codes")
        return None
    return Condition(other, tuple(codes))


def _check_part_fields(fields: tuple[FieldRule, ...], where: str, p: _Problems) -> None:
    keys = [f.key for f in fields]
    for key in sorted({k for k in keys if keys.count(k) > 1}):
        p.append(f"{where}: field {key!r} is defined twice")
    labels = [fold(f.label) for f in fields if f.label]
    for label in sorted({l for l in labels if labels.count(l) > 1}):
        p.append(f"{where}: two fields have the label {label!r} (the parser finds fields by label)")
    by_key = {f.key: f for f in fields}
    for rule in fields:
        condition = rule.mandatory_when
        if condition is None:
            continue
        other = by_key.get(condition.field)
        if other is None or other.type != "one-of" or not other.choices:
            p.append(f"{where}, field {rule.key!r}: mandatory_when names {condition.field!r}, "
                     "which is not a one-of field with its own choices in this part")
        elif set(condition.codes) - {c.code for c in other.choices}:
            p.append(f"{where}, field {rule.key!r}: mandatory_when codes {list(condition.codes)} are not all "
                     f"choices of {condition.field!r}")
        if rule.mandatory:
            p.append(f"{where}, field {rule.key!r}: mandatory and mandatory_when together make no sense")


def _check_apd_part(part: Part, editable: int, p: _Problems) -> None:
    # The form prints the first APD field once per shown year, and the parser reads it back as the
    # amount: it has to be the amount, and a year in its label has to be the editable one.
    first = part.fields[0] if part.fields else None
    if first is None or first.key != "amount" or first.type != "euros":
        p.append("part 'apd': the first field must be `amount`, of type euros (one line per year on the form)")
        return
    years = {int(y) for y in re.findall(r"\b(?:19|20)\d{2}\b", first.label or "")}
    if years - {editable}:
        p.append(f"part 'apd', field 'amount': label {first.label!r} names {sorted(years)[0]}, "
                 f"but editable_year is {editable}")
