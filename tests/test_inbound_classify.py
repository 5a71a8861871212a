"""Classification (pure): real bounces from several MTAs, auto-replies from the usual clients,
commands, replies, our own mail, and malformed mail that must never crash the classifier."""
from __future__ import annotations

import time

import pytest

from tests.inbound_support import BOT, SECRET, fixture, mail
from mailbot.inbound.classify import DEFAULT_LIMITS, Envelope, classify
from mailbot.outbound.outbox import verp_address
from mailbot.tokens import make_token

TOKEN = make_token(SECRET, "c2012", "COM-35238", 42)


def run(raw: bytes, sender: str = "agent@ville.fr", recipients: tuple[str, ...] = (BOT,)):
    return classify(raw, Envelope(sender, recipients), our_address=BOT, secret=SECRET)


# --- bounces ---------------------------------------------------------------------------------------------

# (fixture, the recipient the MTA reports, severity); origins in tests/fixtures/bounces/README.md
BOUNCES = [
    ("postfix_01.eml", "xxxxx@local.ie", "permanent"),
    ("exim_01.eml", "userx@its.example.nl", "permanent"),
    ("qmail_01.eml", "userx@example.de", "permanent"),
    ("microsoft_01.eml", "userx@example.com", "permanent"),
    ("sendmail_02.eml", "foo@rbd.spb.ru", "permanent"),
    ("dsn_01.eml", "userx@example.com", "permanent"),
    ("dsn_06.eml", "userx@example.com", "temporary"),
]


@pytest.mark.parametrize("name, recipient, severity", BOUNCES)
def test_real_bounces_from_several_mtas(name, recipient, severity):
    result = run(fixture("bounces", name), sender="")
    assert result.kind == "bounce", result.reason
    assert result.details["severity"] == severity
    assert recipient in result.details[severity]
    assert result.details["auto"] is True


def dsn(action: str, status: str, recipient: str, *, quoted: bytes = b"") -> bytes:
    """A modern Postfix DSN, optionally quoting the message it reports on."""
    return (
        b"From: MAILER-DAEMON@mx.ville.fr (Mail Delivery System)\r\n"
        b"To: " + verp_address(SECRET, BOT, 7).encode() + b"\r\n"
        b"Subject: " + (b"Undelivered Mail Returned to Sender" if action == "failed" else b"Delayed Mail (still being retried)") + b"\r\n"
        b"Auto-Submitted: auto-replied\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="B1"\r\n\r\n'
        b"--B1\r\nContent-Type: text/plain\r\n\r\nThis is the mail system at host mx.ville.fr.\r\n\r\n"
        b"--B1\r\nContent-Type: message/delivery-status\r\n\r\n"
        b"Reporting-MTA: dns; mx.ville.fr\r\n\r\n"
        b"Final-Recipient: rfc822; " + recipient.encode() + b"\r\n"
        b"Original-Recipient: rfc822;" + recipient.encode() + b"\r\n"
        b"Action: " + action.encode() + b"\r\nStatus: " + status.encode() + b"\r\n"
        b"Diagnostic-Code: smtp; 550 5.1.1 <" + recipient.encode() + b">: Recipient address rejected\r\n\r\n"
        b"--B1\r\nContent-Type: message/rfc822\r\n\r\n" + quoted + b"\r\n--B1--\r\n"
    )


def test_dsn_failed_is_permanent_and_delayed_is_not_a_failure():
    verp = verp_address(SECRET, BOT, 7)
    failed = run(dsn("failed", "5.1.1", "marie@rennes.fr"), sender="", recipients=(verp,))
    delayed = run(dsn("delayed", "4.4.1", "marie@rennes.fr"), sender="", recipients=(verp,))
    assert (failed.kind, failed.details["severity"], failed.details["status"]) == ("bounce", "permanent", "5.1.1")
    assert (delayed.kind, delayed.details["severity"]) == ("bounce", "temporary")
    assert failed.details["delivery_ids"] == delayed.details["delivery_ids"] == [7]
    assert "Recipient address rejected" in failed.details["diagnostic"]


def test_verp_names_the_delivery_only_with_our_mac():
    forged = verp_address(SECRET, BOT, 7).replace("b-7-", "b-8-")
    result = run(dsn("failed", "5.1.1", "x@y.fr"), sender="", recipients=(forged,))
    assert result.kind == "bounce" and result.details["delivery_ids"] == []


