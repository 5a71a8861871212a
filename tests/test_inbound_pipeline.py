"""From a stored message to its effects, on SQLite and PostgreSQL: trust, bounces, loop safety,
rate limits, the queue's exactly-once claims, and the inbox commands."""
from __future__ import annotations

import threading
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from tests.inbound_support import BOT, SECRET, fixture, mail, make_config, outbound_count, send_form
from mailbot.inbound import route as pipeline
from mailbot.inbound.tie import find_form
from mailbot.replies.answer import answer_refusal
from mailbot.inbound.classify import Classification
from mailbot.cli.commands import main
from mailbot.outbound.outbox import Recipient, enqueue, message_verp_address, new_message_id
from mailbot.inbound import attachments as attachments_module
from mailbot.inbound.queue import (Arrival, claim, process_claimed, process_pending, release_orphaned, reprocess,
                                   store_arrival)
from mailbot.replies import identify as identify_module, tokenless as tokenless_module
from mailbot.replies.documents import attachments_of
from store.db import session_factory
from tests.lease_support import gone_owner
from mailbot.tokens import make_token
from store.campaign_models import CampaignTarget, Delivery, OutboundMessage
from store.inbound_models import AnswerLog, InboundMessage
from store.models import Collectivite, Contact, new_ref


@pytest.fixture(autouse=True)
def reply_route_hands_over(monkeypatch):
    """These tests stop where a tied reply is handed to the reply route (the parser, tested on its own)."""
    monkeypatch.setitem(pipeline.ROUTES, "reply", pipeline.mark_reply_pending)


@pytest.fixture
def config(db_url):
    return make_config(db_url)


@pytest.fixture
def form(Session):
    with Session.begin() as session:
        return send_form(session)


def deliver(engine, config, raw: bytes, *, sender: str, to: tuple[str, ...] = (BOT,)) -> int:
    """Store as the SMTP edge would, then process the queue; returns the inbound id."""
    stored = store_arrival(engine, Arrival(raw, "smtp", sender, to))
    process_pending(engine, config)
    return stored.inbound_id


def inbound(Session, inbound_id: int) -> InboundMessage:
    with Session() as session:
        return session.get(InboundMessage, inbound_id)


def answers(Session) -> list:
    with Session() as session:
        return [BytesParser(policy=policy.default).parsebytes(raw)
                for raw in session.scalars(select(OutboundMessage.raw).where(OutboundMessage.kind != "summary")
                                           .order_by(OutboundMessage.id))]


# --- trust -----------------------------------------------------------------------------------------------

def test_reply_from_a_known_contact_is_tied_trusted_and_pending(engine, Session, config, form):
    raw = mail(sender=form.contact_email, to=form.reply_to, subject="Re: [Atlas 2012]",
               body=f"#### DEBUT DU FORMULAIRE ATLAS {form.token} ####\nTitre* : Adjointe\n")
    row = inbound(Session, deliver(engine, config, raw, sender=form.contact_email.upper(), to=(form.reply_to,)))
    assert (row.state, row.kind, row.parse_state) == ("done", "reply", "pending")
    assert (row.collectivite_id, row.answered_outbound_id, row.campaign_id) == (form.collectivite_id, form.outbound_id, form.campaign_id)
    assert row.trusted is True and row.flag is None
    with Session() as session:
        target = session.scalar(select(CampaignTarget).where(CampaignTarget.collectivite_id == form.collectivite_id))
        assert target.replied_at is not None
    assert answers(Session) == []


def test_reply_found_only_by_thread_headers_uses_the_token_we_stored(engine, Session, config, form):
    raw = mail(sender=form.contact_email, subject="Re: votre message", in_reply_to=form.message_id, body="RAS\n")
    row = inbound(Session, deliver(engine, config, raw, sender=form.contact_email))
    assert (row.kind, row.answered_outbound_id, row.trusted) == ("reply", form.outbound_id, True)


