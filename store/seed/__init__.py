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

Modules, in the order the generator uses them: `world` (what the store already knows, and the plan's
shapes), the vocabulary (`countries`, `places`, `people`, `vocabulary`), `plan` (who cooperates with
whom), `rows` (the records), `write` (bulk inserts); `build.seed_atlas` composes them.
"""
from store.seed.build import atlas_present, seed_atlas, target_figures  # noqa: F401
from store.seed.figures import SeedError  # noqa: F401
