"""Incoming headers read as policy.default reads them: encoded-words decoded with the spaces around them
kept (« Mise à jour », not « Mise àjour »), raw 8-bit bytes read as UTF-8 else Windows-1252, and no
header decoded beyond a bound, however long a sender makes it."""
from __future__ import annotations

import email
from email import policy

import pytest

from mailbot.inbound.queue import fingerprint
from mailbot.inbound.read import MAX_HEADER_TEXT, header_text


def _header(raw_value: bytes):
    message = email.message_from_bytes(b"Subject: " + raw_value + b"\n\nx\n", policy=policy.compat32)
    return message.get("Subject")


@pytest.mark.parametrize("raw, text", [
    (b"=?utf-8?q?Mise_=C3=A0?= jour de la fiche", "Mise à jour de la fiche"),
    (b"Re: =?iso-8859-1?q?Mise_=E0_jour?= de\n =?utf-8?q?l=27=C3=A9t=C3=A9?= 2012", "Re: Mise à jour de l'été 2012"),
    (b"Mise =?UTF-8?B?w6A=?= jour", "Mise à jour"),
    (b"=?utf-8?q?a?= =?utf-8?q?b?=", "ab"),  # whitespace between two encoded-words is no text (RFC 2047)
    ("Mise à jour =?utf-8?q?caf=C3=A9?=".encode("latin-1"), "Mise à jour café"),  # undeclared 8-bit
    ("Réponse : fiche".encode("utf-8"), "Réponse : fiche"),
    (b"=?x-unknown?q?fiche?= Rennes", "fiche Rennes"),
    (b"=?utf-8?q?Mise_=00=C3=A0?= jour", "Mise à jour"),  # a control character means nothing to a reader
    (b"=?x-un\x00nown?q?Marie?= Dupont", "Marie Dupont"),  # nor can a NUL be stored
])
def test_encoded_words_keep_the_spaces_around_them(raw, text):
    assert header_text(_header(raw)) == text


def test_the_stored_subject_of_a_message_is_decoded_the_same_way():
    raw = b"From: a@ville.fr\nSubject: Re: [Atlas 2012] =?utf-8?q?Mise_=C3=A0?= jour\nMessage-ID: <1@v>\n\nRAS\n"
    assert fingerprint(raw).subject == "Re: [Atlas 2012] Mise à jour"


def test_a_huge_header_is_decoded_only_up_to_the_bound_without_cutting_an_encoded_word():
    value = b" ".join([b"=?utf-8?q?caf=C3=A9?="] * 50_000)  # ~1 MB of encoded-words
    text = header_text(_header(value))
    assert 0 < len(text) <= MAX_HEADER_TEXT and set(text) == {"c", "a", "f", "é"}
