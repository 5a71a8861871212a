"""Bulk approval: narrow by filter, preview exactly what would be applied, confirm.

The same guarantees as `review approve --all-trusted-without-errors`: only pending sets from a
recognised sender with no error and no conflict (`BULK_FILTER`), applied by the same `bulk_approve`
(each set whole or not at all, a set that gained an error since the preview left alone). On top:
sets another reviewer is working on are left out, so are sets with plausibility warnings unless the
reviewer asks, and the confirmation applies the previewed list or nothing (its fingerprint is checked).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from starlette.background import BackgroundTask
from starlette.responses import Response

from mailbot.clock import utcnow
from mailbot.review.decide import BULK_FILTER, bulk_approve
from mailbot.web import filters
from mailbot.web.decisions import tell_agents
from mailbot.web.page import Page
from mailbot.web.warnings import Warning, warned_sets
from store import console_queries as q

PREVIEW_ROWS = 100
WARNING_BATCH = 500  # ids per claims query


@dataclass
class Preview:
    ids: list[int]  # what a confirmation applies
    rows: list  # the first PREVIEW_ROWS of them, as queue rows
    claimed: list  # left out: another reviewer is on them
    warned: list[tuple[object, list[Warning]]]  # left out unless asked: (row, warnings)
    with_warnings: bool
    fingerprint: str


def bulk_query(page: Page) -> q.QueueQuery:
    asked = filters.parse(page.request.query_params if page.form is None else page.form)
    where = replace(BULK_FILTER, region=asked.where.region, departement=asked.where.departement,
                    kind=asked.where.kind)
    return q.QueueQuery(where=where, search=asked.search)


def preview(page: Page, query: q.QueueQuery, with_warnings: bool) -> Preview:
    me, now = page.reviewer.name, utcnow()
    with page.console.readers() as session:
        candidates = q.queue_ids(session, query, limit=None)
        claims = {}
        for start in range(0, len(candidates), WARNING_BATCH):
            claims.update(q.live_claims(session, candidates[start:start + WARNING_BATCH], now))
        others = [i for i in candidates if claims.get(i, me) != me]
        free = [i for i in candidates if claims.get(i, me) == me]
        warned = warned_sets(session, free)
        ids = free if with_warnings else [i for i in free if i not in warned]
        rows = q.queue_rows(session, ids[:PREVIEW_ROWS], now)
        claimed_rows = q.queue_rows(session, others[:PREVIEW_ROWS], now)
        warned_rows = q.queue_rows(session, list(warned)[:PREVIEW_ROWS], now)
    return Preview(ids, rows, claimed_rows, [(r, warned[r.id]) for r in warned_rows], with_warnings,
                   page.console.signer.fingerprint(ids))


def bulk_page(page: Page) -> Response:
    query = bulk_query(page)
    with page.console.readers() as session:
        regions, departements = page.console.territories(session)
    shown = preview(page, query, page.param("avertissements") == "inclure") if page.param("apercu") else None
    return page.render("bulk.html", query=query, preview=shown, regions=regions, departements=departements,
                       filters=filters, stale=False)


def bulk_confirm(page: Page) -> Response:
    console = page.console
    query = bulk_query(page)
    now_preview = preview(page, query, page.param("avertissements") == "inclure")
    if now_preview.fingerprint != page.param("empreinte"):
        with console.readers() as session:
            regions, departements = console.territories(session)
        return page.render("bulk.html", status=409, query=query, preview=now_preview, regions=regions,
                           departements=departements, filters=filters, stale=True)
    outcomes = bulk_approve(console.sessions, console.config, page.reviewer.name, now_preview.ids,
                           include_warned=now_preview.with_warnings)
    applied = sum(len(o.applied) for o in outcomes)
    conflicts = sum(len(o.conflicts) for o in outcomes)
    done = sum(1 for o in outcomes if o.applied or o.conflicts)
    response = page.redirect(f"/lot{filters.query_string(query)}",
                             f"Approbation groupée : {done} ensemble(s) traité(s), {applied} modification(s) "
                             f"appliquée(s), {conflicts} en conflit (à trancher une à une).")
    if applied:
        response.background = BackgroundTask(tell_agents, console.engine, console.sessions, console.config)
    return response
