"""Who may confirm, and what the mail servers say of the sender (#16, points 4 and 10), on SQLite and
PostgreSQL: only a trusted contact of the collectivité confirms; the classifier and the parser read
one text; a From that fails DMARC is never trusted nor shown the record; the verdict comes from the
trusted receiving server's Authentication-Results, else from a local DKIM check."""
from __future__ import annotations

import base64
import json

import dkim
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select

from tests.inbound_support import BOT, mail, make_config, send_form
from mailbot.inbound.authenticate import authenticate
from mailbot.cli.commands import main
from mailbot.inbound.queue import Arrival, process_pending, store_arrival
from mailbot.review.decide import approve
from mailbot.review.notify import notify_decided
from store.campaign_models import CampaignTarget, OutboundMessage
from store.inbound_models import InboundMessage
from store.review_models import ChangeSet

MX = "mx.cncd.example.fr"


def deliver(engine, config, raw: bytes, sender: str, to: str, dns=None) -> int:
    inbound_id = store_arrival(engine, Arrival(raw, "smtp", sender, (to,))).inbound_id
    process_pending(engine, config, dns=dns)
    return inbound_id


def confirmed(Session, collectivite_id: int):
    with Session() as session:
        return session.scalar(select(CampaignTarget.confirmed_at).where(CampaignTarget.collectivite_id == collectivite_id))


def answers(Session) -> list[bytes]:
    with Session() as session:
        return list(session.scalars(select(OutboundMessage.raw).where(OutboundMessage.kind != "summary")))


# --- point 4: who may confirm ------------------------------------------------------------------------------

def ras_from_a_stranger(engine, Session, db_url):
    """« RAS » with a valid token, from an address that is no contact: (config, form)."""
    config = make_config(db_url)
    with Session.begin() as session:
        form = send_form(session)
    stranger = "quelquun@ailleurs.fr"
    deliver(engine, config, mail(sender=stranger, to=form.reply_to, subject="Re: Atlas", body="RAS\n"), stranger, form.reply_to)
    return config, form


def test_ras_from_a_stranger_with_a_valid_token_is_a_set_for_reviewers_not_a_confirmation(engine, Session, db_url):
    _, form = ras_from_a_stranger(engine, Session, db_url)
    assert confirmed(Session, form.collectivite_id) is None
    with Session() as session:
        [changeset] = session.scalars(select(ChangeSet)).all()
        assert (changeset.status, changeset.trusted, changeset.collectivite_id) == ("pending", False, form.collectivite_id)
    [ack] = answers(Session)
    assert "confirmée" not in ack.decode("utf-8", "replace")


def test_approving_a_strangers_ras_confirms_the_collectivite(engine, Session, db_url):
    """The reviewer vouches for what the stranger could not: the collectivité counts as confirmed."""
    config, form = ras_from_a_stranger(engine, Session, db_url)
    with Session() as session:
        [changeset_id] = session.scalars(select(ChangeSet.id)).all()
    assert confirmed(Session, form.collectivite_id) is None
    assert approve(Session, config, changeset_id, "Paul Durand").status == "approved"
    assert confirmed(Session, form.collectivite_id) is not None


def test_ras_from_a_known_contact_confirms(engine, Session, db_url):
    config = make_config(db_url)
    with Session.begin() as session:
        form = send_form(session)
    deliver(engine, config, mail(sender=form.contact_email, to=form.reply_to, subject="Re: Atlas", body="RAS\n"),
            form.contact_email, form.reply_to)
    assert confirmed(Session, form.collectivite_id) is not None


def test_a_token_hidden_in_an_html_comment_is_seen_by_nobody(engine, Session, db_url):
    """Classifier and parser read one text: a token the parser cannot see cannot tie the message."""
    config = make_config(db_url)
    with Session.begin() as session:
        form_a = send_form(session)
        form_b = send_form(session, code="COM-29232", name="Quimper", email="contact@quimper.fr")
    html = ("<html><body><p>RAS</p><!-- " + "x" * 3000 + f" {form_b.token} " + "y" * 3000 + " --></body></html>")
    raw = mail(sender=form_a.contact_email, subject="Re: Atlas", body="x")
    raw = raw.replace(b"Content-Type: text/plain; charset=\"utf-8\"", b"Content-Type: text/html; charset=\"utf-8\"")
    raw = raw.split(b"\n\n", 1)[0] + b"\n\n" + html.encode() + b"\n"
    inbound_id = deliver(engine, config, raw, form_a.contact_email, BOT)
    assert confirmed(Session, form_b.collectivite_id) is None
    with Session() as session:
        row = session.get(InboundMessage, inbound_id)
        assert row.kind != "reply" and row.collectivite_id != form_b.collectivite_id
        assert session.scalars(select(ChangeSet.id).where(ChangeSet.collectivite_id == form_b.collectivite_id)).all() == []


# --- point 10: the receiving server's verdict ----------------------------------------------------------------

def _edit(form) -> str:
    return "Bonjour,\nMarie Dupont est maintenant maire adjointe.\n"


