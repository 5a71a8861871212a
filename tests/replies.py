"""Shapes of real replies, as each major mail client writes them (used by the parsing tests).

Each function takes the summary message we sent (bytes) and an `edit` function applied to the form
lines, and returns the reply's bytes as that client would send it.
"""
from __future__ import annotations

import html
import textwrap
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from mailbot.devtools.client_shapes import (  # noqa: F401  (the shapes the demo's agents use too)
    Edit,
    gmail,
    original_text,
    outlook_html_only,
    plain_answer,
    quote,
    reply_headers as _headers,
    thunderbird_flowed,
)


def original_html(summary: bytes) -> str:
    message = BytesParser(policy=policy.default).parsebytes(summary)
    return message.get_body(("html",)).get_content()


def html_quoting_our_html(summary: bytes, edit: Edit, sender: str) -> bytes:
    """A rich-text client (Thunderbird/Apple Mail in HTML mode) that quotes our own HTML part in a
    <blockquote> and sends HTML only; the agent edits the form's lines where they are."""
    original = BytesParser(policy=policy.default).parsebytes(summary)
    ours = original_html(summary)
    start, end = ours.index('monospace'), ours.index("</div>", ours.index('monospace'))
    start = ours.index(">", start) + 1
    # our form: one <br>-ended piece a line; the line ends between them are not content
    lines = [html.unescape(line) for line in ours[start:end].replace("\n", "").strip().split("<br>")][:-1]
    edited = "<br>".join(html.escape(line, quote=False).replace("  ", " &nbsp;") for line in edit(lines))
    body_start = ours.index(">", ours.index("<body")) + 1
    body = ours[body_start:start] + edited + ours[end:ours.index("</body>")]
    reply = EmailMessage()
    _headers(reply, original, sender)
    reply.set_content("<html><body><p>Bonjour,</p><p>Voici nos corrections.</p>"
                      f"<blockquote type=\"cite\">{body}</blockquote></body></html>", subtype="html")
    return reply.as_bytes()


def hard_wrapped(summary: bytes, edit: Edit, sender: str, width: int = 72) -> bytes:
    """A client that re-wraps long lines without format=flowed, then quotes them."""
    original, text = original_text(summary)
    reply = EmailMessage()
    _headers(reply, original, sender)
    lines = []
    for line in edit(text.splitlines()):
        lines += textwrap.wrap(line, width=width - 2, break_long_words=False) or [""]
    reply.set_content("Corrections ci-dessous.\n\n" + "\n".join(quote(lines)) + "\n")
    return reply.as_bytes()


def outlook_html_and_text(summary: bytes, edit: Edit, sender: str) -> bytes:
    """multipart/alternative from Outlook: the text part has the « De : » block and no quote marks."""
    original, text = original_text(summary)
    edited = edit(text.splitlines())
    plain = ("Bonjour,\r\nVoir ci-dessous.\r\n\r\nDe : Atlas <atlas@cncd.example.fr>\r\nEnvoyé : lundi 12 mars 2012 10:02\r\n"
             f"À : {sender}\r\nObjet : {original['Subject']}\r\n\r\n" + "\r\n".join(edited))
    reply = EmailMessage()
    _headers(reply, original, sender)
    reply.set_content(plain, charset="windows-1252" if _cp1252_ok(plain) else "utf-8", cte="quoted-printable")
    reply.add_alternative("<html><body>" + "<br>".join(html.escape(line) for line in plain.splitlines()) + "</body></html>",
                          subtype="html")
    return reply.as_bytes()


def _cp1252_ok(text: str) -> bool:
    try:
        text.encode("cp1252")
        return True
    except UnicodeEncodeError:
        return False


def apple_mail_base64(summary: bytes, edit: Edit, sender: str) -> bytes:
    """iPhone / Apple Mail, answering a colleague's reply that quoted ours: top-posted, base64 body,
    the form two levels deep (« > > »), edited where it is."""
    original, text = original_text(summary)
    lines = quote(quote(edit(text.splitlines())), "> ")
    body = ("Voilà les corrections\n\nEnvoyé de mon iPhone\n\n"
            "> Le 13 mars 2012 à 09:15, Jean Martin <j.martin@ville-rennes.example.fr> a écrit :\n>\n"
            "> Marie, peux-tu vérifier ?\n>\n"
            "> > Le 12 mars 2012 à 10:02, Atlas <atlas@cncd.example.fr> a écrit :\n> >\n" + "\n".join(lines))
    reply = EmailMessage()
    _headers(reply, original, sender)
    reply.set_content(body, cte="base64")
    return reply.as_bytes()


