"""Benchmark the reviewers' web console with 100,000 pending change sets, on SQLite and PostgreSQL:
the first queue page, filtered pages, a set's page and an approval round trip.

    python bench/web.py                                   # SQLite (temporary file) and PostgreSQL
    python bench/web.py --sets 100000 --scale 0.25 --pg postgresql+psycopg://postgres@127.0.0.1:5432/test

Setup (not timed): an Atlas seeded at --scale, one campaign, --sets pending sets made by bulk INSERTs
(one change each, to a contact's title or e-mail, cycling over the Atlas's contacts, so a collectivité
has many competing sets; one set in ten has an error, one in ten an unknown sender), ANALYZE.
Timed: each request against the console served by uvicorn on 127.0.0.1, signed in, over one kept-alive
HTTP connection — from sending the request to the last byte of the response, so the figures include
the loopback and the HTTP client (an upper bound of the server's time). First request cold, then the
median of the rest. The approval is a POST « Approuver tout » on a pending set, each time another one
(the decision and its audit entries), half a second apart as a reviewer's clicks are: the agent's
notice is written and sent after the response, and would otherwise hold SQLite's one writer when the
next approval comes.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import httpx
from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mailbot.outbound.campaign import create_campaign  # noqa: E402
from mailbot.clock import utcnow  # noqa: E402
from mailbot.config import load_config  # noqa: E402
from mailbot.web import accounts  # noqa: E402
from mailbot.web.server import bound_port, start_in_thread  # noqa: E402
from store.db import make_engine, session_factory, upgrade  # noqa: E402
from store.inbound_models import InboundMessage  # noqa: E402
from store.models import Collectivite, Contact  # noqa: E402
from store.review_models import Change, ChangeSet  # noqa: E402
from store.seed import seed_atlas  # noqa: E402

REVIEWER = ("Bench Reviewer", "bench.reviewer@diplomatie.gouv.fr")
BATCH = 5000


def pending_sets(engine, sessions, count: int) -> None:
    with sessions.begin() as session:
        campaign_id = create_campaign(session, "bench", ROOT / "rules" / "campagne-2012.toml", date(2012, 6, 30)).id
        contacts = session.execute(select(Contact.ref, Contact.version, Contact.collectivite_id, Contact.title,
                                          Contact.email).order_by(Contact.id)).all()
    start = utcnow() - timedelta(days=30)
    rows: dict = {InboundMessage: [], ChangeSet: [], Change: []}
    with engine.begin() as conn:
        for n in range(1, count + 1):
            ref, version, cid, title, email = contacts[n % len(contacts)]
            sender = (email or f"agent{n}@mairie.example.fr") if n % 10 else f"inconnu{n}@example.org"
            raw = (f"From: {sender}\r\nSubject: Re: Atlas\r\nMessage-ID: <bench-{n}@mairie.example.fr>\r\n\r\n"
                   "Bonjour, voici nos corrections.\r\n").encode()
            erroneous = n % 10 == 5
            rows[InboundMessage].append({
                "id": n, "received_at": start, "source": "smtp", "envelope_from": sender,
                "envelope_to": ["atlas@cncd.example.fr"], "message_id": f"<bench-{n}@mairie.example.fr>",
                "content_sha256": "0" * 64, "dedupe_key": f"bench-{n}", "size": len(raw), "raw": raw, "state": "done",
                "sender": sender, "kind": "reply", "subject": "Re: Atlas", "collectivite_id": cid})
            rows[ChangeSet].append({
                "id": n, "campaign_id": campaign_id, "collectivite_id": cid, "inbound_id": n, "thread_key": f"bench:{n}",
                "sender": sender, "trusted": bool(n % 10), "status": "pending", "has_errors": erroneous,
                "has_conflicts": False, "created_at": start + timedelta(seconds=n)})
            rows[Change].append({
                "changeset_id": n, "op": "update", "entity": "contact", "ref": ref,
                "field": "email" if erroneous else "title", "old": email if erroneous else title,
                "new": "adresse@@invalide" if erroneous else f"{title} (mis à jour {n})"[:200], "base_version": version,
                "errors": [{"field": "email", "code": "email", "message": "adresse invalide"}] if erroneous else [],
                "matches": [], "status": "pending"})
            if n % BATCH == 0 or n == count:
                for table, batch in rows.items():
                    conn.execute(insert(table), batch)
                    batch.clear()
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            for table in ("inbound_message", "change_set", "change"):
                conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    if engine.dialect.name == "postgresql":  # what autovacuum does after a bulk load (the console does SQLite's)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")


def timed(client: httpx.Client, method: str, paths: list[str], pause: float = 0.0, **kwargs) -> tuple[float, float, int]:
    """(first request ms, median of the others ms, last status)."""
    timings, status = [], 0
    for path in paths:
        time.sleep(pause)
        started = time.perf_counter()
        response = client.request(method, path, **kwargs)
        timings.append((time.perf_counter() - started) * 1000)
        status = response.status_code
        if status >= 400:
            raise RuntimeError(f"{method} {path}: {status} {response.text[:300]}")
    return timings[0], statistics.median(timings[1:] or timings), status


def csrf(html: str) -> str:
    return html.split('name="csrf" value="', 1)[1].split('"', 1)[0]


def run(url: str, label: str, sets: int, scale: float) -> None:
    engine = make_engine(url)
    upgrade(engine)
    started = time.perf_counter()
    seed_atlas(engine, scale=scale, seed=2012)
    sessions = session_factory(engine)
    pending_sets(engine, sessions, sets)
    accounts.add_reviewer(sessions, *REVIEWER)
    with sessions() as session:
        region = session.scalar(select(Collectivite.region).where(Collectivite.kind == "region")
                                .order_by(Collectivite.region).limit(1))
        name = session.scalar(select(Collectivite.name).join(ChangeSet, ChangeSet.collectivite_id == Collectivite.id)
                              .where(Collectivite.kind == "commune").limit(1))
    print(f"{label}: {sets:,} pending sets ready in {time.perf_counter() - started:.0f} s (setup, not timed)")
    config = load_config(environ={"MAILBOT_DB": url, "MAILBOT_SMTP": "smtp://127.0.0.1:9"})  # closed: notices stay queued
    server, thread = start_in_thread(config, engine=engine, host="127.0.0.1", port=0)
    base = f"http://127.0.0.1:{bound_port(server)}"
    try:
        with httpx.Client(base_url=base, follow_redirects=False, timeout=60) as client:
            token = accounts.printed_link(sessions, config, REVIEWER[0]).rsplit("/", 1)[1]
            page = client.get(f"/connexion/lien/{token}")
            client.post(f"/connexion/lien/{token}", data={"csrf": csrf(page.text)})
            figures = {
                "first queue page (100 of all pending)": timed(client, "GET", ["/"] * 11),
                f"filtered page (région {region}, recognised, no error)": timed(
                    client, "GET", [f"/?region={region}&reconnu=oui&erreurs=non"] * 11),
                "filtered page (with errors, newest first)": timed(client, "GET", ["/?erreurs=oui&tri=recents"] * 11),
                f"search page (« {name} »)": timed(client, "GET", [f"/?q={name}"] * 6),
                "page 500 of the queue": timed(client, "GET", ["/?page=500"] * 6),
                "a set's page": timed(client, "GET", [f"/ensembles/{n}" for n in range(1001, 1022)]),
            }
            token = csrf(client.get("/").text)
            approvals = [n for n in range(2001, 2100) if n % 10 not in (0, 5)][:21]
            figures["approval round trip (POST, 303)"] = timed(
                client, "POST", [f"/ensembles/{n}/approuver" for n in approvals], pause=0.5,
                data={"csrf": token, "portee": "tout"})
        for what, (cold, warm, _) in figures.items():
            print(f"  {what:<58} {cold:7.1f} ms first, {warm:7.1f} ms median")
        with sessions() as session:
            approved = session.scalar(select(text("count(*)")).select_from(ChangeSet).where(ChangeSet.status == "approved"))
        print(f"  ({approved} sets approved by the round trips)")
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", type=int, default=100_000)
    parser.add_argument("--scale", type=float, default=0.25, help="Atlas size (1: the 2012 circular's figures)")
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test",
                        help="a PostgreSQL server: a throwaway database is made on it ('' to skip)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp:
        run(f"sqlite:///{Path(tmp) / 'atlas.sqlite'}", "SQLite", args.sets, args.scale)
    if args.pg:
        name = f"bench_web_{uuid.uuid4().hex[:8]}"
        admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            run(make_url(args.pg).set(database=name).render_as_string(hide_password=False), "PostgreSQL",
                args.sets, args.scale)
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()


if __name__ == "__main__":
    main()
