"""The world the Atlas is built on (the real collectivités and the countries, as read from the store),
and the shapes of the plan built on it (partners, cooperations, the Atlas)."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.models import (
    Collectivite,
    Country,
    Network,
    Theme,
)

# --- the world the Atlas is built on ------------------------------------------------------------


@dataclass(slots=True)
class Coll:
    id: int
    kind: str
    insee: str
    name: str
    epci_type: str | None
    departement: str | None
    region: str | None
    population: int


@dataclass(frozen=True, slots=True)
class CountrySpec:
    code: str
    weight: float
    group: str
    style: str
    locative: str  # « au Sénégal », « en Allemagne »: how a title says where


@dataclass
class World:
    collectivites: list[Coll]
    country_codes: set[str]
    theme_codes: list[str]
    networks: dict[str, int]  # code → id
    regional_networks: dict[str, str]  # région code → network code
    biggest_commune: dict[str, str]  # area_key → the name of the area's most populous commune


def area_key(kind: str, code: str | None) -> str:
    # Département and région codes overlap ("11" is the Aude and Île-de-France).
    return f"{kind}:{code}"


def read_world(session: Session) -> World:
    rows = session.execute(
        select(
            Collectivite.id, Collectivite.kind, Collectivite.insee, Collectivite.name, Collectivite.epci_type,
            Collectivite.departement, Collectivite.region, func.coalesce(Collectivite.population, 0),
        ).order_by(Collectivite.id)
    ).all()
    colls = [Coll(*row) for row in rows]
    biggest: dict[str, tuple[int, str]] = {}
    for c in colls:
        if c.kind == "commune":
            for key in (area_key("departement", c.departement), area_key("region", c.region)):
                if c.population > biggest.get(key, (-1, ""))[0]:
                    biggest[key] = (c.population, c.name)
    networks = session.execute(
        select(Network.code, Network.id, Network.scope, Network.region).order_by(Network.id)
    ).all()
    return World(
        collectivites=colls,
        country_codes=set(session.scalars(select(Country.code))),
        theme_codes=list(session.scalars(select(Theme.code).order_by(Theme.code))),
        networks={n.code: n.id for n in networks},
        regional_networks={n.region: n.code for n in networks if n.scope == "regional" and n.region},
        biggest_commune={key: name for key, (_, name) in biggest.items()},
    )


# --- the shapes of the plan ------------------------------------------------------------------------

@dataclass(slots=True)
class PartnerPlan:
    id: int
    country: CountrySpec
    name: str
    place: str
    popularity: float


@dataclass(slots=True)
class CoopPlan:
    id: int
    ref: str
    coll: Coll
    kind: str
    country: CountrySpec
    partner: PartnerPlan | None
    twinning: bool
    since: int | None
    projects: int = 0


@dataclass
class Atlas:
    engaged: list[Coll]
    countries: list[CountrySpec]
    partners: list[PartnerPlan]
    partner_refs: list[str]
    cooperations: list[CoopPlan]  # kind 'cooperation' first, then the external actions
    contacts: list[dict] = field(default_factory=list)
    memberships: list[dict] = field(default_factory=list)
    apd: list[dict] = field(default_factory=list)
    figures: dict = field(default_factory=dict)
