"""An agent's message as the console shows it: its text (an HTML-only message turned into text, never
rendered) and its attachments (name, type, size) for download. Pure: raw bytes in, data out."""
from __future__ import annotations

import re
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import html2text

MAX_TEXT = 100_000  # characters shown on the page; the whole message stays downloadable
_UNSAFE_NAME = re.compile(r"[^\w.\- ]+", re.UNICODE)


@dataclass(frozen=True)
class Attachment:
    index: int
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True)
class MessageView:
    subject: str
    sender: str
    date: str
    text: str
    from_html: bool  # the agent sent only HTML: shown converted to text
    truncated: bool
    attachments: tuple[Attachment, ...]


def parse(raw: bytes) -> EmailMessage:
    return BytesParser(policy=policy.default).parsebytes(raw)


def view(raw: bytes) -> MessageView:
    message = parse(raw)
    text, from_html = _text(message)
    return MessageView(
        subject=_header(message, "Subject"), sender=_header(message, "From"), date=_header(message, "Date"),
        text=text[:MAX_TEXT], from_html=from_html, truncated=len(text) > MAX_TEXT,
        attachments=tuple(_attachments(message)))


def _header(message: EmailMessage, name: str) -> str:
    try:
        return str(message.get(name, "") or "")
    except Exception:  # a malformed header is shown empty rather than breaking the page
        return ""


def _text(message: EmailMessage) -> tuple[str, bool]:
    try:
        plain = message.get_body(("plain",))
        if plain is not None:
            return plain.get_content(), False
        html = message.get_body(("html",))
        if html is not None:
            converter = html2text.HTML2Text()
            converter.ignore_images = True
            converter.body_width = 0
            return converter.handle(html.get_content()), True
    except (LookupError, ValueError, AssertionError):
        pass
    return "", False


def attachment_parts(message: EmailMessage) -> list[EmailMessage]:
    """The parts an agent attached (named files, or any non-text part), in the message's order."""
    try:
        return [part for part in message.iter_attachments() if not part.is_multipart()] \
            if message.is_multipart() else []
    except Exception:
        return []


def _attachments(message: EmailMessage):
    for index, part in enumerate(attachment_parts(message)):
        payload = part.get_payload(decode=True) or b""
        yield Attachment(index, safe_filename(part.get_filename(), index), part.get_content_type(), len(payload))


def safe_filename(name: str | None, index: int) -> str:
    """A name fit for a Content-Disposition header and a reviewer's disk: no path, no control character."""
    cleaned = _UNSAFE_NAME.sub("_", (name or "").replace("\\", "/").rsplit("/", 1)[-1]).strip(" .")
    return cleaned[:120] or f"piece-jointe-{index + 1}"


def attachment_bytes(raw: bytes, index: int) -> tuple[str, bytes] | None:
    parts = attachment_parts(parse(raw))
    if not 0 <= index < len(parts):
        return None
    return safe_filename(parts[index].get_filename(), index), parts[index].get_payload(decode=True) or b""
