"""Rendering mail from templates (pure: data in, an EmailMessage out).

One template per kind of message, named by audience and purpose (`agent_summary`, `agent_help`…),
each made of `<name>.subject.j2`, `<name>.txt.j2` and optionally `<name>.html.j2`, shipped with the
package (`mailbot.shipped`); a file of the same name in the `templates_dir` setting's folder wins.
The environment is built explicitly (StrictUndefined: a missing value is a bug, not a blank), and
HTML is autoescaped.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from email.generator import BytesGenerator
from email.headerregistry import Address, HeaderRegistry
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime
from functools import cached_property, lru_cache
from io import BytesIO
from pathlib import Path
import re
import secrets
from typing import Iterable

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_decimal, parse_pattern
from jinja2 import (ChoiceLoader, Environment, FileSystemLoader, FunctionLoader, StrictUndefined, TemplateNotFound,
                    select_autoescape)
from markupsafe import Markup, escape

from mailbot import shipped
from mailbot.clock import utcnow
from mailbot.config import Config
from mailbot.grammar import FILTERS as GRAMMAR_FILTERS
from mailbot.outbound.signing import DkimKey, key_from_settings, sign



_FRENCH = Locale.parse("fr_FR")
# babel's patterns parsed once: format_decimal parses its pattern on every call (2.5 × slower)
_WHOLE_EUROS, _EUROS_AND_CENTS = parse_pattern("#,##0"), parse_pattern("#,##0.00")


def euros(value) -> str:
    """12500 → « 12 500 € » (French grouping with a narrow no-break space, as babel writes it)."""
    if value is None or value == "":
        return "—"
    amount = Decimal(str(value))
    pattern = _WHOLE_EUROS if amount == amount.to_integral_value() else _EUROS_AND_CENTS
    return f"{pattern.apply(amount, _FRENCH)} €"


def number(value) -> str:
    return format_decimal(value, locale=_FRENCH)


@lru_cache(maxsize=256)
def french_date(value: date) -> str:
    # cached: every summary of a campaign shows the same deadline, and babel takes 0.1 ms a date
    return format_date(value, format="long", locale=_FRENCH)


_SPACE_THAT_MATTERS = re.compile(r"(?m)^ | (?= )")
HTML_LINE_OCTETS = 800  # SMTP allows 998 octets a line; room left for a client's quoting


def html_form(lines: Iterable[str]) -> Markup:
    """The form's lines for an HTML part: escaped, each ended by <br>; leading and doubled spaces
    become no-break spaces, so the form reads as it would in a <pre> (which `compact_html` cannot
    pack: its line ends are content)."""
    lines = list(lines)
    if not lines:
        return Markup("")
    escaped = str(escape("\n".join(lines)))  # one call, not one per line
    if "  " in escaped or " " in escaped[:1] or "\n " in escaped:
        escaped = _SPACE_THAT_MATTERS.sub("&nbsp;", escaped)
    return Markup(escaped.replace("\n", "<br>\n") + "<br>")


def compact_html(html: str) -> str:
    """The same HTML in fewer source lines, each under HTML_LINE_OCTETS (a longer one stays alone).

    Relays read DATA line by line (aiosmtpd: ~4 µs a line, half the cost of accepting a summary),
    and a summary's HTML had as many source lines as its form. Outside <pre> and <textarea> (our
    templates have none) a line end is a space; after <br> it is nothing at all, since a space
    that starts a line is not shown.
    """
    if "<pre" in html or "<textarea" in html:
        return html
    groups, group, size = [], [], 0
    for line in html.split("\n"):
        octets = (len(line) if line.isascii() else len(line.encode("utf-8"))) + 1
        if group and size + octets > HTML_LINE_OCTETS:
            groups.append(group)
            group, size = [], 0
        group.append(line)
        size += octets
    groups.append(group)
    return "\n".join(" ".join(filter(None, group)).replace("<br> ", "<br>") for group in groups)


# Headers whose values repeat from one message to the next (a campaign's From, the parts' types…)
_REPEATED = frozenset({"from", "mime-version", "content-type", "content-transfer-encoding", "x-mailer",
                       "auto-submitted"})


class _HeaderCache(HeaderRegistry):
    """The standard registry, with what it rebuilds for every message built once.

    `HeaderRegistry.__getitem__` makes a new class with `type()` for every header it parses, though
    the class depends only on the name; and a header whose value repeats (`_REPEATED`) is parsed
    again for every message. Header objects are immutable, so both are kept and shared: the same
    header objects, the same bytes (tests/test_campaign.py), measured 3.3 → 2.1 ms for a two-part
    summary with the class cache alone.
    """

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type] = {}
        self._repeated = lru_cache(maxsize=256)(self._parse)

    def __getitem__(self, name: str) -> type:
        key = name.lower()
        cls = self._classes.get(key)
        if cls is None:
            cls = self._classes[key] = super().__getitem__(name)
        return cls

    def __call__(self, name: str, value):
        if isinstance(value, str) and name.lower() in _REPEATED:
            return self._repeated(name, value)
        return self._parse(name, value)

    def _parse(self, name: str, value):
        return self[name](name, value)


class _MailPolicy(EmailPolicy):
    """policy.default, except that a repeated header is folded once, not once per message."""

    def fold_binary(self, name: str, value) -> bytes:
        if hasattr(value, "name") and name.lower() in _REPEATED:
            # keyed by what folding depends on: the generator clones the policy for every part
            return _folded(name, str(value), self.linesep, self.max_line_length, self.utf8, self.cte_type)
        return super().fold_binary(name, value)


@lru_cache(maxsize=256)
def _folded(name: str, value: str, linesep: str, max_line_length: int | None, utf8: bool, cte_type: str) -> bytes:
    policy = MAIL_POLICY.clone(linesep=linesep, max_line_length=max_line_length, utf8=utf8, cte_type=cte_type)
    return EmailPolicy.fold_binary(policy, name, policy.header_factory(name, value))


# policy.default (RFC-aware headers, \n line ends) with the caches above
MAIL_POLICY = _MailPolicy(header_factory=_HeaderCache())


# « Re: », « RE : », « TR: », « Réf. : », « Fwd: », « AW: », « SV: »… however many a client stacked
# (English, French, German, Nordic, Dutch, Spanish, Italian, Portuguese clients), and a
# « [2] »-style counter some add: an answer's subject starts with exactly one « Re: ».
_REPLY_PREFIX = re.compile(
    r"^\s*(?:(?:re|r[ée]f|tr|fwd?|fw|aw|wg|sv|vs|vb|antw|rif|rv|enc|res)\.?\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*)+",
    re.IGNORECASE)


def reply_subject(subject: str, fallback: str = "votre message") -> str:
    """`Re: ` and the subject answered, without the prefixes it had already."""
    rest = _REPLY_PREFIX.sub("", " ".join((subject or "").split()))
    return f"Re: {rest or fallback}"


@lru_cache(maxsize=4)
def make_environment(templates_dir: str | Path | None = None) -> Environment:
    """The templates environment: the shipped templates, each overridden by a file of the same name in
    `templates_dir` when one is given (the `templates_dir` setting)."""
    shipped_loader = FunctionLoader(shipped.template_source)
    loader = ChoiceLoader([FileSystemLoader(str(templates_dir)), shipped_loader]) if templates_dir else shipped_loader
    env = Environment(
        loader=loader,
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,  # a template is read once per process, not stat()ed on every message
    )
    env.filters.update(euros=euros, number=number, french_date=french_date, html_form=html_form,
                       reply_subject=reply_subject, **GRAMMAR_FILTERS)
    return env


def render_parts(env: Environment, name: str, context: dict) -> tuple[str, str, str | None]:
    """(subject, text, html or None) for template `name`."""
    subject = env.get_template(f"{name}.subject.j2").render(context).strip()
    text = env.get_template(f"{name}.txt.j2").render(context)
    html = env.get_template(f"{name}.html.j2").render(context) if _has_html(env, name) else None
    return " ".join(subject.split()), text, html


def _has_html(env: Environment, name: str) -> bool:
    try:
        env.get_template(f"{name}.html.j2")  # cached by Jinja after the first look-up
        return True
    except TemplateNotFound:
        return False


MIME_BOUNDARY = "=_atlas_alternative_5f0c2b7e"

# bare addresses and message ids, in the plain ASCII we write them: nothing the policy would change
_PLAIN_HEADER = re.compile(r"<?[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+>?(, <?[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+>?)*")


def _set_plain(msg: EmailMessage, name: str, value: str) -> None:
    """Set a header whose value is already what policy.default would write (`_PLAIN_HEADER`) as it
    is (`set_raw`, still folded by the policy if long); any other value the usual way.

    Assigning a header parses it into a header object, and writing folds it from that parse: for a
    summary's To, Message-ID and Reply-To, a fifth of its rendering time, for the same bytes."""
    if _PLAIN_HEADER.fullmatch(value):
        msg.set_raw(name, value)
    else:
        msg[name] = value