def test_a_bounce_quoting_our_summary_with_its_token_is_a_bounce_not_a_reply():
    quoted = (f"From: {BOT}\r\nReply-To: atlas+{TOKEN}@cncd.example.fr\r\nSubject: [Atlas 2012] Rennes\r\n\r\n"
              f"#### DEBUT DU FORMULAIRE ATLAS {TOKEN} ####\r\n").encode()
    result = run(dsn("failed", "5.1.1", "marie@rennes.fr", quoted=quoted), sender="",
                 recipients=(verp_address(SECRET, BOT, 7),))
    assert result.kind == "bounce"


def test_a_poor_report_on_our_return_path_is_still_a_bounce():
    raw = (b"From: postmaster@mairie-plouzane.fr\r\nSubject: Non remis : [Atlas 2012]\r\n\r\n"
           b"Votre message n'a pas pu etre remis.\r\n")
    result = run(raw, sender="", recipients=(verp_address(SECRET, BOT, 12),))
    assert result.kind == "bounce"
    assert result.details["delivery_ids"] == [12] and result.details["severity"] == "permanent"


# --- automatic answers, lists -----------------------------------------------------------------------------

AUTOREPLIES = ["exchange_oof_fr.eml", "exchange2010_oof_en.eml", "gmail_vacation.eml", "thunderbird_template_reply.eml",
               "orange_webmail.eml", "free_zimbra.eml", "laposte_webmail.eml", "ovh_roundcube_sieve.eml",
               "outlook_read_receipt.eml"]


@pytest.mark.parametrize("name", AUTOREPLIES)
def test_auto_replies_from_the_usual_clients_even_with_a_valid_token(name):
    raw = fixture("autoreplies", name, token=TOKEN)
    sender = "" if b"Return-Path: <>" in raw else "agent@ville.fr"
    result = run(raw, sender=sender, recipients=(f"atlas+{TOKEN}@cncd.example.fr",))
    assert result.kind == "autoreply", result.reason
    assert result.details["auto"] is True


@pytest.mark.parametrize("subject", ["Réponse automatique : absent", "Out of Office: Atlas", "Absence du bureau",
                                     "RE: Message d'absence", "Automatic reply: [Atlas 2012]"])
def test_auto_reply_subjects_in_french_and_english(subject):
    assert run(mail(sender="agent@ville.fr", subject=subject)).kind == "autoreply"


def test_list_and_bulk_mail():
    listed = run(mail(sender="liste@cites-unies.fr", headers={"List-Id": "<coop.cites-unies.fr>"}))
    bulk = run(mail(sender="lettre@cites-unies.fr", headers={"Precedence": "bulk"}))
    assert (listed.kind, bulk.kind) == ("list", "bulk")


# --- commands, replies, own mail ----------------------------------------------------------------------------

@pytest.mark.parametrize("subject, body, command", [
    ("AIDE", "", "AIDE"),
    ("aide", "", "AIDE"),
    ("Aïde", "", "AIDE"),
    ("Re: FICHE", "", "FICHE"),
    ("TR : fiche !", "", "FICHE"),
    ("Fiché", "", "FICHE"),
    ("", "Fiche\n\nMerci", "FICHE"),
    ("Question", "aide svp\n", "AIDE"),
    ("Question", "  AIDE.\n-- \nMarie", "AIDE"),
])
def test_commands_in_subject_or_first_word_of_body(subject, body, command):
    result = run(mail(sender="agent@ville.fr", subject=subject, body=body or "\n"))
    assert result.kind == "command" and result.details["command"] == command


@pytest.mark.parametrize("subject, body", [
    ("Aide sur la fiche de Rennes", "Bonjour, pouvez-vous m'aider ?"),
    ("Question", "Fiche mise à jour ci-dessous, merci de vérifier"),
    ("Question", "> AIDE\nVoici ma réponse"),
])
def test_sentences_that_merely_start_with_a_command_word_are_not_commands(subject, body):
    assert run(mail(sender="agent@ville.fr", subject=subject, body=body)).kind != "command"


