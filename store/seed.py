"""A deterministic, realistic national Atlas built on the real collectivités (`mailbot seed`).

`seed_atlas(engine, scale, seed)` fills an empty store: reference data first (if absent), then the
Atlas itself. At scale 1 the headline figures are exactly the 2012 circular's (4,800 collectivités,
10,106 partner authorities in 142 countries, 12,476 + 606 projects); the same seed and scale always
give the same rows, references included. The generator plans in memory with one `random.Random`
and writes everything in one transaction with bulk inserts, ids assigned here so that rows can point
at each other without a round trip.

The vocabulary below (countries, place-name syllables, French names and titles, project templates)
is invented for plausibility: the people and the projects are fictitious, the French collectivités,
countries, themes and networks are real.
"""
from __future__ import annotations

import math
import random
import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import accumulate, islice

from sqlalchemy import Engine, exists, func, insert, select, text, update
from sqlalchemy.orm import Session

from store.db import session_factory
from store.models import (
    ApdAmount,
    Collectivite,
    Contact,
    Cooperation,
    Country,
    Membership,
    Network,
    Partner,
    Project,
    ProjectTheme,
    Theme,
    new_ref,
)
from store.refdata import load_reference

CIRCULAR_FIGURES = {
    "collectivites": 4800,
    "partenaires": 10106,
    "pays": 142,
    "projets_cooperation": 12476,
    "projets_actions": 606,
}
MAX_SCALE = 10.0
LAST_YEAR = 2012  # the campaign's year: nothing in the Atlas is dated later
BATCH = 5000


class SeedError(Exception):
    """The store cannot be seeded as asked; the message is meant for the user."""


def target_figures(scale: float) -> dict[str, int]:
    """The circular's figures at `scale`: each one `round(x * scale)` (at least 1), countries
    `min(142, max(3, round(142 * sqrt(scale))))` since the world does not grow with the Atlas.
    The number of collectivités is later capped by what exists (see `seed_atlas`)."""
    figures = {key: max(1, round(value * scale)) for key, value in CIRCULAR_FIGURES.items()}
    figures["pays"] = min(CIRCULAR_FIGURES["pays"], max(3, round(CIRCULAR_FIGURES["pays"] * math.sqrt(scale))))
    return figures


def seed_atlas(engine: Engine, scale: float = 1.0, seed: int = 2012) -> dict:
    """Seed an empty store; return the figures of what was written.

    Refuses (SeedError) a store that already holds Atlas data. Loads the reference data when it is
    absent. `scale` (0 < scale ≤ 10) multiplies the circular's figures, see `target_figures`; the
    collectivités are capped at the eligible ones (régions, départements, communes and EPCI of
    metropolitan France and the DROM: 36,243), so from scale ≈ 7.55 on every one of them is in
    the Atlas and the figure is that cap rather than 4,800 × scale.
    """
    if not 0 < scale <= MAX_SCALE:
        raise SeedError(f"scale must be greater than 0 and at most {MAX_SCALE:g} (got {scale:g})")
    targets = target_figures(scale)
    if targets["partenaires"] < targets["pays"]:
        raise SeedError(f"scale {scale:g} is too small: fewer partners than countries")
    sessions = session_factory(engine)
    with sessions.begin() as session:
        if atlas_present(session):
            raise SeedError("this store already holds Atlas data; seed an empty store (or export, then start afresh)")
        # A separate stream for the reference data, so the Atlas does not depend on whether it was loaded now.
        load_reference(session, rng=random.Random(f"refdata-{seed}"))
        world = read_world(session)
        rng = random.Random(seed)
        refs = Refs(rng)
        atlas = plan_atlas(world, targets, rng, refs)
        write_atlas(session, atlas, project_rows(atlas, world, rng, refs))
    return atlas.figures


def atlas_present(session: Session) -> bool:
    if session.scalar(select(exists().where(Collectivite.in_atlas.is_(True)))):
        return True
    return any(session.scalar(select(exists().select_from(model))) for model in _ATLAS_MODELS)


_ATLAS_MODELS = (Contact, Membership, ApdAmount, Partner, Cooperation, Project)


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


# --- vocabulary: countries ---------------------------------------------------------------------

# code weight group style locative. Weights follow the real geography of French decentralised
# cooperation (Germany far ahead through twinning, then Italy, the UK, Spain, Poland; Burkina Faso,
# Senegal, Mali, Madagascar, Benin, Niger and the Maghreb for development cooperation), then a tail.
_COUNTRY_TABLE = """
DE 2000 europe_ouest de en Allemagne
IT 900 europe_ouest it en Italie
GB 850 europe_ouest gb au Royaume-Uni
ES 650 europe_ouest es en Espagne
PL 550 europe_est pl en Pologne
BF 450 afrique afr_fr au Burkina Faso
SN 380 afrique afr_fr au Sénégal
RO 350 europe_est ro en Roumanie
ML 330 afrique afr_fr au Mali
BE 260 europe_ouest be en Belgique
PT 260 europe_ouest pt au Portugal
MA 260 maghreb ma au Maroc
US 220 amerique_nord us aux États-Unis
CA 200 amerique_nord ca au Canada
MG 170 afrique mg à Madagascar
BJ 160 afrique afr_fr au Bénin
CN 160 asie cn en Chine
IE 140 europe_ouest ie en Irlande
HU 130 europe_est hu en Hongrie
NE 120 afrique afr_fr au Niger
VN 120 asie vn au Viêt Nam
AT 110 europe_ouest at en Autriche
CZ 110 europe_est cz en Tchéquie
JP 110 asie jp au Japon
HT 110 amerique_latine ht en Haïti
TN 110 maghreb tn en Tunisie
CM 90 afrique afr_fr au Cameroun
DZ 90 maghreb dz en Algérie
NL 90 europe_ouest nl aux Pays-Bas
BR 90 amerique_latine br au Brésil
CH 80 europe_ouest ch en Suisse
TG 70 afrique afr_fr au Togo
MR 70 afrique afr_fr en Mauritanie
LB 70 moyen_orient levant au Liban
PS 70 moyen_orient levant dans les Territoires palestiniens
RU 70 europe_est east_slavic en Russie
GR 60 europe_ouest gr en Grèce
AM 55 europe_est caucasus en Arménie
KH 55 asie sea au Cambodge
SK 50 europe_est cz en Slovaquie
BG 50 europe_est balkan en Bulgarie
GN 50 afrique afr_fr en Guinée
IN 45 asie south_asia en Inde
LA 45 asie sea au Laos
CI 45 afrique afr_fr en Côte d'Ivoire
UA 45 europe_est east_slavic en Ukraine
MD 45 europe_est ro en Moldavie
LU 40 europe_ouest lu au Luxembourg
IL 40 moyen_orient levant en Israël
TR 40 europe_est tr en Turquie
KR 35 asie kr en Corée du Sud
NI 35 amerique_latine latam au Nicaragua
CL 35 amerique_latine latam au Chili
CV 35 afrique afr_pt au Cap-Vert
DK 30 europe_ouest nordic au Danemark
SE 30 europe_ouest nordic en Suède
HR 30 europe_est balkan en Croatie
RS 30 europe_est balkan en Serbie
KM 30 afrique afr_fr aux Comores
AR 30 amerique_latine latam en Argentine
MX 30 amerique_latine latam au Mexique
CU 30 amerique_latine latam à Cuba
LT 25 europe_est baltic en Lituanie
GE 25 europe_est caucasus en Géorgie
CG 25 afrique afr_fr au Congo
ZA 25 afrique afr_en en Afrique du Sud
PE 25 amerique_latine latam au Pérou
CD 20 afrique afr_fr en République démocratique du Congo
BI 20 afrique afr_fr au Burundi
MU 20 afrique afr_fr à Maurice
EG 20 moyen_orient levant en Égypte
BA 20 europe_est balkan en Bosnie-Herzégovine
FI 20 europe_ouest nordic en Finlande
NO 20 europe_ouest nordic en Norvège
BO 20 amerique_latine latam en Bolivie
CO 20 amerique_latine latam en Colombie
GA 15 afrique afr_fr au Gabon
TD 15 afrique afr_fr au Tchad
RW 15 afrique afr_fr au Rwanda
ET 15 afrique afr_en en Éthiopie
MZ 15 afrique afr_pt au Mozambique
SI 15 europe_est balkan en Slovénie
LV 15 europe_est baltic en Lettonie
MK 15 europe_est balkan en Macédoine du Nord
AL 15 europe_est balkan en Albanie
VU 15 oceanie pacific au Vanuatu
TH 15 asie sea en Thaïlande
CF 10 afrique afr_fr en Centrafrique
DJ 10 afrique afr_fr à Djibouti
GH 10 afrique afr_en au Ghana
NG 10 afrique afr_en au Nigeria
KE 10 afrique afr_en au Kenya
TZ 10 afrique afr_en en Tanzanie
GW 10 afrique afr_pt en Guinée-Bissau
GM 10 afrique afr_en en Gambie
EE 10 europe_est baltic en Estonie
BY 10 europe_est east_slavic en Biélorussie
MT 10 europe_ouest it à Malte
CY 10 europe_ouest gr à Chypre
JO 10 moyen_orient levant en Jordanie
SY 10 moyen_orient levant en Syrie
ID 10 asie malay en Indonésie
MN 10 asie generic en Mongolie
NP 10 asie south_asia au Népal
LK 10 asie south_asia au Sri Lanka
TW 10 asie cn à Taïwan
UZ 10 asie generic en Ouzbékistan
EC 10 amerique_latine latam en Équateur
SV 10 amerique_latine latam au Salvador
GT 10 amerique_latine latam au Guatemala
UY 10 amerique_latine latam en Uruguay
DO 10 amerique_latine latam en République dominicaine
AU 10 oceanie gb en Australie
PH 8 asie malay aux Philippines
NZ 8 oceanie gb en Nouvelle-Zélande
AD 5 europe_ouest es en Andorre
IS 5 europe_ouest nordic en Islande
ME 5 europe_est balkan au Monténégro
AZ 5 europe_est tr en Azerbaïdjan
SL 5 afrique afr_en en Sierra Leone
ST 5 afrique afr_pt à Sao Tomé-et-Principe
SC 5 afrique afr_fr aux Seychelles
AO 5 afrique afr_pt en Angola
UG 5 afrique afr_en en Ouganda
NA 5 afrique afr_en en Namibie
ZW 5 afrique afr_en au Zimbabwe
MW 5 afrique afr_en au Malawi
KZ 5 asie generic au Kazakhstan
MY 5 asie malay en Malaisie
BD 5 asie south_asia au Bangladesh
AF 5 asie south_asia en Afghanistan
MM 5 asie sea au Myanmar
HN 5 amerique_latine latam au Honduras
CR 5 amerique_latine latam au Costa Rica
PY 5 amerique_latine latam au Paraguay
VE 5 amerique_latine latam au Venezuela
LR 3 afrique afr_en au Liberia
BW 3 afrique afr_en au Botswana
ZM 3 afrique afr_en en Zambie
LS 3 afrique afr_en au Lesotho
SD 3 afrique levant au Soudan
LY 3 maghreb dz en Libye
IQ 3 moyen_orient levant en Irak
IR 3 moyen_orient levant en Iran
PK 3 asie south_asia au Pakistan
KG 3 asie generic au Kirghizistan
SG 3 asie malay à Singapour
PA 3 amerique_latine latam au Panama
DM 3 amerique_latine ht à la Dominique
LC 3 amerique_latine ht à Sainte-Lucie
FJ 3 oceanie pacific aux Fidji
LI 2 europe_ouest at au Liechtenstein
SM 2 europe_ouest it à Saint-Marin
TJ 2 asie generic au Tadjikistan
SZ 2 afrique afr_en en Eswatini
GQ 2 afrique afr_fr en Guinée équatoriale
JM 2 amerique_latine gb en Jamaïque
TT 2 amerique_latine gb à Trinité-et-Tobago
VC 2 amerique_latine gb à Saint-Vincent-et-les-Grenadines
ER 1 afrique afr_en en Érythrée
SS 1 afrique afr_en au Soudan du Sud
SO 1 afrique levant en Somalie
GD 1 amerique_latine gb à la Grenade
BB 1 amerique_latine gb à la Barbade
PG 1 oceanie pacific en Papouasie-Nouvelle-Guinée
SB 1 oceanie pacific aux Îles Salomon
TO 1 oceanie pacific aux Tonga
WS 1 oceanie pacific aux Samoa
"""


