"""Mutated replies for the fuzz test (tests/test_fuzz.py) and the fuzz benchmark (bench/fuzz.py).

Seeds are real shapes: replies as each major client writes them (tests/replies.py), the robots and
bounces of tests/fixtures. Mutations are what an adversary or a broken client does to them: bytes
flipped, inserted or cut; a line or a value repeated thousands of times (fuzzy-matched fields, « Mairie
de … » lines, folded headers); junk charsets and encodings; MIME nesting; tokens hidden in HTML
comments. `exercise` runs a message through what the inbound worker does before its write
transaction, without a database: classification and authentication (no DNS answers), the canonical
text's parse, the diff of each form, the files judged, identification. `exercise_parser` runs
`parse_reply`, the parser's own entry point on the raw message.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from tests import replies
from tests.test_parse import CONFIG, REFS, RULES, SENDER, TYPICAL_EDIT, set_field, snapshot, summary_for
from mailbot.inbound.attachments import assess_files
from mailbot.inbound.classify import Envelope
from mailbot.replies.diff import diff_form
from mailbot.replies.documents import HUMAN_KINDS
from mailbot.inbound.queue import analyse, fingerprint
from mailbot.replies.identify import Directory, Entry, MessageText, identify, split_own_text
from mailbot.replies.parse import parse_reply, parse_text
from store.refdata import collectivite_rows, read_collectivites

FIXTURES = Path(__file__).resolve().parent / "fixtures"
BOT = "atlas@cncd.example.fr"
SECRET = "s"
RECORD = snapshot()


def seeds() -> list[bytes]:
    """The messages mutations start from."""
    summary = summary_for(RECORD)
    edits = [TYPICAL_EDIT, lambda lines: lines, set_field("CO-DDDD1", "Pays", "Sénégal"),
             set_field("PJ-EEEE1", "Thématiques", "Eau et assainissement, santé publique")]
    found = [shape(summary, edit, SENDER) for shape in replies.CLIENTS.values() for edit in edits]
    for folder in ("autoreplies", "bounces"):
        found += [path.read_bytes() for path in sorted((FIXTURES / folder).glob("*.eml"))]
    found.append(b"From: agent@mairie-rennes.fr\r\nTo: " + BOT.encode() + b"\r\nSubject: Atlas\r\n\r\n"
                 b"Bonjour,\r\nJe souhaite mettre a jour la fiche de la Mairie de Rennes (35000 Rennes).\r\n"
                 b"SIREN 213 502 388\r\nCordialement,\r\nMairie de Rennes\r\n")
    return found


# --- mutations ------------------------------------------------------------------------------------------

JUNK = [b"\x00", b"\xff\xfe", b"=?x-un\x00nown?q?caf=E9?=", b"=?utf-8?b?////?=", b"\r", b"\n.\r\n", b"--",
        b"<!--", b"-->", b"\x1b]0;titre\x07", b"#### ", b"#### DEBUT DU FORMULAIRE ATLAS ", b"Pays : ",
        b"Th\xc3\xa9matiques : ", b"Mairie de ", b"> ", b"=\r\n", b"Content-Type: multipart/mixed; boundary=x\r\n"]
LONG_FIELDS = [b"Pays : ", "Thématiques : ".encode(), b"Statut : ", b"Titre* : ", b"Association ou r\xc3\xa9seau : ",
               b"Mairie de ", "Communauté de communes de ".encode(), b"35000 "]


def _size(rng: random.Random, *sizes: int) -> int:
    """One of `sizes`, each about four times rarer than the one before: huge cases are the point of
    fuzzing, but a million of them would take days."""
    weights = [4 ** (len(sizes) - i) for i in range(len(sizes))]
    return rng.choices(sizes, weights)[0]


def _position(rng: random.Random, raw: bytes) -> int:
    return rng.randrange(len(raw) + 1)


def flip(rng, raw):
    data = bytearray(raw)
    for _ in range(rng.randint(1, 20)):
        if data:
            data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data)


def insert_junk(rng, raw):
    at = _position(rng, raw)
    return raw[:at] + rng.choice(JUNK) * _size(rng, 1, 2, 50, 20000) + raw[at:]


def cut(rng, raw):
    at = _position(rng, raw)
    return raw[:at] + raw[at + rng.randint(1, 2000):]


def repeat_line(rng, raw):
    lines = raw.split(b"\n")
    index = rng.randrange(len(lines))
    return b"\n".join(lines[:index] + [lines[index]] * _size(rng, 10, 100, 2000, 20000) + lines[index + 1:])


def long_value(rng, raw):
    """A fuzzy-matched field, or a named body, written at length (100 KB « Pays »…)."""
    words = [b"S\xc3\xa9n\xc3\xa9gal", b"sant\xc3\xa9", b"eau", b"Rennes", b"en cours", b"x" * 7, b"Mali,", b"et"]
    value = b" ".join(rng.choice(words) for _ in range(_size(rng, 50, 2000, 15000)))
    line = rng.choice(LONG_FIELDS) + value
    lines = raw.split(b"\n")
    index = rng.randrange(len(lines))
    repeated = [line] * _size(rng, 1, 3, 500)
    return b"\n".join(lines[:index] + repeated + lines[index:])


def folded_header(rng, raw):
    """A long folded header, at the top or in a MIME part (the header parser is quadratic on them)."""
    folded = b"X-Folded: " + b"\r\n ".join(b"w%d" % i for i in range(_size(rng, 100, 3000, 30000)))
    before, found, after = raw.rpartition(b"Content-Type:") if rng.random() < 0.5 else (b"", b"", raw)
    return before + folded + b"\r\n" + found + after


def nest(rng, raw):
    depth = _size(rng, 5, 30, 200)
    head = b"".join(b'Content-Type: multipart/mixed; boundary="n%d"\r\n\r\n--n%d\r\n' % (i, i) for i in range(depth))
    return b"From: a@ville.fr\r\nTo: " + BOT.encode() + b"\r\n" + head + raw


def charset(rng, raw):
    return raw.replace(b"charset=", b"charset=" + rng.choice(JUNK[:4] + [b"utf-7", b"cp1252", b"zz"]), 1)


def encoding(rng, raw):
    return raw.replace(b"Content-Transfer-Encoding: ", b"Content-Transfer-Encoding: " +
                       rng.choice((b"base64", b"quoted-printable", b"x-uuencode", b"7bit")) + b"\r\nX-Old: ", 1)


def hidden_token(rng, raw):
    token = b"r%x-%s" % (rng.randrange(1 << 20), b"a" * 16)
    comment = b"<!-- " + b"x" * _size(rng, 10, 3000) + b" " + token + b" -->"
    at = _position(rng, raw)
    return raw[:at] + comment + raw[at:]


def line_endings(rng, raw):
    return raw.replace(b"\r\n", rng.choice((b"\n", b"\r", b"\r\r\n")))


MUTATIONS = (flip, insert_junk, cut, repeat_line, long_value, folded_header, nest, charset, encoding,
             hidden_token, line_endings)


def mutated(raw: bytes, rng: random.Random, count: int | None = None) -> bytes:
    for _ in range(count if count is not None else rng.choice((1, 1, 2, 3))):
        raw = rng.choice(MUTATIONS)(rng, raw)
    return raw


# --- what the worker does with a message (no database) -----------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    kind: str
    forms: int
    changes: int


def exercise(raw: bytes, directory: Directory | None = None) -> Outcome:
    """What the worker does with a message before its write transaction (mailbot.inbound.queue:
    `analyse`, then `prepare` without its database): the acceptance fingerprint, classification and
    authentication, the canonical text's parse, each form's diff, the files judged, and
    identification when the message has no form. Raises what they raise."""
    fingerprint(raw)  # what the SMTP edge computes before its 250
    classification = analyse(raw, Envelope(SENDER, (BOT,)), CONFIG, dns=_no_dns)
    parsed = classification.parsed or parse_text(classification.text or "")
    changes = sum(len(diff_form(form, RECORD, RULES, REFS).changes) for form in parsed.forms)
    if classification.kind in HUMAN_KINDS:
        assess_files(raw)
    if directory is not None and classification.kind in ("unknown", "command") and classification.text:
        own, forwarded = split_own_text(classification.text)
        identify(MessageText(own=own, forwarded=forwarded, sender=SENDER), directory)
    return Outcome(classification.kind, len(parsed.forms), changes)


def exercise_parser(raw: bytes) -> int:
    """`parse_reply` on the raw message (the worker's fallback when a stored message has no canonical
    text yet): the number of forms it finds."""
    return len(parse_reply(raw).forms)


def _no_dns(*_args, **_kwargs) -> None:
    return None  # no DKIM key published: the local check finds nothing, as offline


def national_directory() -> Directory:
    """Every collectivité of the reference data, as `mailbot.replies.tokenless` loads them."""
    rows = collectivite_rows(read_collectivites())
    entries = [Entry(n, r["code"], r["kind"], r["name"], r["insee"], r["siren"], r["departement"], r["region"],
                     False, r["population"], r["epci_type"]) for n, r in enumerate(rows, start=1)]
    return Directory(entries, {r["insee"]: r["name"] for r in rows if r["kind"] == "departement"})
