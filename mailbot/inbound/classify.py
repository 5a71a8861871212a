"""Classification of inbound mail (pure: message bytes + envelope in, a `Classification` out).

What a message is decides what may happen to it: a reply to one of our forms goes to the parsing
pipeline, a bounce marks a delivery, a command gets its answer, and anything a robot sent is
recorded and never answered. The rules are data (`RULES`), tried in order; the first that
recognises the message wins, so a bounce quoting our summary (with its token) is a bounce, and an
out-of-office saying « AIDE » in its subject is an auto-reply.

The message is read within `ParseLimits` (`mailbot.inbound.read`): a message beyond them is of
kind `too_complex` (kept for reviewers, its sender told once) instead of consuming a worker or
crashing it. Tokens and commands are looked for in the message's canonical text, the one the reply
parser reads (`mailbot.replies.parse.reply_text`).
No I/O, no session, no configuration: the caller passes our address and the VERP secret.
"""
from __future__ import annotations

import email
import re
from dataclasses import dataclass, field, replace
from functools import cached_property
from email import policy
from email.message import Message
from email.utils import getaddresses, parseaddr
from typing import Callable

from flufl.bounce import all_failures

from mailbot.budget import checkpoint
from mailbot.inbound.attachments import KeptFile
from mailbot.inbound.read import (
    DEFAULT_LIMITS,
    BudgetExceeded,
    ParseLimits,
    body_texts,
    header_text,
    normalise,
    parse_bounded,
)
from mailbot.inbound.robots import OPENING_CHARS, TEXT_SIGNAL, autoreply_signal
from mailbot.outbound.outbox import parse_return_path
from mailbot.replies.identify import CandidateScan
from mailbot.replies.parse import ParsedReply, parse_reply, parse_text, reply_text
from mailbot.tokens import FormReference, find_tokens

KINDS = ("reply", "bounce", "autoreply", "list", "bulk", "command", "own", "malformed", "too_complex", "unknown")
COMMANDS = ("AIDE", "FICHE")
OUR_MAILER = "atlas-mailbot"  # the X-Mailer of everything mailbot.outbound.render builds




@dataclass(frozen=True)
class Envelope:
    sender: str  # MAIL FROM; "" for the null sender
    recipients: tuple[str, ...] = ()


@dataclass(frozen=True)
class Classification:
    kind: str
    reason: str  # in French: reviewers read it
    details: dict = field(default_factory=dict)  # JSON-serialisable; "auto": True means never answer
    # Not stored: the message's canonical text (mailbot.replies.parse.reply_text), and what the worker read
    # from it before its write transaction (mailbot.inbound.queue.analyse): the reply, its forms' diffs.
    text: str | None = field(default=None, compare=False, repr=False)
    parsed: ParsedReply | None = field(default=None, compare=False, repr=False)
    diffs: dict | None = field(default=None, compare=False, repr=False)  # mailbot.replies.understand.prepare_diffs
    scan: CandidateScan | None = field(default=None, compare=False, repr=False)  # mailbot.replies.tokenless.scan_message
    files: tuple[KeptFile, ...] | None = field(default=None, compare=False, repr=False)  # attachments.assess_files

    def reading(self, raw: bytes) -> ParsedReply:
        """The reply as the parser reads it: the worker's parse of the canonical text, else that text
        parsed now, else (a message classified before canonical texts were kept) the raw message."""
        if self.parsed is not None:
            return self.parsed
        return parse_text(self.text) if self.text is not None else parse_reply(raw)


@dataclass(frozen=True)
class MailView:
    """What the rules look at: decoded headers, body texts and the references we can verify."""

    envelope: Envelope
    our_address: str
    secret: str
    message: Message = field(compare=False, repr=False)
    raw: bytes = field(compare=False, repr=False)
    subject: str
    from_address: str
    message_id: str
    content_type: str
    report_type: str
    texts: tuple[str, ...]  # every readable part, attached messages aside (bounce diagnostics)
    text: str = ""  # the canonical text the parser reads (mailbot.replies.parse.reply_text): tokens, commands

    def header(self, name: str) -> str:
        return header_text(self.message.get(name, "") or "")

    def headers(self, name: str) -> list[str]:
        return [header_text(value) for value in self.message.get_all(name, []) or []]

    @property
    def our_domain(self) -> str:
        return self.our_address.rpartition("@")[2].lower()

    @property
    def our_local(self) -> str:
        return self.our_address.partition("@")[0].lower()

    @cached_property
    def references(self) -> dict:
        return _references(self)


