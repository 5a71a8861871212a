"""DKIM (RFC 6376): signing what the bot sends, and the key pair a domain publishes.

Signing is done with dkimpy (the reference implementation in Python, also used by Mailman) on the
bytes as the delivery worker puts them on the wire (CRLF line ends); keys are made with
`cryptography`. Pure but for `load_key`, which reads the key file named by the settings.
"""
from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from email.message import EmailMessage
from functools import lru_cache
from pathlib import Path

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

KEY_BITS = 2048  # RFC 8301: at least 1024, 2048 recommended
# relaxed/relaxed: relays that re-fold a header or strip trailing spaces do not break the signature
CANONICALIZE = (b"relaxed", b"relaxed")
# what a person reads and what threads: changing any of them invalidates the signature
SIGNED_HEADERS = (b"from", b"to", b"subject", b"date", b"message-id", b"reply-to", b"in-reply-to",
                  b"references", b"mime-version", b"content-type", b"auto-submitted")
_TXT_CHUNK = 250  # a DNS TXT string holds at most 255 octets


class DkimError(ValueError):
    """The DKIM settings cannot be used; the message says why (shown as is)."""


@dataclass(frozen=True)
class DkimKey:
    selector: str
    domain: str
    private_pem: bytes = b""

    def __repr__(self) -> str:  # never print a private key in a log or a traceback
        return f"DkimKey(selector={self.selector!r}, domain={self.domain!r})"


# --- signing ------------------------------------------------------------------------------------------

def wire_bytes(raw: bytes) -> bytes:
    """The message as SMTP carries it (the delivery worker sends CRLF line ends): what is signed."""
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def signature_header(raw: bytes, key: DkimKey) -> str:
    """The value of the DKIM-Signature header for `raw` (without its name), folded as dkimpy folds it."""
    signed = dkim.sign(wire_bytes(raw), key.selector.encode(), key.domain.encode(), key.private_pem,
                       canonicalize=CANONICALIZE, include_headers=list(SIGNED_HEADERS))
    name, _, value = signed.decode("ascii").partition(":")
    assert name.lower() == "dkim-signature"
    return "\n".join(line.rstrip("\r") for line in value.strip().splitlines())


def sign(message: EmailMessage, raw: bytes, key: DkimKey) -> None:
    """Add the DKIM-Signature of `raw` (the bytes of `message` as it is now) to `message`.

    Set as written (`set_raw`): re-parsed, the policy could fold it differently. Signed headers and
    body are written again identically (`mailbot.render.message_bytes` is deterministic), so the
    signature holds for the message's final bytes."""
    message.set_raw("DKIM-Signature", signature_header(raw, key))


def verify(raw: bytes, dns_txt: dict[str, bytes]) -> bool:
    """Whether `raw` carries a valid DKIM signature, looking keys up in `dns_txt` (name → TXT record)
    instead of the DNS: for tests and for checking a record before publishing it."""
    def lookup(name, timeout=5):
        key = name.decode() if isinstance(name, bytes) else name
        return dns_txt.get(key.rstrip(".")) or None

    return bool(dkim.verify(wire_bytes(raw), dnsfunc=lookup))


# --- keys ---------------------------------------------------------------------------------------------

def new_private_key() -> bytes:
    """A fresh RSA key, PEM (PKCS#1, which every DKIM signer reads)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


def public_key_base64(private_pem: bytes) -> str:
    """The `p=` value of the DNS record: the public key, DER SubjectPublicKeyInfo, base64."""
    try:
        private = serialization.load_pem_private_key(private_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise DkimError(f"not an unencrypted PEM private key ({exc})") from None
    der = private.public_key().public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode("ascii")


def txt_value(private_pem: bytes) -> str:
    """The TXT record's text: `v=DKIM1; k=rsa; p=…`."""
    return f"v=DKIM1; k=rsa; p={public_key_base64(private_pem)}"


def record_name(key: DkimKey) -> str:
    return f"{key.selector}._domainkey.{key.domain}"


def zone_record(key: DkimKey) -> str:
    """The record as a zone file line, the text cut in strings of at most 250 octets."""
    text = txt_value(key.private_pem)
    strings = " ".join(f'"{text[i:i + _TXT_CHUNK]}"' for i in range(0, len(text), _TXT_CHUNK))
    return f"{record_name(key)}. IN TXT ( {strings} )"


# --- the settings (I/O) ---------------------------------------------------------------------------------

def key_from_settings(selector: str, domain: str, key_path: str) -> DkimKey | None:
    """The signing key the settings name (None: DKIM off, when no key file is set)."""
    if not key_path:
        return None
    if not selector or not domain:
        raise DkimError("dkim_key is set: dkim_selector and dkim_domain (or from_address) are needed too")
    path = Path(key_path)
    try:
        stamp = path.stat().st_mtime_ns
    except OSError as exc:
        raise DkimError(f"DKIM key {path}: {exc.strerror or exc}") from None
    return _read_key(str(path), stamp, selector, domain)


@lru_cache(maxsize=4)  # read once per process (keyed by mtime: a replaced key is read again)
def _read_key(path: str, stamp: int, selector: str, domain: str) -> DkimKey:
    pem = Path(path).read_bytes()
    public_key_base64(pem)  # refuse an unusable key now, not at the first message
    return DkimKey(selector, domain, pem)


def write_private_key(path: Path, pem: bytes, *, overwrite: bool = False) -> None:
    """Write a private key readable by its owner only."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise DkimError(f"{path} exists already (--force to replace it)") from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
