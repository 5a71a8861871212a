"""French before a collectivité's name: its article, and the prepositions that contract or elide with it
(« de l'Ille-et-Vilaine », « du Finistère », « des Hauts-de-Seine », « de La Réunion », « du Havre »,
« d'Orléans », « de la communauté de communes du Pays de Fayence », « pour la Marne », « au Havre »).

Pure: a collectivité (any mapping or object with `name` and `code`, `kind` optional) in, text out.
The rules are data, below; what cannot be told from a name comes from `store/refdata/articles-fr.csv`
(INSEE's Code officiel géographique, see its README): the article a département's or région's name
takes when used alone, and which communes whose name begins with an « h » elide it (h muet) or not
(h aspiré).
"""
from __future__ import annotations

import csv
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from store.refdata import ARTICLES_CSV

# The article a name carries itself (communes: « Le Havre »; La Réunion), as written in the name.
EMBEDDED_ARTICLES = ("Le ", "La ", "Les ", "L'", "L’", "Los ", "Las ")
# preposition + article → one word (« de le » and « à les » are never written)
CONTRACTIONS = {("de", "le"): "du", ("de", "les"): "des", ("à", "le"): "au", ("à", "les"): "aux"}
# preposition elided before a vowel sound when no article stands between
ELISIONS = {"de": "d'"}
VOWELS = frozenset("AEIOUYŒÆ")
# An EPCI's name begins with the abbreviation of its type: written out, it takes the type's article.
EPCI_TYPE_NAMES = {
    "CC": "communauté de communes",
    "CA": "communauté d'agglomération",
    "CU": "communauté urbaine",
}
EPCI_TYPE_ARTICLE = "la"
# A name that begins with a common noun takes that noun's article (« la Métropole de Lyon »,
# « l'Eurométropole de Strasbourg »); a proper name (« Rennes Métropole ») takes none.
LEADING_NOUN_ARTICLES = {
    "métropole": "la", "eurométropole": "l'", "communauté": "la", "syndicat": "le", "pays": "le",
    "pôle": "le", "établissement": "l'", "agglomération": "l'", "territoire": "le",
}
KIND_OF_PREFIX = {"REG": "region", "DEP": "departement", "COM": "commune", "EPCI": "epci"}
KIND_NAMES = {"region": "région", "departement": "département", "commune": "commune", "epci": "intercommunalité"}


@dataclass(frozen=True)
class Named:
    """A name split for the grammar: `article` (lowercase when it is ours, as written when it is part
    of the name), and the words after it; `elides`: the whole begins with a vowel sound."""

    article: str
    rest: str
    elides: bool

    @property
    def with_article(self) -> str:
        if not self.article:
            return self.rest
        return f"{self.article}{self.rest}" if self.article.endswith(("'", "’")) else f"{self.article} {self.rest}"


def kind_of(collectivite) -> str:
    kind = _get(collectivite, "kind")
    if kind:
        return kind
    prefix = str(_get(collectivite, "code") or "").partition("-")[0]
    return KIND_OF_PREFIX.get(prefix, "")


def named(collectivite) -> Named:
    return _named(kind_of(collectivite), str(_get(collectivite, "code") or ""), " ".join(str(_get(collectivite, "name") or "").split()))


def with_article(collectivite) -> str:
    """« l'Ille-et-Vilaine », « le Finistère », « Le Havre », « Rennes »."""
    return named(collectivite).with_article


def preposition(word: str, collectivite) -> str:
    """`word` (« de », « à », « pour »…) before the collectivité's name, contracted or elided."""
    name = named(collectivite)
    if name.article:
        contracted = CONTRACTIONS.get((word, name.article.lower()))
        if contracted:
            return f"{contracted} {name.rest}"
        return f"{word} {name.with_article}"
    if name.elides and word in ELISIONS:
        return f"{ELISIONS[word]}{name.rest}"
    return f"{word} {name.rest}"


def de(collectivite) -> str:
    return preposition("de", collectivite)


def a(collectivite) -> str:
    return preposition("à", collectivite)


def pour(collectivite) -> str:
    return preposition("pour", collectivite)


FILTERS = {"de": de, "a": a, "pour": pour, "with_article": with_article,
           "prep": lambda collectivite, word: preposition(word, collectivite)}


# --- the rules applied ----------------------------------------------------------------------------------

@lru_cache(maxsize=8192)  # a campaign renders each collectivité's name a few times
def _named(kind: str, code: str, name: str) -> Named:
    insee = code.partition("-")[2]
    if kind in ("region", "departement"):
        article = _articles().alone.get((kind, insee), "")
        if article:
            return Named(article, name, False)
    if kind == "epci":
        return _epci(name)
    return _by_name(name, _articles().h_muet.get(insee))


def _epci(name: str) -> Named:
    abbreviation, _, rest = name.partition(" ")
    if abbreviation in EPCI_TYPE_NAMES and rest:
        return Named(EPCI_TYPE_ARTICLE, f"{EPCI_TYPE_NAMES[abbreviation]} {rest}", False)
    article = LEADING_NOUN_ARTICLES.get(name.split(" ", 1)[0].split("-", 1)[0].casefold())
    if article:
        return Named(article, name, False)
    return _by_name(name, None)


def _by_name(name: str, h_muet: bool | None) -> Named:
    for article in EMBEDDED_ARTICLES:
        if name.startswith(article) and len(name) > len(article):
            return Named(article.strip(), name[len(article):], False)
    return Named("", name, _begins_with_vowel_sound(name, h_muet))


def _begins_with_vowel_sound(name: str, h_muet: bool | None) -> bool:
    first = unicodedata.normalize("NFKD", name[:1])[:1].upper()
    if first == "H":
        # INSEE's TNCC says which communes elide (h muet); an unknown name: the more frequent case
        return True if h_muet is None else h_muet
    return first in VOWELS


@dataclass(frozen=True)
class _Articles:
    alone: dict[tuple[str, str], str]  # (kind, INSEE code) → article of a département's or région's name
    h_muet: dict[str, bool]  # commune INSEE code → whether its name elides a preposition


@lru_cache(maxsize=1)
def _articles() -> _Articles:
    alone: dict[tuple[str, str], str] = {}
    h_muet: dict[str, bool] = {}
    with ARTICLES_CSV.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["kind"] == "commune":
                h_muet[row["code"]] = row["tncc"] == "1"  # TNCC 1: charnière « d' »
            else:
                alone[(row["kind"], row["code"])] = row["article"]
    return _Articles(alone, h_muet)


def _get(item, key: str):
    return item.get(key) if isinstance(item, dict) else getattr(item, key, None)
