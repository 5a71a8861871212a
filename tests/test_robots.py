"""Robots (#16, point 3): out-of-office answers in the shapes French and foreign servers write, with
or without `Auto-Submitted`; non-delivery reports recognised by their structure whatever the sender
and even on a token address; robots never create sets, never confirm, never get a summary; and a
summary goes at most once a day to an address, whatever asks for it."""
from __future__ import annotations


import pytest
from sqlalchemy import select

from tests.inbound_support import BOT, FIXTURES, SECRET, mail, make_config, send_form
from tests.test_parse import snapshot
from mailbot.inbound.classify import Envelope, classify
from mailbot.inbound.queue import Arrival, process_pending, store_arrival
from mailbot.tokens import make_token
from store.campaign_models import CampaignTarget, OutboundMessage, Snapshot
from store.db import session_factory
from store.inbound_models import InboundMessage
from store.review_models import ChangeSet

TOKEN = make_token(SECRET, "c2012", "COM-35238", 42)
TOKEN_ADDRESS = f"atlas+{TOKEN}@cncd.example.fr"

# Shapes without Auto-Submitted (origins in tests/fixtures/autoreplies/README.md)
WITHOUT_AUTO_SUBMITTED = [
    "outlook_rule_reply_quoting_fr.eml", "sfr_webmail_absent_e.eml", "zimbra_absente_jusqu.eml",
    "orange_message_automatique_absence.eml", "postfix_vacation_absence_bracket.eml",
    "exchange_abwesenheit_de.eml", "webmail_fuera_de_oficina_es.eml", "webmail_fuori_sede_it.eml",
    "gmail_filter_canned_response.eml", "x_autorespond_header.eml", "precedence_auto_reply.eml",
    "exchange_server_rule_loop.eml",
]


def robot(name: str, token: str = TOKEN) -> bytes:
    return (FIXTURES / "autoreplies" / name).read_bytes().replace(b"TOKEN", token.encode())


def run(raw: bytes, sender: str = "agent@ville.fr", recipients: tuple[str, ...] = (TOKEN_ADDRESS,)):
    return classify(raw, Envelope(sender, recipients), our_address=BOT, secret=SECRET)


@pytest.mark.parametrize("name", WITHOUT_AUTO_SUBMITTED)
def test_out_of_office_without_auto_submitted_is_an_autoreply(name):
    raw = robot(name)
    assert b"Auto-Submitted" not in raw
    result = run(raw)
    assert result.kind == "autoreply", (name, result.reason)
    assert result.details["auto"] is True and result.details["signal"]


@pytest.mark.parametrize("subject", [
    "Absent(e) du bureau : Marie Dupont", "Absente jusqu'au 16 juillet", "Message automatique - absence",
    "[Absence] Service des relations internationales", "RE: Absent du bureau", "Abwesenheitsnotiz",
    "Respuesta automática: Atlas", "Risposta automatica", "Fuori sede fino al 3 settembre",
    "Automatisch antwoord: Atlas", "Afwezig tot 3 september", "Resposta automática: Atlas",
])
def test_absence_subjects(subject):
    assert run(mail(sender="agent@ville.fr", to=TOKEN_ADDRESS, subject=subject)).kind == "autoreply"


@pytest.mark.parametrize("body", [
    "Ik ben afwezig tot en met 10 september en heb beperkt toegang tot mijn e-mail.",
    "Goedendag,\nIk ben momenteel niet op kantoor. Uw e-mail wordt niet doorgestuurd.",
    "Estou ausente até 10 de setembro, com acesso limitado ao correio eletrónico.",
])
def test_dutch_and_portuguese_absence_openings_under_a_reply_subject(body):
    assert run(mail(sender="agent@ville.fr", to=TOKEN_ADDRESS, subject="Re: [Atlas 2012] Mise à jour",
                    body=body)).kind == "autoreply"


@pytest.mark.parametrize("subject, body", [
    ("Re: [Atlas 2012] Mise à jour", "RAS\n\nCordialement,\nMarie"),
    ("Absence de modification", "Bonjour,\nrien à signaler pour notre fiche.\n"),
    ("Re: [Atlas 2012] Mise à jour", "Bonjour,\nJe serai absente la semaine prochaine : voici nos corrections.\n"),
    ("Re: Atlas", "Bonjour,\nVoici les modifications.\n\nNB : notre chargée de mission est absente jusqu'en septembre.\n"
                  "Merci de m'écrire à moi.\n\n\n\n\n\nCordialement"),
])
def test_people_mentioning_absence_are_not_robots(subject, body):
    assert run(mail(sender="agent@ville.fr", to=TOKEN_ADDRESS, subject=subject, body=body)).kind == "reply"


# --- non-delivery reports, by structure ---------------------------------------------------------------------

