"""Benchmark the review queue: 10,000 pending change sets; time the first `review list` page and a bulk
approval of 10,000 clean changes.

    python bench/review.py                    # scale-1 Atlas in a temporary SQLite file
    python bench/review.py --sets 10000 --db postgresql+psycopg://postgres@127.0.0.1:5432/bench  # empty db

Setup (not timed): a scale-1 Atlas is seeded and one campaign created; each pending set holds one
clean change — a new title for one contact, or a new title for one project — made the way `understand`
makes them (the value and the version the agent saw), from a recognised sender, as a reply would.
Timed: `list_changesets` for the first page of the default queue (pending, oldest first, 50 sets with
their changes), cold then warm; then `bulk_candidates` + `bulk_approve` for every set, which applies
each change under its version check, writes the audit trail and settles each set.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mailbot.outbound.campaign import create_campaign  # noqa: E402
from mailbot.clock import utcnow  # noqa: E402
from mailbot.config import load_config  # noqa: E402
from mailbot.review.decide import bulk_approve, bulk_candidates  # noqa: E402
from store.db import make_engine, session_factory, upgrade  # noqa: E402
from store.inbound_models import InboundMessage  # noqa: E402
from store.models import Contact, Cooperation, Project  # noqa: E402
from store.review_models import AuditEntry, Change, ChangeSet  # noqa: E402
from store.review_queries import list_changesets  # noqa: E402
from store.seed import seed_atlas  # noqa: E402

REVIEWER = "Bench Reviewer"


def pending_sets(engine, sessions, count: int) -> int:
    """`count` one-change sets over distinct contacts, then projects; returns how many were made."""
    with sessions.begin() as session:
        campaign_id = create_campaign(session, "bench", ROOT / "rules" / "campagne-2012.toml", date(2012, 6, 30)).id
        targets = [("contact", ref, version, cid, title, email) for ref, version, cid, title, email in session.execute(
            select(Contact.ref, Contact.version, Contact.collectivite_id, Contact.title, Contact.email)
            .order_by(Contact.id).limit(count))]
        if len(targets) < count:
            targets += [("projet", ref, version, cid, title, None) for ref, version, cid, title in session.execute(
                select(Project.ref, Project.version, Cooperation.collectivite_id, Project.title)
                .join(Cooperation, Project.cooperation_id == Cooperation.id)
                .order_by(Project.id).limit(count - len(targets)))]
    start = utcnow() - timedelta(days=20)
    with engine.begin() as conn:
        inbound_rows, set_rows, change_rows = [], [], []
        for n, (entity, ref, version, cid, title, email) in enumerate(targets, start=1):
            sender = email or f"agent{n}@mairie.example.fr"
            raw = f"From: {sender}\r\nMessage-ID: <bench-{n}@mairie.example.fr>\r\n\r\nCorrections.\r\n".encode()
            inbound_rows.append({"id": n, "received_at": start, "source": "smtp", "envelope_from": sender,
                                 "envelope_to": ["atlas@cncd.example.fr"], "message_id": f"<bench-{n}@mairie.example.fr>",
                                 "content_sha256": "0" * 64, "dedupe_key": f"bench-{n}", "size": len(raw), "raw": raw,
                                 "state": "done", "sender": sender, "kind": "reply"})
            set_rows.append({"id": n, "campaign_id": campaign_id, "collectivite_id": cid, "inbound_id": n,
                             "thread_key": f"bench:{n}", "sender": sender, "trusted": True, "status": "pending",
                             "has_errors": False, "has_conflicts": False,
                             "created_at": start + timedelta(seconds=n)})
            change_rows.append({"changeset_id": n, "op": "update", "entity": entity, "ref": ref, "field": "title",
                                "old": title, "new": f"{title} (mis à jour)"[:200], "base_version": version,
                                "errors": [], "matches": [], "status": "pending"})
        for table, rows in ((InboundMessage, inbound_rows), (ChangeSet, set_rows), (Change, change_rows)):
            for i in range(0, len(rows), 2000):
                conn.execute(insert(table), rows[i:i + 2000])
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            for table in ("inbound_message", "change_set", "change"):
                conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                     f"(SELECT max(id) FROM {table}))")
            # what autovacuum does minutes after a bulk load: without statistics the planner guesses
            conn.exec_driver_sql("ANALYZE")
    return len(targets)


def time_first_page(sessions, repeats: int = 7) -> tuple[float, float, int]:
    timings, rows = [], []
    for _ in range(repeats):
        with sessions() as session:
            started = time.perf_counter()
            rows = list_changesets(session)
            timings.append((time.perf_counter() - started) * 1000)
    return timings[0], statistics.median(timings[1:]), len(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", type=int, default=10_000)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--db", help="SQLAlchemy URL of an empty store (default: a temporary SQLite file)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-review-") as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'atlas.sqlite'}"
        engine = make_engine(url)
        upgrade(engine)
        seed_atlas(engine, scale=args.scale, seed=2012)
        sessions = session_factory(engine)
        made = pending_sets(engine, sessions, args.sets)
        config = load_config(environ={"MAILBOT_DB": url, "MAILBOT_REVIEWERS": REVIEWER})
        print(f"review queue on {args.db or 'a temporary SQLite file'}: {made} pending sets, one clean change each")
        cold, warm, page = time_first_page(sessions)
        print(f"  first `review list` page ({page} sets with their changes): {cold:.1f} ms cold, {warm:.1f} ms warm "
              "(median of 6)")
        started = time.perf_counter()
        with sessions() as session:
            ids = bulk_candidates(session)
        outcomes = bulk_approve(sessions, config, REVIEWER, ids)
        seconds = time.perf_counter() - started
        applied = sum(len(o.applied) for o in outcomes)
        with sessions() as session:
            audited = session.scalar(select(func.count()).select_from(AuditEntry))
            approved = session.scalar(select(func.count()).select_from(ChangeSet).where(ChangeSet.status == "approved"))
        print(f"  bulk approval of {len(ids)} sets: {seconds:.2f} s ({applied / seconds:.0f} changes/s); "
              f"{applied} changes applied, {audited} audit entries, {approved} sets approved")
        engine.dispose()


if __name__ == "__main__":
    main()
