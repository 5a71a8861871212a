"""Replies as real clients write them to any of our messages (an acknowledgement, a decision notice, a
reviewer's answer), and replies carrying files, for the conversation and attachment tests.

Threading follows RFC 5322 as the clients do it: In-Reply-To is the message answered, References its
References plus its Message-ID (Outlook adds Thread-Index/Thread-Topic, Gmail a multipart/alternative
with both parts, Thunderbird format=flowed and RFC 2231 file names, iPhone Mail an inline image).
"""
from __future__ import annotations

import base64
import html
from email import policy
from email.message import EmailMessage
from email.mime.application import MIMEApplication
from email.mime.image import MIMEImage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.parser import BytesParser
from email.utils import formatdate

from mailbot.devtools.client_shapes import Edit, original_text, quote


def parsed(raw: bytes) -> EmailMessage:
    return BytesParser(policy=policy.default).parsebytes(raw)


def _thread(original: EmailMessage) -> tuple[str, str]:
    msgid = str(original["Message-ID"])
    refs = " ".join(str(original["References"] or "").split())
    return msgid, f"{refs} {msgid}".strip()


def _subject(original: EmailMessage, prefix: str) -> str:
    subject = str(original["Subject"] or "")
    return subject if subject.lower().startswith(prefix.lower()) else f"{prefix} {subject}"


def _set_headers(reply, original: EmailMessage, sender: str, msgid: str, prefix: str = "RE:") -> None:
    in_reply_to, references = _thread(original)
    reply["From"] = sender
    reply["To"] = str(original["Reply-To"] or original["From"])
    reply["Subject"] = _subject(original, prefix)
    reply["Date"] = formatdate(localtime=True)
    reply["Message-ID"] = msgid
    reply["In-Reply-To"] = in_reply_to
    reply["References"] = references


def _plain(original: EmailMessage) -> str:
    return original.get_body(("plain",)).get_content()


def outlook_reply(ours: bytes, words: str, sender: str, msgid: str) -> bytes:
    """Outlook 2016: HTML only, windows-1252, quoted-printable, the answered message under a
    « De : … Envoyé : … » block, Thread-Index and Thread-Topic."""
    original = parsed(ours)
    quoted = "<br>\r\n".join(html.escape(line) for line in _plain(original).splitlines())
    paragraphs = "".join(f"<p class=MsoNormal>{html.escape(p)}<o:p></o:p></p>" for p in words.split("\n"))
    body = (
        "<html xmlns:o=\"urn:schemas-microsoft-com:office:office\"><head><meta http-equiv=Content-Type "
        "content=\"text/html; charset=windows-1252\"></head><body lang=FR><div class=WordSection1>"
        f"{paragraphs}<p class=MsoNormal><o:p>&nbsp;</o:p></p>"
        "<div style='border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm'>"
        f"<p class=MsoNormal><b>De&nbsp;:</b> Atlas &lt;{html.escape(str(original['From']))}&gt;<br>"
        "<b>Envoyé&nbsp;:</b> mardi 13 mars 2012 09:12<br>"
        f"<b>À&nbsp;:</b> {html.escape(sender)}<br><b>Objet&nbsp;:</b> {html.escape(str(original['Subject']))}</p></div>"
        f"<p class=MsoNormal>{quoted}</p></div></body></html>"
    )
    reply = EmailMessage()
    _set_headers(reply, original, sender, msgid, "RE:")
    reply["Thread-Topic"] = str(original["Subject"])
    reply["Thread-Index"] = "AQHZ" + base64.b64encode(msgid.encode()).decode()[:20]
    reply["X-Mailer"] = "Microsoft Outlook 16.0"
    reply.set_content(body.encode("cp1252", errors="replace"), maintype="text", subtype="html", cte="quoted-printable")
    reply.replace_header("Content-Type", 'text/html; charset="windows-1252"')
    return reply.as_bytes()


