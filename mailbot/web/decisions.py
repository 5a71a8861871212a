"""Decisions from the console: the same review core the `mailbot review` commands call, under the
signed-in reviewer's name, refused while another reviewer holds the set; then the agents are told
after the response (`tell_agents`: notices written and sent as `review approve` does; a notice not
written then is written by the next decision's run, one the relay refuses is retried by `mailbot serve`)."""
from __future__ import annotations

from typing import Callable

from mailbot.outbound.campaign import campaign_rules
from mailbot.clock import utcnow
from mailbot.review.notify import field_labels, notify_decided
from mailbot.review.decide import Outcome
from mailbot.review.verdict import ReviewError
from mailbot.web.accounts import deliver
from store import console_queries as q
from store.campaign_models import Campaign


def decide(set_id: int, reviewer: str, readers, action: Callable[[], Outcome | list[Outcome]]) -> list[Outcome]:
    """Run `action` (a review-core call) unless another reviewer holds a live claim on the set (read
    with `readers`, read-only sessions)."""
    with readers() as session:
        holder = q.claim_holder(session, set_id, utcnow())
    if holder is not None and holder[0] != reviewer:
        raise ReviewError(f"l'ensemble n° {set_id} est en cours chez {holder[0]} : "
                          "prenez la main explicitement avant de décider")
    result = action()
    return result if isinstance(result, list) else [result]


def tell_agents(engine, sessions, config) -> None:
    """Write the notices of every decided set not told yet, and send them (run after the response)."""
    deliver(engine, config, notify_decided(sessions, config))


class LabelCache:
    """Field labels per campaign, from its rules file (parsed once per campaign and process)."""

    def __init__(self):
        self._labels: dict[int | None, dict] = {}

    def get(self, session, campaign_id: int | None) -> dict[tuple[str, str], str]:
        if campaign_id not in self._labels:
            campaign = session.get(Campaign, campaign_id) if campaign_id else None
            self._labels[campaign_id] = field_labels(campaign_rules(campaign)) if campaign else {}
        return self._labels[campaign_id]