def test_unknown_sender_with_a_valid_token_is_accepted_but_flagged(engine, Session, config, form):
    raw = mail(sender="stagiaire@rennes.fr", to=form.reply_to, body="RAS\n")
    row = inbound(Session, deliver(engine, config, raw, sender="stagiaire@rennes.fr", to=(form.reply_to,)))
    assert (row.kind, row.collectivite_id, row.trusted, row.flag) == ("reply", form.collectivite_id, False, "expéditeur non reconnu")


def test_forged_token_changes_nothing_and_gets_one_french_explanation(engine, Session, config, form):
    forged = form.token[:-1] + ("a" if form.token[-1] != "a" else "b")
    for _ in range(2):
        raw = mail(sender=form.contact_email, to=f"atlas+{forged}@cncd.example.fr", body="Titre* : Pirate\n")
        row = inbound(Session, deliver(engine, config, raw, sender=form.contact_email, to=(f"atlas+{forged}@cncd.example.fr",)))
        assert (row.kind, row.collectivite_id, row.parse_state) == ("invalid_token", None, None)
    sent = answers(Session)
    assert len(sent) == 1, "one explanation per address and day, not one per message"
    assert sent[0]["Auto-Submitted"] == "auto-replied"
    assert sent[0]["In-Reply-To"] and sent[0]["References"]
    assert "n'est pas valide" in sent[0].get_body(("plain",)).get_content()
    with Session() as session:
        target = session.scalar(select(CampaignTarget).where(CampaignTarget.collectivite_id == form.collectivite_id))
        assert target.replied_at is None


def test_token_of_one_collectivite_cannot_reach_another(engine, Session, config, form):
    with Session.begin() as session:
        other = send_form(session, code="COM-29232", name="Quimper", email="contact@quimper.bzh")
    # A's signature on B's form number: the MAC no longer matches.
    mac_of_a = form.token.split("-")[1]
    swapped = make_token(SECRET, "c2012", other.code, other.outbound_id).split("-")[0] + "-" + mac_of_a
    raw = mail(sender=form.contact_email, to=f"atlas+{swapped}@cncd.example.fr")
    row = inbound(Session, deliver(engine, config, raw, sender=form.contact_email, to=(f"atlas+{swapped}@cncd.example.fr",)))
    assert (row.kind, row.collectivite_id) == ("invalid_token", None)


def test_forms_of_two_collectivites_are_a_reply_each_form_tied_by_its_own_token(engine, Session, config, form):
    """One agent answering for two collectivités: the message is a reply, tied to the first form only as
    its envelope (mailbot.replies.understand ties each form through its own token, tested end to end). The
    route marks neither target replied: each form marks its own once understood."""
    with Session.begin() as session:
        other = send_form(session, code="COM-29232", name="Quimper", email="contact@quimper.bzh")
    body = (f"#### DEBUT DU FORMULAIRE ATLAS {form.token} ####\n#### FIN DU FORMULAIRE ATLAS ####\n"
            f"#### DEBUT DU FORMULAIRE ATLAS {other.token} ####\n#### FIN DU FORMULAIRE ATLAS ####\n")
    raw = mail(sender=form.contact_email, to=form.reply_to, body=body)
    row = inbound(Session, deliver(engine, config, raw, sender=form.contact_email, to=(form.reply_to,)))
    assert (row.kind, row.collectivite_id, row.parse_state) == ("reply", form.collectivite_id, "pending")
    with Session() as session:
        assert session.scalars(select(CampaignTarget.replied_at)).all() == [None, None]
        # A command names one collectivité: tokens of two remain a mismatch there.
        details = {"body_tokens": row.details["body_tokens"]}
        assert find_form(session, config, details).problem == "mismatch"
        assert find_form(session, config, details, several=True).several is True