def test_reply_found_by_plus_address_text_or_thread():
    by_address = run(mail(sender="a@ville.fr", to=f"atlas+{TOKEN}@cncd.example.fr"), recipients=(f"atlas+{TOKEN}@cncd.example.fr",))
    by_text = run(mail(sender="a@ville.fr", body=f"#### DEBUT DU FORMULAIRE ATLAS {TOKEN} ####\nNom : X\n"))
    by_thread = run(mail(sender="a@ville.fr", in_reply_to="<1.2.3.atlas@cncd.example.fr>"))
    assert by_address.kind == by_text.kind == by_thread.kind == "reply"
    assert by_address.details["address_tokens"] == [[42, TOKEN.split("-")[1]]]
    assert by_text.details["body_tokens"] == [[42, TOKEN.split("-")[1]]]
    assert by_thread.details["thread_ids"] == ["<1.2.3.atlas@cncd.example.fr>"]


def test_our_own_message_coming_back_is_recognised_by_our_headers():
    ours = mail(sender=BOT, subject="[Atlas 2012] Rennes", headers={"X-Mailer": "atlas-mailbot"})
    spoofed = mail(sender=BOT, subject="Bonjour")
    assert run(ours, sender=BOT).kind == "own"
    assert run(spoofed).kind == "unknown"


def test_anything_else_is_kept_for_reviewers_with_a_reason():
    result = run(mail(sender="curieux@exemple.fr", subject="Question", body="Qui êtes-vous ?"))
    assert result.kind == "unknown" and "relecteurs" in result.reason


# --- malformed mail: stored, marked, never a crash --------------------------------------------------------------

def nested(depth: int) -> bytes:
    head = b"From: a@ville.fr\r\nSubject: imbrique\r\nMIME-Version: 1.0\r\n"
    opening = b"".join(b'Content-Type: multipart/mixed; boundary="n%d"\r\n\r\n--n%d\r\n' % (i, i) for i in range(depth))
    closing = b"".join(b"\r\n--n%d--\r\n" % i for i in reversed(range(depth)))
    return head + opening + b"Content-Type: text/plain\r\n\r\nfond\r\n" + closing


MALFORMED = {
    "missing boundary": b"From: a@ville.fr\r\nSubject: x\r\nContent-Type: multipart/mixed\r\n\r\n--x\r\nbody\r\n--x--\r\n",
    "undeclared charset": b"From: a@ville.fr\r\nSubject: x\r\n\r\nD\xe9cid\xe9 \xe0 l'unanimit\xe9\r\n",
    "wrong charset": b"From: a@ville.fr\r\nSubject: x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nD\xe9cid\xe9\r\n",
    "unknown charset": b"From: a@ville.fr\r\nSubject: =?x-inconnu?Q?caf=E9?=\r\nContent-Type: text/plain; charset=x-inconnu\r\n\r\ncaf\xe9\r\n",
    "8-bit headers": b"From: \xc9lodie <elodie@ville.fr>\r\nSubject: Mise \xe0 jour \xc3\xa9t\xc3\xa9\r\n\r\nbonjour\r\n",
    "empty body": b"From: a@ville.fr\r\nSubject: vide\r\n\r\n",
    "empty message": b"",
    "no header at all": b"\x00\x01\x02 binaire \xff\xfe",
    "bad base64": b"From: a@ville.fr\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!!not base64@@@\r\n",
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_mail_never_crashes(name):
    result = run(MALFORMED[name])
    assert result.kind in ("unknown", "malformed", "too_complex")


def test_100_nested_parts_and_huge_numbers_of_parts_are_stopped_within_the_budget():
    many = (b'From: a@ville.fr\r\nContent-Type: multipart/mixed; boundary="x"\r\n\r\n'
            + b"".join(b"--x\r\nContent-Type: text/plain\r\n\r\np\r\n" for _ in range(50_000)) + b"--x--\r\n")
    headers = b"From: a@ville.fr\r\n" + b"X-Junk: y\r\n" * 20_000 + b"\r\nbody\r\n"
    long_header = b"From: a@ville.fr\r\nSubject: " + b"a" * 200_000 + b"\r\n\r\nbody\r\n"
    for raw in (nested(100), nested(5000), many, headers, long_header):
        started = time.monotonic()
        result = run(raw)
        assert result.kind == "too_complex", result.reason  # kept for reviewers, its sender told once (#16)
        assert "trop complexe" in result.reason
        assert time.monotonic() - started < 2.0
    assert run(nested(DEFAULT_LIMITS.max_depth - 2)).kind == "unknown"