Rule = Callable[[MailView], "Classification | None"]


# --- entry point -----------------------------------------------------------------------------------

def classify(
    raw: bytes,
    envelope: Envelope,
    *,
    our_address: str,
    secret: str,
    limits: ParseLimits = DEFAULT_LIMITS,
) -> Classification:
    """The kind of `raw`, why, and the details routing needs (tokens, bounce report…)."""
    try:
        view = read_message(raw, envelope, our_address=our_address, secret=secret, limits=limits)
        for rule in RULES:
            result = rule(view)
            if result is not None:
                return replace(result, text=view.text)
        return Classification("unknown", "ni réponse à un formulaire, ni commande, ni rebond, ni réponse "
                                         "automatique : conservé pour les relecteurs", view.references, text=view.text)
    except BudgetExceeded as exc:
        return too_complex(str(exc))
    except (RecursionError, MemoryError) as exc:
        return Classification("malformed", "analyse interrompue : structure trop profonde",
                              {"error": exc.__class__.__name__})
    except Exception as exc:  # hostile input must never take a worker down; the error is recorded
        return Classification("malformed", f"message illisible ({exc.__class__.__name__})",
                              {"error": f"{exc.__class__.__name__}: {exc}"[:500]})


def too_complex(reason: str, earlier: Classification | None = None) -> Classification:
    """Beyond what we agree to read automatically: kept for reviewers, the sender told once. A message
    already known to come from a robot stays unanswered."""
    details = {"error": reason, "auto": bool(earlier and earlier.details.get("auto"))}
    if earlier is not None:
        details["kind_before"] = earlier.kind
    return Classification("too_complex", f"message trop complexe pour une lecture automatique ({reason}) : "
                                         "transmis aux relecteurs", details)


def read_message(raw: bytes, envelope: Envelope, *, our_address: str, secret: str,
                 limits: ParseLimits = DEFAULT_LIMITS) -> MailView:
    message = parse_bounded(raw, limits)
    checkpoint()
    return MailView(
        envelope=envelope,
        our_address=our_address,
        secret=secret,
        message=message,
        raw=raw,
        subject=header_text(message.get("Subject", "") or ""),
        from_address=parseaddr(header_text(message.get("From", "") or ""))[1].lower(),
        message_id=header_text(message.get("Message-ID", "") or "").strip(),
        content_type=message.get_content_type(),
        report_type=(message.get_param("report-type") or "").lower() if message.is_multipart() else "",
        texts=body_texts(message, limits.max_text_chars),
        text=reply_text(message)[0][:limits.max_text_chars],
    )


# --- rules -------------------------------------------------------------------------------------------

def is_own(view: MailView) -> Classification | None:
    """One of our own messages come back (a forwarding loop, a mailbox copying us)."""
    if not _is_our_address(view, view.from_address):
        return None
    ours_by_mailer = view.header("X-Mailer") == OUR_MAILER
    ours_by_id = view.message_id.lower().endswith(f".atlas@{view.our_domain}>")
    if ours_by_mailer or ours_by_id:
        return Classification("own", "notre propre message, revenu : ignoré",
                              {"auto": True, "message_id": view.message_id})
    return None


_DAEMON = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|mailerdaemon|mail-delivery-system|"
                     r"microsoftexchange[0-9a-f]*|mdaemon)(@|$)")
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered|returned mail|delivery status notification|delivery (has )?failed|"
    r"delivery failure|mail delivery|failure notice|non remis|echec de (la )?(remise|distribution)|"
    r"message non distribue|notification d.etat de (la )?remise|retour de courrier|"
    r"could not be delivered|delivery delayed|delayed mail|warning: message|unzustellbar"
)
_FAILURE_WORDS = re.compile(r"fail|echec|undeliver|non remis|returned|unzustellbar|non distribu")
_STATUS_CODE = re.compile(r"\b([245])\.\d{1,3}\.\d{1,3}\b")
_DELAY_WORDS = re.compile(r"delay|retard|differe|will (continue|retry)|continue trying|temporar|warning|4\.\d\.\d")