def _parse_countries(table: str) -> list[CountrySpec]:
    specs = []
    for line in table.strip().splitlines():
        code, weight, group, style, locative = line.split(" ", 4)
        specs.append(CountrySpec(code, float(weight), group, style, locative))
    return specs


COUNTRIES = _parse_countries(_COUNTRY_TABLE)
EUROPE = ("europe_ouest", "europe_est")
DEVELOPING = ("afrique", "maghreb", "moyen_orient", "amerique_latine")

# Earliest plausible year and most common year a cooperation began, per group: the Franco-German
# twinnings of the 1960s, Eastern Europe after 1989, Africa after independence and mostly in the 1990s.
_SINCE = {
    "europe_ouest": (1950, 1972),
    "europe_est": (1989, 1996),
    "afrique": (1962, 1996),
    "maghreb": (1965, 1995),
    "moyen_orient": (1975, 1999),
    "asie": (1980, 2002),
    "amerique_nord": (1955, 1990),
    "amerique_latine": (1980, 1999),
    "oceanie": (1985, 2002),
}
# Régions and départements gained the competence with the 1982 decentralisation laws; most
# intercommunalities that cooperate date from the 1990s.
_KIND_SINCE = {"region": 1983, "departement": 1983, "epci": 1993, "commune": 1950}


# --- vocabulary: foreign place names -----------------------------------------------------------


@dataclass(frozen=True)
class Family:
    """Syllables of a plausible place name: [prefix] root [link] suffix."""

    roots: tuple[str, ...]
    suffixes: tuple[str, ...]
    links: tuple[str, ...] = ("",)
    prefixes: tuple[str, ...] = ()
    prefix_rate: float = 0.0
    separator: str = ""  # " " for languages written as separate syllables (Vietnamese, Korean…)


def _split(words: str) -> tuple[str, ...]:
    return tuple(words.split("|")) if words else ()


def _f(roots: str, suffixes: str, links: str = "", prefixes: str = "", prefix_rate: float = 0.0,
       separator: str = "") -> Family:
    """A Family from |-separated syllables (compact enough to read a language's flavour at a glance)."""
    return Family(_split(roots), _split(suffixes), _split(links) or ("",), _split(prefixes), prefix_rate, separator)


FAMILIES = {
    "german": _f("Ber|Bir|Eschen|Fried|Hohen|Lin|Mar|Ros|Schön|Stein|Wald|Wil|Lud|Kirch|Mühl|Hein|Rein|Eber|Gern|Wolf|Hild|Wer|Lauf|Ems|Orten|Rot|Wein|Sand|Lichten|Tann|Geis|Hasel|Kalt|Alten|Bruck|Diet|Falken|Grün",
                 "dorf|heim|hausen|burg|berg|feld|stadt|bach|au|ingen|rode|hagen|kirchen|stein|brück|beck|born|tal|weiler|wald",
                 "||en|s|er", "Alt|Neu|Ober|Nieder|Groß|Klein|Bad |Sankt ", 0.25),
    "french": _f("Beau|Bel|Mont|Val|Roche|Fontaine|Marc|Cler|Ger|Char|Bri|Sau|Ver|Mar|Chât|Lan|Pla|Cor|Bois|Riv|Pon|Lu|Vil|Tour|Bour|Gran|Vau|Cha|Ber|Mou",
                 "ville|court|mont|ières|ac|y|eux|agne|ange|ois|elles|bert|val|lieu|mesnil|ancourt|igny|enay",
                 "||e|i", "Saint-|Sainte-|Le |La ", 0.2),
    "dutch": _f("Ber|Bos|Bree|Dor|Ede|Gel|Har|Hel|Hoog|Kamp|Lei|Mid|Noord|Oost|Ros|Stee|Ter|Wes|Zand|Zuid|Alk|Ven|Wa",
                "dam|dijk|hoven|kerk|broek|donk|wijk|veen|loo|rode|gem|ingen|zele|hem|voorde|beek|horst",
                "||en|s", "Sint-|Oud-|Nieuw-", 0.15),
    "english": _f("Ash|Brad|Bright|Cam|Chel|Dun|East|Elm|Fair|Glen|Green|Hamp|Kings|Lang|Mel|Mil|New|North|Ox|Ply|Red|Salt|Shel|Stan|Stock|Sut|Wal|West|Whit|Win|Wood|Brook|Bur|Crom|Dor|Hal",
                  "ton|field|bury|ford|ham|wick|ley|port|chester|borough|by|well|worth|mouth|stead|bridge|dale|combe|hurst",
                  "||ing|s", "Great |Little |Upper |Lower |Port |Mount ", 0.12),
    "italian": _f("Ber|Cas|Civi|Fio|Mon|Mar|Nov|Pal|Pie|Ros|Ser|Tor|Val|Vil|Lu|Gor|Bor|Col|Fab|Lat|Ter|Mez|Roc|Vic|Sal|Cer|Bel|Fon",
                  "ano|ello|ino|ola|ate|ara|ento|iano|ona|etto|ia|uzzo|asco|engo|one|ella|iglio",
                  "||er|it|agn", "San |Santa |Castel |Borgo |Monte |Villa |Porto ", 0.22),
    "spanish": _f("Al|Alcal|Ber|Cam|Cas|Cor|Fuen|Gua|Lor|Mar|Mon|Nav|Ol|Pal|Pe|Sal|Tor|Val|Vi|Cal|Mor|Lin|Oro|Zar|Ruz|Bena|Carta|Mede|Tala",
                  "ejo|illa|ares|ón|eda|ena|ero|al|anca|era|ina|osa|ilo|ega|ana|ado|uela",
                  "||b|r|nd", "San |Santa |Villa|Puerto |Villanueva de |Torre", 0.22),
    "portuguese": _f("Ama|Bar|Bra|Cas|Cor|Fa|Gui|Lou|Mar|Mon|Ol|Pe|Sal|San|Tor|Val|Vi|Alc|Ca|Ita|Itu|Ser|Pir",
                     "ão|ães|eira|inha|elo|ais|ola|al|ense|ima|oso|ada|ares|ado|uba|ena",
                     "||r|nt", "São |Santa |Vila |Porto |Rio |Ponte de ", 0.22),
    "nordic": _f("Ble|Bor|Es|Falk|Hals|Hel|Kal|Lin|Norr|Ros|Sol|Sten|Sund|Tor|Ul|Vä|Ny|Od|Kong|Sil|Var|Lund|Hög",
                 "by|borg|holm|köping|sund|vik|stad|ås|berg|fors|havn|strup|lev|sted|näs",
                 "||e|s"),
    "greek": _f("Ath|Kal|Kor|Lar|Mes|Nik|Pat|Ser|Tri|Vol|Ere|Kast|Mel|Pol|Ther|Argo|Chal|Dra|Xan|Kar|Lim",
                "ada|ia|ion|os|ena|oupoli|itsa|ides|amata|iko|ona|ari",
                "||on|ar"),
    "slavic_w": _f("Bia|Bole|Brze|Choj|Dąb|Gło|Gor|Jaro|Kam|Kra|Lub|Mił|Nowo|Ostro|Piotr|Rad|Sok|Star|Strze|Świe|Tar|Wol|Zam|Żar|Byd|Cze|Lesz|Prze|Ryb|Hra|Pre|Zla|Vel",
                   "ów|ice|owo|sk|in|ec|any|owice|ków|no|niki|ew|ica|ino|ava|ov|ac",
                   "||ol|ad|om", "Nowy |Stary |Velké |Nové ", 0.1),
    "baltic": _f("Pan|Kau|Šiau|Al|Vil|Tal|Val|Jel|Lie|Rak|Vent|Tart|Pär|Jur|Ogr|Kul|Dau|Rē",
                 "iai|nas|ys|ai|iena|ava|pils|ciems|vere|ma|la|ne|ai|ėnai",
                 "||ev|um"),
    "slavic_e": _f("Bel|Vol|Gor|Dmit|Zel|Ivan|Kras|Lip|Mos|Novo|Orel|Pet|Ros|Sam|Ser|Tver|Yar|Bor|Kam|Zhyt|Myr|Polt|Chern|Sum|Kiro",
                   "ovo|ovsk|ino|sk|grad|evo|yevsk|ets|opol|ov|any|ivka|ne|ograd|ovka",
                   "||ar|ol|in"),
    "romanian": _f("Bra|Buz|Cal|Câmp|Dor|Făl|Gal|Hun|Lug|Med|Mir|Pit|Rădă|Sib|Sig|Tur|Vas|Zal|Dum|Boto|Rom|Bistr|Vul|Arm|Orh|Ung",
                   "ești|eni|ani|ița|ău|uți|oaia|ișor|ari|ova|ea|ăuți|ana",
                   "||r|ul|in", "Valea |Baia |Vatra |Satu ", 0.12),
    "hungarian": _f("Bala|Deb|Eger|Gyo|Kecs|Mis|Sop|Szeg|Szol|Tata|Vác|Zala|Ba|Ke|Bé|Hód|Mező|Nagy|Kis|Tisza|Duna|Sár",
                    "ház|vár|falva|háza|halom|egyháza|kő|szeg|tó|hely|keresztúr|füred|patak|szállás",
                    "||e|a|o"),
    "caucasus": _f("Ar|Ash|Gyu|Ije|Kap|Mar|Sev|Ya|Vana|Ega|Tash|Nor|Go|Zug|Tela|Kuta|Ozur|Sam",
                   "ashat|tarak|van|adzor|ber|shen|avan|ri|eti|ani|ubani|uri|ovit|ayr",
                   "||ag|is"),
    "turkish": _f("Ak|Bey|Çan|Der|Es|Gök|Kara|Kır|Ala|Yeni|Sar|Bal|Ordu|Düz|Sol|Kum|Yıl|Tav|Ur|Sin",
                  "şehir|kale|köy|pınar|dere|ova|lar|ören|yurt|han|bük|tepe|dağ|hisar|ca|lı",
                  "||i|a"),
    "west_african": _f("Ba|Bo|Da|Di|Dou|Fa|Ga|Ka|Ki|Ko|Kou|La|Ma|Mo|Na|Ni|Ou|Sa|Si|So|Ta|Ti|To|Tou|Ya|Za|Ndi|Ngo|Dia|Sé|Ké|Bé|Tin|Nia|Fou|Dja|Gué|Kan|Sin|Bam|Dan|Mar|Nou|Yé",
                       "ga|gou|dougou|bougou|ko|né|mé|ré|la|ra|kro|fa|mbé|di|ta|ma|ni|ya|kou|ssé|ndé|ba|go|rou|bé|ndo|ri",
                       "||ra|ko|ma|ou|ne|ba|di"),
    "bantu": _f("Mba|Ngo|Ya|Bu|Ki|Ka|Lu|Mu|Nya|Ru|Ga|Bo|Ma|Ke|Du|Ebo|Ngu|Di|Mi|So|Ze|Lo|Be|Ndo|Kwa|Ta",
                "nde|mba|ngo|ala|ngi|ra|ze|ka|ni|lo|ba|ma|sa|nga|ti|mbi|ru|wa|kuru|shi",
                "||la|ba|nyi|ru|ko"),
    "malagasy": _f("Ambato|Ambohi|Anta|Antsi|Ambo|Fiana|Mahi|Ano|Ampa|Ankazo|Tsi|Mana|Vohi|Ampasi|Andra|Mora",
                   "tra|vo|mena|drano|be|lava|mandry|fotsy|mainty|nosy|rano|kely|tsara|bary|dona|lalana|fana|soa",
                   "||tsara|be|mena|rano|kely|lava"),
    "maghreb": _f("Bouz|Mel|Tar|Kha|Ham|Mans|Rab|Fadl|Zah|Sal|Tiz|Nad|Bek|Jaz|Kar|Mar|Tab|Das|Bas|Med|Sef|Tam|Zar",
                  "ara|ane|ouna|ia|ida|ine|out|alla|it|ma|ra|ek|oun|ia|rat|ghar",
                  "||d|l|r", "Aït |Sidi |Beni |Oued |Aïn |Bir |El |Ksar |Dar ", 0.4),
    "levant": _f("Bsh|Zah|Kar|Ham|Mar|Rab|Jab|Sal|Haz|Ash|Tar|Naq|Sur|Dam|Qab|Ras|Mash",
                 "ra|ayeh|oun|ine|iyeh|ane|ata|ara|iye|oud|ul|ah",
                 "||b|m|r", "Beit |Deir |Kfar |Tell |Ain |Al-|Khirbet ", 0.45),
    "vietnamese": _f("An|Binh|Cam|Dong|Hoa|Hung|Hai|Long|My|Nam|Phu|Phuoc|Quang|Son|Tan|Thanh|Thuan|Tien|Trung|Vinh|Xuan|Yen|Kim|Lac|Duc|Gia|Ha|Lam",
                     "An|Binh|Dong|Hoa|Hung|Hai|Long|My|Nam|Phu|Son|Tan|Thanh|Thuy|Tien|Trung|Vinh|Xuan|Yen|Lac|Duc|Giang|Ninh|Dinh|Lang",
                     separator=" "),
    "chinese": _f("An|Bao|Chang|Dong|Feng|Guang|Hai|Hua|Jiang|Jin|Kun|Lan|Long|Nan|Ning|Qing|Shan|Tai|Tian|Wu|Xi|Xin|Yang|Yun|Zhang|Zhen|Zhou|He|Ping|Yi",
                  "an|bao|chang|dong|feng|hai|hua|jiang|jin|lin|ning|qing|shan|tai|yang|yuan|zhou|ping|xing|de|chun|men",
                  "||g|n"),
    "japanese": _f("Aki|Asa|Fuji|Hama|Hiro|Ichi|Kami|Kawa|Kita|Matsu|Mina|Naka|Nishi|Oka|Saka|Shima|Taka|Toyo|Yama|Yoko|Kura|Sano|Higashi|Mori|Ota|Ise",
                   "hara|kawa|yama|saki|shima|mura|machi|zawa|oka|ta|da|no|moto|gawa|hashi|ura|ne|zaki|bashi|sawa"),
    "korean": _f("An|Bu|Cheon|Dae|Gang|Gim|Gwang|Ha|Jeon|Ju|Mok|Nam|Pyeong|Sun|Su|Won|Yang|Yeo|Gu|Seo|Po|Chang|Jin|Hwa",
                 "san|ju|won|cheon|po|do|hae|gu|chang|yang|seong|dong|ri|nam|gok|hwa",
                 "||g|n"),
    "sea": _f("Ban|Kam|Chan|Phon|Sam|Siem|Sa|Vien|Luang|Pak|Nong|Muang|Tha|Khon|Sisa|Prey|Svay|Kra|Ta|Thak|Sen|Ang",
              "pong|vang|kham|thong|sak|neua|rieng|chey|kaen|phan|bang|sai|veng|mon|lek|thom",
              separator=" "),
    "south_asian": _f("Ahmed|Bhu|Chan|Dhar|Gwa|Hyder|Jai|Kan|Luck|Madu|Nag|Pun|Raj|Shi|Uda|Vara|Bar|Mir|Sri|Kol|Ban|Dur|Pal|Sit",
                      "pur|abad|nagar|garh|kot|ganj|wal|kund|pet|ali|gram|pura|ore|bari|gaon",
                      "||am|an|ar"),
    "malay": _f("Ban|Ba|Su|Ta|Ma|Pa|Ke|Se|Bu|Lu|Ci|Ja|Me|Sa|Pe|Ko|Dal|Pon",
                "lang|rang|ndung|karta|wangi|baya|kan|dang|tam|gor|bun|laka|tan|dan|wan|pura",
                "||ma|la|ra|ga|ya", "Kota |San |Bandar ", 0.15),
    "pacific": _f("Lu|Na|Ta|Va|Po|Ma|Ka|Le|Sa|To|Lau|Nu|Fa|Pa|Ha|Ra",
                  "ganville|ville|tu|ka|lau|vai|ma|na|ua|lea|nui|tai|ro|ko",
                  "||la|ki|ua|ma"),
    "generic": _f("Al|Bar|Cor|Dar|Ka|Lor|Mar|Nor|Or|Pal|Sar|Tal|Var|Zan|Bel|Mir|Kor|Sam|Tor|Ula|Bay",
                  "an|ar|ia|ovo|abad|ino|ana|ek|ul|ora|on|ir|sk|en|ta",
                  "||d|r|l|s"),
}

