"""`campaign status` and `campaign remind` from the command line, on a small campaign in which every
state really happens through the product's own paths: summaries sent to a local SMTP sink (one address
refused with a 5xx), a bounce report through the inbound pipeline, replies through the inbound pipeline
(« RAS », a change left pending, a change approved through the review code), and a collectivité
without any usable address."""
from __future__ import annotations

import json
from collections import Counter
from datetime import date, timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from mailbot.outbound.campaign import STATUS_COLUMNS, STATUS_LABELS, create_campaign, render_campaign
from mailbot.cli.commands import main
from mailbot.devtools.client_shapes import gmail, plain_answer, set_field
from mailbot.clock import utcnow
from mailbot.config import load_config
from mailbot.outbound.delivery import deliver_pending
from mailbot.inbound.queue import Arrival, process_pending, store_arrival
from mailbot.review.decide import approve, require_reviewer
from store.campaign_models import CampaignTarget, Delivery, OutboundMessage, ReminderLog
from store.models import Collectivite
from store.queries import territory_names
from store.review_models import ChangeSet

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rules" / "campagne-2012.toml"
SECRET = "status-test-secret"
BOT = "atlas@cncd.example.fr"
REVIEWER = "Claire Martin"

# What each collectivité of the small campaign lives through, and the columns it must count in.
ROLES = ("confirmed", "pending", "approved", "refused", "bounced", "silent1", "silent2", "nomail")
EXPECTED_STATES = {
    "confirmed": {"sent", "delivered", "replied", "confirmed"},
    "pending": {"sent", "delivered", "replied", "pending_review"},
    "approved": {"sent", "delivered", "replied", "approved"},
    "refused": {"bounced", "unreachable"},  # its only address refused with 5xx: nothing went out
    "bounced": {"sent", "bounced", "unreachable"},  # accepted, then a bounce report for its only address
    "silent1": {"sent", "delivered"},
    "silent2": {"sent", "delivered"},
    "nomail": {"unreachable"},  # no usable address: never sent
}
SILENT = {"silent1", "silent2"}


def parse(raw: bytes):
    return BytesParser(policy=policy.default).parsebytes(raw)


@pytest.fixture
def db_url(seeded_db_url):
    return seeded_db_url


def make_config(db_url: str, port: int):
    return load_config(environ=env_for(db_url, port))


def env_for(db_url: str, port: int) -> dict:
    return {"MAILBOT_DB": db_url, "MAILBOT_SMTP": f"smtp://127.0.0.1:{port}", "MAILBOT_SECRET": SECRET,
            "MAILBOT_FROM": BOT, "MAILBOT_REVIEWERS": REVIEWER}


def usable(coll: Collectivite) -> list[str]:
    return [c.email for c in coll.contacts if c.email and c.email_state == "ok"]


def small_campaign(Session) -> dict[str, dict]:
    """Eight collectivités of the seeded Atlas in the campaign (the others out of the Atlas): seven
    communes with exactly one usable address, grouped by région so that a région holds several
    départements, and one collectivité without a usable address."""
    with Session.begin() as session:
        colls = list(session.scalars(select(Collectivite).where(Collectivite.in_atlas.is_(True))
                                     .order_by(Collectivite.region, Collectivite.departement, Collectivite.id)))
        single = [c for c in colls if c.kind == "commune" and len(usable(c)) == 1]
        chosen = single[:7]
        nomail = next((c for c in colls if not usable(c) and c.contacts), None)
        if nomail is None:  # the seed always has one today; keep the test independent of it
            nomail = single[7]
            for contact in nomail.contacts:
                contact.email_state = "invalid"
        chosen.append(nomail)
        ids = [c.id for c in chosen]
        session.execute(update(Collectivite).where(Collectivite.id.not_in(ids)).values(in_atlas=False))
        roles = {role: {"id": c.id, "code": c.code, "departement": c.departement, "region": c.region,
                        "email": (usable(c) or [None])[0], "contact_ref": c.contacts[0].ref}
                 for role, c in zip(ROLES, chosen)}
        create_campaign(session, "c2012", RULES, date(2012, 6, 30))
    departements_by_region = Counter(r for r, _ in {(v["region"], v["departement"]) for v in roles.values()})
    assert max(departements_by_region.values()) >= 2 and len(departements_by_region) >= 2, \
        "the grouping by région must differ from the grouping by département"
    return roles


def expected_counts(roles: dict, by: str | None) -> dict:
    lines: dict[str, Counter] = {}
    for role, info in roles.items():
        key = info[by] if by else "France"
        line = lines.setdefault(key or "?", Counter())
        line["collectivites"] += 1
        line.update(EXPECTED_STATES[role])
    return {key: {column: lines[key][column] for column in STATUS_COLUMNS} for key in sorted(lines)}