def webmail_latin1(summary: bytes, edit: Edit, sender: str, charset: str = "iso-8859-15",
                   cte: str = "quoted-printable") -> bytes:
    """Orange / Zimbra style: « ----- Mail original ----- », ISO-8859-15, quoted-printable, NBSP before colons.
    With charset="iso-8859-1", which has no €, the client writes EUR instead."""
    original, text = original_text(summary)
    edited = [line.replace(" :", "\u00a0:", 1) for line in edit(text.splitlines())]
    body = ("Bonjour,\nmise à jour faite.\n\n----- Mail original -----\nDe: \"Atlas\" <atlas@cncd.example.fr>\n"
            f"À: {sender}\nEnvoyé: Lundi 12 Mars 2012 10:02:00\nObjet: {original['Subject']}\n\n" + "\n".join(quote(edited)))
    if charset == "iso-8859-1":
        body = body.replace("€", "EUR")
    reply = EmailMessage()
    _headers(reply, original, sender)
    reply.set_content(body.encode(charset), maintype="text", subtype="plain", cte=cte)
    reply.replace_header("Content-Type", f'text/plain; charset="{charset}"')
    return reply.as_bytes()


def copied_above_quote(summary: bytes, edit: Edit, sender: str) -> bytes:
    """The agent copies the form above the quote, edits the copy, and the untouched original stays quoted."""
    original, text = original_text(summary)
    lines = text.splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith(("#### DÉBUT", "#### DEBUT")))
    end = next(i for i, l in enumerate(lines) if l.startswith("#### FIN"))
    copy = edit(lines)[start:end + 1 + (len(edit(lines)) - len(lines))]
    reply = EmailMessage()
    _headers(reply, original, sender)
    reply.set_content("Formulaire corrigé :\n\n" + "\n".join(copy) + "\n\nLe 12 mars, Atlas a écrit :\n" + "\n".join(quote(lines)))
    return reply.as_bytes()


def forwarded_inline(summary: bytes, edit: Edit, sender: str) -> bytes:
    """Forwarded to a colleague who edits and sends it to the bot's From address (no Reply-To, no thread)."""
    original, text = original_text(summary)
    reply = EmailMessage()
    reply["From"] = sender
    reply["To"] = str(original["From"])
    reply["Subject"] = "TR: " + str(original["Subject"])
    reply["Message-ID"] = "<fwd-1@client.example>"
    body = ("Je vous transmets notre fiche complétée.\n\n---------- Message transféré ----------\n"
            f"De : Atlas <atlas@cncd.example.fr>\nObjet : {original['Subject']}\n\n" + "\n".join(edit(text.splitlines())))
    reply.set_content(body)
    return reply.as_bytes()


def forwarded_as_attachment(summary: bytes, edit: Edit, sender: str) -> bytes:
    """The original attached as message/rfc822, edited inside (some clients allow it)."""
    original, text = original_text(summary)
    inner = EmailMessage()
    for header in ("From", "Subject", "Message-ID"):
        inner[header] = str(original[header])
    inner.set_content("\n".join(edit(text.splitlines())))
    reply = EmailMessage()
    reply["From"] = sender
    reply["To"] = str(original["From"])
    reply["Subject"] = "Fwd: " + str(original["Subject"])
    reply["Message-ID"] = "<fwd-2@client.example>"
    reply.set_content("Voir la pièce jointe.")
    reply.add_attachment(inner)
    return reply.as_bytes()


def two_forms(summary_a: bytes, summary_b: bytes, edit_a: Edit, edit_b: Edit, sender: str) -> bytes:
    """One agent answers for two collectivités in one message."""
    original_a, text_a = original_text(summary_a)
    _, text_b = original_text(summary_b)
    reply = EmailMessage()
    _headers(reply, original_a, sender)
    reply.set_content("Pour nos deux collectivités :\n\n" + "\n".join(edit_a(text_a.splitlines())) +
                      "\n\n" + "\n".join(edit_b(text_b.splitlines())))
    return reply.as_bytes()


CLIENTS = {
    "gmail": gmail,
    "thunderbird_flowed": thunderbird_flowed,
    "hard_wrapped": hard_wrapped,
    "outlook_html_only": outlook_html_only,
    "outlook_html_and_text": outlook_html_and_text,
    "html_quoting_our_html": html_quoting_our_html,
    "apple_mail_base64": apple_mail_base64,
    "webmail_latin1": webmail_latin1,
    "copied_above_quote": copied_above_quote,
    "forwarded_inline": forwarded_inline,
    "forwarded_as_attachment": forwarded_as_attachment,
}