def test_references_of_two_collectivites_without_a_form_change_nobody(engine, Session, config, form, monkeypatch):
    """Without a form, nothing says which collectivité the words are about: « RAS » sent to A's address
    in B's thread confirms neither, and gets the explanation."""
    monkeypatch.setitem(pipeline.ROUTES, "reply", pipeline.understand)
    with Session.begin() as session:
        other = send_form(session, code="COM-29232", name="Quimper", email="contact@quimper.bzh")
    raw = mail(sender=form.contact_email, to=form.reply_to, in_reply_to=other.message_id, body="RAS\n")
    row = inbound(Session, deliver(engine, config, raw, sender=form.contact_email, to=(form.reply_to,)))
    assert (row.kind, row.details["problem"], row.collectivite_id) == ("invalid_token", "mismatch", None)
    with Session() as session:
        assert session.scalars(select(CampaignTarget.confirmed_at)).all() == [None, None]
        assert session.scalars(select(CampaignTarget.replied_at)).all() == [None, None]
    [sent] = answers(Session)
    assert "plusieurs collectivités" in sent.get_body(("plain",)).get_content()


def test_token_of_a_closed_campaign_is_expired(engine, Session, config):
    with Session.begin() as session:
        old = send_form(session, campaign_name="c2010", closed=True)
    row = inbound(Session, deliver(engine, config, mail(sender=old.contact_email, to=old.reply_to),
                                   sender=old.contact_email, to=(old.reply_to,)))
    assert (row.kind, row.details["problem"]) == ("invalid_token", "expired")
    assert "close" in answers(Session)[0].get_body(("plain",)).get_content()


def test_unknown_mail_from_a_stranger_is_kept_and_not_answered(engine, Session, config, form):
    row = inbound(Session, deliver(engine, config, mail(sender="inconnu@exemple.com", body="Bonjour"),
                                   sender="inconnu@exemple.com"))
    assert row.kind == "unknown" and row.state == "done"
    assert answers(Session) == []
    row = inbound(Session, deliver(engine, config, mail(sender=form.contact_email, body="Nos modifs : ..."),
                                   sender=form.contact_email))
    assert row.kind == "unknown" and answers(Session) == []
    # a known contact gets their form (mailbot.replies.tokenless), with its token, threaded on their message
    assert (row.collectivite_id, row.trusted) == (form.collectivite_id, True)
    with Session() as session:
        summary = session.get(OutboundMessage, row.response_outbound_id)
        assert (summary.kind, summary.recipients) == ("summary", [form.contact_email]) and summary.token


# --- bounces ------------------------------------------------------------------------------------------------

def bounce(form, action: str, status: str) -> bytes:
    return (
        f"From: MAILER-DAEMON@mx.rennes.fr\r\nTo: {form.verp}\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.rennes.fr\r\n\r\n"
        f"Final-Recipient: rfc822; {form.contact_email}\r\nAction: {action}\r\nStatus: {status}\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n\r\n"
        f"--B\r\nContent-Type: message/rfc822\r\n\r\nReply-To: {form.reply_to}\r\n\r\n{form.token}\r\n--B--\r\n"
    ).encode()


def test_permanent_bounce_marks_the_delivery_and_the_contact(engine, Session, config, form):
    row = inbound(Session, deliver(engine, config, bounce(form, "failed", "5.1.1"), sender="", to=(form.verp,)))
    assert (row.kind, row.collectivite_id) == ("bounce", form.collectivite_id)
    with Session() as session:
        delivery = session.get(Delivery, form.delivery_id)
        contact = session.scalar(select(Contact).where(Contact.email == form.contact_email))
        assert delivery.bounced_at is not None and "5.1.1" in delivery.detail
        assert contact.email_state == "bouncing" and contact.email_state_at is not None
        assert "5.1.1" in contact.email_state_reason
    assert answers(Session) == []


def test_delayed_report_is_recorded_but_is_not_a_failure(engine, Session, config, form):
    row = inbound(Session, deliver(engine, config, bounce(form, "delayed", "4.4.1"), sender="", to=(form.verp,)))
    assert (row.kind, row.details["severity"]) == ("bounce", "temporary")
    with Session() as session:
        assert session.get(Delivery, form.delivery_id).bounced_at is None
        assert session.scalar(select(Contact.email_state).where(Contact.email == form.contact_email)) == "ok"


