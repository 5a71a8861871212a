"""Finding the reply forms in whatever came back (pure: bytes in, parsed forms out).

See docs/reply-form.md for the format. The parser knows the marker syntax and, per block, the labels
it may meet (from the rules, passed in); it knows nothing of the database. It never raises on bad
input: anything it cannot read becomes a `ParseProblem`.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser

import html2text

from mailbot.form import DELETE_LABEL, FORM_END, MOVE_LABEL, PARENT_LABEL

MAX_PARTS = 200
MAX_TEXT_CHARS = 2_000_000

_SPACES = {"\u00a0": " ", "\u202f": " ", "\u2007": " ", "\u2009": " ", "\t": " ", "\u200b": ""}
_QUOTES = {"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u00ab": '"', "\u00bb": '"'}
_QUOTE_PREFIX = re.compile(r"^((?:[ ]?>[ ]?)+)")
_START_RE = re.compile(r"^#{3,}\s*DEBUT DU FORMULAIRE ATLAS\s+(?P<token>r[0-9a-z]+-[a-z2-7]+)", re.IGNORECASE)
_END_RE = re.compile(r"^#{3,}\s*FIN DU FORMULAIRE ATLAS", re.IGNORECASE)
_MARKER_RE = re.compile(r"^#{3,}\s*(?P<ref>[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*)")
_SECTION_RE = re.compile(r"^={3,}.*={3,}\s*$")
_FIELD_RE = re.compile(r"^(?P<label>[^:]{1,80}?)\s*:\s?(?P<value>.*)$")
_LOCKED_APD_RE = re.compile(r"^apd (?P<year>\d{4}) \(non modifiable\)$")
_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!>|])")


@dataclass(frozen=True)
class ParsedBlock:
    ref: str  # record reference (CT-…), "APD", or a new-record keyword (NOUVEAU-CONTACT…)
    fields: dict[str, str]  # normalised label → value as written (stripped)
    line: int  # where the marker was, for messages to the agent


@dataclass(frozen=True)
class ParsedForm:
    token: str
    blocks: tuple[ParsedBlock, ...]
    quote_depth: int
    complete: bool  # the closing line was seen
    lines: tuple[str, ...] = ()  # the form as the agent left it, unquoted (echoed back to correct errors)


@dataclass(frozen=True)
class ParseProblem:
    code: str
    message: str  # French, for the agent


@dataclass(frozen=True)
class ParsedReply:
    forms: tuple[ParsedForm, ...]
    note: str  # the agent's own words outside the form and outside quotes
    text: str  # the normalised text the forms were read from
    problems: tuple[ParseProblem, ...] = ()


# --- text extraction -----------------------------------------------------------------------------

def parse_message(raw: bytes) -> EmailMessage:
    return BytesParser(policy=policy.default).parsebytes(raw)


def reply_text(message: Message) -> tuple[str, list[ParseProblem]]:
    """The text to read forms from: plain parts, or HTML converted when no plain part has a form."""
    problems: list[ParseProblem] = []
    plains, htmls = [], []
    for index, part in enumerate(message.walk()):
        if index >= MAX_PARTS:
            problems.append(ParseProblem("too_many_parts", "Le message contient trop de parties ; seules les premières ont été lues."))
            break
        if part.is_multipart() or part.get_content_disposition() == "attachment" and part.get_content_type() != "message/rfc822":
            continue
        ctype = part.get_content_type()
        if ctype not in ("text/plain", "text/html"):
            continue
        text = _decoded(part, problems)
        if text is None:
            continue
        if ctype == "text/plain":
            plains.append(_unflow(text) if part.get_param("format", "").lower() == "flowed" else text)
        else:
            htmls.append(html_to_text(text))
    with_form = [t for t in plains if _has_form(t)] or [t for t in htmls if _has_form(t)]
    chosen = with_form or plains or htmls
    return "\n".join(chosen)[:MAX_TEXT_CHARS], problems


def _decoded(part: Message, problems: list[ParseProblem]) -> str | None:
    try:
        return part.get_content()
    except (LookupError, UnicodeError, AssertionError, ValueError):
        payload = part.get_payload(decode=True) or b""
        for charset in ("utf-8", "windows-1252"):
            try:
                return payload.decode(charset)
            except UnicodeDecodeError:
                continue
        problems.append(ParseProblem("undecodable", "Une partie du message n'a pas pu être décodée."))
        return None


def html_to_text(html: str) -> str:
    converter = html2text.HTML2Text()
    converter.body_width = 0  # never re-wrap: lines must stay lines
    converter.ignore_images = True
    converter.ignore_emphasis = True
    converter.ignore_links = True
    converter.ignore_tables = True
    converter.unicode_snob = True
    converter.mark_code = False
    text = converter.handle(html)
    return "\n".join(_MD_ESCAPE.sub(r"\1", line) for line in text.splitlines())


def _unflow(text: str) -> str:
    """RFC 3676: a line ending in a space continues on the next line of the same quote depth."""
    out: list[str] = []
    pending = None
    for line in text.splitlines():
        prefix = _QUOTE_PREFIX.match(line)
        depth = prefix.group(1).count(">") if prefix else 0
        body = line[prefix.end():] if prefix else line
        if body.startswith(" ") and prefix is None:
            body = body[1:]  # space-stuffing
        if pending is not None and pending[0] == depth and line != "-- ":
            pending = (depth, pending[1] + body)
        else:
            if pending is not None:
                out.append(">" * pending[0] + (" " if pending[0] else "") + pending[1])
            pending = (depth, body)
        if not (body.endswith(" ") and body.strip() and line != "-- "):
            out.append(">" * pending[0] + (" " if pending[0] else "") + pending[1])
            pending = None
    if pending is not None:
        out.append(">" * pending[0] + (" " if pending[0] else "") + pending[1])
    return "\n".join(out)


# --- normalisation -------------------------------------------------------------------------------

_NORMALISE = str.maketrans({**_SPACES, **_QUOTES})


def normalise_line(line: str) -> str:
    line = line.translate(_NORMALISE)
    if not line.isascii():
        line = unicodedata.normalize("NFC", line)
    return line.rstrip()


def _has_form(text: str) -> bool:
    return "FORMULAIRE ATLAS" in text.upper()


def _MARKDOWN_STRIP(line: str) -> str:
    return _MD_ESCAPE.sub(r"\1", line).lstrip()


def _strip_quote(line: str) -> tuple[int, str]:
    match = _QUOTE_PREFIX.match(line)
    if not match:
        return 0, line
    return match.group(1).count(">"), line[match.end():]


def label_key(label: str) -> str:
    """Labels compare without case, accents, asterisks, punctuation spacing."""
    text = unicodedata.normalize("NFKD", label.replace("*", " "))
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    return " ".join(text.replace("\u2019", "'").split())


SWITCH_KEYS = {label_key(DELETE_LABEL): "_delete", label_key(MOVE_LABEL): "_move", label_key(PARENT_LABEL): "_parent"}


# --- forms ---------------------------------------------------------------------------------------

@dataclass
class _Line:
    depth: int
    text: str
    number: int


@dataclass
class _FormBuilder:
    token: str
    depth: int
    blocks: list = field(default_factory=list)
    lines: list = field(default_factory=list)
    current: dict | None = None
    last_key: str | None = None
    complete: bool = False


def parse_reply(raw: bytes, labels_by_block: dict[str, set[str]] | None = None) -> ParsedReply:
    """Parse a reply. `labels_by_block` maps a part key to the label keys it may contain; when
    given, a `Label : value` line whose label is unknown for its block continues the previous value
    (text containing a colon), instead of being taken as a field."""
    try:
        message = parse_message(raw)
        text, problems = reply_text(message)
    except Exception as exc:  # a parser must answer for any input: report, never raise
        return ParsedReply((), "", "", (ParseProblem("unreadable", f"Message illisible ({exc.__class__.__name__})."),))
    return parse_text(text, labels_by_block, problems)


def parse_text(text: str, known_labels: dict[str, set[str]] | None = None,
               problems: list[ParseProblem] | None = None) -> ParsedReply:
    lines = [_Line(*_split(line), number) for number, line in enumerate(text.splitlines(), 1)]
    forms: list[_FormBuilder] = []
    note: list[str] = []
    builder: _FormBuilder | None = None
    known = known_labels or {}
    for line in lines:
        content = _MARKDOWN_STRIP(line.text)
        start = _START_RE.match(content)
        if start:
            builder = _FormBuilder(token=start.group("token").lower(), depth=line.depth)
            builder.lines.append(content)
            forms.append(builder)
            continue
        if builder is None:
            if line.depth == 0:
                note.append(line.text)
            continue
        builder.lines.append(content)
        if _END_RE.match(content):
            _close_block(builder)
            builder.complete = True
            builder = None
            continue
        _feed(builder, content, line.number, known)
    if builder is not None:
        _close_block(builder)
    parsed = tuple(
        ParsedForm(b.token, tuple(b.blocks), b.depth, b.complete, tuple(b.lines)) for b in _best_copy_per_token(forms)
    )
    return ParsedReply(parsed, _clean_note(note), text, tuple(problems or ()))


def _split(line: str) -> tuple[int, str]:
    depth, rest = _strip_quote(line)
    return depth, normalise_line(rest)


def _feed(builder: _FormBuilder, content: str, number: int, known: dict[str, set[str]]) -> None:
    stripped = content.strip()
    marker = _MARKER_RE.match(stripped)
    if marker and stripped.startswith("###"):
        _close_block(builder)
        builder.current = {"ref": marker.group("ref").upper(), "fields": {}, "line": number}
        builder.last_key = None
        return
    if _SECTION_RE.match(stripped) or builder.current is None:
        builder.last_key = None
        return
    if not stripped:
        builder.last_key = None
        return
    field_match = _FIELD_RE.match(stripped)
    if field_match:
        key = label_key(field_match.group("label"))
        allowed = known.get(_part_of(builder.current["ref"]))
        if key in SWITCH_KEYS or _LOCKED_APD_RE.match(key) or allowed is None or key in allowed:
            builder.current["fields"][SWITCH_KEYS.get(key, key)] = field_match.group("value").strip()
            builder.last_key = SWITCH_KEYS.get(key, key)
            return
    if builder.last_key is not None:
        fields = builder.current["fields"]
        fields[builder.last_key] = f"{fields[builder.last_key]} {stripped}".strip()


def _part_of(ref: str) -> str:
    from mailbot.form import KEYWORD_PARTS

    if ref in KEYWORD_PARTS:
        return KEYWORD_PARTS[ref]
    prefix = ref.split("-", 1)[0]
    return {"CT": "contact", "AD": "reseau", "APD": "apd", "CO": "cooperation", "PJ": "projet"}.get(prefix, "?")


def _close_block(builder: _FormBuilder) -> None:
    if builder.current is not None:
        builder.blocks.append(ParsedBlock(builder.current["ref"], builder.current["fields"], builder.current["line"]))
    builder.current = None
    builder.last_key = None


def _best_copy_per_token(forms: list[_FormBuilder]) -> list[_FormBuilder]:
    """When one form appears twice (edited copy above the quoted original), keep the least quoted."""
    best: dict[str, _FormBuilder] = {}
    for form in forms:
        kept = best.get(form.token)
        if kept is None or form.depth < kept.depth:
            best[form.token] = form
    return [f for f in forms if best[f.token] is f]


_ATTRIBUTION = re.compile(
    r"^(le .{0,120}a [ée]crit ?:|on .{0,120}wrote:|-{2,} ?(message d'origine|original message|message transf[ée]r[ée]|forwarded message) ?-{2,}"
    r"|(de|from|envoy[ée]|sent|[àa]|to|objet|subject|date|cc) ?: .*)$",
    re.IGNORECASE,
)


def _clean_note(lines: list[str]) -> str:
    """The agent's own words: unquoted text before any quoted history or signature separator."""
    kept: list[str] = []
    for line in lines:
        text = line.strip()
        if text == "--" or text == "-- " or _ATTRIBUTION.match(text):
            break
        kept.append(text)
    return "\n".join(kept).strip()