# Style: the naming family and the forms of a partner's name, first the city form (used for the
# real names), then the other local ones, then regional-level forms (a share of partners).
STYLES = {
    "de": ("german", ("Stadt {}", "Gemeinde {}", "Stadt {}"), ("Landkreis {}",)),
    "at": ("german", ("Stadt {}", "Marktgemeinde {}", "Gemeinde {}"), ("Bezirk {}",)),
    "ch": ("french", ("Ville de {}", "Commune de {}"), ("Canton de {}",)),
    "it": ("italian", ("Comune di {}", "Comune di {}"), ("Provincia di {}",)),
    "es": ("spanish", ("Ayuntamiento de {}", "Ayuntamiento de {}", "Mancomunidad de {}"), ("Diputación de {}",)),
    "pt": ("portuguese", ("Câmara Municipal de {}", "Município de {}"), ("Comunidade Intermunicipal de {}",)),
    "gb": ("english", ("{} City Council", "{} Town Council", "{} Borough Council", "{} District Council"), ("{} County Council",)),
    "ie": ("english", ("{} City Council", "{} Town Council"), ("{} County Council",)),
    "us": ("english", ("City of {}", "Town of {}", "City of {}"), ("{} County",)),
    "be": ("french", ("Ville de {}", "Commune de {}"), ("Province de {}",)),
    "nl": ("dutch", ("Gemeente {}",), ("Provincie {}",)),
    "lu": ("french", ("Ville de {}", "Commune de {}"), ()),
    "nordic": ("nordic", ("Ville de {}", "Municipalité de {}"), ("Comté de {}",)),
    "gr": ("greek", ("Municipalité de {}", "Dème de {}"), ("Région de {}",)),
    "pl": ("slavic_w", ("Miasto {}", "Gmina {}", "Gmina {}"), ("Powiat {}",)),
    "cz": ("slavic_w", ("Ville de {}", "Commune de {}"), ("Région de {}",)),
    "balkan": ("slavic_w", ("Ville de {}", "Municipalité de {}"), ("Région de {}",)),
    "baltic": ("baltic", ("Ville de {}", "Municipalité de {}"), ("District de {}",)),
    "east_slavic": ("slavic_e", ("Ville de {}", "Municipalité de {}"), ("Région de {}",)),
    "ro": ("romanian", ("Primăria {}", "Comuna {}", "Comuna {}"), ("Consiliul Județean {}",)),
    "hu": ("hungarian", ("Ville de {}", "Commune de {}"), ("Comitat de {}",)),
    "caucasus": ("caucasus", ("Ville de {}", "Communauté de {}"), ("Région de {}",)),
    "tr": ("turkish", ("Municipalité de {}", "Municipalité de {}"), ("Province de {}",)),
    "afr_fr": ("west_african", ("Commune de {}", "Commune rurale de {}", "Commune urbaine de {}", "Commune de {}"),
               ("Région de {}", "Département de {}", "Province de {}", "Cercle de {}")),
    "afr_en": ("bantu", ("Ville de {}", "Municipalité de {}", "District de {}"), ("Province de {}",)),
    "afr_pt": ("portuguese", ("Câmara Municipal de {}", "Município de {}"), ("Província de {}",)),
    "mg": ("malagasy", ("Commune urbaine de {}", "Commune rurale de {}", "Commune rurale de {}"), ("Région {}",)),
    "ma": ("maghreb", ("Commune de {}", "Commune urbaine de {}", "Commune rurale de {}"), ("Province de {}", "Région de {}")),
    "dz": ("maghreb", ("Commune de {}", "APC de {}"), ("Wilaya de {}",)),
    "tn": ("maghreb", ("Municipalité de {}", "Municipalité de {}"), ("Gouvernorat de {}",)),
    "levant": ("levant", ("Municipalité de {}", "Municipalité de {}", "Union des municipalités de {}"), ("Gouvernorat de {}",)),
    "vn": ("vietnamese", ("Ville de {}", "District de {}"), ("Province de {}",)),
    "cn": ("chinese", ("Ville de {}", "District de {}"), ("Province du {}",)),
    "jp": ("japanese", ("Ville de {}", "Ville de {}"), ("Préfecture de {}",)),
    "kr": ("korean", ("Ville de {}",), ("Province de {}",)),
    "sea": ("sea", ("Ville de {}", "District de {}"), ("Province de {}",)),
    "south_asia": ("south_asian", ("Ville de {}", "Municipalité de {}"), ("District de {}",)),
    "malay": ("malay", ("Ville de {}", "Municipalité de {}"), ("Province de {}",)),
    "ca": ("french", ("Ville de {}", "Municipalité de {}"), ("MRC de {}",)),
    "br": ("portuguese", ("Prefeitura de {}", "Município de {}"), ("Estado de {}",)),
    "latam": ("spanish", ("Municipalidad de {}", "Alcaldía de {}"), ("Departamento de {}", "Provincia de {}")),
    "ht": ("french", ("Commune de {}", "Commune de {}"), ("Département de {}",)),
    "pacific": ("pacific", ("Municipalité de {}", "Commune de {}"), ("Province de {}",)),
    "generic": ("generic", ("Ville de {}", "Municipalité de {}"), ("Province de {}",)),
}
REGIONAL_PARTNER_RATE = 0.12

