"""Reading a message within limits (pure): bounded MIME parsing, decoded headers and body texts.

Parsing is bounded by `ParseLimits`: deep MIME nesting, huge numbers of parts and pathological
headers raise `BudgetExceeded` instead of consuming a worker or crashing it. Everything that looks
at what a message says (the classifier, the reply parser, token-less identification) reads it
through these functions, so they all see the same text.
"""
from __future__ import annotations

import email
import re
import unicodedata
from dataclasses import dataclass
from email import policy
from email.header import Header, decode_header
from email.message import Message

from mailbot.inert import inert_text


class BudgetExceeded(ValueError):
    """The message is beyond what we agree to analyse; the text says which limit (in French)."""


@dataclass(frozen=True)
class ParseLimits:
    max_header_bytes: int = 256 * 1024
    max_header_fields: int = 1000
    max_header_field_bytes: int = 16 * 1024  # longer is no mail client's: a parser trap
    # the standard parameter splitter (message._parseparam) is quadratic in a header's length
    max_parameter_header_bytes: int = 4096
    max_multiparts: int = 50  # bounds the nesting before the parser sees it (it recurses)
    max_delimiter_lines: int = 2000  # lines starting with "--": an upper bound on MIME parts
    max_depth: int = 20
    max_parts: int = 500
    max_text_chars: int = 1_000_000
    max_lines: int = 1_000_000  # 25 MB of attachments is 330,000 base64 lines; millions are a parser trap


DEFAULT_LIMITS = ParseLimits()


# --- bounded parsing ---------------------------------------------------------------------------------

_HEADER_END = re.compile(rb"\r?\n\r?\n")
_DELIMITER = re.compile(rb"^--", re.MULTILINE)
_MULTIPART = re.compile(rb"^content-type:\s*multipart/", re.MULTILINE | re.IGNORECASE)
_PARAMETER_HEADER = re.compile(rb"^content-(?:type|disposition):[^\r\n]*(?:\r?\n[ \t][^\r\n]*)*",
                               re.MULTILINE | re.IGNORECASE)


def check_budget(raw: bytes, limits: ParseLimits) -> None:
    """Refuse, before the email package sees them, shapes that would make it slow or recurse."""
    match = _HEADER_END.search(raw, 0, limits.max_header_bytes + 4)
    head = raw[:match.start()] if match else raw[:limits.max_header_bytes + 1]
    if len(head) > limits.max_header_bytes:
        raise BudgetExceeded(f"en-têtes de plus de {limits.max_header_bytes} octets")
    fields = 0
    current = 0
    for line in head.splitlines():
        if line[:1] in (b" ", b"\t"):
            current += len(line)
        else:
            fields += 1
            current = len(line)
        if current > limits.max_header_field_bytes:
            raise BudgetExceeded(f"un en-tête de plus de {limits.max_header_field_bytes} octets")
    if fields > limits.max_header_fields:
        raise BudgetExceeded(f"plus de {limits.max_header_fields} en-têtes")
    if max(raw.count(b"\n"), raw.count(b"\r")) > limits.max_lines:  # the parser splits on both
        raise BudgetExceeded(f"plus de {limits.max_lines} lignes")
    if len(_MULTIPART.findall(raw)) > limits.max_multiparts:
        raise BudgetExceeded(f"plus de {limits.max_multiparts} parties multipart imbriquées ou juxtaposées")
    if len(_DELIMITER.findall(raw)) > limits.max_delimiter_lines:
        raise BudgetExceeded(f"plus de {limits.max_delimiter_lines} délimiteurs MIME")
    # wherever it sits (the parser reads each part's Content-Type as it goes, before any part check)
    if any(len(field.group()) > limits.max_parameter_header_bytes for field in _PARAMETER_HEADER.finditer(raw)):
        raise BudgetExceeded(f"un en-tête Content-Type ou Content-Disposition de plus de "
                             f"{limits.max_parameter_header_bytes} octets")


def parse_bounded(raw: bytes, limits: ParseLimits = DEFAULT_LIMITS) -> Message:
    check_budget(raw, limits)
    # compat32 is the lenient parser: it records defects (missing boundary, bad charset…) instead of raising.
    message = email.message_from_bytes(raw, policy=policy.compat32)
    parts = 0
    stack = [(message, 0)]
    while stack:
        part, depth = stack.pop()
        parts += 1
        if depth > limits.max_depth:
            raise BudgetExceeded(f"imbrication MIME de plus de {limits.max_depth} niveaux")
        if parts > limits.max_parts:
            raise BudgetExceeded(f"plus de {limits.max_parts} parties MIME")
        _check_part_headers(part, limits)
        if part.is_multipart():
            stack.extend((child, depth + 1) for child in part.get_payload())
    return message