def _disguised(name: str) -> bytes:
    """A real report (tests/fixtures/bounces) as an ordinary mailbox would relay it: From an ordinary
    address, an ordinary subject, to our token address."""
    lines = (FIXTURES / "bounces" / name).read_bytes().split(b"\n")
    head_end = lines.index(b"") if b"" in lines else lines.index(b"\r")
    out = []
    for line in lines[:head_end]:
        lowered = line.lower()
        if lowered.startswith((b"from:", b"subject:", b"to:", b"auto-submitted:")):
            continue
        out.append(line)
    out[0:0] = [b"From: Service informatique <informatique@ville-rennes.fr>",
                b"Subject: Votre message du 12 juin", f"To: {TOKEN_ADDRESS}".encode()]
    return b"\n".join(out + lines[head_end:])


@pytest.mark.parametrize("name, recipient", [
    ("qmail_01.eml", "userx@example.de"), ("postfix_01.eml", "xxxxx@local.ie"),
    ("microsoft_01.eml", "userx@example.com"), ("dsn_01.eml", "userx@example.com"),
])
def test_real_report_from_an_ordinary_sender_to_a_token_address_is_a_bounce(name, recipient):
    result = run(_disguised(name), sender="informatique@ville-rennes.fr")
    assert result.kind == "bounce", result.reason
    assert recipient in result.details["permanent"] + result.details["temporary"]


def test_delivery_report_wrapped_in_a_mixed_message_is_a_bounce():
    raw = (b"From: Agent <agent@ville.fr>\r\nTo: " + TOKEN_ADDRESS.encode() + b"\r\nSubject: Re: Atlas\r\n"
           b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"OUT\"\r\n\r\n"
           b"--OUT\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"IN\"\r\n\r\n"
           b"--IN\r\nContent-Type: text/plain\r\n\r\nDelivery has failed.\r\n"
           b"--IN\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.ville.fr\r\n\r\n"
           b"Final-Recipient: rfc822; gone@ville.fr\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
           b"--IN--\r\n--OUT--\r\n")
    result = run(raw)
    assert result.kind == "bounce" and result.details["permanent"] == ["gone@ville.fr"]


# --- through the pipeline, on SQLite and PostgreSQL -----------------------------------------------------------

def _deliver(engine, config, raw: bytes, sender: str, to: str) -> InboundMessage:
    stored = store_arrival(engine, Arrival(raw, "smtp", sender, (to,)))
    process_pending(engine, config)
    with session_factory(engine)() as session:
        return session.get(InboundMessage, stored.inbound_id)


def test_robots_never_create_sets_confirm_or_get_an_answer(engine, Session, db_url):
    config = make_config(db_url)
    with Session.begin() as session:
        form = send_form(session)
    for name in WITHOUT_AUTO_SUBMITTED:
        row = _deliver(engine, config, robot(name, form.token), form.contact_email, form.reply_to)
        assert (row.kind, row.collectivite_id, row.response_outbound_id) == ("autoreply", None, None), name
    with Session() as session:
        assert session.scalars(select(ChangeSet.id)).all() == []
        assert session.scalar(select(CampaignTarget.confirmed_at)) is None
        assert session.scalars(select(OutboundMessage.id).where(OutboundMessage.kind != "summary")).all() == []


def test_a_summary_goes_at_most_once_a_day_to_an_address(engine, Session, db_url):
    config = make_config(db_url)
    with Session.begin() as session:
        form = send_form(session)
    first = _deliver(engine, config, mail(sender=form.contact_email, subject="FICHE"), form.contact_email, BOT)
    again = _deliver(engine, config, mail(sender=form.contact_email, subject="Fiche"), form.contact_email, BOT)
    assert first.response_outbound_id is not None
    assert again.response_outbound_id is None and "déjà envoyée" in again.details["answer"]


def test_a_person_who_writes_they_are_away_above_an_edited_form_is_read(engine, Session, db_url):
    """The wording alone (no robot header) does not outweigh a form the sender edited: robots quote
    our form unchanged, people change it."""
    config = make_config(db_url)
    with Session.begin() as session:
        form = send_form(session)
        session.add(Snapshot(outbound_id=form.outbound_id, collectivite_id=form.collectivite_id, data=snapshot()))
    opening = "Je suis absente jusqu'au 15 juin, voici tout de même nos corrections.\n\n"
    block = f"#### DEBUT DU FORMULAIRE ATLAS {form.token} ####\n#### CT-AAAA1 ####\n{{line}}#### FIN DU FORMULAIRE ATLAS ####\n"
    edited = _deliver(engine, config, mail(sender=form.contact_email, to=form.reply_to, subject="Re: Atlas",
                                           body=opening + block.format(line="Titre* : Maire adjointe\n")),
                      form.contact_email, form.reply_to)
    robot_like = _deliver(engine, config, mail(sender=form.contact_email, to=form.reply_to, subject="Re: Atlas 2",
                                               body=opening + block.format(line="")),
                          form.contact_email, form.reply_to)
    assert edited.kind == "reply" and "début de réponse automatique" in edited.reason
    assert robot_like.kind == "autoreply"
    with Session() as session:
        [changeset] = session.scalars(select(ChangeSet)).all()
        assert [(c.field, c.new) for c in changeset.changes] == [("title", "Maire adjointe")]
        assert session.scalar(select(CampaignTarget.confirmed_at)) is None
