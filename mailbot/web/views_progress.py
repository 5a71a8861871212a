"""The campaign's progress: the `campaign status` figures nationally (with a chart drawn as SVG on
the server), by région and by département, the oldest sets waiting, and each reviewer's throughput
per day."""
from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from sqlalchemy import select
from starlette.responses import Response

from mailbot.outbound.campaign import campaign_status
from mailbot.clock import utcnow
from mailbot.web import present
from mailbot.web.page import Page, error_page
from store import console_queries as q
from store.campaign_models import Campaign

THROUGHPUT_DAYS = 14


def progress(page: Page) -> Response:
    now = utcnow()
    with page.console.readers() as session:
        campaigns = list(session.scalars(select(Campaign).order_by(Campaign.created_at.desc())))
        if not campaigns:
            return error_page(page, 404, "Aucune campagne", "Aucune campagne n'a encore été créée "
                              "(mailbot campaign create).")
        wanted = page.param("campagne")
        campaign = next((c for c in campaigns if c.name == wanted), campaigns[0])
        national = campaign_status(session, campaign).get("France", {})
        by_region = campaign_status(session, campaign, by="region")
        by_departement = campaign_status(session, campaign, by="departement")
        regions, departements = page.console.territories(session)
        oldest = q.oldest_waiting(session, campaign.id)
        since = (now - timedelta(days=THROUGHPUT_DAYS - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
        decided = q.decided_per_reviewer_day(session, since, campaign.id)
    days = [(since + timedelta(days=n)).date().isoformat() for n in range(THROUGHPUT_DAYS)]
    throughput: dict[str, dict[str, tuple[int, int]]] = defaultdict(dict)
    for reviewer, day, sets, applied in decided:
        throughput[reviewer][str(day)[:10]] = (sets, applied)
    return page.render(
        "progress.html", campaigns=campaigns, campaign=campaign, national=national,
        bars=present.chart_bars(national), chart_height=len(present.CHART_COLUMNS) * (present.BAR_HEIGHT + present.BAR_GAP),
        by_region=[(dict(regions).get(code, code), code, figures) for code, figures in by_region.items()],
        by_departement=[(dict(departements).get(code, code), code, figures) for code, figures in by_departement.items()],
        oldest=oldest, now=now, days=days, throughput=dict(sorted(throughput.items())))