# Real cities, most often partners first, for the countries French collectivités work with most.
REAL_PLACES = {
    "DE": "Berlin|Hamburg|München|Köln|Frankfurt am Main|Stuttgart|Düsseldorf|Leipzig|Dresden|Hannover|Nürnberg|Bremen|Essen|Dortmund|Mainz|Wiesbaden|Saarbrücken|Freiburg im Breisgau|Karlsruhe|Heidelberg|Trier|Aachen|Bonn|Potsdam|Erfurt|Würzburg|Regensburg|Augsburg|Kiel|Rostock|Magdeburg|Osnabrück|Münster|Bamberg|Konstanz|Ludwigsburg|Tübingen|Göttingen|Jena|Speyer",
    "IT": "Roma|Milano|Torino|Genova|Firenze|Napoli|Bologna|Venezia|Verona|Palermo|Bari|Parma|Pisa|Siena|Perugia|Trento|Bergamo|Brescia|Cagliari|Lecce|Ravenna|Modena|Padova|Cuneo|Aosta|Savona|La Spezia|Udine|Ancona|Sassari",
    "GB": "Edinburgh|Glasgow|Manchester|Birmingham|Bristol|Cardiff|Leeds|Liverpool|Oxford|Cambridge|Exeter|Plymouth|Southampton|Portsmouth|Brighton and Hove|Canterbury|York|Bath|Chester|Dundee|Aberdeen|Swansea|Nottingham|Norwich|Winchester|Guildford|Reading",
    "ES": "Madrid|Barcelona|Valencia|Sevilla|Zaragoza|Bilbao|Málaga|Granada|Salamanca|Valladolid|Oviedo|Santander|Pamplona|San Sebastián|Girona|Lleida|Huesca|Jaca|Córdoba|Alicante|Murcia|Burgos|León|Vitoria-Gasteiz|Tarragona|Cáceres|Toledo|Segovia",
    "PL": "Warszawa|Kraków|Łódź|Wrocław|Poznań|Gdańsk|Szczecin|Lublin|Katowice|Białystok|Opole|Rzeszów|Toruń|Kielce|Olsztyn|Bydgoszcz|Gniezno|Zamość|Tarnów|Nowy Sącz",
    "BE": "Liège|Namur|Mons|Charleroi|Tournai|Ottignies-Louvain-la-Neuve|Arlon|Bastogne|Dinant|Wavre|Mouscron|Gent|Brugge|Antwerpen|Leuven|Kortrijk|Spa|Huy|Verviers|Ath",
    "PT": "Lisboa|Porto|Coimbra|Braga|Aveiro|Évora|Faro|Viseu|Guimarães|Setúbal|Leiria|Funchal|Viana do Castelo|Bragança|Castelo Branco|Guarda|Vila Real",
    "RO": "Cluj-Napoca|Iași|Timișoara|Sibiu|Brașov|Constanța|Craiova|Oradea|Arad|Suceava|Bacău|Alba Iulia|Târgu Mureș|Piatra Neamț|Botoșani|Galați|Baia Mare|Deva",
    "SN": "Dakar|Saint-Louis|Thiès|Ziguinchor|Kaolack|Louga|Matam|Podor|Tambacounda|Kolda|Fatick|Diourbel|Kédougou|Sédhiou|Rufisque|Mbour|Bakel|Dagana|Richard-Toll|Joal-Fadiouth",
    "BF": "Ouagadougou|Bobo-Dioulasso|Koudougou|Ouahigouya|Kaya|Banfora|Fada N'Gourma|Dédougou|Tenkodogo|Dori|Gaoua|Ziniaré|Réo|Yako|Kongoussi|Diébougou|Manga|Pô|Léo|Koupéla|Boromo|Houndé",
    "ML": "Bamako|Kayes|Ségou|Sikasso|Mopti|Tombouctou|Gao|Koulikoro|Kita|Nioro du Sahel|Djenné|Bougouni|San|Koutiala|Kati|Bafoulabé|Yélimané|Diéma",
    "MA": "Rabat|Casablanca|Marrakech|Fès|Agadir|Tanger|Meknès|Oujda|Tétouan|Essaouira|Ouarzazate|Chefchaouen|Safi|El Jadida|Taroudant|Errachidia|Kénitra|Larache|Tiznit",
    "MG": "Antananarivo|Toamasina|Mahajanga|Fianarantsoa|Antsirabe|Toliara|Antsiranana|Ambositra|Morondava|Taolagnaro|Sambava|Manakara|Ambatondrazaka|Moramanga|Miarinarivo",
    "BJ": "Cotonou|Porto-Novo|Abomey|Parakou|Ouidah|Djougou|Natitingou|Bohicon|Lokossa|Kandi|Savalou|Dassa-Zoumè|Allada|Grand-Popo|Comè|Malanville",
    "NE": "Niamey|Zinder|Maradi|Agadez|Tahoua|Dosso|Tillabéri|Diffa|Birni N'Konni|Tessaoua|Filingué|Say|Gaya|Madaoua",
    "HT": "Port-au-Prince|Cap-Haïtien|Jacmel|Les Cayes|Gonaïves|Jérémie|Saint-Marc|Léogâne|Hinche|Port-de-Paix|Petit-Goâve|Fort-Liberté|Miragoâne|Pétion-Ville|Limbé|Aquin",
    "VN": "Hanoï|Hô Chi Minh-Ville|Huê|Da Nang|Haiphong|Cân Tho|Lao Cai|Hai Duong|Nam Dinh|Bac Ninh|Ha Long|Dà Lat|Ninh Binh|Vinh|Hôi An",
    "CN": "Pékin|Shanghai|Wuhan|Chengdu|Canton|Shenzhen|Xi'an|Nankin|Hangzhou|Suzhou|Qingdao|Dalian|Tianjin|Chongqing|Kunming|Harbin|Jinan|Shenyang|Ningbo|Xiamen|Changsha|Zhuhai",
    "JP": "Kyoto|Osaka|Nagoya|Yokohama|Kobe|Sapporo|Fukuoka|Sendai|Hiroshima|Nagasaki|Kanazawa|Nara|Okayama|Kumamoto|Niigata|Matsue|Kagoshima|Shizuoka|Hamamatsu|Takamatsu|Toyama|Aomori",
    "CA": "Québec|Montréal|Gatineau|Sherbrooke|Trois-Rivières|Saguenay|Lévis|Laval|Rimouski|Drummondville|Granby|Rouyn-Noranda|Moncton|Ottawa|Toronto|Vancouver|Winnipeg|Halifax|Edmonton|Victoria|Saint-Jean-sur-Richelieu|Magog|Shawinigan",
    "US": "New York|Boston|Chicago|San Francisco|Los Angeles|Philadelphia|Atlanta|New Orleans|Houston|Seattle|Portland|Baltimore|Pittsburgh|Louisville|Lafayette|Saint Louis|Charleston|Savannah|Austin|Denver|Minneapolis|Rochester|Burlington|Madison",
    "TN": "Tunis|Sfax|Sousse|Kairouan|Bizerte|Gabès|Monastir|Nabeul|Mahdia|Tozeur|Médenine|Jendouba|Kasserine|Gafsa|Béja|Le Kef|Sidi Bouzid|Tabarka",
    "CM": "Yaoundé|Douala|Bafoussam|Garoua|Maroua|Ngaoundéré|Bamenda|Buea|Dschang|Kribi|Bertoua|Ebolowa|Edéa|Foumban|Limbé|Mbalmayo|Nkongsamba",
    "DZ": "Alger|Oran|Constantine|Annaba|Tlemcen|Béjaïa|Sétif|Tizi Ouzou|Batna|Blida|Mostaganem|Ghardaïa|Biskra|Skikda|Tamanrasset",
    "HU": "Budapest|Debrecen|Szeged|Pécs|Győr|Miskolc|Eger|Kecskemét|Szombathely|Sopron|Veszprém|Székesfehérvár|Nyíregyháza|Szolnok",
    "IE": "Dublin|Cork|Galway|Limerick|Waterford|Kilkenny|Sligo|Wexford|Athlone|Tralee|Killarney|Drogheda|Dundalk|Ennis|Kinsale",
    "LB": "Beyrouth|Tripoli|Saïda|Tyr|Zahlé|Byblos|Baalbek|Jounieh|Batroun|Zgharta|Nabatieh|Jezzine",
    "PS": "Bethléem|Naplouse|Ramallah|Hébron|Jéricho|Jénine|Gaza|Qalqilya|Tulkarem|Beit Sahour|Beit Jala|Al-Bireh",
}


# --- vocabulary: French people and titles --------------------------------------------------------

FIRST_NAMES_F = (
    "Marie Nathalie Isabelle Sylvie Catherine Françoise Christine Monique Valérie Sandrine Véronique "
    "Sophie Stéphanie Céline Aurélie Julie Émilie Anne Martine Laurence Hélène Claire Élisabeth Florence "
    "Corinne Patricia Agnès Brigitte Nicole Dominique Caroline Virginie Karine Delphine Marion Camille "
    "Pauline Laure Chantal Béatrice Fatima Leïla Nadia"
).split()
FIRST_NAMES_M = (
    "Jean Philippe Michel Alain Patrick Nicolas Christophe Pierre Christian Éric Laurent Frédéric "
    "Stéphane David Olivier Pascal Thierry Daniel Bernard Jacques Jean-Pierre Jean-Luc Jean-Marc Didier "
    "Dominique Gérard Bruno Serge Franck Sébastien Vincent Julien Thomas François Yves Gilles Hervé "
    "Denis André Marc Karim Mohamed Antoine"
).split()
_LAST_NAMES = (
    "Martin Bernard Thomas Petit Robert Richard Durand Dubois Moreau Laurent Simon Michel Lefebvre Leroy "
    "Roux David Bertrand Morel Fournier Girard Bonnet Dupont Lambert Fontaine Rousseau Vincent Muller "
    "Lefèvre Faure André Mercier Blanc Guérin Boyer Garnier Chevalier François Legrand Gauthier Garcia "
    "Perrin Robin Clément Morin Nicolas Henry Roussel Mathieu Gautier Masson Marchand Duval Denis Dumont "
    "Marie Lemaire Noël Meyer Dufour Meunier Brun Blanchard Giraud Joly Rivière Lucas Brunet Gaillard "
    "Barbier Arnaud Martinez Gérard Roche Renard Schmitt Roy Leroux Colin Vidal Caron Picard Roger Fabre "
    "Aubert Lemoine Renaud Dumas Lacroix Olivier Philippe Bourgeois Pierre Benoît Rey Leclerc Payet "
    "Hoarau Le_Gall Le_Goff Le_Roux Kerbrat Ferrand Haddad Benali Nguyen Da_Silva Ferreira Santini Paoli"
)
LAST_NAMES = [name.replace("_", " ") for name in _LAST_NAMES.split()]

# (masculine, feminine) titles by kind of collectivité and role; the first élu title is the
# executive's, given only to the first contact.
TITLES = {
    "commune": {
        "elu": [
            ("Maire", "Maire"),
            ("Maire adjoint chargé des relations internationales", "Maire adjointe chargée des relations internationales"),
            ("Adjoint au maire délégué aux jumelages", "Adjointe au maire déléguée aux jumelages"),
            ("Conseiller municipal délégué à la coopération décentralisée", "Conseillère municipale déléguée à la coopération décentralisée"),
        ],
        "cadre": [
            ("Chargé de mission coopération décentralisée", "Chargée de mission coopération décentralisée"),
            ("Directeur des relations internationales", "Directrice des relations internationales"),
            ("Responsable du service jumelages et relations internationales", "Responsable du service jumelages et relations internationales"),
            ("Directeur général des services", "Directrice générale des services"),
        ],
    },
    "epci": {
        "elu": [
            ("Président", "Présidente"),
            ("Vice-président en charge de la coopération", "Vice-présidente en charge de la coopération"),
            ("Conseiller communautaire délégué aux relations internationales", "Conseillère communautaire déléguée aux relations internationales"),
        ],
        "cadre": [
            ("Chargé de mission relations internationales", "Chargée de mission relations internationales"),
            ("Directeur des relations internationales", "Directrice des relations internationales"),
            ("Directeur général des services", "Directrice générale des services"),
        ],
    },
    "departement": {
        "elu": [
            ("Président du conseil général", "Présidente du conseil général"),
            ("Vice-président du conseil général chargé des relations internationales", "Vice-présidente du conseil général chargée des relations internationales"),
            ("Conseiller général délégué à la coopération décentralisée", "Conseillère générale déléguée à la coopération décentralisée"),
        ],
        "cadre": [
            ("Directeur des relations internationales et européennes", "Directrice des relations internationales et européennes"),
            ("Chargé de mission coopération décentralisée", "Chargée de mission coopération décentralisée"),
            ("Responsable du service des affaires européennes et internationales", "Responsable du service des affaires européennes et internationales"),
        ],
    },
    "region": {
        "elu": [
            ("Président du conseil régional", "Présidente du conseil régional"),
            ("Vice-président en charge de la coopération et des relations internationales", "Vice-présidente en charge de la coopération et des relations internationales"),
            ("Conseiller régional délégué à la solidarité internationale", "Conseillère régionale déléguée à la solidarité internationale"),
        ],
        "cadre": [
            ("Directeur des relations internationales", "Directrice des relations internationales"),
            ("Chargé de mission coopération décentralisée", "Chargée de mission coopération décentralisée"),
            ("Chargé de mission Afrique", "Chargée de mission Afrique"),
            ("Chef du service coopération internationale", "Cheffe du service coopération internationale"),
        ],
    },
}

# --- vocabulary: projects -----------------------------------------------------------------------

