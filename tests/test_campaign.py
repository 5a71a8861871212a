"""Campaign out: rendering, tokens, dry run, sending exactly once, reminders and status."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import date, datetime, timedelta, timezone
import html
import re
from decimal import Decimal
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update

from mailbot.outbound.campaign import (
    campaign_status,
    create_campaign,
    get_campaign,
    remind_campaign,
    render_campaign,
)
from mailbot.cli.commands import main
from mailbot.config import load_config
from mailbot.outbound.delivery import deliver_pending
from mailbot.outbound.render import compact_html, euros, html_form, transfer_encoding
from mailbot.rules import load_rules
from mailbot.tokens import find_tokens, verify
from store.campaign_models import CampaignTarget, Delivery, OutboundMessage, ReminderLog, Snapshot
from store.models import Collectivite, Contact

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rules" / "campagne-2012.toml"
SECRET = "test-secret"


def parse(raw: bytes):
    return BytesParser(policy=policy.default).parsebytes(raw)


@pytest.fixture
def db_url(seeded_db_url):
    return seeded_db_url


@pytest.fixture
def Session(seeded_sessions):
    return seeded_sessions


@pytest.fixture
def atlas(seeded_engine, Session):
    with Session.begin() as session:
        create_campaign(session, "c2012", RULES, date(2012, 6, 30))
    return seeded_engine


def make_config(db_url, port=1):
    return load_config(environ={"MAILBOT_DB": db_url, "MAILBOT_SMTP": f"smtp://127.0.0.1:{port}",
                                "MAILBOT_SECRET": SECRET, "MAILBOT_FROM": "atlas@cncd.example.fr"})


def rich_collectivite(Session) -> str:
    """The in-Atlas collectivité with the most kinds of records, with hostile values planted."""
    with Session.begin() as session:
        coll = max(
            session.scalars(select(Collectivite).where(Collectivite.in_atlas.is_(True))),
            key=lambda c: (bool(c.memberships), any(k.kind == "action" for k in c.cooperations),
                           bool(c.apd_amounts), len(c.cooperations), len(c.contacts)),
        )
        contact = coll.contacts[0]
        contact.title = '<script>alert("x")</script> & "Cie" d\'Hélène'
        contact.email_state = "ok"
        if not contact.email:
            contact.email = "helene@ville.fr"
        # listed by country in French, whatever their order in the store: Sénégal after Allemagne
        cooperations = [c for c in coll.cooperations if c.kind == "cooperation"]
        for cooperation, country in zip(cooperations, ("SN", "DE", "SN")):
            cooperation.country_code = country
        return coll.code


def test_summary_renders_every_section_and_escapes_html(atlas, Session, db_url):
    code = rich_collectivite(Session)
    config = make_config(db_url)
    render_campaign(atlas, Session, config, "c2012", only=[code])
    with Session() as session:
        outbound = session.scalar(select(OutboundMessage))
        snapshot = session.scalar(select(Snapshot))
        record = snapshot.data
    message = parse(outbound.raw)
    assert message.get_content_type() == "multipart/alternative"
    assert record["name"] in message["Subject"] and "2012" in message["Subject"]
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    sections = ["ÉLUS ET CADRES", "ASSOCIATIONS ET RÉSEAUX", "AIDE PUBLIQUE AU DÉVELOPPEMENT",
                "COOPÉRATIONS DÉCENTRALISÉES", "AUTRES ACTIONS EXTÉRIEURES"]
    positions = [text.index(s) for s in sections]
    assert positions == sorted(positions), "the five parts come in the circular's order"
    for keyword in ("NOUVEAU-CONTACT", "NOUVEAU-RÉSEAU", "NOUVELLE-COOPÉRATION", "NOUVEAU-PROJET", "NOUVELLE-ACTION"):
        assert f"#### {keyword}" in text
    # parts 4 and 5 by country, countries in French, each record under its country's heading
    cooperations = text[text.index("4. COOPÉRATIONS"):text.index("#### NOUVEAU-PROJET")]
    assert cooperations.index("---- Allemagne ----") < cooperations.index("---- Sénégal ----")
    for heading in re.findall(r"^---- (.+) ----$", cooperations, re.M):
        assert {line for line in cooperations.split(f"---- {heading} ----")[1].split("---- ")[0].splitlines()
                if line.startswith("Pays")} == {f"Pays* : {heading}"}
    assert "Pays* : Sénégal" in html and "---- Sénégal ----" in html
    assert [c["country"] for c in record["cooperations"] if c["country_code"] == "DE"] == ["Allemagne"]
    refs = [c["ref"] for c in record["contacts"]] + [m["ref"] for m in record["reseaux"]]
    refs += [c["ref"] for c in record["cooperations"] + record["actions"]]
    refs += [p["ref"] for c in record["cooperations"] + record["actions"] for p in c["projects"]]
    for ref in refs:
        assert f"#### {ref} " in text and ref in html
    assert "Supprimer cette fiche (oui/non) : non" in text
    assert record["actions"], "the rich collectivité has external actions"
    assert "C'est une coopération décentralisée (oui/non) : non" in text
    assert "#### NOUVEAU-PROJET" in text[text.index("5. AUTRES ACTIONS"):]  # a project under an action too
    assert "(non modifiable)" in text  # earlier APD years are shown read-only
    year = load_rules(RULES).apd_editable_year
    editable = next((a["amount"] for a in record["apd"] if a["year"] == year), None)
    shown = euros(Decimal(editable)).replace("\u202f", " ") if editable is not None else ""  # plain spaces on a form
    assert f"Montant {year} en euros : {shown}".rstrip() in text
    assert f"APD {year}" not in text and f"Montant {year - 1}" not in text  # one editable year, the rules file's
    assert "Date limite de réponse : 30 juin 2012" in text
    assert "contact-atlas@daect.example.fr" in text
    # hostile values: escaped in HTML, intact in text, accents kept
    assert "<script>" not in html and "&lt;script&gt;" in html and "&amp;" in html
    assert '"Cie"' not in html and "&#34;Cie&#34; d&#39;Hélène" in html  # quotes escaped too
    assert '<script>alert("x")</script> & "Cie" d\'Hélène' in text
    assert "Hélène" in html
    # the snapshot is what was shown, with versions
    assert all("version" in c for c in record["contacts"])


def test_html_form_keeps_every_line_in_few_source_lines_within_smtp_limits():
    lines = ["#### CT-AAAA1 · Élu ou cadre ####", "Titre* : <b>Maire</b> & \"adjoint\"", "",
             "  indentée", "Description : deux  espaces", "Description : " + "é" * 300, "Nom* : fin"]
    page = f"<p>Bonjour\n<em>vous</em>\n\n</p>\n<div>\n{html_form(lines * 20)}\n</div>"
    source = compact_html(page).split("\n")
    assert all(len(line.encode("utf-8")) <= 998 for line in source)
    assert len(source) < len(lines * 20) / 3, "several form lines to a source line"
    assert source[0].startswith("<p>Bonjour <em>vous</em> </p> <div> #### CT-AAAA1"), "a line end is a space"
    text = "\n".join(source)
    form = text[text.index("#### CT"):text.rindex("</div>")]
    assert "<b>" not in form and "&lt;b&gt;Maire&lt;/b&gt; &amp; &#34;adjoint&#34;" in form
    # each form line is one <br>-ended piece, spaces that matter kept as no-break spaces
    pieces = [html.unescape(p.lstrip("\n")).replace("\xa0", " ") for p in form.split("<br>")[:-1]]
    assert pieces == lines * 20
    assert html_form([]) == ""
    # a single line too long for SMTP stays alone (the part is then sent quoted-printable)
    assert compact_html("a<br>\n" + "b" * 1200 + "<br>\nc") == "a<br>\n" + "b" * 1200 + "<br>\nc"
    assert compact_html("<pre>\na\nb</pre>") == "<pre>\na\nb</pre>", "line ends in <pre> are content"


@pytest.mark.parametrize("name, value", [
    ("To", "a@ville.fr"),
    ("To", ", ".join(f"agent.{i}@mairie-saint-andre-les-vergers.example.fr" for i in range(5))),  # folded
    ("To", "Jean Dupont <j@ville.fr>"), ("To", "élu@ville.fr"), ("Reply-To", "atlas+r5j-abc@cncd.example.fr"),
    ("Message-ID", "<179575128467.8379.1469684213@cncd.example.fr>"),
])
def test_headers_set_as_they_are_write_what_the_standard_policy_writes(name, value):
    from mailbot.outbound.render import MAIL_POLICY, _set_plain, header_as_set

    ours, standard = EmailMessage(policy=MAIL_POLICY), EmailMessage(policy=policy.default)
    _set_plain(ours, name, value)
    standard[name] = value
    assert ours.as_bytes() == standard.as_bytes()
    assert str(ours[name]) == str(standard[name]) == header_as_set(ours, name.upper())
    assert header_as_set(ours, "Cc") is None


@pytest.mark.parametrize("text", ["Ligne 1\nLigne 2\n", "sans fin de ligne", "", "é" * 1200 + "\n",
                                  "From le début\n.point\n"])
@pytest.mark.parametrize("payload", ["", "brut\r\nfin CRLF\rCR seul\n"])
def test_message_bytes_are_those_of_as_bytes(text, payload):
    from mailbot.outbound.render import MAIL_POLICY, message_bytes

    for message_policy in (MAIL_POLICY, policy.default, policy.SMTP):
        message = EmailMessage(policy=message_policy)
        message["Subject"] = "Fiche"
        message.set_content(text, charset="utf-8", cte=transfer_encoding(text))
        message.add_alternative(f"<p>{text}</p>", subtype="html")
        if payload:
            extra = EmailMessage(policy=message_policy)
            extra.set_payload(payload)  # raw line ends of every kind, written as they come by the standard one
            message.attach(extra)
        message.preamble = "Preambule\r\n" if payload else None
        assert message_bytes(message) == message.as_bytes()


def test_a_text_holding_our_boundary_gets_a_boundary_of_its_own(tmp_path):
    from mailbot.outbound.render import MIME_BOUNDARY, build_message, make_environment

    for name, source in (("t.subject.j2", "Objet"), ("t.txt.j2", "{{ body }}\n"), ("t.html.j2", "<p>{{ body }}</p>")):
        (tmp_path / name).write_text(source, encoding="utf-8")
    env = make_environment(tmp_path)
    sent = {}
    for body in ("Bonjour", f"Titre : --{MIME_BOUNDARY}--"):
        raw = build_message(env, "t", {"body": body}, from_address="atlas@cncd.example.fr", to=["a@ville.fr"],
                            message_id="<1@cncd.example.fr>").as_bytes()
        message = parse(raw)
        assert message.get_body(("plain",)).get_content() == body + "\n"
        assert len(list(message.iter_parts())) == 2
        sent[body] = message.get_boundary()
    assert sent["Bonjour"] == MIME_BOUNDARY and sent[f"Titre : --{MIME_BOUNDARY}--"] != MIME_BOUNDARY


def test_summary_bytes_are_those_of_the_standard_policy(atlas, Session, db_url, monkeypatch):
    """The header caches of mailbot.outbound.render change the time a summary takes, not one byte of it."""
    config = make_config(db_url)
    render_campaign(atlas, Session, config, "c2012", limit=3)
    with Session() as session:
        for outbound in session.scalars(select(OutboundMessage)):
            ours = parse(outbound.raw)
            boundary = ours.get_boundary()
            text = ours.get_body(("plain",)).get_content()
            html_part = ours.get_body(("html",)).get_content()
            standard = EmailMessage(policy=policy.default)
            for name in ("From", "To", "Subject", "Date", "Message-ID", "Reply-To", "Auto-Submitted", "X-Mailer"):
                standard[name] = str(ours[name])
            standard.set_content(text, subtype="plain", charset="utf-8", cte="8bit")
            standard.add_alternative(html_part, subtype="html", charset="utf-8", cte="8bit")
            standard.set_boundary(boundary)
            assert standard.as_bytes() == outbound.raw


def test_token_in_reply_to_and_body_verifies_and_a_changed_character_fails(atlas, Session, db_url):
    config = make_config(db_url)
    render_campaign(atlas, Session, config, "c2012", limit=1)
    with Session() as session:
        outbound = session.scalar(select(OutboundMessage))
        coll = session.get(Collectivite, outbound.collectivite_id)
    message = parse(outbound.raw)
    [from_reply_to] = find_tokens(str(message["Reply-To"]))
    [from_body] = find_tokens(message.get_body(("plain",)).get_content())
    assert from_reply_to == from_body and from_body.message_id == outbound.id
    assert str(message["Reply-To"]).startswith("atlas+r")
    assert verify(SECRET, from_body, "c2012", coll.code)
    token = outbound.token
    tampered = token[:-1] + ("a" if token[-1] != "a" else "b")
    [bad] = find_tokens(tampered)
    assert not verify(SECRET, bad, "c2012", coll.code)


def test_dry_run_writes_eml_files_and_stores_nothing(atlas, db_url, tmp_path, Session):
    out = tmp_path / "eml"
    env = {"MAILBOT_DB": db_url, "MAILBOT_SECRET": SECRET}
    result = CliRunner().invoke(main, ["campaign", "send", "c2012", "--limit", "3", "--dry-run", str(out)], env=env)
    assert result.exit_code == 0, result.output
    files = sorted(out.glob("*.eml"))
    assert len(files) == 3
    assert all(parse(f.read_bytes())["Subject"].startswith("[Atlas 2012]") for f in files)
    with Session() as session:
        assert session.scalar(select(func.count(OutboundMessage.id))) == 0
        assert session.scalar(select(func.count(CampaignTarget.id)).where(CampaignTarget.summary_id.is_not(None))) == 0


def expected_envelopes(Session) -> Counter:
    with Session() as session:
        rows = session.execute(
            select(Collectivite.code, Contact.email)
            .join(Contact, Contact.collectivite_id == Collectivite.id)
            .where(Collectivite.in_atlas.is_(True), Contact.email.is_not(None), Contact.email_state == "ok")
        ).all()
    return Counter((code, email.lower()) for code, email in {(c, e) for c, e in rows})


def received_envelopes(handler) -> Counter:
    counts = Counter()
    for message in handler.messages:
        subject = parse(message.content)["Subject"]
        code = subject.rsplit("(", 1)[1].rstrip(")")
        counts.update((code, recipient.lower()) for recipient in message.rcpt_tos)
    return counts


def test_send_reaches_each_reachable_collectivite_once_and_status_counts(atlas, Session, db_url, sink):
    controller, handler = sink
    config = make_config(db_url, controller.port)
    report = render_campaign(atlas, Session, config, "c2012")
    deliver_pending(atlas, config)
    assert received_envelopes(handler) == expected_envelopes(Session)
    # a second run sends nothing more
    render_campaign(atlas, Session, config, "c2012")
    deliver_pending(atlas, config)
    assert received_envelopes(handler) == expected_envelopes(Session)
    with Session() as session:
        status = campaign_status(session, get_campaign(session, "c2012"))["France"]
        total = session.scalar(select(func.count(Collectivite.id)).where(Collectivite.in_atlas.is_(True)))
    assert status["collectivites"] == total
    assert status["sent"] == report.rendered and status["unreachable"] == report.unreachable
    assert status["sent"] + status["unreachable"] == total
    with Session() as session:
        by_dep = campaign_status(session, get_campaign(session, "c2012"), by="departement")
    assert sum(line["sent"] for line in by_dep.values()) == status["sent"]


def test_killed_sender_restarted_sends_exactly_one_message_per_recipient(atlas, Session, db_url, sink, tmp_path):
    controller, handler = sink
    env = {**os.environ, "MAILBOT_DB": db_url, "MAILBOT_SMTP": f"smtp://127.0.0.1:{controller.port}",
           "MAILBOT_SECRET": SECRET, "MAILBOT_RATE_LIMIT": "40"}
    command = [sys.executable, "-m", "mailbot", "campaign", "send", "c2012", "--quiet"]
    proc = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while len(handler.messages) < 10 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    sent_before_restart = len(handler.messages)
    assert 0 < sent_before_restart < sum(expected_envelopes(Session).values())
    env.pop("MAILBOT_RATE_LIMIT")
    rerun = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr.decode()
    received, expected = received_envelopes(handler), expected_envelopes(Session)
    assert set(received) == set(expected)  # nobody missed
    # a second copy only where the kill fell between a final dot and its recorded 250: counted uncertain
    with Session() as session:
        uncertain = {(code, email.lower()) for code, email in session.execute(
            select(Collectivite.code, Delivery.recipient).join(OutboundMessage, Delivery.outbound_id == OutboundMessage.id)
            .join(Collectivite, OutboundMessage.collectivite_id == Collectivite.id).where(Delivery.uncertain.is_(True)))}
    assert {key for key, n in received.items() if n > 1} <= uncertain


def test_reminders_skip_repliers_respect_spacing_and_maximum(atlas, Session, db_url, sink):
    controller, handler = sink
    config = make_config(db_url, controller.port)
    render_campaign(atlas, Session, config, "c2012")
    deliver_pending(atlas, config)
    with Session.begin() as session:
        targets = list(session.scalars(select(CampaignTarget).where(CampaignTarget.summary_id.is_not(None))
                                       .order_by(CampaignTarget.id)))
        targets[0].replied_at = datetime.now(timezone.utc)
        targets[1].confirmed_at = datetime.now(timezone.utc)
        # a summary the relay has not taken yet (deferred): nobody has it, no reminder of it
        session.execute(update(Delivery).where(Delivery.outbound_id == targets[2].summary_id)
                        .values(state="deferred", sent_at=None))
        silent = len(targets) - 3
        answered = {targets[0].collectivite_id, targets[1].collectivite_id, targets[2].collectivite_id}
    later = datetime.now(timezone.utc) + timedelta(days=15)
    # too early: nothing
    assert remind_campaign(atlas, Session, config, "c2012", after=timedelta(days=14)).reminded == 0
    first = remind_campaign(atlas, Session, config, "c2012", after=timedelta(days=14), now=later)
    assert first.reminded == silent
    again = remind_campaign(atlas, Session, config, "c2012", after=timedelta(days=14), now=later + timedelta(days=1))
    assert again.reminded == 0 and again.skipped_recent == silent
    for week in range(1, 6):
        remind_campaign(atlas, Session, config, "c2012", after=timedelta(days=14), now=later + timedelta(days=8 * week))
    with Session() as session:
        logs = list(session.scalars(select(ReminderLog)))
        per_target = Counter(log.collectivite_id for log in logs)
        reminder = session.scalar(select(OutboundMessage).where(OutboundMessage.kind == "reminder")
                                  .order_by(OutboundMessage.id).limit(1))
    assert not answered & set(per_target)
    assert max(per_target.values()) == 3  # rules: max_count
    text = parse(reminder.raw).get_body(("plain",)).get_content()
    assert "rappel n° 1" in text and "Il manque encore" in text
    assert all(log.missing is not None for log in logs)


def test_an_address_the_relay_refused_gets_no_reminder_the_others_do(atlas, Session, db_url, sink):
    controller, handler = sink
    config = make_config(db_url, controller.port)
    with Session() as session:
        coll = next(c for c in session.scalars(select(Collectivite).where(Collectivite.in_atlas.is_(True))
                                                .order_by(Collectivite.id))
                    if len({k.email for k in c.contacts if k.email and k.email_state == "ok"}) >= 2)
        code = coll.code
        refused, *others = sorted({k.email for k in coll.contacts if k.email and k.email_state == "ok"})
    handler.refuse(refused, "550 5.1.1 No such user")
    render_campaign(atlas, Session, config, "c2012", only=[code])
    assert deliver_pending(atlas, config).failed == 1
    before = len(handler.messages)
    later = datetime.now(timezone.utc) + timedelta(days=15)
    assert remind_campaign(atlas, Session, config, "c2012", after=timedelta(days=14), now=later).reminded == 1
    deliver_pending(atlas, config)
    [reminder] = handler.messages[before:]
    assert sorted(reminder.rcpt_tos) == sorted(others)
    with Session() as session:
        assert session.scalar(select(Contact.email_state).where(Contact.email == refused)) == "bouncing"


def test_cli_errors_are_one_line(atlas, db_url):
    env = {"MAILBOT_DB": db_url}
    result = CliRunner().invoke(main, ["campaign", "send", "nope"], env=env)
    assert result.exit_code != 0 and "campagne inconnue « nope »" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(main, ["campaign", "send", "c2012", "--only", "COM-99999"], env=env)
    assert result.exit_code != 0 and "code(s) de collectivité inconnu(s) : COM-99999" in result.output
    result = CliRunner().invoke(main, ["campaign", "create", "c2012", "--deadline", "2012-06-30", "--allow-past"],
                                env=env)
    assert result.exit_code != 0 and "une campagne nommée « c2012 » existe déjà" in result.output
    result = CliRunner().invoke(main, ["campaign", "create", "x", "--deadline", "demain?"], env=env)
    assert result.exit_code != 0 and "date illisible « demain? »" in result.output


def test_large_campaign_renders_in_worker_processes_while_delivering(atlas, Session, db_url, sink, monkeypatch):
    """The path a national campaign takes (worker processes, delivery alongside), on the test Atlas."""
    import mailbot.outbound.render_pool
    from mailbot.outbound.campaign import send_campaign

    monkeypatch.setattr(mailbot.outbound.render_pool, "POOL_MIN_SUMMARIES", 1)
    monkeypatch.setattr("mailbot.outbound.campaign.RENDER_BATCH", 7)  # several batches in flight at once
    monkeypatch.setattr("mailbot.outbound.campaign.FIRST_BATCHES", (3, 5))  # the first one rendered here, in-process
    controller, handler = sink
    config = load_config(environ={"MAILBOT_DB": db_url, "MAILBOT_SMTP": f"smtp://127.0.0.1:{controller.port}",
                                  "MAILBOT_SECRET": SECRET, "MAILBOT_RENDER_PROCESSES": "2"})
    report = send_campaign(atlas, Session, config, "c2012")
    assert report.render.rendered > 3 + 5 + 7 and report.failed == report.deferred == 0
    assert received_envelopes(handler) == expected_envelopes(Session)
    with Session() as session:
        rows = session.execute(
            select(OutboundMessage.id, OutboundMessage.raw, Collectivite.code, Snapshot.id)
            .join(Collectivite, OutboundMessage.collectivite_id == Collectivite.id)
            .join(Snapshot, Snapshot.outbound_id == OutboundMessage.id)
        ).all()
        summaries = session.scalar(select(func.count(CampaignTarget.id)).where(CampaignTarget.summary_id.is_not(None)))
    assert len(rows) == summaries == report.render.rendered
    for outbound_id, raw, code, _snapshot in rows:
        [token] = find_tokens(parse(raw).get_body(("plain",)).get_content())
        assert token.message_id == outbound_id and verify(SECRET, token, "c2012", code)
    # nothing left: a second send renders and sends nothing
    again = send_campaign(atlas, Session, config, "c2012")
    assert again.render.rendered == 0 and again.sent == 0
    assert received_envelopes(handler) == expected_envelopes(Session)


def test_batch_whose_ids_were_taken_meanwhile_is_rendered_again(atlas, Session, db_url):
    """SQLite hands out outbound ids before rendering; another writer may take one first."""
    from mailbot.outbound.campaign import _RenderContext, _store_batch, campaign_rules, pending_targets
    from mailbot.outbound.render_pool import CampaignInfo, RenderSetup
    from mailbot.outbound.summary import reference_lists
    from mailbot.outbound.render import Sender

    config = make_config(db_url)
    render_campaign(atlas, Session, config, "c2012", limit=1)
    with Session() as session:
        campaign = get_campaign(session, "c2012")
        batch = pending_targets(session, campaign, None, 5)
        taken = session.scalar(select(func.max(OutboundMessage.id)))
        setup = RenderSetup(SECRET, Sender(config.from_address), CampaignInfo.of(campaign), campaign_rules(campaign),
                            reference_lists(session))
    done = _store_batch(_RenderContext(db_url, setup, Session), batch, list(range(taken, taken + 5)))
    assert done.rendered + done.unreachable == 5 and taken not in done.outbound_ids
    with Session() as session:
        for outbound in session.scalars(select(OutboundMessage).where(OutboundMessage.id.in_(done.outbound_ids))):
            [token] = find_tokens(outbound.token)
            assert token.message_id == outbound.id


def test_render_batches_start_small_then_take_the_full_size():
    from mailbot.outbound.campaign import FIRST_BATCHES, RENDER_BATCH, render_batches

    ids = list(range(1000))
    batches = render_batches(ids)
    assert [len(b) for b in batches[:len(FIRST_BATCHES)]] == list(FIRST_BATCHES)
    assert all(len(b) == RENDER_BATCH for b in batches[len(FIRST_BATCHES):-1])
    assert [i for b in batches for i in b] == ids
    assert render_batches([1, 2]) == [[1, 2]] and render_batches([]) == []
