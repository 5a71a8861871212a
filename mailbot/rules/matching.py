"""Matching what people write against known values: normalised text, choices by fuzzy match, countries by their French names (pycountry + babel)."""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Iterable, Mapping, NamedTuple

import pycountry
from babel import Locale
from rapidfuzz import fuzz

from mailbot.budget import checkpoint, ticks
from mailbot.rules.model import MAX_SEVERAL, Choice, ValueRejected

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


class _Forms(NamedTuple):
    """A folded spelling and what `_similarity` compares of it, computed once per spelling."""

    folded: str
    content: str
    uninflected: str
    words: frozenset[str]


@lru_cache(maxsize=8192)
def _forms(folded: str) -> _Forms:
    content = _content(folded)
    return _Forms(folded, content, _uninflected(folded), frozenset(content.split()))


def _similarity(written: _Forms, candidate: _Forms) -> float:
    # ratio catches typos (« termine » / « terminee »); token_set_ratio catches a label written
    # with extra or missing words (« santé publique » / « Santé »), stopwords aside so that « de »
    # alone does not fit every label that has one. A short word gets no typo tolerance: « ARF » is
    # not a misspelt « AIRF ».
    if written.uninflected and written.uninflected == candidate.uninflected:
        return INFLECTED_SCORE
    if len(written.folded.replace(" ", "")) < 5:
        return 100.0 if written.words and written.words <= candidate.words else 0.0
    return max(fuzz.ratio(written.folded, candidate.folded), fuzz.token_set_ratio(written.content, candidate.content))


def _ranked(text: str, aliases: Mapping[str, Iterable[str]]) -> list[tuple[float, str]]:
    """(score, code) for every code, best first; `aliases` gives each code its folded spellings."""
    return list(_ranked_folded(fold(text), tuple((code, tuple(names)) for code, names in aliases.items())))


@lru_cache(maxsize=4096)
def _ranked_folded(written: str, aliases: tuple[tuple[str, tuple[str, ...]], ...]) -> tuple[tuple[float, str], ...]:
    # Cached: a form repeats its values (every project's « Thématiques », a block pasted twice), and
    # ranking a value against the 250 countries is the costliest step of reading one.
    checkpoint()
    forms = _forms(written)
    scores = ((max(_similarity(forms, _forms(alias)) for alias in names), code) for code, names in ticks(aliases))
    return tuple(sorted(scores, key=lambda pair: -pair[0]))


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
    if len(pieces) > MAX_SEVERAL:
        raise ValueRejected("too_many", f"Trop de valeurs ({len(pieces)}) : indiquez-en {MAX_SEVERAL} au plus, "
                                        "séparées par des virgules.")
    longest = max((len(_SEPARATOR.split(label)) // 2 + 1 for label in choices.values()), default=1)
    found: list[tuple[str, ChoiceMatch | None]] = []
    i = 0
    while i < len(pieces):
        checkpoint()
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