def _check_part_headers(part: Message, limits: ParseLimits) -> None:
    """Every MIME part's headers within the limits, before anything parses their values: the
    standard header parser is quadratic on a long folded header, wherever it sits."""
    total = 0
    for name, value in part._headers:  # the raw (name, value) pairs compat32 keeps
        size = len(name) + len(value)
        total += size
        if size > limits.max_header_field_bytes:
            raise BudgetExceeded(f"un en-tête de partie MIME de plus de {limits.max_header_field_bytes} octets")
    if total > limits.max_header_bytes or len(part._headers) > limits.max_header_fields:
        raise BudgetExceeded("en-têtes de partie MIME trop volumineux")


def _unsurrogate(text: str) -> str:
    """Undeclared 8-bit header bytes arrive as surrogates: read them as UTF-8, else Windows-1252."""
    if not any("\udc80" <= ch <= "\udcff" for ch in text):
        return text
    data = text.encode("utf-8", "surrogateescape")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Text in its declared charset; undeclared or wrong, UTF-8, then Windows-1252 (never fails)."""
    for candidate in (charset, "utf-8"):
        if not candidate or candidate == "unknown-8bit":
            continue
        try:
            return data.decode(candidate)
        except (LookupError, UnicodeDecodeError, ValueError, TypeError):
            continue  # unknown, misspelt or hostile charset names (« x-un\0nown »): the fallbacks
    return data.decode("cp1252", "replace")


# A header is decoded this far at most: enough for any subject, name or reference list we read, and a
# bound on the parser's work whatever a sender puts in one header (the budgets above bound the count).
MAX_HEADER_TEXT = 16 * 1024
_LINE_BREAKS = re.compile(r"[\r\n]")


def header_text(value) -> str:
    """A header as readable text, whatever encoded-words, charsets or raw 8-bit bytes it carries.

    Encoded-words are decoded by the standard parser (`email.policy.default`, as an unstructured
    header), which keeps the spaces between an encoded-word and the words around it that
    `email.header.decode_header` dropped (« Mise àjour »). Undeclared 8-bit bytes (which the
    lenient compat32 parser hands over as surrogates, or in a `Header`) are read as UTF-8, else
    Windows-1252, first."""
    text = _unsurrogate(_bounded(_raw_header(value)))
    # RFC 5322 unfolding: the line breaks go, the spaces stay; escape sequences go whole (mailbot.inert)
    unfolded = inert_text(_LINE_BREAKS.sub("", text), keep_bidi=True)
    try:
        decoded = str(policy.default.header_factory("subject", unfolded))
    except Exception:  # the parser answers for any input, but a header must never stop a message
        decoded = unfolded
    # control characters and escape sequences mean nothing to a reader, and a NUL cannot be stored
    # (PostgreSQL text), whether written as is or inside an encoded-word
    return " ".join(inert_text(decoded, keep_bidi=True).split())


def _bounded(text: str) -> str:
    """At most MAX_HEADER_TEXT characters, cut at a space so that no encoded-word is cut in two."""
    if len(text) <= MAX_HEADER_TEXT:
        return text
    cut = text[:MAX_HEADER_TEXT]
    space = max(cut.rfind(" "), cut.rfind("\t"))
    return cut[:space] if space > 0 else cut


def _raw_header(value) -> str:
    """The header's text as received: compat32 wraps a value with undeclared 8-bit bytes in a
    `Header` (unknown-8bit), whose bytes `decode_header` gives back unchanged."""
    if isinstance(value, Header):
        return "".join(chunk.decode("ascii", "surrogateescape") if isinstance(chunk, bytes) else chunk
                       for chunk, _charset in decode_header(value))
    return str(value or "")


def decode_part(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if payload is None:
        payload = part.get_payload()
        return payload if isinstance(payload, str) else ""
    return decode_bytes(payload, part.get_content_charset())


_TAG = re.compile(r"<[^>]{0,2000}>")
_SKIP_SUBTREES = ("message/rfc822", "message/delivery-status", "text/rfc822-headers", "message/disposition-notification")


def body_texts(message: Message, max_chars: int) -> tuple[str, ...]:
    """The readable text parts, in order, without attached messages (an attached copy of someone
    else's summary is not a reply to it)."""
    texts: list[str] = []
    total = 0
    stack = [message]
    while stack and total < max_chars:
        part = stack.pop(0)
        ctype = part.get_content_type()
        if part is not message and ctype in _SKIP_SUBTREES:
            continue
        if part.is_multipart():
            stack[0:0] = list(part.get_payload())
            continue
        if part.get_content_maintype() not in ("text", "") or part.get_filename():
            continue
        text = decode_part(part)
        if ctype == "text/html":
            text = _TAG.sub(" ", text)
        texts.append(text[: max_chars - total])
        total += len(texts[-1])
    return tuple(texts)


def normalise(text: str) -> str:
    """Casefolded, without accents: « Réponse AUTOMATIQUE » → « reponse automatique »."""
    decomposed = unicodedata.normalize("NFKD", text)
    return " ".join("".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold().split())
