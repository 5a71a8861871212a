"""The queue: filters, search, sort, totals and pages of a hundred; each row can be opened or
approved in place (htmx), and the keyboard walks it (static/console.js)."""
from __future__ import annotations

from starlette.responses import Response

from mailbot.clock import utcnow
from mailbot.web import filters
from mailbot.web.page import Page
from store import console_queries as q


def queue(page: Page) -> Response:
    query = filters.parse(page.request.query_params)
    with page.console.readers() as session:
        total = q.queue_total(session, query)
        rows = q.queue_rows(session, q.queue_ids(session, query), utcnow())
        regions, departements = page.console.territories(session)
    pages = max(1, -(-total // q.PAGE_SIZE))
    return page.render("queue.html", query=query, rows=rows, total=total, pages=pages, regions=regions,
                       departements=departements, filters=filters, back=filters.query_string(query))