@dataclass(frozen=True)
class Sender:
    """Who every message is from: the address, its display name, the DKIM key when one is set."""

    address: str
    name: str = ""
    dkim: DkimKey | None = None

    @cached_property  # written once per campaign, not per message (a frozen dataclass keeps a __dict__)
    def from_header(self) -> str:
        # Address quotes a name that needs it; the same text for every message (see _REPEATED)
        return str(Address(display_name=self.name, addr_spec=self.address)) if self.name else self.address


def sender_of(config: Config) -> Sender:
    """The sender the settings describe (the key file is read once per process)."""
    values = config.values
    dkim = key_from_settings(values.get("dkim_selector", ""), config.dkim_signing_domain, values.get("dkim_key", ""))
    return Sender(values["from_address"], values.get("from_name", ""), dkim)


def build_message(
    env: Environment,
    name: str,
    context: dict,
    *,
    sender: Sender | None = None,
    from_address: str | None = None,
    to: list[str],
    message_id: str,
    reply_to: str | None = None,
    in_reply_to: str | None = None,
    references: str | None = None,
    auto_submitted: str | None = None,
    sent_at: datetime | None = None,
    attachments: Iterable[tuple[str, bytes]] = (),
) -> EmailMessage:
    """A complete message: text part, plus an HTML alternative when the template has one; dated
    (`sent_at`, else now), from `sender` (or a bare `from_address`), DKIM-signed when the sender
    has a key.

    `auto_submitted` (RFC 3834): "auto-replied" on answers to mail, "auto-generated" on what the bot
    sends of its own accord, so that vacation responders and other robots never answer us.
    `attachments`: (file name, CSV bytes) pairs, attached before the message is signed.
    """
    sender = sender or Sender(from_address or "")
    subject, text, html = render_parts(env, name, context)
    msg = EmailMessage(policy=MAIL_POLICY)
    msg["From"] = sender.from_header
    _set_plain(msg, "To", ", ".join(to))
    msg["Subject"] = subject
    # format_datetime writes plain ASCII: set as written, not parsed again into a DateHeader
    msg.set_raw("Date", format_datetime(sent_at or utcnow()))
    _set_plain(msg, "Message-ID", message_id)
    if reply_to:
        _set_plain(msg, "Reply-To", reply_to)
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = f"{references} {in_reply_to}".strip() if references else in_reply_to
    if auto_submitted:
        msg["Auto-Submitted"] = auto_submitted
    msg["X-Mailer"] = "atlas-mailbot"
    msg.set_content(text, subtype="plain", charset="utf-8", cte=transfer_encoding(text))
    if html is not None:
        # the same boundary for every message (so the same multipart header: parsed and folded once,
        # see _HeaderCache), unless a part holds it; the generator's own would cost a scan of the
        # text with a regular expression, and a header of its own
        boundary = MIME_BOUNDARY if MIME_BOUNDARY not in text and MIME_BOUNDARY not in html else \
            f"=_atlas_{secrets.token_hex(12)}"
        msg.make_alternative(boundary=boundary)
        html = compact_html(html)
        msg.add_alternative(html, subtype="html", charset="utf-8", cte=transfer_encoding(html))
    for filename, data in attachments:
        msg.add_attachment(data, maintype="text", subtype="csv", filename=filename, params={"charset": "utf-8"})
    if sender.dkim is not None:
        sign(msg, message_bytes(msg), sender.dkim)
    return msg