def summary_for(handler, code: str):
    [message] = [m for m in handler.messages if parse(m.content)["Subject"].endswith(f"({code})")]
    return message


def receive(engine, config, raw: bytes, *, sender: str, to: str) -> None:
    """As the SMTP edge stores a message, then the inbound workers process the queue."""
    assert not store_arrival(engine, Arrival(raw, "smtp", sender, (to,))).duplicate
    process_pending(engine, config)


def bounce_report(summary, recipient: str) -> bytes:
    original = parse(summary.content)
    return (
        f"From: MAILER-DAEMON@mx.example.fr\r\nTo: {summary.mail_from}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn-1@mx.example.fr>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.fr\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n\r\n"
        f"--B\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: {original['From']}\r\nTo: {recipient}\r\n"
        f"Message-ID: {original['Message-ID']}\r\n\r\n--B--\r\n"
    ).encode()


@pytest.fixture
def campaign_in_every_state(Session, seeded_engine, db_url, sink):
    controller, handler = sink
    engine, config = seeded_engine, make_config(db_url, controller.port)
    roles = small_campaign(Session)
    handler.refuse(roles["refused"]["email"], "550 5.1.1 <{}>: Recipient address rejected".format(
        roles["refused"]["email"]))
    report = render_campaign(engine, Session, config, "c2012")
    assert (report.rendered, report.unreachable) == (7, 1)
    delivered = deliver_pending(engine, config)
    assert (delivered.sent, delivered.failed, delivered.deferred) == (6, 1, 0)
    assert sorted(r for m in handler.messages for r in m.rcpt_tos) == sorted(
        roles[role]["email"] for role in ROLES if role not in ("refused", "nomail"))
    # a bounce report for an accepted summary, sent back to its return path
    bounced = summary_for(handler, roles["bounced"]["code"])
    receive(engine, config, bounce_report(bounced, roles["bounced"]["email"]), sender="", to=bounced.mail_from)
    # replies as the agents' mail clients write them, to the summary's Reply-To
    for role, build in (
        ("confirmed", lambda content, email: plain_answer(content, "RAS, cordialement", email)),
        ("pending", lambda content, email: gmail(
            content, set_field(roles["pending"]["contact_ref"], "Titre", "Maire adjointe"), email)),
        ("approved", lambda content, email: gmail(
            content, set_field(roles["approved"]["contact_ref"], "Titre", "Premier adjoint"), email)),
    ):
        summary = summary_for(handler, roles[role]["code"])
        email = roles[role]["email"]
        receive(engine, config, build(summary.content, email), sender=email, to=str(parse(summary.content)["Reply-To"]))
    with Session() as session:
        sets = {cid: (cs_id, status) for cs_id, cid, status in session.execute(
            select(ChangeSet.id, ChangeSet.collectivite_id, ChangeSet.status))}
    assert set(sets) == {roles["pending"]["id"], roles["approved"]["id"]}
    outcome = approve(Session, config, sets[roles["approved"]["id"]][0], require_reviewer(config, REVIEWER))
    assert outcome.status == "approved"
    return engine, config, roles, handler, controller.port


def run(env: dict, *args: str):
    return CliRunner().invoke(main, ["campaign", *args], env=env)


def table(output: str, by: str | None, names: dict[str, str]) -> dict:
    """The text table: a header of whole French labels, one line per territory named next to its
    number (« 35 Ille-et-Vilaine »), and a total line when there are several territories."""
    header, *lines = [line.strip() for line in output.strip().splitlines() if line.strip().strip("─")]
    labels = [STATUS_LABELS[c] for c in STATUS_COLUMNS]
    first = {"departement": "Département", "region": "Région", None: "Territoire"}[by]
    assert header.startswith(first) and all(f"  {label}" in header for label in labels), header
    assert "pending" not in output and "envelopes" not in output
    rows, total = {}, None
    for line in lines:
        words = line.split()
        label, numbers = " ".join(words[:-len(STATUS_COLUMNS)]), list(map(int, words[-len(STATUS_COLUMNS):]))
        if label == "Total":
            total = dict(zip(STATUS_COLUMNS, numbers))
            continue
        key = label.split(" ", 1)[0] if by else label
        if by:
            assert label == f"{key} {names[key]}", label
        rows[key] = dict(zip(STATUS_COLUMNS, numbers))
    if by:
        assert total == {c: sum(row[c] for row in rows.values()) for c in STATUS_COLUMNS}
    else:
        assert total is None
    return rows