# Theme weights by group of partner country: development themes in Africa and the Maghreb,
# culture, youth and exchanges in Europe, economy and universities in Asia and North America.
THEME_WEIGHTS = {
    "afrique": (
        "eau_assainissement 10 sante 9 education 10 agriculture 9 gouvernance 8 "
        "developpement_economique 5 culture 4 egalite 3 environnement 4 jeunesse 3 "
        "francophonie 3 numerique 1 urbanisme 3 humanitaire 2 social 3 "
        "enseignement_superieur 2 tourisme 1"
    ),
    "maghreb": (
        "gouvernance 7 culture 7 eau_assainissement 6 education 6 "
        "developpement_economique 6 jeunesse 5 urbanisme 4 environnement 4 egalite 3 "
        "tourisme 3 sante 3 enseignement_superieur 3 agriculture 3 social 2 numerique 2"
    ),
    "moyen_orient": (
        "gouvernance 7 culture 7 eau_assainissement 6 education 6 urbanisme 5 sante 4 "
        "jeunesse 5 humanitaire 4 developpement_economique 4 social 3 francophonie 3 "
        "egalite 2"
    ),
    "europe_ouest": (
        "culture 10 jeunesse 10 education 8 developpement_economique 6 tourisme 5 "
        "environnement 5 gouvernance 3 enseignement_superieur 3 social 3 numerique 2 "
        "urbanisme 2 egalite 1 sante 1 francophonie 1"
    ),
    "europe_est": (
        "culture 9 jeunesse 8 education 8 gouvernance 7 developpement_economique 6 "
        "social 5 tourisme 4 environnement 4 agriculture 3 sante 3 francophonie 3 "
        "enseignement_superieur 2 urbanisme 2"
    ),
    "asie": (
        "developpement_economique 9 culture 8 enseignement_superieur 6 urbanisme 6 "
        "tourisme 5 environnement 5 education 5 gouvernance 4 sante 3 "
        "eau_assainissement 3 agriculture 3 francophonie 3 numerique 2"
    ),
    "amerique_nord": (
        "culture 8 developpement_economique 8 jeunesse 6 education 6 "
        "enseignement_superieur 6 tourisme 5 environnement 4 francophonie 4 numerique 3"
    ),
    "amerique_latine": (
        "education 7 agriculture 6 gouvernance 6 culture 6 sante 5 eau_assainissement 5 "
        "urbanisme 4 environnement 4 developpement_economique 4 egalite 3 humanitaire 3 "
        "social 3"
    ),
    "oceanie": (
        "culture 6 environnement 6 education 5 developpement_economique 4 sante 3 "
        "francophonie 4 jeunesse 3"
    ),
}

# Title templates; `{lieu}` is « à Kayes » or « au Mali ».
TITLE_TEMPLATES = {
    "sante": ["Appui au centre de santé {lieu}", "Renforcement des soins de santé primaires {lieu}",
              "Construction et équipement d'une maternité {lieu}", "Partenariat hospitalier et formation des soignants",
              "Prévention du paludisme et accès aux soins {lieu}", "Lutte contre le VIH/sida : sensibilisation et dépistage {lieu}"],
    "education": ["Construction d'une école primaire {lieu}", "Équipement des bibliothèques scolaires {lieu}",
                  "Échanges scolaires entre collèges", "Formation professionnelle des jeunes {lieu}",
                  "Alphabétisation des adultes {lieu}", "Appui à la scolarisation des filles {lieu}"],
    "eau_assainissement": ["Accès à l'eau potable {lieu}", "Réalisation de forages et de puits {lieu}",
                           "Assainissement et gestion des déchets {lieu}", "Création d'un service public de l'eau {lieu}",
                           "Réhabilitation du réseau d'adduction d'eau {lieu}"],
    "agriculture": ["Appui aux groupements maraîchers {lieu}", "Sécurité alimentaire et banques de céréales {lieu}",
                    "Aménagement de périmètres irrigués {lieu}", "Échanges entre lycées agricoles",
                    "Appui aux éleveurs et à la filière lait {lieu}"],
    "culture": ["Échanges culturels et artistiques", "Restauration du patrimoine bâti {lieu}",
                "Résidences croisées d'artistes", "Saison culturelle croisée", "Création d'un centre culturel {lieu}",
                "Festival des jumelages"],
    "developpement_economique": ["Appui aux petites entreprises et à l'artisanat {lieu}", "Mission économique et rencontres d'entreprises",
                                 "Microcrédit et activités génératrices de revenus {lieu}", "Coopération entre chambres consulaires",
                                 "Développement des filières locales {lieu}"],
    "gouvernance": ["Appui à la maîtrise d'ouvrage communale {lieu}", "Modernisation de l'état civil {lieu}",
                    "Formation des élus et agents municipaux {lieu}", "Appui à la fiscalité locale {lieu}",
                    "Décentralisation et gouvernance locale {lieu}"],
    "environnement": ["Plan climat et efficacité énergétique {lieu}", "Électrification solaire {lieu}",
                      "Gestion durable des forêts {lieu}", "Protection du littoral et des zones humides {lieu}",
                      "Reboisement et lutte contre la désertification {lieu}"],
    "urbanisme": ["Élaboration d'un schéma d'aménagement urbain {lieu}", "Réhabilitation de quartiers anciens {lieu}",
                  "Appui au cadastre et à l'adressage {lieu}", "Transports urbains et mobilité {lieu}",
                  "Amélioration de l'habitat {lieu}"],
    "jeunesse": ["Échanges de jeunes {lieu}", "Chantiers de jeunes solidaires {lieu}", "Tournoi sportif du jumelage",
                 "Mobilité internationale des jeunes", "Construction d'un terrain de sport {lieu}"],
    "tourisme": ["Développement du tourisme solidaire {lieu}", "Promotion touristique croisée",
                 "Création d'un office de tourisme {lieu}", "Valorisation des sites naturels {lieu}"],
    "humanitaire": ["Aide d'urgence aux sinistrés {lieu}", "Reconstruction d'équipements publics {lieu}",
                    "Soutien aux populations déplacées {lieu}", "Aide alimentaire d'urgence {lieu}"],
    "francophonie": ["Promotion de la langue française {lieu}", "Création d'une médiathèque francophone {lieu}",
                     "Formation d'enseignants de français {lieu}"],
    "egalite": ["Autonomisation économique des femmes {lieu}", "Appui aux associations de femmes {lieu}",
                "Lutte contre les violences faites aux femmes {lieu}"],
    "numerique": ["Création d'un espace public numérique {lieu}", "Informatisation des services municipaux {lieu}",
                  "Réduction de la fracture numérique {lieu}"],
    "enseignement_superieur": ["Partenariat universitaire et mobilité étudiante", "Coopération entre universités et centres de recherche",
                               "Bourses d'études et accueil d'étudiants"],
    "social": ["Appui aux personnes âgées et handicapées {lieu}", "Insertion sociale des enfants des rues {lieu}",
               "Création d'un centre social {lieu}"],
}

THEME_SENTENCES = {
    "sante": "Il vise à améliorer l'accès aux soins et la formation des personnels de santé.",
    "education": "Il vise à améliorer les conditions de scolarisation et la formation des jeunes.",
    "eau_assainissement": "Il est financé en partie au titre de la loi Oudin-Santini (1 % eau et assainissement).",
    "agriculture": "Il soutient les producteurs locaux et la sécurité alimentaire des familles.",
    "culture": "Il favorise la connaissance mutuelle par des échanges culturels réguliers.",
    "developpement_economique": "Il accompagne les acteurs économiques et la création d'emplois.",
    "gouvernance": "Il renforce les capacités de la collectivité partenaire à exercer ses compétences.",
    "environnement": "Il contribue à la transition énergétique et à la préservation des ressources.",
    "urbanisme": "Il appuie la planification urbaine et l'amélioration du cadre de vie.",
    "jeunesse": "Il permet à des jeunes des deux territoires de se rencontrer et de monter des projets communs.",
    "tourisme": "Il valorise le patrimoine et développe un tourisme respectueux des populations.",
    "humanitaire": "Il répond à une situation d'urgence en lien avec les autorités locales.",
    "francophonie": "Il soutient l'usage du français et les échanges entre francophones.",
    "egalite": "Il soutient l'accès des femmes aux responsabilités et aux revenus.",
    "numerique": "Il facilite l'accès aux outils numériques des habitants et des services publics.",
    "enseignement_superieur": "Il développe la mobilité des étudiants et des chercheurs.",
    "social": "Il renforce l'accompagnement des publics les plus vulnérables.",
}

BENEFICIARIES = {
    "sante": ["Populations de la commune partenaire", "Femmes enceintes et jeunes enfants", "Personnels soignants"],
    "education": ["Élèves des écoles primaires", "Enseignants", "Jeunes de 15 à 25 ans"],
    "eau_assainissement": ["Habitants des quartiers non desservis", "Villages de la commune partenaire", "Écoles et centres de santé"],
    "agriculture": ["Groupements de producteurs", "Femmes maraîchères", "Éleveurs"],
    "gouvernance": ["Élus et agents de la collectivité partenaire", "Services techniques municipaux"],
    "jeunesse": ["Jeunes des deux collectivités", "Clubs sportifs", "Lycéens"],
    "egalite": ["Associations de femmes", "Femmes entrepreneures"],
    "humanitaire": ["Familles sinistrées", "Populations déplacées"],
}
DEFAULT_BENEFICIARIES = ["Habitants des deux territoires", "Associations locales", "Acteurs du territoire partenaire"]

OPERATORS = {
    "sante": ["Centre hospitalier de {ville}", "Association de solidarité santé de {ville}"],
    "education": ["Lycée professionnel de {ville}", "Collège de {ville}", "Association des parents d'élèves"],
    "eau_assainissement": ["{agence}", "Syndicat des eaux de la région de {ville}", "Régie des eaux de {ville}"],
    "agriculture": ["Lycée agricole de {ville}", "Chambre d'agriculture", "Association de producteurs"],
    "culture": ["Comité de jumelage de {ville}", "Conservatoire de {ville}", "Médiathèque de {ville}"],
    "developpement_economique": ["Chambre de commerce et d'industrie", "Chambre de métiers et de l'artisanat", "Club d'entreprises de {ville}"],
    "gouvernance": ["Services municipaux de {ville}", "Centre de gestion de la fonction publique territoriale"],
    "environnement": ["Agence locale de l'énergie", "Association de protection de la nature de {ville}"],
    "urbanisme": ["Agence d'urbanisme de {ville}", "Services techniques de {ville}"],
    "jeunesse": ["Comité de jumelage de {ville}", "Office municipal des sports de {ville}", "Mission locale de {ville}"],
    "tourisme": ["Office de tourisme de {ville}"],
    "humanitaire": ["Service départemental d'incendie et de secours", "Collectif d'associations de solidarité internationale"],
    "enseignement_superieur": ["Université de {ville}", "École d'ingénieurs de {ville}"],
    "social": ["Centre communal d'action sociale de {ville}"],
}
DEFAULT_OPERATORS = ["Comité de jumelage de {ville}", "Association de solidarité internationale de {ville}", "Maison des associations de {ville}"]

# Water agency of each metropolitan région's main basin (the Oudin-Santini law's usual co-funder).
WATER_AGENCIES = {
    "11": "Agence de l'eau Seine-Normandie", "28": "Agence de l'eau Seine-Normandie",
    "24": "Agence de l'eau Loire-Bretagne", "52": "Agence de l'eau Loire-Bretagne", "53": "Agence de l'eau Loire-Bretagne",
    "27": "Agence de l'eau Rhône-Méditerranée-Corse", "84": "Agence de l'eau Rhône-Méditerranée-Corse",
    "93": "Agence de l'eau Rhône-Méditerranée-Corse", "94": "Agence de l'eau Rhône-Méditerranée-Corse",
    "32": "Agence de l'eau Artois-Picardie", "44": "Agence de l'eau Rhin-Meuse",
    "75": "Agence de l'eau Adour-Garonne", "76": "Agence de l'eau Adour-Garonne",
}
# Départements along the Latin arc (Mediterranean coast and hinterland), members of Arc Latin.
ARC_LATIN_DEPS = ("04", "05", "06", "11", "13", "2A", "2B", "30", "34", "66", "83", "84")
COASTAL_REGIONS = ("28", "32", "52", "53", "75", "76", "93", "94", "01", "02", "03", "04", "06")

