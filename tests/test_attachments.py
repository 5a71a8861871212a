"""Attachments: what is a file, what is dangerous (by name and by content), safe names, the size limit
and reprocessing (the loop through `mailbot serve` is in test_conversation_e2e.py)."""
from __future__ import annotations

import io
import zipfile
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest
from sqlalchemy import select

from mailbot.inbound.attachments import assess, extract_attachments, safe_filename, shown_name
from mailbot.inbound.read import parse_bounded
from mailbot.replies.documents import document_candidate
from mailbot.inbound.queue import Arrival, process_pending, reprocess, store_arrival
from store.campaign_models import OutboundMessage
from store.conversation_models import InboundAttachment
from store.inbound_models import InboundMessage
from store.review_models import ChangeSet
from tests.inbound_support import BOT, make_config, send_form

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


DOCX_WITH_MACROS = _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>",
                         "word/vbaProject.bin": b"\xd0\xcf\x11\xe0"})
DOCX = _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})
OLE_WITH_MACROS = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500 + "_VBA_PROJECT".encode("utf-16-le") + b"\x00" * 100


@pytest.mark.parametrize("name, data, category, dangerous", [
    ("Délibération.pdf", PDF, "document", None),
    ("compte.rendu.2012.pdf", PDF, "document", None),
    ("www.mairie-rennes.com.pdf", PDF, "document", None),
    ("rapport.docx", DOCX, "document", None),
    ("montants.csv", b"annee;montant\n2010;15000\n", "spreadsheet", None),
    ("IMG_0412.jpeg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64, "image", None),
    ("scan.pdf", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64, "image", None),  # the content says what it is
    ("rapport.pdf", b"MZ\x90\x00" + b"\x00" * 200, "dangerous", "programme Windows"),
    ("notes.txt", b"\x7fELF\x02\x01\x01" + b"\x00" * 100, "dangerous", "programme Linux"),
    ("lisez-moi.txt", b"#!/bin/sh\nrm -rf ~\n", "dangerous", "script"),
    ("setup.exe", b"anything", "dangerous", ".exe"),
    ("budget.xlsm", DOCX, "dangerous", ".xlsm"),
    ("courrier.docm", DOCX, "dangerous", ".docm"),
    ("courrier.docx", DOCX_WITH_MACROS, "dangerous", "macros"),
    ("ancien.doc", OLE_WITH_MACROS, "dangerous", "macros"),
    ("facture.exe.pdf", PDF, "dangerous", "double extension"),
    ("facture.pdf      .exe", b"x", "dangerous", ".exe"),
    ("photos.zip", _zip({"photo.jpg": b"x", "lancer.js": b"x"}), "dangerous", "archive"),
    ("rapport\u202efdp.exe", b"x", "dangerous", "trompeur"),
    ("facture.html", b"<html><script>location='https://example.org'</script>", "dangerous", ".html"),
    ("logo.svg", b"<svg onload='alert(1)'/>", "dangerous", ".svg"),
])
def test_a_file_is_judged_by_its_name_and_its_content(name, data, category, dangerous):
    verdict = assess(name, "application/octet-stream", data)
    assert verdict.category == category
    if dangerous is None:
        assert verdict.danger is None
    else:
        assert dangerous in verdict.danger


@pytest.mark.parametrize("name", ["../../etc/passwd", "..\\..\\Windows\\system32\\x.dll", "/etc/shadow", "..", ".bashrc",
                                  "CON", "a\x00b.pdf", "nom\u202egpj.exe", " ", "x" * 400 + ".pdf"])
def test_saved_names_never_leave_the_directory(name, tmp_path):
    saved = safe_filename(name, 7)
    assert saved.startswith("7-") and "/" not in saved and "\\" not in saved and "\x00" not in saved
    assert len(saved) <= 200 and "\u202e" not in saved
    assert (tmp_path / saved).resolve().parent == tmp_path.resolve()
    assert safe_filename(name, 7, dangerous=True).endswith(".dangereux")


def test_a_declared_web_page_is_dangerous_whatever_its_name():
    assert "text/html" in assess("document", "text/html", b"<p>x</p>").danger


def test_shown_names_cannot_drive_a_terminal():
    assert shown_name("a\x1b[2J\x07b\u202e.pdf") == "a\\u001b[2J\\u0007b\\u202e.pdf"


def _outlook_with_logo_and_pdf(*, with_pdf: bool) -> bytes:
    """Outlook: multipart/mixed( multipart/related( multipart/alternative(text, html), image001.png
    inline with a Content-ID ), the PDF ), plus a forwarded message with its own PDF."""
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "agent@mairie.example.fr", BOT, "RE: Atlas"
    message.set_content("Bonjour,\nci-joint.\n")
    message.add_alternative('<p>Bonjour,<br>ci-joint.</p><img src="cid:image001.png@01D8">', subtype="html")
    message.get_payload()[1].add_related(b"\x89PNG\r\n\x1a\n" + b"\x00" * 900, maintype="image", subtype="png",
                                         cid="<image001.png@01D8>", filename="image001.png", disposition="inline")
    if with_pdf:
        message.add_attachment(PDF, maintype="application", subtype="pdf", filename="Délibération.pdf")
    forwarded = EmailMessage()
    forwarded["Subject"] = "TR: circulaire"
    forwarded.set_content("texte")
    forwarded.add_attachment(PDF, maintype="application", subtype="pdf", filename="circulaire.pdf")
    message.add_attachment(forwarded)
    return message.as_bytes()


def test_the_files_of_a_message_are_its_attachments_and_the_proposed_one_is_a_document():
    found = extract_attachments(parse_bounded(_outlook_with_logo_and_pdf(with_pdf=True)))
    assert [(a.position, a.filename) for a in found] == [(1, "image001.png"), (2, "Délibération.pdf")]
    assert found[1].data == PDF

    class Row:  # what document_candidate reads of a stored attachment
        def __init__(self, attachment):
            verdict = assess(attachment.filename, attachment.content_type, attachment.data)
            self.filename, self.category, self.size = attachment.filename, verdict.category, attachment.size
            self.dangerous, self.data = verdict.dangerous, attachment.data

    assert document_candidate([Row(a) for a in found]).filename == "Délibération.pdf"
    logo_only = extract_attachments(parse_bounded(_outlook_with_logo_and_pdf(with_pdf=False)))
    assert document_candidate([Row(a) for a in logo_only]) is None, "a signature's logo is not the APD document"


# --- through the inbound queue ----------------------------------------------------------------------------

def _reply_with_pdf(form, data: bytes) -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = form.contact_email, form.reply_to, "Re: Atlas"
    message["Message-ID"] = "<with-pdf-1@mairie.example.fr>"
    message["In-Reply-To"] = message["References"] = form.message_id
    message.set_content("Bonjour,\nVoici la délibération sur l'APD 2010.\nCordialement\n")
    message.add_attachment(data, maintype="application", subtype="pdf", filename="deliberation.pdf")
    return message.as_bytes()


def test_a_file_over_the_limit_is_listed_not_kept_nor_proposed_and_reprocessing_keeps_one_row(engine, Session, db_url):
    config = make_config(db_url, MAILBOT_MAX_ATTACHMENT_BYTES="1000")
    with Session.begin() as session:
        form = send_form(session)
    big = PDF + b"0" * 5000
    stored = store_arrival(engine, Arrival(_reply_with_pdf(form, big), "smtp", form.contact_email, (form.reply_to,)))
    process_pending(engine, config)
    reprocess(engine, config, stored.inbound_id)
    with Session() as session:
        [row] = session.scalars(select(InboundAttachment)).all()
        assert (row.filename, row.size, row.data, row.dangerous) == ("deliberation.pdf", len(big), None, False)
        sets = session.scalars(select(ChangeSet).where(ChangeSet.status == "pending")).all()
        assert all(change.field != "document_name" for s in sets for change in s.changes)
        ack = session.scalars(select(OutboundMessage.raw).where(OutboundMessage.kind == "ack")
                              .order_by(OutboundMessage.id.desc())).first()
    text = BytesParser(policy=policy.default).parsebytes(ack).get_body(("plain",)).get_content()
    assert "deliberation.pdf" in text and "trop volumineux pour être enregistré à part" in text


def test_a_reply_with_a_broken_token_in_the_thread_of_our_acknowledgement_is_a_message(engine, Session, db_url):
    """The agent pasted a mangled form line into an answer to our acknowledgement: the token does not
    verify, the thread is ours — read as a message, not answered with a fresh form."""
    config = make_config(db_url)
    with Session.begin() as session:
        form = send_form(session)
    first = _reply_with_pdf(form, PDF)
    store_arrival(engine, Arrival(first, "smtp", form.contact_email, (form.reply_to,)))
    process_pending(engine, config)
    with Session() as session:
        ack_id = session.scalar(select(OutboundMessage.message_id).where(OutboundMessage.kind == "ack"))
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = form.contact_email, BOT, "RE: Re: Atlas"
    message["Message-ID"] = "<answer-to-ack@mairie.example.fr>"
    message["In-Reply-To"] = ack_id
    message["References"] = f"{form.message_id} <with-pdf-1@mairie.example.fr> {ack_id}"
    message.set_content("Le montant est bon. #### DEBUT DU FORMULAIRE ATLAS r1-aaaaaaaaaaaaaaaa ####\n")
    stored = store_arrival(engine, Arrival(message.as_bytes(), "smtp", form.contact_email, (BOT,)))
    process_pending(engine, config)
    with Session() as session:
        inbound = session.get(InboundMessage, stored.inbound_id)
        assert (inbound.kind, inbound.collectivite_id, inbound.trusted) == ("conversation", form.collectivite_id, True)
        [message_set] = session.scalars(select(ChangeSet).where(ChangeSet.kind == "message")).all()
        assert message_set.note.startswith("Le montant est bon.") and message_set.inbound_id == inbound.id
        assert session.scalar(select(OutboundMessage.kind).where(OutboundMessage.id == inbound.response_outbound_id)) == "ack"
    reprocess(engine, config, stored.inbound_id)
    with Session() as session:
        pending = session.scalars(select(ChangeSet.id).where(ChangeSet.kind == "message", ChangeSet.status == "pending")).all()
        assert len(pending) == 1, "reading a message again does not make a second message to read"


def test_a_hostile_file_name_is_escaped_in_the_acknowledgement(engine, Session, db_url):
    config = make_config(db_url)
    with Session.begin() as session:
        form = send_form(session)
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = form.contact_email, form.reply_to, "Re: Atlas"
    message["In-Reply-To"] = message["References"] = form.message_id
    message.set_content("Bonjour,\nci-joint.\n")
    message.add_attachment(PDF, maintype="application", subtype="pdf",
                           filename="<img src=x onerror=alert(1)>\u202efdp.exe")
    store_arrival(engine, Arrival(message.as_bytes(), "smtp", form.contact_email, (form.reply_to,)))
    process_pending(engine, config)
    with Session() as session:
        ack = session.scalar(select(OutboundMessage.raw).where(OutboundMessage.kind == "ack"))
        [row] = session.scalars(select(InboundAttachment)).all()
        assert row.dangerous and row.filename == "<img src=x onerror=alert(1)>\u202efdp.exe"  # kept as sent
    parsed = BytesParser(policy=policy.default).parsebytes(ack)
    html = parsed.get_body(("html",)).get_content()
    text = parsed.get_body(("plain",)).get_content()
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img src=x" not in html
    assert "\u202e" not in html and "\u202e" not in text and "\\u202efdp.exe" in text
