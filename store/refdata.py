"""Reference data: the real collectivités, countries, themes, networks and préfectures.

Everything here is read from files shipped in `store/refdata/` (see its README for sources and the
Etalab attribution) or from pycountry/babel; nothing depends on the Atlas itself. The row builders
are pure functions; `load_reference` is the only one that touches a session.
"""
from __future__ import annotations

import csv
import gzip
import random
import tomllib
from collections import defaultdict
from pathlib import Path

import pycountry
from babel import Locale
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from store.models import Collectivite, Country, Network, Prefecture, Theme, collectivite_code, new_ref

REFDATA = Path(__file__).parent / "refdata"
COLLECTIVITES_CSV = REFDATA / "collectivites-fr.csv.gz"
THEMES_TOML = REFDATA / "themes.toml"
NETWORKS_TOML = REFDATA / "networks.toml"
# the article of each département's and région's name, and the elision of communes in « h » (mailbot.grammar)
ARTICLES_CSV = REFDATA / "articles-fr.csv"

NETWORK_SCOPES = ("national", "international", "regional")

# Article of each département's name, for « Préfecture de la Gironde », « du Nord », « de l'Ain »…
# Codes absent from these sets take no article (« de Paris », « d'Ille-et-Vilaine »).
_DEP_ARTICLE_L = frozenset("01 02 03 07 09 10 11 12 27 34 36 38 60 61 89 91".split())
_DEP_ARTICLE_DES = frozenset("04 05 06 08 13 22 40 64 65 66 78 79 88 92".split())
_DEP_ARTICLE_DU = frozenset(
    "14 15 18 25 29 30 32 39 45 46 56 59 62 63 67 68 69 81 83 90 94 95".split()
)
_DEP_ARTICLE_LA = frozenset(
    "16 17 19 2A 2B 21 23 24 26 31 33 42 43 44 48 50 51 52 53 55 57 58 70 72 73 74 76 80 85 86 87 93 "
    "971 972 973".split()
)

# Overseas collectivities are not served by an ordinary préfecture; name and seat of the State's
# representative, since the CSV's chef-lieu is not where that office sits for all of them.
_OVERSEAS_OFFICES = {
    "975": ("Préfecture de Saint-Pierre-et-Miquelon", "97500", "Saint-Pierre"),
    "977": ("Préfecture de Saint-Barthélemy et de Saint-Martin", "97133", "Saint-Barthélemy"),
    "978": ("Préfecture de Saint-Barthélemy et de Saint-Martin", "97150", "Marigot"),
    "984": ("Administration supérieure des Terres australes et antarctiques françaises", "97410", "Saint-Pierre"),
    "986": ("Administration supérieure des îles Wallis et Futuna", "98600", "Mata-Utu"),
    "987": ("Haut-commissariat de la République en Polynésie française", "98714", "Papeete"),
    "988": ("Haut-commissariat de la République en Nouvelle-Calédonie", "98800", "Nouméa"),
    "989": ("Haut-commissariat de la République en Polynésie française (Clipperton)", "98714", "Papeete"),
}


class RefDataError(RuntimeError):
    """A reference data file is missing or malformed; the message names the file."""


# --- reading -----------------------------------------------------------------------------------


def read_collectivites(path: Path = COLLECTIVITES_CSV) -> list[dict[str, str]]:
    """The CSV rows as dicts of strings, in file order (régions, départements, communes, EPCI)."""
    try:
        with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
            return list(csv.DictReader(fh))
    except OSError as exc:
        raise RefDataError(f"cannot read {path}: {exc}") from None


def read_toml_list(path: Path, key: str) -> list[dict]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)[key]
    except (OSError, tomllib.TOMLDecodeError, KeyError) as exc:
        raise RefDataError(f"cannot read the [[{key}]] list of {path}: {exc!r}") from None


# --- row builders (pure) -----------------------------------------------------------------------


