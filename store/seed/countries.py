"""Vocabulary: the partner countries, their regions of the world and how long French collectivités have worked there."""
from __future__ import annotations

from store.seed.world import CountrySpec

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
SINCE = {
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
KIND_SINCE = {"region": 1983, "departement": 1983, "epci": 1993, "commune": 1950}
