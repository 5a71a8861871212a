"""The circular's headline figures and the limits of the generator."""
from __future__ import annotations

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