def gmail_reply(ours: bytes, words: str, sender: str, msgid: str) -> bytes:
    """Gmail: multipart/alternative, the text part quoting with « > » under « Le … a écrit : »."""
    original = parsed(ours)
    text = f"{words}\n\nLe mar. 13 mars 2012 à 09:12, Atlas <{original['From']}> a écrit :\n"
    text += "\n".join(quote(_plain(original).splitlines())) + "\n"
    html_body = (f'<div dir="ltr">{"<br>".join(html.escape(line) for line in words.splitlines())}</div><br>'
                 f'<div class="gmail_quote"><blockquote class="gmail_quote">'
                 f'{"<br>".join(html.escape(line) for line in _plain(original).splitlines())}</blockquote></div>')
    reply = EmailMessage()
    _set_headers(reply, original, sender, msgid, "Re:")
    reply.set_content(text)
    reply.add_alternative(html_body, subtype="html")
    return reply.as_bytes()


def thunderbird_form_with_file(summary: bytes, edit: Edit, sender: str, msgid: str, *, filename: str,
                               data: bytes, content_type: str = "application/pdf", words: str = "Bonjour,\nCi-joint notre délibération.") -> bytes:
    """Thunderbird: multipart/mixed, a format=flowed text part with the edited form quoted, then the
    file with an RFC 2231 encoded name (filename*=UTF-8''…)."""
    original, text = original_text(summary)
    body = f"{words}\n\nLe 12/03/2012 10:02, Atlas a écrit :\n" + "\n".join(quote(edit(text.splitlines()))) + "\n"
    reply = EmailMessage()
    _set_headers(reply, original, sender, msgid, "Re:")
    reply["User-Agent"] = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 Thunderbird/115.8.0"
    reply.set_content(body)
    reply.set_param("format", "flowed")
    maintype, subtype = content_type.split("/")
    reply.add_attachment(data, maintype=maintype, subtype=subtype, filename=("utf-8", "", filename))
    return reply.as_bytes()


def iphone_with_image(summary: bytes, words: str, sender: str, msgid: str, *, jpeg: bytes,
                      filename: str = "IMG_0412.jpeg") -> bytes:
    """iPhone Mail: multipart/mixed, a short text part, the photo inline with its name, no quote
    of the form, « Envoyé de mon iPhone »."""
    original, _ = original_text(summary)
    reply = MIMEMultipart("mixed", boundary="Apple-Mail-6F1A3B2C-0D4E-4F51-9A2B-3C4D5E6F7081")
    _set_headers(reply, original, sender, msgid, "Re:")
    reply["X-Mailer"] = "iPhone Mail (21D61)"
    reply.attach(MIMEText(f"{words}\n\nEnvoyé de mon iPhone\n", "plain", "utf-8"))
    image = MIMEImage(jpeg, "jpeg", name=filename)
    image.add_header("Content-Disposition", "inline", filename=filename)
    reply.attach(image)
    return reply.as_bytes()


def outlook_form_with_file(summary: bytes, edit: Edit, sender: str, msgid: str, *, filename: str, data: bytes,
                           content_type: str = "application/pdf") -> bytes:
    """Outlook: multipart/mixed, the HTML part (windows-1252) with the edited form, then the file,
    base64, its name as an RFC 2047 encoded word in both name= and filename= (as Outlook writes it)."""
    original, text = original_text(summary)
    form_html = "<br>\r\n".join(html.escape(line) for line in edit(text.splitlines()))
    body = ("<html><head><meta http-equiv=Content-Type content=\"text/html; charset=windows-1252\"></head><body>"
            "<p class=MsoNormal>Bonjour,</p><p class=MsoNormal>Veuillez trouver ci-joint notre rapport.</p>"
            "<div style='border:none;border-top:solid #E1E1E1 1.0pt'><p class=MsoNormal><b>De&nbsp;:</b> Atlas</p></div>"
            f"<p class=MsoNormal>{form_html}</p></body></html>")
    reply = MIMEMultipart("mixed")
    _set_headers(reply, original, sender, msgid, "RE:")
    part = MIMEText(body.encode("cp1252", errors="replace").decode("cp1252"), "html", "windows-1252")
    reply.attach(part)
    maintype, subtype = content_type.split("/")
    encoded = "=?utf-8?B?" + base64.b64encode(filename.encode()).decode() + "?="
    attachment = MIMEApplication(data, subtype)
    attachment.replace_header("Content-Type", f'{maintype}/{subtype}; name="{encoded}"')
    attachment.add_header("Content-Disposition", "attachment", filename=encoded)
    reply.attach(attachment)
    return reply.as_bytes()
