"""Signed form references.

A token binds a campaign, a collectivité and one outbound message: `r<message id in base36>-<mac>`.
All lowercase letters and digits, because some MTAs lowercase the local part of an address, and the
token travels as a plus address (`atlas+TOKEN@domain`) as well as in the body. It proves which form a
reply answers; it authenticates nobody.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

MAC_LENGTH = 16
TOKEN_RE = re.compile(r"\br([0-9a-z]{1,12})-([a-z2-7]{%d})\b" % MAC_LENGTH, re.IGNORECASE)


@dataclass(frozen=True)
class FormReference:
    message_id: int  # our outbound message's id
    mac: str


def _mac(secret: str, campaign: str, collectivite: str, message_id: int) -> str:
    payload = f"{campaign}|{collectivite}|{message_id}".encode()
    digest = hmac.new(secret.encode(), payload, hashlib.sha256).digest()
    return base64.b32encode(digest).decode().lower()[:MAC_LENGTH]


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if number == 0:
            return out


def make_token(secret: str, campaign: str, collectivite: str, message_id: int) -> str:
    return f"r{_base36(message_id)}-{_mac(secret, campaign, collectivite, message_id)}"


def find_tokens(text: str) -> list[FormReference]:
    """Every token-shaped string in `text`, in order, without duplicates (not yet verified)."""
    seen: dict[tuple[int, str], FormReference] = {}
    for match in TOKEN_RE.finditer(text or ""):
        ref = FormReference(int(match.group(1).lower(), 36), match.group(2).lower())
        seen.setdefault((ref.message_id, ref.mac), ref)
    return list(seen.values())


def verify(secret: str, ref: FormReference, campaign: str, collectivite: str) -> bool:
    """True when `ref` was made by us for this campaign, collectivité and message."""
    expected = _mac(secret, campaign, collectivite, ref.message_id)
    return hmac.compare_digest(expected, ref.mac.lower())