def test_a_from_failing_dmarc_is_never_trusted_and_never_shown_the_record(engine, Session, db_url):
    config = make_config(db_url, MAILBOT_TRUSTED_AUTHSERV_IDS=MX)
    with Session.begin() as session:
        form = send_form(session)
    results = f"{MX}; spf=fail smtp.mailfrom=rennes.fr; dkim=none; dmarc=fail (p=reject) header.from=rennes.fr"
    raw = mail(sender=form.contact_email, to=form.reply_to, subject="Re: Atlas", body="RAS\n",
               headers={"Authentication-Results": results})
    inbound_id = deliver(engine, config, raw, form.contact_email, form.reply_to)
    with Session() as session:
        row = session.get(InboundMessage, inbound_id)
        assert row.trusted is False and "DMARC" in row.flag
        assert row.details["authentication"]["result"] == "fail"
        assert "aucune réponse qui montre la fiche" in row.details["answer"]
    assert confirmed(Session, form.collectivite_id) is None
    assert answers(Session) == []
    fiche = mail(sender=form.contact_email, subject="FICHE", headers={"Authentication-Results": results})
    deliver(engine, config, fiche, form.contact_email, BOT)
    with Session() as session:
        assert session.scalars(select(OutboundMessage.id).where(OutboundMessage.kind == "summary")).all() == [form.outbound_id]


def test_a_decision_is_never_told_to_a_from_that_failed_dmarc(engine, Session, db_url):
    """The decision notice shows the record's values, old and new: not to a forged From. The same
    edit without a verdict is told, as before."""
    config = make_config(db_url, MAILBOT_TRUSTED_AUTHSERV_IDS=MX)
    with Session.begin() as session:
        form = send_form(session)
    failed = f"{MX}; spf=fail smtp.mailfrom=rennes.fr; dkim=none; dmarc=fail (p=reject) header.from=rennes.fr"
    for headers in ({"Authentication-Results": failed}, {}):
        deliver(engine, config, mail(sender=form.contact_email, to=form.reply_to, subject="Re: Atlas",
                                     body=_edit(form), headers=headers), form.contact_email, form.reply_to)
        with Session() as session:
            changeset_id = session.scalar(select(ChangeSet.id).where(ChangeSet.status == "pending"))
        approve(Session, config, changeset_id, "Paul Durand")
        told = notify_decided(Session, config)
        with Session() as session:
            changeset = session.get(ChangeSet, changeset_id)
            assert changeset.status == "approved" and changeset.notified_at is not None
            assert (changeset.notice_outbound_id is None) == bool(headers)
        assert len(told) == (0 if headers else 1)


def test_only_trusted_servers_are_believed_and_without_a_verdict_trust_is_as_before(engine, Session, db_url):
    config = make_config(db_url, MAILBOT_TRUSTED_AUTHSERV_IDS=MX)
    with Session.begin() as session:
        form = send_form(session)
    forged = "mx.attaquant.example; dmarc=pass header.from=rennes.fr"  # written by the sender: ignored
    inbound_id = deliver(engine, config, mail(sender=form.contact_email, to=form.reply_to, body=_edit(form),
                                              headers={"Authentication-Results": forged}),
                         form.contact_email, form.reply_to)
    with Session() as session:
        row = session.get(InboundMessage, inbound_id)
        assert row.details["authentication"]["result"] == "unknown" and row.trusted is True
        [changeset] = session.scalars(select(ChangeSet)).all()
    shown = CliRunner().invoke(main, ["review", "show", str(changeset.id)], env={"MAILBOT_DB": config.db})
    assert shown.exit_code == 0 and "Authentification : authentification inconnue" in shown.output
    data = json.loads(CliRunner().invoke(main, ["review", "show", str(changeset.id), "--json"],
                                         env={"MAILBOT_DB": config.db}).output)
    assert data["authentication"]["result"] == "unknown" and data["authentication"]["label"] == "authentification inconnue"
    passed = f"{MX}; dkim=pass header.d=rennes.fr header.s=s1; dmarc=pass header.from=rennes.fr"
    inbound_id = deliver(engine, config, mail(sender=form.contact_email, to=form.reply_to, body=_edit(form) + "\n",
                                              headers={"Authentication-Results": passed}),
                         form.contact_email, form.reply_to)
    with Session() as session:
        row = session.get(InboundMessage, inbound_id)
        assert row.details["authentication"]["result"] == "pass" and row.trusted is True


# --- the local DKIM check (dkimpy, DNS injected) ---------------------------------------------------------------

@pytest.fixture(scope="module")
def signing():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    records = {b"s1._domainkey.rennes.fr.": b"v=DKIM1; k=rsa; p=" + base64.b64encode(public),
               b"_dmarc.rennes.fr.": b"v=DMARC1; p=reject"}

    def dns(name, timeout=5):
        return records.get(name if name.endswith(b".") else name + b".")

    def sign(raw: bytes) -> bytes:
        return dkim.sign(raw, b"s1", b"rennes.fr", private, include_headers=[b"from", b"to", b"subject"]) + raw

    return sign, dns


def test_local_dkim_check_passes_an_aligned_signature_and_fails_a_broken_one_under_a_strict_policy(signing):
    sign, dns = signing
    raw = mail(sender="marie.dupont@rennes.fr", body="RAS\n").replace(b"\n", b"\r\n")
    signed = sign(raw)
    assert authenticate(signed, dns=dns).result == "pass"
    assert authenticate(signed.replace(b"RAS", b"Tout changer"), dns=dns).result == "fail"
    assert authenticate(raw, dns=dns).result == "unknown"  # no signature: no verdict


def test_local_dkim_verdict_reaches_the_record(engine, Session, db_url, signing):
    sign, dns = signing
    config = make_config(db_url)
    with Session.begin() as session:
        form = send_form(session)
    raw = mail(sender=form.contact_email, to=form.reply_to, subject="Re: Atlas", body="RAS\n").replace(b"\n", b"\r\n")
    tampered = sign(raw).replace(b"RAS", b"Ok!")
    inbound_id = deliver(engine, config, tampered, form.contact_email, form.reply_to, dns=dns)
    with Session() as session:
        row = session.get(InboundMessage, inbound_id)
        assert row.details["authentication"]["source"] == "dkim" and row.trusted is False
    assert confirmed(Session, form.collectivite_id) is None
