"""Reading one written value by its field type (amounts, years, yes/no, e-mail, choices, countries, partner names), with French reasons when it is refused."""
from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from typing import Callable, Mapping, NamedTuple

from email_validator import EmailNotValidError, validate_email

from mailbot.rules.matching import (
    ChoiceMatch,
    match_choice,
    match_country,
    match_several,
    normalise_text,
    suggest_choices,
    suggest_countries,
)
from mailbot.rules.model import FieldRule, FuzzyMatch, ReferenceLists, ValueRejected

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
