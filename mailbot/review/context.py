"""What a decision reads besides the set itself: its campaign's rules (as stored when the campaign
was created) and the reference lists, each read once per transaction however many sets it decides."""
from __future__ import annotations

from functools import lru_cache

from sqlalchemy.orm import Session

from mailbot.outbound.summary import reference_lists
from mailbot.review.verdict import ReviewError
from mailbot.rules import ReferenceLists, Rules, parse_rules_text
from store.campaign_models import Campaign
from store.review_models import ChangeSet


@lru_cache(maxsize=16)
def _parsed_rules(text: str, source: str) -> Rules:
    return parse_rules_text(text, source=source)  # checked when the campaign was created: it parses


def rules_of(session: Session, changeset: ChangeSet) -> Rules | None:
    """The rules of the set's campaign, or None for a set tied to no campaign (its campaign deleted).
    Kept per session by campaign id: a bulk approval asks for every set, and the session's identity map
    holds a campaign only as long as someone refers to it."""
    known = session.info.setdefault("campaign_rules", {})
    if changeset.campaign_id not in known:
        campaign = session.get(Campaign, changeset.campaign_id) if changeset.campaign_id else None
        known[changeset.campaign_id] = (None if campaign is None else
                                        _parsed_rules(campaign.rules_text, campaign.rules_path or campaign.name))
    return known[changeset.campaign_id]


def required_rules(session: Session, changeset: ChangeSet) -> Rules:
    """`rules_of`, or the reason a decision that needs them cannot be made."""
    rules = rules_of(session, changeset)
    if rules is None:
        raise ReviewError(f"l'ensemble n° {changeset.id} n'est lié à aucune campagne : ses règles sont inconnues")
    return rules


def references(session: Session) -> ReferenceLists:
    """The reference lists (themes, networks), read once per session: a bulk approval checks hundreds of sets."""
    if "reference_lists" not in session.info:
        session.info["reference_lists"] = reference_lists(session)
    return session.info["reference_lists"]
