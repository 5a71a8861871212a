"""What mail clients do to a reply: the demo's agents (and the tests') answer the way real ones do.

Each function takes the summary we sent (bytes), an `edit` applied to the form's lines, the agent's
address and a top note, and returns the reply's bytes as that client would send them.
"""
from __future__ import annotations

import html
import textwrap
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Callable

Edit = Callable[[list[str]], list[str]]


def original_text(summary: bytes) -> tuple[EmailMessage, str]:
    message = BytesParser(policy=policy.default).parsebytes(summary)
    return message, message.get_body(("plain",)).get_content()


def reply_headers(reply: EmailMessage, original: EmailMessage, sender: str) -> None:
    reply["From"] = sender
    reply["To"] = str(original["Reply-To"])
    reply["Subject"] = "RE: " + str(original["Subject"])
    reply["In-Reply-To"] = str(original["Message-ID"])
    reply["References"] = str(original["Message-ID"])
    reply["Message-ID"] = f"<reply-{abs(hash(sender + str(original['Message-ID'])))}@client.example>"


def quote(lines: list[str], prefix: str = "> ") -> list[str]:
    return [f"{prefix}{line}".rstrip() if line else prefix.rstrip() for line in lines]


def gmail(summary: bytes, edit: Edit, sender: str, note: str = "Bonjour,\nVoici nos corrections.\nCordialement") -> bytes:
    """Top-posted note, « Le … a écrit : », `> ` quoting, edits made inside the quote."""
    original, text = original_text(summary)
    reply = EmailMessage()
    reply_headers(reply, original, sender)
    body = f"{note}\n\nLe lun. 12 mars 2012 à 10:02, Atlas <atlas@cncd.example.fr> a écrit :\n"
    body += "\n".join(quote(edit(text.splitlines()))) + "\n"
    reply.set_content(body)
    return reply.as_bytes()


def thunderbird_flowed(summary: bytes, edit: Edit, sender: str, note: str = "Merci.") -> bytes:
    """format=flowed, lines re-wrapped at 72 columns with a trailing space on soft breaks."""
    original, text = original_text(summary)
    reply = EmailMessage()
    reply_headers(reply, original, sender)
    lines = []
    for line in edit(text.splitlines()):
        wrapped = textwrap.wrap(line, width=70, break_long_words=False, break_on_hyphens=False) or [""]
        lines += [f"> {piece}{' ' if i < len(wrapped) - 1 else ''}" for i, piece in enumerate(wrapped)]
    reply.set_content("Le 12/03/2012 10:02, Atlas a écrit :\n" + "\n".join(lines) + f"\n\n{note}\n")
    reply.set_param("format", "flowed")
    reply.set_param("delsp", "no")
    return reply.as_bytes()


def outlook_html_only(summary: bytes, edit: Edit, sender: str, note: str = "Ci-joint nos mises à jour.") -> bytes:
    """HTML only, windows-1252, « De : … Envoyé : … » header block, the form edited in the quote."""
    original, text = original_text(summary)
    form_html = "<br>\r\n".join(html.escape(line).replace("  ", "&nbsp; ") for line in edit(text.splitlines()))
    body = (
        "<html><head><meta http-equiv=Content-Type content=\"text/html; charset=windows-1252\"></head><body>"
        f"<div><p class=MsoNormal>Bonjour,<o:p></o:p></p><p class=MsoNormal>{html.escape(note)}<o:p></o:p></p></div>"
        "<div style='border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm'>"
        "<p class=MsoNormal><b>De&nbsp;:</b> Atlas &lt;atlas@cncd.example.fr&gt;<br><b>Envoyé&nbsp;:</b> lundi 12 mars 2012 10:02<br>"
        f"<b>À&nbsp;:</b> {html.escape(sender)}<br><b>Objet&nbsp;:</b> {html.escape(str(original['Subject']))}</p></div>"
        f"<p class=MsoNormal>{form_html}</p></body></html>"
    )
    reply = EmailMessage()
    reply_headers(reply, original, sender)
    reply.set_content(body.encode("cp1252", errors="replace"), maintype="text", subtype="html",
                      cte="quoted-printable")
    reply.replace_header("Content-Type", 'text/html; charset="windows-1252"')
    return reply.as_bytes()


def plain_answer(summary: bytes, text: str, sender: str) -> bytes:
    """A short answer above the untouched quote (« RAS »)."""
    original, body = original_text(summary)
    reply = EmailMessage()
    reply_headers(reply, original, sender)
    reply.set_content(f"{text}\n\nLe 12 mars 2012, Atlas a écrit :\n" + "\n".join(quote(body.splitlines())))
    return reply.as_bytes()


# --- edits an agent makes ----------------------------------------------------------------------------------

def set_field(ref: str, label: str, value: str) -> Edit:
    """Write `value` after `label` in the block of record `ref` (or of a NOUVEAU-… keyword)."""
    def edit(lines: list[str]) -> list[str]:
        out, inside = [], False
        for line in lines:
            if line.startswith("####"):
                inside = line.startswith(f"#### {ref} ")
            if inside and line.split(":")[0].rstrip(" *") == label:
                line = f"{line.split(':')[0]}: {value}"
            out.append(line)
        return out
    return edit


def chain(*edits: Edit) -> Edit:
    def edit(lines: list[str]) -> list[str]:
        for one in edits:
            lines = one(lines)
        return lines
    return edit
