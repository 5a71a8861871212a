"""Rows: contacts, memberships, APD amounts and project sheets, from the plan."""
from __future__ import annotations

import math
import random
import re
from decimal import Decimal

from store.seed.countries import DEVELOPING, EUROPE
from store.seed.figures import LAST_YEAR
from store.seed.french import a, de, slug
from store.seed.people import FIRST_NAMES_F, FIRST_NAMES_M, LAST_NAMES, TITLES
from store.seed.sampling import Refs, weighted_sample
from store.seed.vocabulary import (
    APD_2010_MISSING_RATE,
    APD_YEARS,
    ARC_LATIN_DEPS,
    BENEFICIARIES,
    COASTAL_REGIONS,
    CONTACT_DOMAIN_SUFFIX,
    DEFAULT_BENEFICIARIES,
    DEFAULT_OPERATORS,
    NO_ADDRESS_RATE,
    NO_EMAIL_RATE,
    OPERATORS,
    STATUS_WEIGHTS,
    THEME_SENTENCES,
    THEME_WEIGHTS,
    TITLE_TEMPLATES,
    WATER_AGENCIES,
)
from store.seed.world import Atlas, Coll, CoopPlan, World, area_key

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