def is_bounce(view: MailView) -> Classification | None:
    """A delivery report: RFC 3464 DSN, or a non-standard one flufl.bounce recognises.

    Recognised by its structure (a `multipart/report` of delivery status, a delivery-status part
    anywhere, `X-Failed-Recipients`, flufl.bounce's scan), whatever the envelope sender and whatever
    address it came to, a token address included: some servers send their reports from an ordinary
    address. Sender and subject only support the weaker, heuristic evidence.

    VERP recipients name our delivery (or our message, sent to several recipients at once) even
    when the report is poor; the MAC in them means a forged « bounce » cannot mark anyone's address.
    """
    named = [p for p in (parse_return_path(view.secret, r) for r in view.envelope.recipients) if p]
    delivery_ids = sorted({row_id for kind, row_id in named if kind == "delivery"})
    outbound_ids = sorted({row_id for kind, row_id in named if kind == "message"})
    null_sender = view.envelope.sender in ("", "<>")
    daemon = bool(_DAEMON.match(view.from_address))
    subject_says = bool(_BOUNCE_SUBJECT.search(normalise(view.subject)))
    is_dsn = view.content_type == "multipart/report" and view.report_type == "delivery-status"
    failed_header = bool(view.message.get("X-Failed-Recipients"))
    dsn = dsn_actions(view.message)
    temporary, permanent = _flufl_failures(_scanned(view))
    evidence = is_dsn or dsn or failed_header or temporary or permanent or (subject_says and (null_sender or daemon or named))
    if not evidence:
        return None
    severity, detector = _severity(view, dsn, temporary, permanent)
    status, diagnostic = _diagnostic(view, dsn)
    details = {
        "auto": True,
        "severity": severity,
        "detector": detector,
        "permanent": sorted(set(permanent) | {a for a, act in dsn.items() if act[0] == "failed"}),
        "temporary": sorted(set(temporary) | {a for a, act in dsn.items() if act[0] == "delayed"}),
        "delivery_ids": delivery_ids,
        "outbound_ids": outbound_ids,
        "status": status,
        "diagnostic": diagnostic,
    }
    label = {"permanent": "rebond définitif", "temporary": "avis de retard ou échec temporaire",
             "none": "avis de remise (pas un échec)"}[severity]
    who = ", ".join(details["permanent"] or details["temporary"]) or (
        f"remise n° {', '.join(map(str, delivery_ids))}" if delivery_ids else
        f"message n° {', '.join(map(str, outbound_ids))}" if outbound_ids else "destinataire non identifié")
    return Classification("bounce", f"{label} : {who}" + (f" ({status})" if status else ""), details)


def dsn_actions(message: Message) -> dict[str, tuple[str, str, str]]:
    """RFC 3464 per-recipient blocks: address → (action, status, diagnostic)."""
    found: dict[str, tuple[str, str, str]] = {}
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status" or not part.is_multipart():
            continue
        for block in part.get_payload():
            recipient = block.get("Original-Recipient") or block.get("Final-Recipient") or ""
            address = str(recipient).partition(";")[2].strip().strip("<>").lower()
            action = str(block.get("Action", "")).strip().lower().split(" ")[0]
            if not address or not action:
                continue
            action = "failed" if action.startswith(("fail", "error")) else action
            found[address] = (action, str(block.get("Status", "")).strip().split(" ")[0],
                              " ".join(str(block.get("Diagnostic-Code", "")).split())[:300])
    return found


# flufl.bounce tries ~20 detectors on every line: it reads at most this much. A report says what
# failed near its top; what follows is the quoted original. Some of its patterns are quadratic in a
# line's length (a fuzzed 64 KB line: 6 s): lines are cut at the standard's 998 characters.
FLUFL_SCAN_BYTES = 64 * 1024
FLUFL_SCAN_LINES = 1500
FLUFL_LINE_BYTES = 998


