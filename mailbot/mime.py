"""Bounded MIME parsing (pure): the shapes that would make the standard parser slow or recurse are
refused before it sees them, and every part's headers are measured before anything parses them.

Both readers of a message use it: the classifier (mailbot.classify) and the reply parser
(mailbot.parse). `BudgetExceeded` says, in French, which limit a message went past.
"""
from __future__ import annotations

import email
import re
from dataclasses import dataclass
from email import policy
from email.message import Message


class BudgetExceeded(ValueError):
    """The message is beyond what we agree to analyse; the text says which limit (in French)."""


@dataclass(frozen=True)
class ParseLimits:
    max_header_bytes: int = 256 * 1024
    max_header_fields: int = 1000
    max_header_field_bytes: int = 16 * 1024  # longer is no mail client's: a parser trap
    max_multiparts: int = 50  # bounds the nesting before the parser sees it (it recurses)
    max_delimiter_lines: int = 2000  # lines starting with "--": an upper bound on MIME parts
    max_depth: int = 20
    max_parts: int = 500
    max_text_chars: int = 1_000_000
    max_lines: int = 1_000_000  # 25 MB of attachments is 330,000 base64 lines; millions are a parser trap


DEFAULT_LIMITS = ParseLimits()


_HEADER_END = re.compile(rb"\r?\n\r?\n")
_DELIMITER = re.compile(rb"^--", re.MULTILINE)
_MULTIPART = re.compile(rb"^content-type:\s*multipart/", re.MULTILINE | re.IGNORECASE)


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