# Shares chosen to look like the Atlas; see the module docstring of the figures they produce.
STATUS_WEIGHTS = (("en_cours", 58), ("termine", 28), ("en_sommeil", 14))
ACTION_SHARE = 0.8  # actions per action project: most external actions have a single sheet
ACTION_PARTNER_RATE = 0.55  # external actions often have no named partner authority
NO_EMAIL_RATE = 0.025  # of the contacts after the first, outside the unreachable collectivités
NO_ADDRESS_RATE = 0.02
APD_YEARS = (2007, 2008, 2009, 2010)
APD_2010_MISSING_RATE = 0.25  # « si le champ 2010 est vierge, la collectivité n'a pas télédéclaré »
CONTACT_DOMAIN_SUFFIX = ".example.fr"
EPCI_SELECTION_FACTOR = {"METRO": 40.0, "MET69": 40.0, "CU": 25.0, "CA": 4.0, "CC": 1.0}
EPCI_ACTIVITY = {"METRO": 2.5, "MET69": 3.0, "CU": 1.5, "CA": 0.6, "CC": 0.3}
# How many of each kind are in the Atlas at scale 1: every metropolitan and DROM région, most
# départements, the intercommunalities that cooperate; communes make up the rest.
KIND_QUOTAS = {"region": 18, "departement": 86, "epci": 170}
COMMUNE_WEIGHT_EXPONENT = 1.0  # selection weight population**x: almost every big city is engaged
COOPERATIONS_PER_PARTNER = 1.13  # a foreign partner is sometimes shared by several French collectivités


# --- small pure helpers ---------------------------------------------------------------------------


def slug(text_: str) -> str:
    """ASCII, lowercase, hyphen-separated: for e-mail local parts and domains."""
    ascii_text = unicodedata.normalize("NFKD", text_).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")


_VOWELS = tuple("AEIOUÉÈÊÂÎÏÔaeiouéèêâîïô")


def _elides(name: str) -> bool:
    # « d'Oujda » but « de Ouagadougou » (a w sound) and « de Yaoundé ».
    return name.startswith(_VOWELS) and not (name[:2].lower() == "ou" and name[2:3].lower() in ("a", "e", "i"))


def de(name: str) -> str:
    """« de Rennes », « d'Angers », « du Kef », « des Cayes »."""
    for article, contracted in (("Le ", "du "), ("Les ", "des ")):
        if name.startswith(article):
            return contracted + name[len(article):]
    return ("d'" if _elides(name) else "de ") + name


def a(name: str) -> str:
    """« à Kayes », « au Kef », « aux Cayes »."""
    for article, contracted in (("Le ", "au "), ("Les ", "aux ")):
        if name.startswith(article):
            return contracted + name[len(article):]
    return "à " + name


_FRENCH_HEADS = (
    "Ville", "Commune", "Municipalité", "Province", "Région", "Département", "Gouvernorat", "District", "Préfecture",
    "Canton", "Comté", "Cercle", "Wilaya", "APC", "MRC", "Dème", "Comitat", "Communauté", "Union",
)


def fill(form: str, place: str) -> str:
    """A partner's full name from a form such as « Commune de {} », with French elision."""
    if form.endswith(" de {}") and form.split(" ", 1)[0] in _FRENCH_HEADS:
        return form[: -len("de {}")] + de(place)
    return form.format(place)


def weighted_sample(items: list, weights: list[float], k: int, rng: random.Random) -> list:
    """k distinct items, heavier ones likelier (Efraimidis–Spirakis); zero weights never drawn."""
    keyed = [(math.log(1.0 - rng.random()) / w, i) for i, w in enumerate(weights) if w > 0]
    keyed.sort(reverse=True)
    return [items[i] for _, i in keyed[:k]]


def apportion(total: int, weights: list[float], floor: int = 1, caps: list[int] | None = None) -> list[int]:
    """Split `total` into integers proportional to `weights` (largest remainder), each at least
    `floor` and at most its cap. Deterministic: randomness, if wanted, goes into the weights."""
    n = len(weights)
    caps = caps if caps is not None else [total] * n
    alloc = [min(floor, cap) for cap in caps]
    remaining = total - sum(alloc)
    if remaining < 0 or total > sum(caps):
        raise ValueError(f"cannot apportion {total} over {n} parts")
    while remaining > 0:
        open_ = [i for i in range(n) if alloc[i] < caps[i]]
        w = [max(weights[i], 0.0) for i in open_]
        if not any(w):
            w = [1.0] * len(open_)
        total_w = sum(w)
        shares = [(remaining * wi / total_w, i) for wi, i in zip(w, open_)]
        given = 0
        for share, i in shares:
            add = min(int(share), caps[i] - alloc[i])
            alloc[i] += add
            given += add
        if given == 0:  # every share is below one: hand out the largest remainders
            for _, i in sorted(shares, key=lambda s: (-(s[0] - int(s[0])), s[1]))[:remaining]:
                alloc[i] += 1
                given += 1
        remaining -= given
    return alloc


def scatter(total: int, weights: list[float], rng: random.Random) -> list[int]:
    """`total` units dropped at random into len(weights) bins, heavier bins likelier."""
    counts = [0] * len(weights)
    if total > 0 and weights:
        for i in rng.choices(range(len(weights)), weights=weights, k=total):
            counts[i] += 1
    return counts


def chunks(rows, size: int = BATCH):
    it = iter(rows)
    while batch := list(islice(it, size)):
        yield batch