def _scanned(view: MailView) -> Message:
    """The message flufl.bounce scans: its head when it is large."""
    head = view.raw[:FLUFL_SCAN_BYTES]
    cut = -1
    for _ in range(FLUFL_SCAN_LINES):
        cut = head.find(b"\n", cut + 1)
        if cut < 0:
            break
    if cut >= 0:
        head = head[:cut + 1]
    lines = head.split(b"\n")
    if len(head) == len(view.raw) and all(len(line) <= FLUFL_LINE_BYTES for line in lines):
        return view.message
    head = b"\n".join(line[:FLUFL_LINE_BYTES] for line in lines)
    return email.message_from_bytes(head, policy=policy.compat32)


def _flufl_failures(message: Message) -> tuple[list[str], list[str]]:
    try:
        temporary, permanent = all_failures(message)
    except Exception:  # a detector choking on odd input is no reason to lose the message
        return [], []
    as_text = lambda found: sorted({a.decode("ascii", "replace").lower() for a in found})  # noqa: E731
    return as_text(temporary), as_text(permanent)


def _severity(view: MailView, dsn: dict, temporary: list[str], permanent: list[str]) -> tuple[str, str]:
    actions = {act[0] for act in dsn.values()}
    if "failed" in actions:
        return "permanent", "dsn"
    if "delayed" in actions:
        return "temporary", "dsn"
    if actions:
        return "none", "dsn"  # delivered / relayed / expanded: a positive report
    if permanent:
        return "permanent", "flufl.bounce"
    if temporary:
        return "temporary", "flufl.bounce"
    text = normalise(" ".join((view.subject, *view.texts))[:20000])
    codes = set(_STATUS_CODE.findall(text))
    if "5" in codes:
        return "permanent", "heuristic"
    if "4" in codes or _DELAY_WORDS.search(normalise(view.subject)):
        return "temporary", "heuristic"
    if _FAILURE_WORDS.search(normalise(view.subject)):
        return "permanent", "heuristic"
    return "temporary", "heuristic"  # unclear: record it, do not mark anyone bouncing


def _diagnostic(view: MailView, dsn: dict) -> tuple[str, str]:
    for action, status, diagnostic in dsn.values():
        if action in ("failed", "delayed"):
            return status, diagnostic
    for text in view.texts:
        for line in text.splitlines():
            match = _STATUS_CODE.search(line)
            if match:
                return match.group(0), " ".join(line.split())[:300]
    return "", ""


def is_autoreply(view: MailView) -> Classification | None:
    """An automatic answer: RFC 3834, the headers robots set, the subjects and openings they write
    (the patterns are data: mailbot.robots), or a read receipt."""
    if view.content_type == "multipart/report" and view.report_type == "disposition-notification":
        return Classification("autoreply", "accusé de lecture", {"auto": True, "signal": "disposition-notification"})
    signal = autoreply_signal(view.header, lambda name: view.message.get(name) is not None, view.subject,
                              own_words(view.text))
    if signal is None:
        return None
    details = {"auto": True, "signal": signal}
    if signal.startswith(TEXT_SIGNAL):  # the wording alone: a person may write it above an edited form
        details.update(weak=True, **view.references)
    return Classification("autoreply", f"réponse automatique ({signal})", details)


_QUOTE_START = re.compile(r"^\s*(>|-{2,}|_{5,}|(de|from|envoye|sent)\s*:|le .{0,120}a ecrit|on .{0,120}wrote)", re.IGNORECASE)


def own_words(text: str) -> str:
    """The lines the sender wrote above any quotation or forwarded copy (robots speak there), within
    the opening the robot patterns read: a message's first line may be megabytes long."""
    lines: list[str] = []
    for line in text[:OPENING_CHARS].splitlines():
        if _QUOTE_START.match(normalise(line)):
            break
        lines.append(line)
    return "\n".join(lines)