def test_bounce_without_our_signed_return_path_marks_nobody(engine, Session, config, form):
    row = inbound(Session, deliver(engine, config, bounce(form, "failed", "5.1.1"), sender="", to=(BOT,)))
    assert row.kind == "bounce" and "aucune adresse" in row.details["effect"]
    with Session() as session:
        assert session.scalar(select(Contact.email_state).where(Contact.email == form.contact_email)) == "ok"


def summary_to(*addresses: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Message-ID"] = BOT, ", ".join(addresses), new_message_id(BOT)
    msg.set_content("Votre fiche\n")
    return msg


def test_bounce_to_a_message_sent_to_several_marks_only_the_recipient_the_report_names(engine, Session, config):
    with Session.begin() as session:
        form = send_form(session)
        coll = session.get(Collectivite, form.collectivite_id)
        session.add(Contact(ref=new_ref("CT"), collectivite_id=coll.id, role="elu", first_name="Paul",
                            last_name="Martin", title="Maire adjoint", email="paul.martin@rennes.fr"))
        both = enqueue(session, summary_to(form.contact_email, "paul.martin@rennes.fr"),
                       [Recipient(form.contact_email), Recipient("paul.martin@rennes.fr")],
                       kind="summary", campaign_id=form.campaign_id, collectivite_id=coll.id)
        both_id, delivery_ids = both.id, {d.recipient: d.id for d in both.deliveries}
    return_path = message_verp_address(SECRET, BOT, both_id)
    forged = return_path.replace(f"+m-{both_id:x}-", f"+m-{form.outbound_id:x}-")
    # forged: the MAC is another message's (another report, or it would be a duplicate of the next)
    row = inbound(Session, deliver(engine, config, bounce(form, "failed", "5.7.1"), sender="", to=(forged,)))
    assert "aucune adresse" in row.details["effect"]
    row = inbound(Session, deliver(engine, config, bounce(form, "failed", "5.1.1"), sender="", to=(return_path,)))
    assert (row.kind, row.collectivite_id, row.details["outbound_ids"]) == ("bounce", form.collectivite_id, [both_id])
    with Session() as session:
        bounced = {d.recipient: d.bounced_at is not None for d in session.scalars(
            select(Delivery).where(Delivery.id.in_(delivery_ids.values())))}
        states = dict(session.execute(select(Contact.email, Contact.email_state)).all())
    assert bounced == {form.contact_email: True, "paul.martin@rennes.fr": False}
    assert states == {form.contact_email: "bouncing", "paul.martin@rennes.fr": "ok"}
    assert answers(Session) == []


def test_bounce_to_a_message_sent_to_several_that_names_no_recipient_marks_nobody(engine, Session, config):
    with Session.begin() as session:
        form = send_form(session)
        both = enqueue(session, summary_to(form.contact_email, "autre@rennes.fr"),
                       [Recipient(form.contact_email), Recipient("autre@rennes.fr")],
                       kind="summary", campaign_id=form.campaign_id, collectivite_id=form.collectivite_id)
        both_id = both.id
    report = bounce(form, "failed", "5.1.1").replace(form.contact_email.encode(), b"quelquun@ailleurs.fr")
    row = inbound(Session, deliver(engine, config, report, sender="",
                                   to=(message_verp_address(SECRET, BOT, both_id),)))
    assert row.kind == "bounce" and "aucune adresse" in row.details["effect"]
    with Session() as session:
        assert session.scalars(select(Delivery.bounced_at).where(Delivery.outbound_id == both_id)).all() == [None, None]


def test_real_bounces_through_the_pipeline_send_nothing(engine, Session, config, form):
    for name in ("postfix_01.eml", "exim_01.eml", "qmail_01.eml", "sendmail_02.eml", "dsn_01.eml", "dsn_06.eml",
                 "microsoft_01.eml"):
        row = inbound(Session, deliver(engine, config, fixture("bounces", name), sender="", to=(form.verp,)))
        assert row.kind == "bounce", name
    with Session() as session:
        assert outbound_count(session) == 1  # the summary only


# --- loop safety and rate limits ----------------------------------------------------------------------------------

AUTOREPLIES = ["exchange_oof_fr.eml", "exchange2010_oof_en.eml", "gmail_vacation.eml", "thunderbird_template_reply.eml",
               "orange_webmail.eml", "free_zimbra.eml", "laposte_webmail.eml", "ovh_roundcube_sieve.eml",
               "outlook_read_receipt.eml"]


def test_auto_replies_are_recorded_and_never_answered(engine, Session, config, form):
    for name in AUTOREPLIES:
        raw = fixture("autoreplies", name, token=form.token)
        sender = "" if b"Return-Path: <>" in raw else form.contact_email
        row = inbound(Session, deliver(engine, config, raw, sender=sender, to=(form.reply_to,)))
        assert (row.kind, row.parse_state, row.collectivite_id) == ("autoreply", None, None), name
    assert answers(Session) == []


def test_never_answer_our_own_address_lists_or_robots(engine, Session, config):
    own = mail(sender=BOT, subject="AIDE", headers={"X-Mailer": "atlas-mailbot"})
    listed = mail(sender="liste@cites-unies.fr", subject="AIDE", headers={"List-Id": "<coop.cites-unies.fr>"})
    robot = mail(sender="noreply@plateforme.fr", subject="AIDE")
    assert inbound(Session, deliver(engine, config, own, sender=BOT)).kind == "own"
    assert inbound(Session, deliver(engine, config, listed, sender="liste@cites-unies.fr")).kind == "list"
    row = inbound(Session, deliver(engine, config, robot, sender="noreply@plateforme.fr"))
    assert row.kind == "command" and "pas de réponse" in row.details["answer"]
    assert inbound(Session, deliver(engine, config, mail(sender="x@y.fr", subject="AIDE"), sender="")).response_outbound_id is None
    assert answers(Session) == []


def test_help_answer_once_a_day_and_a_cap_on_all_automatic_answers(engine, Session, db_url):
    config = make_config(db_url)
    config.values["max_answers_per_day"] = 2  # the setting to be declared later; MAX_ANSWERS_PER_DAY otherwise
    agent = "agent@mairie-brest.fr"
    first = inbound(Session, deliver(engine, config, mail(sender=agent, subject="AIDE"), sender=agent))
    again = inbound(Session, deliver(engine, config, mail(sender=agent, subject="aide"), sender=agent))
    assert first.response_outbound_id is not None and again.response_outbound_id is None
    assert "déjà envoyée" in again.details["answer"]
    explained = inbound(Session, deliver(engine, config, mail(sender=agent, to="atlas+r1-aaaaaaaaaaaaaaaa@cncd.example.fr"),
                                         sender=agent, to=("atlas+r1-aaaaaaaaaaaaaaaa@cncd.example.fr",)))
    assert explained.kind == "invalid_token" and explained.response_outbound_id is not None
    with Session.begin() as session:  # a third kind of answer today would exceed the cap of 2
        inbound_row = session.get(InboundMessage, explained.id)
        assert answer_refusal(session, config, inbound_row, "summary") == \
            "limite de 2 réponses automatiques par jour atteinte pour cette adresse"
        assert session.scalar(select(AnswerLog.id).where(AnswerLog.address == agent).order_by(AnswerLog.id.desc())) is not None
    help_message = answers(Session)[0]
    assert help_message["Auto-Submitted"] == "auto-replied" and help_message["In-Reply-To"]
    assert "FICHE" in help_message.get_body(("plain",)).get_content()


def test_fiche_resends_the_current_summary_to_a_known_contact(engine, Session, config, form):
    pytest.importorskip("mailbot.outbound.summary", reason="mailbot.outbound.summary (FICHE) is developed separately")
    raw = mail(sender=form.contact_email, subject="FICHE")
    row = inbound(Session, deliver(engine, config, raw, sender=form.contact_email))
    assert (row.kind, row.state, row.error) == ("command", "done", None)
    assert (row.collectivite_id, row.trusted) == (form.collectivite_id, True)
    with Session() as session:
        resent = session.get(OutboundMessage, row.response_outbound_id)
        assert (resent.kind, resent.collectivite_id, resent.recipients) == ("summary", form.collectivite_id, [form.contact_email])
        message = BytesParser(policy=policy.default).parsebytes(resent.raw)
        assert message["Auto-Submitted"] == "auto-replied" and message["In-Reply-To"] == row.message_id


def test_fiche_from_a_stranger_without_token_gets_an_explanation(engine, Session, config, form):
    row = inbound(Session, deliver(engine, config, mail(sender="x@ailleurs.fr", subject="fiche"), sender="x@ailleurs.fr"))
    assert row.kind == "command" and row.details["problem"] == "missing" and row.collectivite_id is None
    assert [m["Subject"] for m in answers(Session)] == ["Re: fiche — message non pris en compte"]


# --- the queue ----------------------------------------------------------------------------------------------------

def test_same_message_twice_is_stored_once(engine, Session, config):
    raw = mail(sender="a@ville.fr", subject="Bonjour")
    first = store_arrival(engine, Arrival(raw, "smtp", "a@ville.fr", (BOT,)))
    # The copy an MTA put in a mailbox: trace headers added, CRLF turned into LF.
    copy = b"Return-Path: <a@ville.fr>\nDelivered-To: atlas@cncd.example.fr\nReceived: from mx\n" + raw.replace(b"\r\n", b"\n")
    second = store_arrival(engine, Arrival(copy, "imap", "a@ville.fr", (BOT,)))
    assert first.inbound_id is not None and second.duplicate
    assert process_pending(engine, config) == 1


def test_a_copy_altered_in_transit_is_marked_duplicate_not_processed_again(engine, Session, config):
    raw = mail(sender="agent@ville.fr", subject="AIDE")
    deliver(engine, config, raw, sender="agent@ville.fr")
    altered = raw.replace(b"\n\n", b"\n\n[Message analyse par antivirus]\n", 1)
    row = inbound(Session, deliver(engine, config, altered, sender="agent@ville.fr"))
    assert row.kind == "duplicate" and len(answers(Session)) == 1


def test_claims_are_exclusive_and_interrupted_claims_come_back(engine, Session, config):
    for index in range(40):
        store_arrival(engine, Arrival(mail(sender=f"a{index}@ville.fr"), "smtp", f"a{index}@ville.fr", (BOT,)))
    claimed: list[list[int]] = []

    def worker():
        while ids := claim(engine, 3):
            claimed.append(ids)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    flat = [i for ids in claimed for i in ids]
    assert len(flat) == len(set(flat)) == 40
    assert release_orphaned(engine) == 0  # their owner (this process) is alive, their lease is not over
    with Session.begin() as session:  # the "crash": a process of this host claimed them and died
        session.execute(update(InboundMessage).values(claimed_by=gone_owner()))
    assert release_orphaned(engine) == 40
    assert process_pending(engine, config) == 40
    with Session() as session:
        assert set(session.scalars(select(InboundMessage.state))) == {"done"}


def test_a_failing_route_records_an_error_and_reprocess_retries_it(engine, Session, config, monkeypatch):
    def broken(session, config, inbound, classification: Classification):
        raise RuntimeError("route en panne")

    monkeypatch.setitem(pipeline.ROUTES, "unknown", broken)
    row = inbound(Session, deliver(engine, config, mail(sender="a@ville.fr"), sender="a@ville.fr"))
    assert row.state == "error" and "route en panne" in row.error
    monkeypatch.setitem(pipeline.ROUTES, "unknown", pipeline.keep_for_review)
    again = reprocess(engine, config, row.id)
    assert (again.state, again.kind, again.error) == ("done", "unknown", None)


def test_message_past_the_limits_is_stored_kept_for_reviewers_and_answered_once(engine, Session, config):
    depth = 100
    raw = b"From: a@ville.fr\r\nSubject: x\r\n" + b"".join(
        b'Content-Type: multipart/mixed; boundary="n%d"\r\n\r\n--n%d\r\n' % (i, i) for i in range(depth)) + b"fin\r\n"
    row = inbound(Session, deliver(engine, config, raw, sender="a@ville.fr"))
    assert (row.state, row.kind) == ("done", "too_complex") and "trop complexe" in row.reason
    assert row.raw == raw and row.response_outbound_id is not None
    again = inbound(Session, deliver(engine, config, raw.replace(b"fin", b"encore"), sender="a@ville.fr"))
    assert again.kind == "too_complex" and again.response_outbound_id is None  # once a day
    assert [m["Subject"] for m in answers(Session)] == ["Re: x — message transmis aux relecteurs"]


# --- inbox commands -------------------------------------------------------------------------------------------------

def test_inbox_list_show_and_reprocess(engine, Session, config, db_url, form):
    first = deliver(engine, config, mail(sender="a@ville.fr", subject="AIDE"), sender="a@ville.fr")
    deliver(engine, config, fixture("bounces", "dsn_06.eml"), sender="", to=(form.verp,))
    runner = CliRunner()
    env = {"MAILBOT_DB": db_url, "MAILBOT_SECRET": SECRET, "MAILBOT_FROM": BOT}
    listed = runner.invoke(main, ["inbox", "list", "--json", "--kind", "bounce"], env=env)
    assert listed.exit_code == 0, listed.output
    assert '"kind": "bounce"' in listed.output and '"kind": "command"' not in listed.output
    shown = runner.invoke(main, ["inbox", "show", str(first)], env=env)
    assert "commande AIDE" in shown.output
    raw = runner.invoke(main, ["inbox", "show", str(first), "--raw"], env=env)
    assert raw.stdout_bytes == inbound(Session, first).raw
    redo = runner.invoke(main, ["inbox", "reprocess", str(first)], env=env)
    assert redo.exit_code == 0 and "traité · commande" in redo.output
    missing = runner.invoke(main, ["inbox", "show", "999999"], env=env)
    assert missing.exit_code == 1 and missing.output.startswith("Erreur : aucun message reçu n° 999999")
    with Session.begin() as session:
        session.execute(update(InboundMessage).where(InboundMessage.id == first).values(state="processing"))
    busy = runner.invoke(main, ["inbox", "reprocess", str(first)], env=env)
    assert busy.exit_code == 1 and "en cours de traitement" in busy.output


# --- CPU work before the write transaction (#16, point 2) ------------------------------------------------------

def test_identification_and_files_are_read_before_the_write_transaction(engine, Session, config, form, monkeypatch):
    """A message without a token naming its collectivité, with a file: matching names against the
    directory and judging the file (the costly parts) happen before the worker takes the write lock,
    so that other senders' messages are not stored behind them."""
    write_lock = threading.Lock()
    seen: list[tuple[str, bool]] = []

    def watch(module, name):
        original = getattr(module, name)

        def spy(*args, **kwargs):
            seen.append((name, write_lock.locked()))
            return original(*args, **kwargs)
        monkeypatch.setattr(module, name, spy)

    for module, name in ((identify_module, "scan_candidates"), (tokenless_module, "scan_candidates"),
                         (attachments_module, "assess")):
        watch(module, name)
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "secretariat@exemple.fr", BOT, "Fiche Atlas"
    message.set_content("Bonjour,\nla Mairie de Rennes souhaite mettre à jour sa fiche de l'Atlas.\n")
    message.add_attachment(b"%PDF-1.4\n" + b"x" * 2000, maintype="application", subtype="pdf", filename="apd.pdf")
    store_arrival(engine, Arrival(message.as_bytes(), "smtp", "secretariat@exemple.fr", (BOT,)))
    [inbound_id] = claim(engine, 1)
    assert process_claimed(session_factory(engine), config, inbound_id, write_lock=write_lock) == "done"
    row = inbound(Session, inbound_id)
    assert (row.kind, row.collectivite_id) == ("unknown", form.collectivite_id)
    with Session() as session:
        assert [a.filename for a in attachments_of(session, inbound_id)] == ["apd.pdf"]
    assert {name for name, _ in seen} == {"scan_candidates", "assess"}
    assert [name for name, locked in seen if locked] == []
