"""Builders for review tests: pending change sets made the way `understand` makes them (values as the
agent saw them in the snapshot, the record's version at that time)."""
from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import select

from mailbot.outbound.campaign import create_campaign, get_campaign
from mailbot.clock import utcnow
from store.inbound_models import InboundMessage
from store.models import Collectivite, Contact, Cooperation
from store.queries import record_data
from store.review_models import Change, ChangeSet

RULES = Path(__file__).resolve().parent.parent / "rules" / "campagne-2012.toml"
REVIEWERS = {"MAILBOT_REVIEWERS": "Claire Martin, Paul Durand", "MAILBOT_SECRET": "review-tests"}


def campaign_id(session) -> int:
    try:
        return get_campaign(session, "c2012").id
    except Exception:
        return create_campaign(session, "c2012", RULES, date(2012, 6, 30)).id


def collectivite_with(session, *, contacts: int = 1, cooperations: int = 0, kind: str | None = None,
                      skip: set[int] = frozenset()) -> Collectivite:
    for coll in session.scalars(select(Collectivite).where(Collectivite.in_atlas.is_(True)).order_by(Collectivite.id)):
        if coll.id in skip or (kind and coll.kind != kind):
            continue
        coops = [c for c in coll.cooperations if c.kind == "cooperation" and c.projects]
        if len(coll.contacts) >= contacts and len(coops) >= cooperations:
            return coll
    raise AssertionError("no collectivité of that shape in the seeded store")


def inbound_for(session, sender: str, number: int) -> InboundMessage:
    message_id = f"<reply-{number}@mairie.example.fr>"
    raw = (f"From: {sender}\r\nTo: atlas@cncd.example.fr\r\nSubject: Re: Atlas\r\nMessage-ID: {message_id}\r\n"
           f"References: <summary-{number}@cncd.example.fr>\r\n\r\nVoici nos corrections.\r\n").encode()
    inbound = InboundMessage(
        received_at=utcnow(), source="smtp", envelope_from=sender, envelope_to=["atlas@cncd.example.fr"],
        message_id=message_id, content_sha256="0" * 64, dedupe_key=f"test-{number}-{sender}", size=len(raw),
        raw=raw, subject="Re: Atlas", sender=sender, state="done", kind="reply")
    session.add(inbound)
    session.flush()
    return inbound


def make_set(session, coll: Collectivite, changes: list[Change], *, sender: str | None = None,
             trusted: bool = True, created_at=None, note: str | None = None) -> int:
    sender = sender or (coll.contacts[0].email if coll.contacts and coll.contacts[0].email else "agent@mairie.example.fr")
    inbound = inbound_for(session, sender, session.scalar(select(InboundMessage.id).order_by(InboundMessage.id.desc()).limit(1)) or 0)
    changeset = ChangeSet(
        campaign_id=campaign_id(session), collectivite_id=coll.id, inbound_id=inbound.id,
        thread_key=f"test:{coll.id}:{inbound.id}", sender=sender, trusted=trusted, note=note, status="pending",
        created_at=created_at or utcnow(), has_errors=any(c.errors for c in changes))
    changeset.changes = changes
    session.add(changeset)
    session.flush()
    return changeset.id


def update(entity: str, record: dict, field: str, new, *, errors=()) -> Change:
    """An update of `field` as the agent would send it after seeing `record` (a snapshot dict)."""
    return Change(op="update", entity=entity, ref=record["ref"], field=field, old=record.get(field), new=new,
                  base_version=record["version"], errors=list(errors), matches=[], status="pending")


def snapshot(coll: Collectivite) -> dict:
    return record_data(coll)


def contact_snapshot(session, ref: str) -> dict:
    contact = session.scalar(select(Contact).where(Contact.ref == ref))
    return {"ref": contact.ref, "version": contact.version, "title": contact.title, "email": contact.email,
            "first_name": contact.first_name, "last_name": contact.last_name, "role": contact.role}


def cooperation_of(session, ref: str) -> Cooperation | None:
    return session.scalar(select(Cooperation).where(Cooperation.ref == ref))
