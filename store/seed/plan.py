"""Planning: who is in the Atlas, with which partners, cooperations and projects."""
from __future__ import annotations

import math
import random
from itertools import accumulate

from store.seed.countries import KIND_SINCE, SINCE, COUNTRIES, DEVELOPING, EUROPE
from store.seed.figures import CIRCULAR_FIGURES, LAST_YEAR, SeedError
from store.seed.french import fill
from store.seed.places import (
    FAMILIES,
    REAL_PLACES,
    REGIONAL_PARTNER_RATE,
    STYLES,
    Family,
)
from store.seed.rows import apd_rows, contact_rows, membership_rows
from store.seed.sampling import Refs, apportion, scatter, weighted_sample
from store.seed.vocabulary import (
    ACTION_PARTNER_RATE,
    ACTION_SHARE,
    COMMUNE_WEIGHT_EXPONENT,
    COOPERATIONS_PER_PARTNER,
    EPCI_ACTIVITY,
    EPCI_SELECTION_FACTOR,
    KIND_QUOTAS,
)
from store.seed.world import Atlas, Coll, CoopPlan, CountrySpec, PartnerPlan, World

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
    low, mode = SINCE[spec.group]
    low = max(low, KIND_SINCE[c.kind])
    return min(LAST_YEAR - 1, round(rng.triangular(low, LAST_YEAR - 1, max(mode, low))))


# --- the plan of the Atlas ----------------------------------------------------------------------


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