def test_status_counts_every_state_by_territory_in_json_and_text(campaign_in_every_state, db_url, Session):
    _engine, _config, roles, _handler, port = campaign_in_every_state

    def names(by: str | None) -> dict[str, str]:
        with Session() as session:
            return territory_names(session, by) if by else {}
    env = env_for(db_url, port)
    national = {"collectivites": 8, "sent": 6, "delivered": 5, "bounced": 2, "unreachable": 3, "replied": 3,
                "confirmed": 1, "pending_review": 1, "approved": 1, "uncertain": 0}
    assert expected_counts(roles, None) == {"France": national}
    for by in (None, "departement", "region"):
        options = ["--by", by] if by else []
        as_json = run(env, "status", "c2012", "--json", *options)
        assert as_json.exit_code == 0, as_json.output
        assert json.loads(as_json.output) == expected_counts(roles, by), by
        as_text = run(env, "status", "c2012", *options)
        assert as_text.exit_code == 0, as_text.output
        assert table(as_text.output, by, names(by)) == expected_counts(roles, by), by
    by_region = json.loads(run(env, "status", "c2012", "--json", "--by", "region").output)
    by_departement = json.loads(run(env, "status", "c2012", "--json", "--by", "departement").output)
    assert len(by_region) < len(by_departement)
    for lines in (by_region, by_departement):
        assert {c: sum(line[c] for line in lines.values()) for c in STATUS_COLUMNS} == national


def reminded(Session) -> Counter:
    with Session() as session:
        return Counter(session.scalars(select(ReminderLog.collectivite_id)))


def test_remind_from_the_command_line_reminds_exactly_the_silent_ones(campaign_in_every_state, db_url, Session,
                                                                      monkeypatch):
    _engine, _config, roles, handler, port = campaign_in_every_state
    env = env_for(db_url, port)
    start = utcnow()

    def at(delay: timedelta) -> None:
        monkeypatch.setattr("mailbot.outbound.campaign.utcnow", lambda: start + delay)

    def remind(after: str) -> str:
        before = len(handler.messages)
        result = run(env, "remind", "c2012", "--after", after)
        assert result.exit_code == 0, result.output
        assert not handler.messages[before:] or result.output.strip().endswith(
            f"{len(handler.messages) - before} envoyées")
        return result.output.strip()

    def reminders(queued: int, recent: int, sent: int) -> str:
        return (f"{queued} relances préparées ({recent} relancées trop récemment, 0 déjà au nombre maximal de "
                f"relances) ; {sent} envoyées")

    quiet = reminders(0, 0, 0)
    # elapsed time shorter than --after: nobody, not even counted as skipped
    assert remind("14d") == quiet
    at(timedelta(days=1))
    assert remind("36h").startswith("0 relances préparées (0 relancées trop récemment")
    at(timedelta(days=15))
    assert remind("16d").startswith("0 relances préparées (0 relancées trop récemment")
    assert reminded(Session) == Counter()
    # long enough: the two silent ones, not those who answered, bounced, were refused or have no address
    at(timedelta(days=2))
    before = len(handler.messages)
    assert remind("36h") == reminders(2, 0, 2)
    silent = {roles[role]["id"] for role in SILENT}
    assert reminded(Session) == Counter({cid: 1 for cid in silent})
    sent_to = sorted(r for m in handler.messages[before:] for r in m.rcpt_tos)
    assert sent_to == sorted(roles[role]["email"] for role in SILENT)
    assert all("rappel" in parse(m.content).get_body(("plain",)).get_content() for m in handler.messages[before:])
    # too soon after that reminder (rules: 7 days between), then again once the spacing has passed
    at(timedelta(days=8))
    assert remind("14d") == quiet
    assert remind("5d") == reminders(0, 2, 0)
    at(timedelta(days=15))
    assert remind("14d") == reminders(2, 0, 2)
    assert reminded(Session) == Counter({cid: 2 for cid in silent})
    with Session() as session:
        targets = {t.collectivite_id: t.reminders_sent for t in session.scalars(select(CampaignTarget))}
        kinds = Counter(session.scalars(select(OutboundMessage.kind).where(OutboundMessage.kind == "reminder")))
        failed = session.scalars(select(Delivery.recipient).where(Delivery.state == "failed")).all()
    assert targets == {info["id"]: (2 if role in SILENT else 0) for role, info in roles.items()}
    assert kinds == Counter({"reminder": 4})
    assert failed == [roles["refused"]["email"]], "the refused address is not tried again"


@pytest.mark.parametrize("after", ["quinze", "14 semaines", "-3d", "2w"])
def test_remind_with_a_bad_duration_is_a_one_line_error(Session, db_url, after):
    small_campaign(Session)
    result = run(env_for(db_url, 1), "remind", "c2012", "--after", after)
    assert result.exit_code != 0 and "Traceback" not in result.output
    [line] = result.output.strip().splitlines()
    assert line.startswith("Erreur : durée illisible") and f"« {after} »" in line and "14d" in line
    assert reminded(Session) == Counter()
