"""Files sent with replies: kept with their message, listed to agents and reviewers, and the one the
circular allows proposed as the APD document.

« Elles peuvent joindre également un document » (the 2012 circular, APD part): a file sent with a
reply to a form is proposed to reviewers as the document of the editable year's APD declaration (the
rules file's `document_name` field), a change like any other — approving it writes the file into the
store. Only a file that is safe, kept whole and of a document kind is proposed; images only when they
are large enough to be a scan (a signature's logo is not a declaration). Works in the caller's
transaction; reads and writes nothing else.
"""
from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mailbot.inbound.attachments import KeptFile, assess_files, human_size, shown_name
from mailbot.clock import utcnow
from mailbot.config import Config
from store.campaign_models import Campaign
from store.conversation_models import InboundAttachment
from store.inbound_models import InboundMessage
from store.models import ApdAmount
from store.review_models import Change, ChangeSet

DEFAULT_MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
# Mail that people wrote: their files are kept. Robots' mail (bounces, auto-replies, lists) is not read.
HUMAN_KINDS = ("reply", "conversation", "invalid_token", "unknown", "command")
PROPOSED_CATEGORIES = ("document", "spreadsheet")
MIN_SCAN_BYTES = 30 * 1024  # an image smaller than this is a logo or an icon, not a scanned document


def max_attachment_bytes(config: Config) -> int:
    return int(config.values.get("max_attachment_bytes", DEFAULT_MAX_ATTACHMENT_BYTES))


# --- keeping them ------------------------------------------------------------------------------------------

def keep_attachments(session: Session, config: Config, inbound: InboundMessage,
                     files: tuple[KeptFile, ...] | None = None) -> list[InboundAttachment]:
    """Store the message's files (again, for a reprocessed message: the old rows go first), judged
    beforehand by the worker (`files`) or here. A file larger than `max_attachment_bytes` is listed
    without its bytes; the raw message keeps it."""
    session.execute(delete(InboundAttachment).where(InboundAttachment.inbound_id == inbound.id))
    limit = max_attachment_bytes(config)
    rows = [InboundAttachment(
        inbound_id=inbound.id, position=found.position, filename=found.filename,
        content_type=found.content_type, detected_type=verdict.detected_type, category=verdict.category,
        size=found.size, sha256=found.sha256, data=found.data if found.size <= limit else None,
        danger=verdict.danger, dangerous=verdict.dangerous,
    ) for found, verdict in ((kept.attachment, kept.assessment)
                             for kept in (assess_files(inbound.raw) if files is None else files))]
    session.add_all(rows)
    session.flush()
    return rows


def attachments_of(session: Session, inbound_id: int | None) -> list[InboundAttachment]:
    if inbound_id is None:
        return []
    return list(session.scalars(select(InboundAttachment).where(InboundAttachment.inbound_id == inbound_id)
                                .order_by(InboundAttachment.position)))


# --- the APD document -----------------------------------------------------------------------------------------

def document_candidate(rows: list[InboundAttachment]) -> InboundAttachment | None:
    """The file to propose: the first safe document kept whole; else the first scan-sized image."""
    usable = [r for r in rows if not r.dangerous and r.data is not None]
    documents = [r for r in usable if r.category in PROPOSED_CATEGORIES]
    if documents:
        return documents[0]
    return next((r for r in usable if r.category == "image" and r.size >= MIN_SCAN_BYTES), None)


def document_value(row: InboundAttachment) -> dict:
    """What a document change asks for: the attachment to write, and what it is (for people)."""
    return {"attachment_id": row.id, "name": row.filename, "content_type": row.detected_type or row.content_type,
            "size": row.size}


def propose_apd_document(session: Session, inbound: InboundMessage, *, campaign: Campaign, collectivite_id: int,
                         changeset: ChangeSet | None, trusted: bool, note: str | None) -> ChangeSet | None:
    """Add the document change to the reply's set for this collectivité (a set of its own when the reply
    changed nothing else: the record stays confirmed, the document waits for a reviewer). Returns the
    set, or None when the message carries no file to propose."""
    candidate = document_candidate(attachments_of(session, inbound.id))
    if candidate is None:
        return None
    year = campaign.apd_editable_year
    row = session.scalar(select(ApdAmount).where(ApdAmount.collectivite_id == collectivite_id, ApdAmount.year == year))
    change = Change(
        op="update" if row is not None else "create", entity="apd", ref=row.ref if row is not None else f"APD-{year}",
        field="document_name", old=row.document_name if row is not None else None, new=document_value(candidate),
        base_version=row.version if row is not None else None, errors=[], matches=[], status="pending",
    )
    if changeset is None:
        changeset = ChangeSet(
            campaign_id=campaign.id, collectivite_id=collectivite_id, outbound_id=inbound.answered_outbound_id,
            inbound_id=inbound.id, thread_key=f"{campaign.id}:{collectivite_id}:document:{inbound.id}"[:100],
            sender=(inbound.sender or "")[:254], trusted=trusted, note=note or None, status="pending",
            has_errors=False, has_conflicts=False, created_at=utcnow(),
        )
        session.add(changeset)
    changeset.changes.append(change)
    session.flush()
    return changeset


# --- telling people -----------------------------------------------------------------------------------------

def attachment_lines(rows: list[InboundAttachment], limit: int, proposed_id: int | None = None,
                     year: int | None = None) -> list[dict]:
    """The files as the agent's acknowledgement lists them (pure): name (safe to print), size, and what
    became of each."""
    lines = []
    for row in rows:
        if row.dangerous:
            fate = f"conservé pour la Délégation, sans être ouvert : {row.danger}"
        elif row.data is None:
            fate = (f"trop volumineux pour être enregistré à part (limite de {human_size(limit)}) ; "
                    "il reste joint à votre message")
        elif row.id == proposed_id:
            fate = f"proposé comme document joint à votre déclaration d'APD {year} ; la Délégation le vérifiera"
        else:
            fate = "transmis à la Délégation"
        lines.append({"name": shown_name(row.filename), "size": human_size(row.size), "fate": fate,
                      "dangerous": row.dangerous})
    return lines


def proposed_document_id(changeset: ChangeSet | None) -> int | None:
    for change in (changeset.changes if changeset is not None else []):
        if change.entity == "apd" and change.field == "document_name" and isinstance(change.new, dict):
            return change.new.get("attachment_id")
    return None
