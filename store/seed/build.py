"""Building the Atlas: read the world, plan it with one `random.Random`, write it in one transaction."""
from __future__ import annotations

import math
import random

from sqlalchemy import Engine, exists, select
from sqlalchemy.orm import Session

from store.db import session_factory
from store.models import (
    ApdAmount,
    Collectivite,
    Contact,
    Cooperation,
    Membership,
    Partner,
    Project,
)
from store.refdata import load_reference
from store.seed.figures import CIRCULAR_FIGURES, MAX_SCALE, SeedError
from store.seed.plan import plan_atlas
from store.seed.rows import project_rows
from store.seed.sampling import Refs
from store.seed.world import read_world
from store.seed.write import write_atlas


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