def departement_of_commune(commune_code: str) -> str:
    """INSEE commune code → département code: 3 characters overseas (97x, 98x), else 2 (2A, 2B…)."""
    return commune_code[:3] if commune_code[:2] in ("97", "98") else commune_code[:2]


def collectivite_rows(records: list[dict[str, str]]) -> list[dict]:
    """`Collectivite` rows; a région's or département's population is the sum of its communes'
    (the CSV leaves it blank, and the generator weighs collectivités by population)."""
    by_dep: dict[str, int] = defaultdict(int)
    by_reg: dict[str, int] = defaultdict(int)
    for rec in records:
        if rec["kind"] == "commune" and rec["population"]:
            by_dep[rec["departement"]] += int(rec["population"])
            by_reg[rec["region"]] += int(rec["population"])
    rows = []
    for rec in records:
        kind, code = rec["kind"], rec["code"]
        if kind == "region":
            population = by_reg.get(code)
        elif kind == "departement":
            population = by_dep.get(code)
        else:
            population = int(rec["population"]) if rec["population"] else None
        rows.append(
            {
                "code": collectivite_code(kind, code),
                "kind": kind,
                "insee": code,
                "siren": rec["siren"] or None,
                "name": rec["nom"],
                "epci_type": rec["type"] or None,
                "departement": rec["departement"] or None,
                "region": rec["region"] or None,
                "population": population,
                "zone": rec["zone"] or None,
                "in_atlas": False,
                "version": 1,
            }
        )
    return rows


def country_name_fr(alpha2: str, fallback: str, territories: dict[str, str]) -> str:
    return territories.get(alpha2) or fallback


def country_rows() -> list[dict]:
    territories = Locale("fr").territories
    return sorted(
        ({"code": c.alpha_2, "name_fr": country_name_fr(c.alpha_2, c.name, territories)} for c in pycountry.countries),
        key=lambda row: row["code"],
    )


def theme_rows(path: Path = THEMES_TOML) -> list[dict]:
    rows = [{"code": t["code"], "label": t["label"]} for t in read_toml_list(path, "theme")]
    _require_unique(rows, "code", path)
    return rows


def network_rows(path: Path = NETWORKS_TOML) -> list[dict]:
    rows = []
    for net in read_toml_list(path, "network"):
        scope = net.get("scope")
        if scope not in NETWORK_SCOPES or (scope == "regional") != bool(net.get("region")):
            raise RefDataError(f"{path}: network {net.get('code')!r} needs a scope in {NETWORK_SCOPES}, "
                               "and a region exactly when regional")
        rows.append(
            {
                "code": net["code"],
                "name": net["name"],
                "acronym": net.get("acronym"),
                "scope": scope,
                "region": net.get("region"),
            }
        )
    _require_unique(rows, "code", path)
    return rows


def _require_unique(rows: list[dict], key: str, path: Path) -> None:
    values = [row[key] for row in rows]
    if len(values) != len(set(values)):
        raise RefDataError(f"{path}: duplicate {key} values")


def prefecture_name(dep_code: str, dep_name: str) -> str:
    if dep_code in _OVERSEAS_OFFICES:
        return _OVERSEAS_OFFICES[dep_code][0]
    if dep_code in _DEP_ARTICLE_L:
        return f"Préfecture de l'{dep_name}"
    if dep_code in _DEP_ARTICLE_DES:
        return f"Préfecture des {dep_name}"
    if dep_code in _DEP_ARTICLE_DU:
        return f"Préfecture du {dep_name}"
    if dep_code in _DEP_ARTICLE_LA:
        return f"Préfecture de la {dep_name}"
    if dep_name[0] in "AEÉIOUY":
        return f"Préfecture d'{dep_name}"
    return f"Préfecture de {dep_name}"


def _seat_postcode(dep_code: str) -> str:
    # A placeholder that still looks right: most chef-lieux of a département use <dep>000.
    return {"2A": "20000", "2B": "20200"}.get(dep_code) or (dep_code + "00" if len(dep_code) == 3 else dep_code + "000")