class Refs:
    """Unique short references drawn from the seed's generator."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.used: set[str] = set()

    def new(self, prefix: str) -> str:
        while (ref := new_ref(prefix, self.rng)) in self.used:
            pass
        self.used.add(ref)
        return ref


# --- planning: who is in the Atlas, with whom ---------------------------------------------------


def eligible(c: Coll) -> bool:
    # Metropolitan France and the DROM: overseas collectivities (975–989) have 3-character régions.
    # Communes without inhabitants (the villages destroyed in 1916) have no international action.
    return c.region is not None and len(c.region) == 2 and (c.kind != "commune" or c.population > 0)


def selection_weight(c: Coll) -> float:
    if c.kind == "region":
        return 1.0
    if c.kind == "departement":
        return math.sqrt(max(c.population, 1))
    if c.kind == "epci":
        return EPCI_SELECTION_FACTOR.get(c.epci_type or "CC", 1.0) * math.sqrt(max(c.population, 1))
    return c.population**COMMUNE_WEIGHT_EXPONENT


def kind_counts(available: dict[str, int], wanted: int) -> dict[str, int]:
    """How many of each kind: the scaled quotas, communes for the rest, spilling over to the other
    kinds when the communes run out (large scales)."""
    scale = wanted / CIRCULAR_FIGURES["collectivites"]
    counts = {kind: min(available.get(kind, 0), round(quota * scale)) for kind, quota in KIND_QUOTAS.items()}
    counts["commune"] = min(available.get("commune", 0), max(0, wanted - sum(counts.values())))
    for kind in ("epci", "departement", "region"):
        short = wanted - sum(counts.values())
        counts[kind] += min(max(short, 0), available.get(kind, 0) - counts[kind])
    return counts


def select_collectivites(colls: list[Coll], wanted: int, rng: random.Random) -> list[Coll]:
    by_kind: dict[str, list[Coll]] = {kind: [] for kind in ("region", "departement", "epci", "commune")}
    for c in colls:
        if eligible(c) and c.kind in by_kind:
            by_kind[c.kind].append(c)
    counts = kind_counts({kind: len(items) for kind, items in by_kind.items()}, wanted)
    chosen = []
    for kind, items in by_kind.items():
        chosen += weighted_sample(items, [selection_weight(c) for c in items], counts[kind], rng)
    return sorted(chosen, key=lambda c: c.id)


def select_countries(available: set[str], wanted: int, rng: random.Random) -> list[CountrySpec]:
    candidates = [spec for spec in COUNTRIES if spec.code in available]
    chosen = weighted_sample(candidates, [spec.weight for spec in candidates], wanted, rng)
    if len(chosen) < wanted:
        raise SeedError(f"only {len(chosen)} partner countries are known, {wanted} wanted")
    return sorted(chosen, key=lambda spec: -spec.weight)


def activity(c: Coll) -> float:
    """How much international action a collectivité carries (cooperations, projects)."""
    if c.kind == "region":
        return 5.0 + 5.0 * math.sqrt(c.population / 5e6)
    if c.kind == "departement":
        return 2.5 * math.sqrt(c.population / 5e5)
    if c.kind == "epci":
        return EPCI_ACTIVITY.get(c.epci_type or "CC", 0.3) * (max(c.population, 1) / 1e5) ** 0.3
    # Even Paris keeps a few dozen partners: the curve flattens for the biggest cities.
    return min(10.0, (max(c.population, 1) / 2e4) ** 0.7)


def profile(c: Coll) -> str:
    if c.kind in ("region", "departement"):
        return c.kind
    if c.population >= 50_000 or c.epci_type in ("CU", "METRO", "MET69"):
        return "ville"
    return "jumelage"


# Country-group multipliers per profile: small towns twin in Europe, régions and départements
# lean to development cooperation and the big economies.
PROFILE_FACTORS = {
    "jumelage": {"europe_ouest": 1.4, "europe_est": 1.1},
    "ville": {"europe_ouest": 1.0, "europe_est": 1.0, "afrique": 1.3},
    "departement": {"europe_ouest": 0.5, "afrique": 2.2, "maghreb": 1.4, "amerique_latine": 1.2},
    "region": {"europe_ouest": 0.5, "afrique": 1.5, "asie": 1.8, "amerique_nord": 1.5, "amerique_latine": 1.3},
}
PROFILE_DEFAULT_FACTOR = {"jumelage": 0.8, "ville": 1.0, "departement": 1.0, "region": 1.0}


def slot_countries(
    engaged: list[Coll], counts: list[int], countries: list[CountrySpec], rng: random.Random
) -> list[int]:
    """The country (index) of every cooperation, collectivité by collectivité, every country used."""
    cum = {
        name: list(accumulate(spec.weight * factors.get(spec.group, PROFILE_DEFAULT_FACTOR[name])
                              for spec in countries))
        for name, factors in PROFILE_FACTORS.items()
    }
    slots = []
    for c, k in zip(engaged, counts):
        slots += rng.choices(range(len(countries)), cum_weights=cum[profile(c)], k=k)
    per_country = [0] * len(countries)
    for k in slots:
        per_country[k] += 1
    # A rare country drawn by no one still belongs to the Atlas's list: move one cooperation there
    # from the most common country.
    for k in range(len(countries)):
        if per_country[k] == 0:
            donor = max(range(len(countries)), key=lambda j: (per_country[j], -j))
            moved = rng.choice([i for i, slot in enumerate(slots) if slot == donor])
            slots[moved] = k
            per_country[donor] -= 1
            per_country[k] += 1
    return slots


@dataclass(slots=True)
class PartnerPlan:
    id: int
    country: CountrySpec
    name: str
    place: str
    popularity: float


def place_name(family: Family, rng: random.Random) -> str:
    root, suffix = rng.choice(family.roots), rng.choice(family.suffixes)
    if family.separator:
        while suffix == root:  # « Lac Lac » is no place name
            suffix = rng.choice(family.suffixes)
        name = f"{root}{family.separator}{suffix}"
    else:
        name = root + rng.choice(family.links) + suffix
    if family.prefixes and rng.random() < family.prefix_rate:
        prefix = rng.choice(family.prefixes)
        name = prefix + (name if prefix.endswith((" ", "-")) else name[0].lower() + name[1:])
    return name


def partner_names(spec: CountrySpec, n: int, rng: random.Random) -> list[tuple[str, str]]:
    """n distinct (full name, place) for a country: its best-known real cities first, then
    plausible invented places in the local naming style."""
    family_name, city_forms, regional_forms = STYLES[spec.style]
    family = FAMILIES[family_name]
    seen: set[str] = set()
    names = []
    real = REAL_PLACES[spec.code].split("|") if spec.code in REAL_PLACES else []
    for place in real[:n]:
        full = fill(city_forms[0], place)
        seen.add(full)
        names.append((full, place))
    while len(names) < n:
        for attempt in range(1000):
            place = place_name(family, rng)
            if attempt > 20:  # crowded name space: a compound place name widens it
                place = f"{place}-{place_name(family, rng)}"
            regional = regional_forms and rng.random() < REGIONAL_PARTNER_RATE
            full = fill(rng.choice(regional_forms if regional else city_forms), place)
            if full not in seen:
                break
        else:
            raise SeedError(f"cannot invent enough distinct partner names for {spec.code}")
        seen.add(full)
        names.append((full, place))
    return names


def pair_partners(
    slot_colls: list[int], partners: list[PartnerPlan], acts: list[float], rng: random.Random
) -> list[tuple[int, int]]:
    """Give each cooperation slot of one country a partner: every partner at least once, popular
    (big, well-known) partners several times, the most active French collectivités with the best
    known partners, and no collectivité twice with the same partner when it can be avoided."""
    extra = scatter(len(slot_colls) - len(partners), [p.popularity for p in partners], rng)
    occurrences = [i for i, more in enumerate(extra) for _ in range(1 + more)]
    occurrences.sort(key=lambda i: i * rng.uniform(0.5, 1.5))
    colls = sorted(slot_colls, key=lambda c: -acts[c] * rng.uniform(0.3, 1.7))
    pairs = list(zip(colls, occurrences))
    taken: dict[tuple[int, int], int] = {}
    for pair in pairs:
        taken[pair] = taken.get(pair, 0) + 1
    for i, (c, p) in enumerate(pairs):
        if taken[(c, p)] < 2:
            continue
        for _ in range(60):
            j = rng.randrange(len(pairs))
            c2, p2 = pairs[j]
            if c2 != c and p2 != p and not taken.get((c, p2)) and not taken.get((c2, p)):
                for old in ((c, p), (c2, p2)):
                    taken[old] -= 1
                pairs[i], pairs[j] = (c, p2), (c2, p)
                taken[(c, p2)] = taken[(c2, p)] = 1
                break
    return pairs


def twinning_rate(c: Coll, spec: CountrySpec) -> float:
    if spec.group in EUROPE:
        return {"commune": 0.64, "epci": 0.3, "departement": 0.25, "region": 0.12}[c.kind]
    return 0.06 if c.kind == "commune" else 0.02


def since_year(c: Coll, spec: CountrySpec, rng: random.Random) -> int:
    low, mode = _SINCE[spec.group]
    low = max(low, _KIND_SINCE[c.kind])
    return min(LAST_YEAR - 1, round(rng.triangular(low, LAST_YEAR - 1, max(mode, low))))


# --- the plan of the Atlas ----------------------------------------------------------------------


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


def plan_atlas(world: World, targets: dict[str, int], rng: random.Random, refs: Refs) -> Atlas:
    """Everything but the project sheets (streamed later by `project_rows`, they are the bulk)."""
    engaged = select_collectivites(world.collectivites, targets["collectivites"], rng)
    countries = select_countries(world.country_codes, targets["pays"], rng)
    acts = [activity(c) * rng.lognormvariate(0, 0.25) for c in engaged]
    partners, links = plan_partnerships(engaged, countries, acts, targets["partenaires"], rng)
    partner_refs = [refs.new("PA") for _ in partners]
    cooperations = cooperation_plans(engaged, links, rng, refs)
    cooperations += action_plans(
        engaged, countries, partners, acts, cooperations, targets["projets_actions"], rng, refs
    )
    assign_project_counts(cooperations, "cooperation", targets["projets_cooperation"], rng)
    assign_project_counts(cooperations, "action", targets["projets_actions"], rng)
    atlas = Atlas(engaged, countries, partners, partner_refs, cooperations)
    atlas.contacts = contact_rows(engaged, rng, refs)
    groups_of = partner_groups(cooperations)
    atlas.memberships = membership_rows(engaged, groups_of, world, rng, refs)
    atlas.apd = apd_rows(engaged, groups_of, rng, refs)
    atlas.figures = figures_of(atlas)
    return atlas


def plan_partnerships(
    engaged: list[Coll], countries: list[CountrySpec], acts: list[float], n_partners: int, rng: random.Random
) -> tuple[list[PartnerPlan], list[tuple[int, PartnerPlan]]]:
    """The foreign partners and the (collectivité index, partner) pairs of the cooperations."""
    n_coops = max(len(engaged), n_partners, round(n_partners * COOPERATIONS_PER_PARTNER))
    per_coll = [1 + extra for extra in scatter(n_coops - len(engaged), acts, rng)]
    slots = slot_countries(engaged, per_coll, countries, rng)
    slot_colls = [ci for ci, k in enumerate(per_coll) for _ in range(k)]
    colls_by_country: list[list[int]] = [[] for _ in countries]
    for ci, k in zip(slot_colls, slots):
        colls_by_country[k].append(ci)
    # Twinning partners are rarely shared; development partners (a capital, a region) often are.
    sharing = [1.0 if spec.group in EUROPE else 0.8 for spec in countries]
    sizes = [len(cs) for cs in colls_by_country]
    n_by_country = apportion(n_partners, [s * f for s, f in zip(sizes, sharing)], floor=1, caps=sizes)
    partners: list[PartnerPlan] = []
    links: list[tuple[int, PartnerPlan]] = []
    for spec, n, colls in zip(countries, n_by_country, colls_by_country):
        own = [
            PartnerPlan(len(partners) + i + 1, spec, full, place, 1.0 / (i + 1) ** 0.7)
            for i, (full, place) in enumerate(partner_names(spec, n, rng))
        ]
        partners += own
        links += [(ci, own[p]) for ci, p in pair_partners(colls, own, acts, rng)]
    return partners, links


def cooperation_plans(
    engaged: list[Coll], links: list[tuple[int, PartnerPlan]], rng: random.Random, refs: Refs
) -> list[CoopPlan]:
    ordered = sorted(links, key=lambda link: (engaged[link[0]].id, -link[1].country.weight, link[1].id))
    plans = []
    for ci, partner in ordered:
        c, spec = engaged[ci], partner.country
        twinning = rng.random() < twinning_rate(c, spec)
        plans.append(CoopPlan(len(plans) + 1, refs.new("CO"), c, "cooperation", spec, partner, twinning,
                              since_year(c, spec, rng)))
    return plans


def action_plans(
    engaged: list[Coll],
    countries: list[CountrySpec],
    partners: list[PartnerPlan],
    acts: list[float],
    cooperations: list[CoopPlan],
    n_projects: int,
    rng: random.Random,
    refs: Refs,
) -> list[CoopPlan]:
    """External actions (non-conventionnées): ad hoc, often humanitarian or in developing
    countries, sometimes without a named partner authority."""
    n_actions = max(1, min(n_projects, round(n_projects * ACTION_SHARE)))
    partners_of: dict[str, list[PartnerPlan]] = {}
    for p in partners:
        partners_of.setdefault(p.country.code, []).append(p)
    paired = {(coop.coll.id, coop.partner.id) for coop in cooperations if coop.partner}
    country_weights = [spec.weight * (2.0 if spec.group in DEVELOPING else 1.0) for spec in countries]
    colls = rng.choices(range(len(engaged)), weights=acts, k=n_actions)
    specs = rng.choices(countries, weights=country_weights, k=n_actions)
    drafts = []
    for ci, spec in sorted(zip(colls, specs), key=lambda d: (engaged[d[0]].id, -d[1].weight)):
        c, partner = engaged[ci], None
        if rng.random() < ACTION_PARTNER_RATE:
            own = partners_of[spec.code]
            partner = rng.choices(own, weights=[p.popularity for p in own])[0]
            if (c.id, partner.id) in paired:  # already a cooperation with them: an action would be one too
                partner = None
        since = rng.randint(2000, LAST_YEAR - 1) if rng.random() < 0.6 else None
        drafts.append((c, spec, partner, since))
    first_id = len(cooperations) + 1
    return [
        CoopPlan(first_id + i, refs.new("CO"), c, "action", spec, partner, False, since)
        for i, (c, spec, partner, since) in enumerate(drafts)
    ]


def project_weight(coop: CoopPlan) -> float:
    """Active cooperations (régions, big cities, development) carry more project sheets."""
    c = coop.coll
    kind = {"region": 2.5, "departement": 2.0, "epci": 1.2}.get(c.kind, 1.5 if c.population >= 50_000 else 0.6)
    group = 0.7 if coop.country.group in EUROPE else 1.4
    return kind * group


def assign_project_counts(cooperations: list[CoopPlan], kind: str, n_projects: int, rng: random.Random) -> None:
    """Exactly `n_projects` sheets over the cooperations of `kind`: one each when there are enough,
    the rest to the busier ones."""
    plans = [coop for coop in cooperations if coop.kind == kind]
    weights = [project_weight(coop) for coop in plans]
    if n_projects < len(plans):
        for coop in weighted_sample(plans, weights, n_projects, rng):
            coop.projects = 1
        return
    for coop, extra in zip(plans, scatter(n_projects - len(plans), weights, rng)):
        coop.projects = 1 + extra


def partner_groups(cooperations: list[CoopPlan]) -> dict[int, set[str]]:
    """Collectivité id → the country groups it works with (memberships and APD depend on it)."""
    groups: dict[int, set[str]] = {}
    for coop in cooperations:
        groups.setdefault(coop.coll.id, set()).add(coop.country.group)
    return groups


def figures_of(atlas: Atlas) -> dict[str, int]:
    coops = [c for c in atlas.cooperations if c.kind == "cooperation"]
    actions = [c for c in atlas.cooperations if c.kind == "action"]
    return {
        "collectivites": len(atlas.engaged),
        "partenaires": len({c.partner.id for c in atlas.cooperations if c.partner}),
        "pays": len({c.country.code for c in atlas.cooperations}),
        "cooperations": len(coops),
        "projets_cooperation": sum(c.projects for c in coops),
        "actions": len(actions),
        "projets_actions": sum(c.projects for c in actions),
        "contacts": len(atlas.contacts),
        "adhesions": len(atlas.memberships),
        "montants_apd": sum(1 for row in atlas.apd if row["amount"] is not None),
    }


# --- rows: contacts, memberships, APD -----------------------------------------------------------


_EPCI_HEAD = re.compile(r"^(CC|CA|CU)\s+")
_LEADING_ARTICLE = re.compile(r"^(du |de la |de l'|des |de |d')", re.IGNORECASE)


def mail_domain(c: Coll, rng: random.Random) -> str:
    """A plausible domain for a collectivité's staff: ville-rennes.fr, region-bretagne.fr…"""
    name = slug(c.name)
    if c.kind == "region":
        base = f"region-{name}"
    elif c.kind == "departement":
        base = name
    elif c.kind == "epci":
        short = slug(_LEADING_ARTICLE.sub("", _EPCI_HEAD.sub("", c.name)))
        base = {"CC": f"cc-{short}", "CA": f"agglo-{short}"}.get(c.epci_type or "", short)
    else:
        base = rng.choice((f"ville-{name}", f"mairie-{name}", name))
    return base + CONTACT_DOMAIN_SUFFIX


def contact_count(c: Coll, rng: random.Random) -> int:
    if c.kind == "region":
        return rng.randint(3, 4)
    if c.kind == "departement":
        return rng.randint(2, 4)
    if c.kind == "epci":
        return rng.randint(1, 3)
    if c.population >= 50_000:
        return rng.randint(2, 4)
    return rng.randint(1, 3) if c.population >= 10_000 else rng.randint(1, 2)


