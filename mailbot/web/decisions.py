"""Decisions from the console: the same review core the `mailbot review` commands call, under the
signed-in reviewer's name, refused while another reviewer holds the set; then the agents are told
(queued now, sent after the response — `mailbot serve` retries what the relay refuses)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from mailbot.campaign import campaign_rules
from mailbot.clock import utcnow
from mailbot.notify import field_labels, notify_decided
from mailbot.review import Outcome, ReviewError
from store import console_queries as q
from store.campaign_models import Campaign


@dataclass(frozen=True)
class Decided:
    outcomes: list[Outcome]
    notices: list[int]  # outbound ids to deliver


def decide(console, reviewer: str, set_id: int, action: Callable[[], Outcome | list[Outcome]]) -> Decided:
    """Run `action` (a review-core call) unless another reviewer holds a live claim on the set."""
    with console.sessions.begin() as session:
        holder = q.claim_holder(session, set_id, utcnow())
        if holder is not None and holder[0] != reviewer:
            raise ReviewError(f"l'ensemble n° {set_id} est en cours chez {holder[0]} : "
                              "prenez la main explicitement avant de décider")
        q.claim(session, set_id, reviewer, utcnow(), minutes=console.claim_minutes)
    result = action()
    outcomes = result if isinstance(result, list) else [result]
    return Decided(outcomes, notify_decided(console.sessions, console.config))


class LabelCache:
    """Field labels per campaign, from its rules file (parsed once per campaign and process)."""

    def __init__(self):
        self._labels: dict[int | None, dict] = {}

    def get(self, session, campaign_id: int | None) -> dict[tuple[str, str], str]:
        if campaign_id not in self._labels:
            campaign = session.get(Campaign, campaign_id) if campaign_id else None
            self._labels[campaign_id] = field_labels(campaign_rules(campaign)) if campaign else {}
        return self._labels[campaign_id]
