"""Tying a message to the form it answers, and to its collectivité, through verified tokens.

A token is only ever trusted once its MAC verifies against the campaign and collectivité it names;
the sender is trusted as that collectivité's only when their address is one of its contacts.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailbot.clock import utcnow
from mailbot.config import Config
from mailbot.tokens import FormReference, find_tokens, verify
from store.campaign_models import Campaign, CampaignTarget, OutboundMessage
from store.inbound_models import InboundMessage
from store.models import Collectivite, Contact
from store.queries import campaign_target

UNRECOGNISED_SENDER = "expéditeur non reconnu"
FORGED_SENDER = "expéditeur usurpé (échec DMARC)"


@dataclass(frozen=True)
class FormTie:
    """The form a message refers to, or the problem that prevents tying it to one."""

    problem: str | None  # None | missing | invalid | expired | mismatch
    reason: str
    outbound: OutboundMessage | None = None
    campaign: Campaign | None = None
    collectivite: Collectivite | None = None
    several: bool = False  # references of several collectivités (accepted for a reply: see find_form)


PROBLEM_REASONS = {
    "missing": "aucune référence de formulaire",
    "invalid": "référence de formulaire invalide ou altérée",
    "expired": "référence d'une campagne close",
    "mismatch": "références de plusieurs collectivités différentes",
}


def find_form(session: Session, config: Config, details: dict, *, several: bool = False) -> FormTie:
    """Verify every reference a message carries; plus-address tokens first, then the text, then the
    thread headers (our Message-ID → the token stored with that message).

    Valid references of several collectivités are a `mismatch`, unless `several` is set: a reply may
    carry the forms of several collectivités (one agent answering for two). The message is then tied
    to the first open one, only as its envelope: `mailbot.replies.understand` ties each form to a collectivité
    through that form's own token, and nothing else in the message changes anyone."""
    refs = [FormReference(int(mid), str(mac)) for mid, mac in details.get("address_tokens", []) + details.get("body_tokens", [])]
    for msgid in details.get("thread_ids", []):
        token = session.scalar(select(OutboundMessage.token).where(OutboundMessage.message_id == msgid))
        refs += find_tokens(token or "")
    valid: list[tuple[OutboundMessage, Campaign, Collectivite]] = []
    for ref in refs:
        found = _verified(session, config, ref)
        if found and all(found[0].id != v[0].id for v in valid):
            valid.append(found)
    if not valid:
        problem = "invalid" if refs else "missing"
        return FormTie(problem, PROBLEM_REASONS[problem])
    mixed = len({coll.id for _, _, coll in valid}) > 1
    if mixed and not several:
        names = ", ".join(sorted({coll.code for _, _, coll in valid}))
        return FormTie("mismatch", f"{PROBLEM_REASONS['mismatch']} ({names}) : aucune modification")
    if mixed:  # the envelope should be a form that can still be answered
        valid = [v for v in valid if not v[1].closed] or valid
    outbound, campaign, collectivite = valid[0]
    if campaign.closed:
        return FormTie("expired", f"{PROBLEM_REASONS['expired']} ({campaign.name})", outbound, campaign, collectivite)
    return FormTie(None, "", outbound, campaign, collectivite, several=mixed)


def _verified(session: Session, config: Config, ref: FormReference):
    outbound = session.get(OutboundMessage, ref.message_id)
    if outbound is None or outbound.campaign_id is None or outbound.collectivite_id is None:
        return None
    campaign = session.get(Campaign, outbound.campaign_id)
    collectivite = session.get(Collectivite, outbound.collectivite_id)
    if campaign is None or collectivite is None:
        return None
    if not verify(config.secret, ref, campaign.name, collectivite.code):
        return None
    return outbound, campaign, collectivite


def known_contact_id(session: Session, address: str, collectivite_id: int | None = None) -> int | None:
    """The contact whose address this is (of that collectivité when given)."""
    if not address:
        return None
    query = select(Contact.id).where(func.lower(Contact.email) == address.lower())
    if collectivite_id is not None:
        query = query.where(Contact.collectivite_id == collectivite_id)
    return session.scalar(query.order_by(Contact.id).limit(1))