def region_seats(records: list[dict[str, str]]) -> dict[str, str]:
    """Région code → département of its préfecture de région: the département of the région's
    chef-lieu commune. A région whose chef-lieu lies outside it (the CSV gives Saint-Pierre-et-
    Miquelon's for the TAAF) falls back to its only département, so every région has one seat."""
    deps_of: dict[str, list[str]] = defaultdict(list)
    for rec in records:
        if rec["kind"] == "departement":
            deps_of[rec["region"]].append(rec["code"])
    seats = {}
    for rec in records:
        if rec["kind"] != "region":
            continue
        seat = departement_of_commune(rec["chef_lieu"])
        deps = deps_of.get(rec["code"], [])
        if seat not in deps and len(deps) == 1:
            seat = deps[0]
        if seat in deps:
            seats[rec["code"]] = seat
    return seats


def prefecture_rows(records: list[dict[str, str]], rng: random.Random | None = None) -> list[dict]:
    """One préfecture (or the overseas equivalent) per département; e-mail and address are
    placeholders (`prefectures.example.fr`), not the real ones."""
    commune_names = {rec["code"]: rec["nom"] for rec in records if rec["kind"] == "commune"}
    seats = region_seats(records)
    refs: set[str] = set()
    rows = []
    for rec in records:
        if rec["kind"] != "departement":
            continue
        dep = rec["code"]
        name = prefecture_name(dep, rec["nom"])
        if dep in _OVERSEAS_OFFICES:
            _, postcode, city = _OVERSEAS_OFFICES[dep]
        else:
            postcode, city = _seat_postcode(dep), commune_names.get(rec["chef_lieu"], rec["nom"])
        rows.append(
            {
                "ref": _unique_ref("PF", rng, refs),
                "version": 1,
                "departement": dep,
                "region": rec["region"],
                "is_region_seat": seats.get(rec["region"]) == dep,
                "name": name,
                "email": f"prefecture-{dep.lower()}@prefectures.example.fr",
                "address": f"{name}\nPlace de la Préfecture\n{postcode} {city.upper()}",
            }
        )
    return rows


def _unique_ref(prefix: str, rng: random.Random | None, used: set[str]) -> str:
    while (ref := new_ref(prefix, rng)) in used:
        pass
    used.add(ref)
    return ref


# --- loading -----------------------------------------------------------------------------------


_REFERENCE_TABLES = {
    "collectivites": Collectivite,
    "countries": Country,
    "themes": Theme,
    "networks": Network,
    "prefectures": Prefecture,
}


def reference_counts(session: Session) -> dict[str, int]:
    """How many rows each reference table holds."""
    return {
        name: session.scalar(select(func.count()).select_from(model)) or 0
        for name, model in _REFERENCE_TABLES.items()
    }


def load_reference(session: Session, rng: random.Random | None = None) -> dict[str, int]:
    """Load the reference tables that are still empty; return how many rows each one received.

    A table that already holds rows is left alone (count 0), so calling this twice is harmless and a
    store whose reference data came from an import keeps it. `rng` makes the préfectures' refs
    deterministic (the seed passes one); without it they are random like any new record's.
    The caller owns the transaction.
    """
    present = reference_counts(session)
    records: list[dict[str, str]] | None = None
    loaded = {}
    for name, model in _REFERENCE_TABLES.items():
        if present[name]:
            loaded[name] = 0
            continue
        if name in ("collectivites", "prefectures") and records is None:
            records = read_collectivites()
        rows = _rows_for(name, records, rng)
        # A plain table insert: the rows are complete, so the ORM's per-row bookkeeping would only cost time.
        session.execute(insert(model.__table__), rows)
        loaded[name] = len(rows)
    return loaded


def _rows_for(name: str, records, rng) -> list[dict]:
    if name == "collectivites":
        return collectivite_rows(records)
    if name == "countries":
        return country_rows()
    if name == "themes":
        return theme_rows()
    if name == "networks":
        return network_rows()
    return prefecture_rows(records, rng)
