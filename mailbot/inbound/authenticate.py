"""Who really sent a message, as far as mail authentication can tell (pure, but for the DNS look-up
the caller passes in).

A From header is text anyone can write. What the receiving mail server found (SPF, DKIM, DMARC) is
in its `Authentication-Results` header (RFC 8601), read with the `authres` library, but only from
servers we trust (setting `trusted_authserv_ids`): anyone can write that header too, so the topmost
one with a trusted server id is taken and the others ignored. Without it, the message's DKIM
signatures are checked here (dkimpy).

The verdict, for the From domain:
- `pass`: DMARC passed, or an SPF or DKIM pass aligned with the From domain;
- `fail`: DMARC failed (the trusted server says so; or, checked here, the domain publishes a
  `reject` or `quarantine` policy and none of the aligned signatures verifies). SPF is not evaluated
  here (we do not see the connecting server as the MX does): trust the MX's header where there is one;
- `unknown`: no verdict (no trusted header, no signature): trust works as before, and reviewers see
  « authentification inconnue ».
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from email import policy
from email.message import Message
from email.parser import BytesHeaderParser
from email.utils import parseaddr
from typing import Callable

import authres
import dkim

# (name, timeout) → TXT record text, or None. dkimpy's own resolver (dnspython) by default.
DnsLookup = Callable[..., "bytes | str | None"]
MAX_SIGNATURES = 5  # checked per message: each costs a DNS look-up and an RSA verification
MAX_RESULTS_HEADERS = 20
MAX_HEAD_BYTES = 256 * 1024

LABELS = {
    "pass": "authentification vérifiée",
    "fail": "échec de l'authentification (DMARC) : expéditeur probablement usurpé",
    "unknown": "authentification inconnue",
}


@dataclass(frozen=True)
class Verdict:
    result: str  # pass | fail | unknown
    source: str  # authentication-results | dkim | "" (none)
    detail: str = ""  # what was found, for reviewers

    @property
    def label(self) -> str:
        return LABELS[self.result]

    def as_json(self) -> dict:
        return {"result": self.result, "source": self.source, "detail": self.detail[:500], "label": self.label}


UNKNOWN = Verdict("unknown", "", "aucun verdict d'un serveur de confiance, aucune signature DKIM")


def authenticate(raw: bytes, *, trusted_ids: tuple[str, ...] = (), dns: DnsLookup | None = None) -> Verdict:
    """The verdict on the address of the message's From header."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0][:MAX_HEAD_BYTES]
    message = BytesHeaderParser(policy=policy.compat32).parsebytes(head + b"\n")
    from_address = parseaddr(str(message.get("From", "") or ""))[1]
    domain = from_address.rpartition("@")[2].lower().strip(".")
    if not domain:
        return Verdict("unknown", "", "pas d'adresse d'expéditeur")
    trusted = {i.lower() for i in trusted_ids if i}
    if trusted:
        for value in (message.get_all("Authentication-Results") or [])[:MAX_RESULTS_HEADERS]:
            header = _parse(str(value))
            if header is not None and str(header.authserv_id).lower() in trusted:
                return _from_results(header, domain)
    return _check_dkim(raw, message, domain, dns)


def _parse(value: str):
    try:
        return authres.AuthenticationResultsHeader.parse_value(" ".join(value.split()))
    except Exception:  # a malformed header (or a hostile one) is no verdict
        return None


def aligned(domain: str, other: str) -> bool:
    """DMARC's relaxed alignment, approximated: the same domain, or one a subdomain of the other."""
    other = (other or "").lower().strip(".").rpartition("@")[2]
    return bool(other) and (domain == other or domain.endswith("." + other) or other.endswith("." + domain))


def _property(result, kind: str, name: str) -> str:
    for prop in getattr(result, "properties", []) or []:
        if prop.type == kind and prop.name == name:
            return str(prop.value or "")
    return ""


def _from_results(header, domain: str) -> Verdict:
    found = [f"{r.method}={r.result}" for r in header.results]
    detail = f"{header.authserv_id} : {', '.join(found) or 'aucun résultat'}"
    for result in header.results:
        if result.method == "dmarc" and aligned(domain, _property(result, "header", "from") or domain):
            if result.result == "pass":
                return Verdict("pass", "authentication-results", detail)
            if result.result == "fail":
                return Verdict("fail", "authentication-results", detail)
    for result in header.results:
        if result.result != "pass":
            continue
        if result.method == "dkim" and aligned(domain, _property(result, "header", "d")):
            return Verdict("pass", "authentication-results", detail)
        if result.method == "spf" and aligned(domain, _property(result, "smtp", "mailfrom")):
            return Verdict("pass", "authentication-results", detail)
    return Verdict("unknown", "authentication-results", detail)


_SIGNING_DOMAIN = re.compile(r"(?:^|;)\s*d\s*=\s*([^;\s]+)")
_POLICY = re.compile(r"(?:^|;)\s*p\s*=\s*(\w+)", re.IGNORECASE)


def _check_dkim(raw: bytes, message: Message, domain: str, dns: DnsLookup | None) -> Verdict:
    signatures = [str(v) for v in (message.get_all("DKIM-Signature") or [])][:MAX_SIGNATURES]
    if not signatures:
        return UNKNOWN
    lookup = dns or dkim.dnsplug.get_txt
    verified, failed = [], []
    for index, signature in enumerate(signatures):
        match = _SIGNING_DOMAIN.search(" ".join(signature.split()))
        signer = match.group(1).lower() if match else ""
        try:
            good = dkim.DKIM(raw).verify(idx=index, dnsfunc=lookup)
        except Exception:  # dkimpy raises on malformed signatures and keys: it did not verify
            good = False
        (verified if good else failed).append(signer)
    detail = "DKIM : " + ", ".join([f"{d}=pass" for d in verified] + [f"{d}=fail" for d in failed])
    if any(aligned(domain, signer) for signer in verified):
        return Verdict("pass", "dkim", detail)
    if _dmarc_policy(domain, lookup) in ("reject", "quarantine"):
        return Verdict("fail", "dkim", f"{detail} ; politique DMARC de {domain} : rejet")
    return Verdict("unknown", "dkim", detail)


def _dmarc_policy(domain: str, lookup: DnsLookup) -> str:
    try:
        record = lookup(f"_dmarc.{domain}.".encode())
    except Exception:  # no answer is no policy
        return ""
    text = record.decode("ascii", "replace") if isinstance(record, bytes) else str(record or "")
    if not text.lower().startswith("v=dmarc1"):
        return ""
    match = _POLICY.search(text)
    return match.group(1).lower() if match else ""