class _Generator(BytesGenerator):
    """The standard generator, writing a part's text in one piece when its line ends are already
    the ones to write (the standard one writes each line and its end apart: a summary's text part
    is some 150 lines)."""

    def _write_lines(self, lines: str) -> None:
        if self._NL == "\n" and "\r" not in lines:
            self.write(lines)
        else:
            super()._write_lines(lines)


def header_as_set(message: EmailMessage, name: str) -> str | None:
    """A header's value as it was set: `message[name]` would parse again a value set with `set_raw`."""
    name = name.lower()
    return next((str(value) for key, value in message.raw_items() if key.lower() == name), None)


def message_bytes(message: EmailMessage) -> bytes:
    """`message.as_bytes()`: the same bytes (tests/test_campaign.py), written by `_Generator`."""
    buffer = BytesIO()
    _Generator(buffer, mangle_from_=False, policy=message.policy).flatten(message)
    return buffer.getvalue()


def transfer_encoding(text: str) -> str:
    """8bit when every line fits SMTP's 998-octet limit (cheap, and readable in the raw message);
    quoted-printable otherwise (a long project description)."""
    # measured on the encoded bytes, split where the wire splits (one C-level pass, not one per line)
    longest = max(map(len, text.encode("utf-8").splitlines()), default=0)
    return "8bit" if longest <= 900 else "quoted-printable"