def authentication(inbound: InboundMessage) -> str:
    """What the mail servers found of the sender (mailbot.inbound.authenticate): pass, fail or unknown."""
    return str(((inbound.details or {}).get("authentication") or {}).get("result", "unknown"))


def sender_trusted(session: Session, inbound: InboundMessage, collectivite_id: int) -> bool:
    """Trusted for a collectivité: a known contact of it, whose From the servers did not find forged
    (a From that fails DMARC is never trusted; without a verdict, the contact alone counts)."""
    if authentication(inbound) == "fail":
        return False
    return known_contact_id(session, inbound.sender, collectivite_id) is not None


def untrusted_flag(inbound: InboundMessage) -> str:
    return FORGED_SENDER if authentication(inbound) == "fail" else UNRECOGNISED_SENDER


def tie_inbound(session: Session, inbound: InboundMessage, tie: FormTie, *, mark_replied: bool) -> None:
    """Record the collectivité, the form answered and whether the sender is one of its contacts."""
    inbound.collectivite_id = tie.collectivite.id
    inbound.campaign_id = tie.campaign.id
    inbound.answered_outbound_id = tie.outbound.id if tie.outbound else None
    inbound.trusted = sender_trusted(session, inbound, tie.collectivite.id)
    inbound.flag = None if inbound.trusted else untrusted_flag(inbound)
    if mark_replied and not tie.several:  # with several collectivités, each form marks its own (understand)
        target = campaign_target(session, tie.campaign.id, tie.collectivite.id)
        if target is not None and target.replied_at is None:
            target.replied_at = utcnow()


def form_of_known_contact(session: Session, address: str) -> FormTie:
    """For a command without a token: the open campaign form of the one collectivité this address is a
    contact of (the summary then goes to that known address only)."""
    ids = set(session.scalars(select(Contact.collectivite_id).where(func.lower(Contact.email) == address.lower())))
    if len(ids) != 1:
        return FormTie("missing", PROBLEM_REASONS["missing"])
    collectivite = session.get(Collectivite, ids.pop())
    row = session.execute(
        select(Campaign, CampaignTarget.summary_id)
        .join(CampaignTarget, CampaignTarget.campaign_id == Campaign.id)
        .where(CampaignTarget.collectivite_id == collectivite.id, Campaign.closed.is_(False))
        .order_by(Campaign.created_at.desc(), Campaign.id.desc()).limit(1)
    ).first()
    if row is None:
        return FormTie("missing", PROBLEM_REASONS["missing"])
    campaign, summary_id = row
    outbound = session.get(OutboundMessage, summary_id) if summary_id else None
    return FormTie(None, "", outbound, campaign, collectivite)


# --- threads: our messages that were not forms ------------------------------------------------------------

# Our messages that carry a form: a reply in their thread is a reply to the form (mailbot.replies.understand).
FORM_KINDS = ("summary", "reminder")
MAX_THREAD_IDS = 100  # References of a long thread: more than enough to find ours


def find_thread(session: Session, details: dict) -> OutboundMessage | None:
    """The newest of our messages about a collectivité that the thread headers name (the one being
    answered: References lists the whole thread, oldest first, and clients trim it differently)."""
    ids = list(details.get("thread_ids", []))[:MAX_THREAD_IDS]
    if not ids:
        return None
    return session.scalar(
        select(OutboundMessage).where(OutboundMessage.message_id.in_(ids), OutboundMessage.collectivite_id.is_not(None))
        .order_by(OutboundMessage.created_at.desc(), OutboundMessage.id.desc()).limit(1))


def carries_a_form(session: Session, config: Config, details: dict) -> bool:
    """A token of the message itself (address or text, not its thread) that verifies: a form sent back
    in answer to, say, an acknowledgement that quoted it."""
    own = {"address_tokens": details.get("address_tokens", []), "body_tokens": details.get("body_tokens", [])}
    return bool(own["address_tokens"] or own["body_tokens"]) and not find_form(session, config, own, several=True).problem