def contact_rows(engaged: list[Coll], rng: random.Random, refs: Refs) -> list[dict]:
    """1–4 élus and cadres per collectivité. Exactly 2% of the collectivités (at least one) have no
    usable address at all, so that campaigns meet the case;
    elsewhere the first contact always has an e-mail and the others miss one now and then, about 3%
    of all contacts in the end."""
    n_unreachable = max(1, round(NO_ADDRESS_RATE * len(engaged)))
    unreachable = {c.id for c in weighted_sample(engaged, [1.0] * len(engaged), n_unreachable, rng)}
    domains: set[str] = set()
    rows = []
    for c in engaged:
        domain = mail_domain(c, rng)
        while domain in domains:  # homonymous communes (Saint-Denis…) get their département appended
            area = (c.departement or c.insee).lower()
            domain = domain.removesuffix(CONTACT_DOMAIN_SUFFIX) + f"-{area}{CONTACT_DOMAIN_SUFFIX}"
        domains.add(domain)
        locals_: set[str] = set()
        titles = TITLES[c.kind]
        taken_titles: list[tuple[str, str]] = []
        for j in range(contact_count(c, rng)):
            female = rng.random() < 0.45
            first = rng.choice(FIRST_NAMES_F if female else FIRST_NAMES_M)
            last = rng.choice(LAST_NAMES)
            role = "elu" if j == 0 else "cadre" if j == 1 else rng.choice(("elu", "cadre"))
            if role == "elu":
                executive = j == 0 and (c.kind != "commune" or c.population < 10_000) and rng.random() < 0.5
                options = titles["elu"][:1] if executive else titles["elu"][1:]
            else:
                options = titles["cadre"]
            # One vice-président(e) for international affairs is enough per collectivité.
            pair = rng.choice([t for t in options if t not in taken_titles] or options)
            taken_titles.append(pair)
            local = f"{slug(first)}.{slug(last)}"
            while local in locals_:
                local += str(rng.randint(2, 9))
            locals_.add(local)
            has_email = c.id not in unreachable and (j == 0 or rng.random() >= NO_EMAIL_RATE)
            rows.append({
                "ref": refs.new("CT"), "version": 1, "collectivite_id": c.id, "role": role,
                "first_name": first, "last_name": last, "title": pair[1] if female else pair[0],
                "email": f"{local}@{domain}" if has_email else None, "email_state": "ok",
            })
    return rows


def membership_odds(c: Coll, groups: set[str], world: World) -> list[tuple[str, float]]:
    """Networks a collectivité may belong to, with the chance that it does."""
    big = c.population >= 100_000
    europe, developing = bool(groups & set(EUROPE)), bool(groups & set(DEVELOPING))
    if c.kind == "region":
        odds = [("regions_de_france", 0.9), ("cuf", 0.6), ("crpm", 0.7 if c.region in COASTAL_REGIONS else 0.0),
                ("are", 0.35), ("airf", 0.35), ("cglu", 0.3), ("f3e", 0.25), ("ps_eau", 0.2),
                ("arc_latin", 0.5 if c.region in ("76", "93", "94") else 0.0)]
    elif c.kind == "departement":
        odds = [("adf", 0.85), ("cuf", 0.5), ("afccre", 0.3), ("ps_eau", 0.15), ("f3e", 0.15),
                ("arc_latin", 0.6 if c.departement in ARC_LATIN_DEPS else 0.0)]
    elif c.kind == "epci":
        odds = [("cuf", 0.35), ("amf", 0.3), ("afccre", 0.15), ("iclei", 0.1), ("energy_cities", 0.1),
                ("eurocities", 0.4 if c.epci_type in ("METRO", "MET69") else 0.0)]
    else:
        odds = [("amf", 0.35), ("cuf", 0.5 if c.population >= 50_000 else 0.1), ("afccre", 0.3 if europe else 0.05),
                ("aimf", 0.5 if big and groups & {"afrique", "maghreb"} else 0.0), ("cglu", 0.3 if big else 0.0),
                ("eurocities", 0.6 if c.population >= 200_000 else 0.0),
                ("metropolis", 0.5 if c.population >= 500_000 else 0.0), ("iclei", 0.15 if big else 0.02),
                ("ps_eau", 0.1 if "afrique" in groups else 0.0), ("afcdrp", 0.03), ("france_volontaires", 0.03)]
    regional = world.regional_networks.get(c.region or "")
    if regional:
        odds.append((regional, {"region": 0.6, "departement": 0.5}.get(c.kind, 0.35 if developing else 0.1)))
    return [(code, p) for code, p in odds if p > 0 and code in world.networks]


def membership_rows(
    engaged: list[Coll], groups_of: dict[int, set[str]], world: World, rng: random.Random, refs: Refs
) -> list[dict]:
    rows = []
    for c in engaged:
        joined = [(code, p) for code, p in membership_odds(c, groups_of.get(c.id, set()), world) if rng.random() < p]
        joined = sorted(joined, key=lambda item: -item[1])[:4]  # the circular's form lists a handful
        rows += [{"ref": refs.new("AD"), "version": 1, "collectivite_id": c.id, "network_id": world.networks[code]}
                 for code, _ in joined]
    return rows


APD_PER_INHABITANT = {"region": 0.5, "departement": 0.35, "epci": 0.25, "commune": 1.2}


def apd_rows(engaged: list[Coll], groups_of: dict[int, set[str]], rng: random.Random, refs: Refs) -> list[dict]:
    """Own-resource development aid for 2007–2010, declared by most collectivités that work with
    developing countries; a blank 2010 means « not declared » (a row with no amount)."""
    rows = []
    for c in engaged:
        developing = bool(groups_of.get(c.id, set()) & set(DEVELOPING))
        if rng.random() >= (0.9 if developing else 0.4):
            continue
        amount = max(500.0, c.population * APD_PER_INHABITANT[c.kind] * rng.lognormvariate(0, 0.6))
        first_year = rng.choices((2007, 2008, 2009), weights=(70, 20, 10))[0]
        for year in range(first_year, APD_YEARS[-1] + 1):
            amount *= rng.uniform(0.8, 1.25)
            blank = year == 2010 and rng.random() < APD_2010_MISSING_RATE
            rows.append({"ref": refs.new("APD"), "version": 1, "collectivite_id": c.id, "year": year,
                         "amount": None if blank else Decimal(round(amount, -1)).quantize(Decimal("0.01"))})
    return rows


# --- rows: project sheets -----------------------------------------------------------------------


def _theme_table(world_themes: list[str]) -> dict[str, tuple[list[str], list[float]]]:
    table = {}
    for group, spec in THEME_WEIGHTS.items():
        words = spec.split()
        pairs = [(code, float(w)) for code, w in zip(words[::2], words[1::2]) if code in world_themes]
        table[group] = ([code for code, _ in pairs], [w for _, w in pairs])
    return table


def project_themes(coop: CoopPlan, table, rng: random.Random) -> list[str]:
    codes, weights = table[coop.country.group]
    if coop.country.code == "HT":  # the 2010 earthquake: emergency and reconstruction everywhere
        weights = [w * (4.0 if code in ("humanitaire", "urbanisme") else 1.0) for code, w in zip(codes, weights)]
    k = rng.choices((1, 2, 3), weights=(45, 38, 17))[0]
    return weighted_sample(codes, weights, k, rng)


def project_years(coop: CoopPlan, rng: random.Random) -> dict:
    """Start, end, status and the year the status was stated; nothing after the 2012 campaign."""
    low = max(coop.since or 2000, 1995)
    start = min(LAST_YEAR, round(rng.triangular(low, LAST_YEAR, max(low, 2009))))
    status = rng.choices([s for s, _ in STATUS_WEIGHTS], weights=[w for _, w in STATUS_WEIGHTS])[0]
    if status == "termine":
        end = rng.randint(start, LAST_YEAR)
        return {"status": status, "start_year": start, "end_year": end, "status_year": end}
    if status == "en_sommeil":
        return {"status": status, "start_year": start, "end_year": None, "status_year": rng.randint(start, LAST_YEAR)}
    planned_end = rng.randint(LAST_YEAR, LAST_YEAR + 3) if rng.random() < 0.5 else None
    return {"status": status, "start_year": start, "end_year": planned_end,
            "status_year": max(start, rng.choice((LAST_YEAR - 1, LAST_YEAR, LAST_YEAR)))}


def project_budget(c: Coll, rng: random.Random) -> Decimal | None:
    if rng.random() < 0.35:
        return None
    base = {"region": 60_000, "departement": 30_000, "epci": 15_000}.get(c.kind)
    if base is None:  # a commune: a few thousand euros, more in a big city
        base = min(50_000, 2_000 * math.sqrt(max(c.population, 1) / 1e4))
    amount = base * rng.lognormvariate(0, 0.8)
    step = 1000 if amount >= 10_000 else 100
    return Decimal(max(step, round(amount / step) * step)).quantize(Decimal("0.01"))


def project_operators(theme: str, c: Coll, world: World, rng: random.Random) -> str | None:
    if rng.random() < 0.4:
        return None
    # Institutions sit in the département's main town; a commune's own bodies in the commune.
    area = area_key("departement", c.departement) if c.departement else area_key("region", c.region)
    town = c.name if c.kind == "commune" else world.biggest_commune.get(area, c.name)
    agency = WATER_AGENCIES.get(c.region or "")
    choices = [o for o in OPERATORS.get(theme, []) + DEFAULT_OPERATORS if agency or "{agence}" not in o]
    picked = weighted_sample(choices, [1.0] * len(choices), rng.randint(1, 2), rng)
    return "; ".join(o.replace("de {ville}", de(town)).replace("{agence}", agency or "") for o in picked)


def project_description(coop: CoopPlan, theme: str, rng: random.Random) -> str | None:
    if rng.random() < 0.2:
        return None
    sentence = THEME_SENTENCES[theme]
    if coop.kind == "action":
        return f"Action extérieure non conventionnée {coop.country.locative}. {sentence}"
    link = "du jumelage" if coop.twinning else "de la coopération décentralisée"
    return f"Projet {link} avec {coop.partner.name}, partenaire depuis {coop.since}. {sentence}"


def project_rows(atlas: Atlas, world: World, rng: random.Random, refs: Refs):
    """Yield (project row, theme link rows) for every sheet, cooperation by cooperation."""
    table = _theme_table(world.theme_codes)
    project_id = 0
    for coop in atlas.cooperations:
        lieu = a(coop.partner.place) if coop.partner else coop.country.locative
        for _ in range(coop.projects):
            project_id += 1
            themes = project_themes(coop, table, rng)
            main = themes[0]
            beneficiaries = rng.choice(BENEFICIARIES.get(main, DEFAULT_BENEFICIARIES)) if rng.random() < 0.55 else None
            row = {
                "id": project_id, "ref": refs.new("PJ"), "version": 1, "cooperation_id": coop.id,
                "title": rng.choice(TITLE_TEMPLATES[main]).format(lieu=lieu),
                **project_years(coop, rng),
                "description": project_description(coop, main, rng),
                "budget": project_budget(coop.coll, rng),
                "operators": project_operators(main, coop.coll, world, rng),
                "beneficiaries": beneficiaries,
            }
            yield row, [{"project_id": project_id, "theme_code": code} for code in themes]


# --- writing ----------------------------------------------------------------------------------------


def write_atlas(session: Session, atlas: Atlas, projects) -> None:
    """Insert the planned Atlas in the caller's transaction. Plain table inserts (executemany):
    the rows are complete, `version` included, so the ORM's per-row bookkeeping is not needed."""
    ids = [c.id for c in atlas.engaged]
    for batch in chunks(ids):
        session.execute(update(Collectivite.__table__).where(Collectivite.id.in_(batch)).values(in_atlas=True))
    _insert(session, Partner, (
        {"id": p.id, "ref": ref, "version": 1, "country_code": p.country.code, "name": p.name}
        for p, ref in zip(atlas.partners, atlas.partner_refs)
    ))
    _insert(session, Cooperation, (
        {"id": c.id, "ref": c.ref, "version": 1, "collectivite_id": c.coll.id, "kind": c.kind,
         "country_code": c.country.code, "partner_id": c.partner.id if c.partner else None,
         "twinning": c.twinning, "since_year": c.since}
        for c in atlas.cooperations
    ))
    for batch in chunks(projects):
        _insert(session, Project, [row for row, _ in batch])
        _insert(session, ProjectTheme, [link for _, links in batch for link in links])
    _insert(session, Contact, atlas.contacts)
    _insert(session, Membership, atlas.memberships)
    _insert(session, ApdAmount, atlas.apd)
    _advance_id_sequences(session, (Partner, Cooperation, Project))


def _insert(session: Session, model, rows) -> None:
    for batch in chunks(rows):
        session.execute(insert(model.__table__), batch)


def _advance_id_sequences(session: Session, models) -> None:
    # Ids were given explicitly; PostgreSQL's serial sequences must catch up or the next ORM insert
    # would collide. SQLite takes max(rowid) + 1 by itself.
    if session.get_bind().dialect.name != "postgresql":
        return
    for model in models:
        table = model.__tablename__
        session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
