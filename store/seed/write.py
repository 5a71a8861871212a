"""Writing the planned rows in bulk, with ids assigned by the planner."""
from __future__ import annotations

from sqlalchemy import insert, text, update
from sqlalchemy.orm import Session

from store.models import (
    ApdAmount,
    Collectivite,
    Contact,
    Cooperation,
    Membership,
    Partner,
    Project,
    ProjectTheme,
)
from store.seed.sampling import chunks
from store.seed.world import Atlas

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