def is_list_or_bulk(view: MailView) -> Classification | None:
    precedence = view.header("Precedence").lower().strip()
    for name in ("List-Id", "List-Unsubscribe", "List-Post"):
        if view.message.get(name) is not None:
            return Classification("list", f"message de liste de diffusion (en-tête {name})",
                                  {"auto": True, "signal": name})
    if precedence == "list":
        return Classification("list", "message de liste de diffusion (Precedence: list)",
                              {"auto": True, "signal": "Precedence: list"})
    if precedence in ("bulk", "junk"):
        return Classification("bulk", f"envoi en nombre (Precedence: {precedence})",
                              {"auto": True, "signal": f"Precedence: {precedence}"})
    return None


_REPLY_PREFIX = re.compile(r"^\s*((re|tr|fw|fwd|aw|wg|rep|ref|réf|rép)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)
_PUNCT = re.compile(r"[^\w]+")
_MAX_BODY_COMMAND_WORDS = 3  # « FICHE », « aide svp », « Fiche, merci » — not a sentence that starts with it


def command_word(text: str) -> str | None:
    word = _PUNCT.sub("", normalise(text)).upper()
    return word if word in COMMANDS else None


def find_command(view: MailView) -> tuple[str, str] | None:
    """(command, where): the whole subject (reply prefixes aside), or the first line of the body."""
    subject = _REPLY_PREFIX.sub("", view.subject)
    found = command_word(subject) if subject.strip() else None
    if found:
        return found, "subject"
    for text in (view.text,):
        for line in text.splitlines():
            if not line.strip():
                continue
            if line.lstrip().startswith(">"):
                return None
            words = line.split()
            if len(words) <= _MAX_BODY_COMMAND_WORDS:
                found = command_word(words[0])
                if found:
                    return found, "body"
            return None
    return None


def is_command(view: MailView) -> Classification | None:
    found = find_command(view)
    if not found:
        return None
    command, where = found
    place = "l'objet" if where == "subject" else "la première ligne du message"
    return Classification("command", f"commande {command} ({place})",
                          {"command": command, "where": where, **view.references})


def is_reply(view: MailView) -> Classification | None:
    refs = view.references
    if not (refs["address_tokens"] or refs["body_tokens"] or refs["thread_ids"]):
        return None
    where = [name for name, key in (("adresse", "address_tokens"), ("texte", "body_tokens"),
                                   ("fil de discussion", "thread_ids")) if refs[key]]
    return Classification("reply", f"réponse à un formulaire (référence trouvée : {', '.join(where)})", refs)


RULES: tuple[Rule, ...] = (is_own, is_bounce, is_autoreply, is_list_or_bulk, is_command, is_reply)


# --- references ---------------------------------------------------------------------------------------

_MSGID = re.compile(r"<([^<>\s]{1,250}@[^<>\s]{1,250})>")


def _references(view: MailView) -> dict:
    """Where this message points at one of our forms: plus-address tokens, tokens in the text, and
    our Message-IDs in its thread headers. Nothing here is verified yet (see mailbot.inbound.route)."""
    addresses = list(view.envelope.recipients)
    for name in ("To", "Cc"):
        addresses += [address for _, address in getaddresses(view.headers(name))]
    ours = [a for a in addresses if _is_our_address(view, a.lower())]
    address_tokens = _as_json(find_tokens(" ".join(ours)))
    body_tokens = _as_json(find_tokens(view.text))
    thread = " ".join(view.headers("In-Reply-To") + view.headers("References"))
    thread_ids = []
    for msgid in _MSGID.findall(thread):
        full = f"<{msgid}>"
        if msgid.rpartition("@")[2].lower() == view.our_domain and full not in thread_ids:
            thread_ids.append(full)
    return {"address_tokens": address_tokens, "body_tokens": body_tokens, "thread_ids": thread_ids}


def _as_json(refs: list[FormReference]) -> list[list]:
    return [[ref.message_id, ref.mac] for ref in refs]


def _is_our_address(view: MailView, address: str) -> bool:
    local, _, domain = address.strip("<>").lower().rpartition("@")
    return domain == view.our_domain and (local == view.our_local or local.startswith(view.our_local + "+"))
