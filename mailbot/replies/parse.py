"""Finding the reply forms in whatever came back (pure: bytes in, parsed forms out).

See docs/reply-form.md for the format. The parser knows the marker syntax and, per block, the labels
it may meet (from the rules, passed in); it knows nothing of the database. It never raises on bad
input: anything it cannot read becomes a `ParseProblem`.
"""
from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser

import html2text

from mailbot.budget import checkpoint
from mailbot.inbound.read import BudgetExceeded, parse_bounded
from mailbot.outbound.form import DELETE_LABEL, HINT_LABEL, KEYWORD_PARTS, MOVE_LABEL, PARENT_LABEL
from mailbot.rules import MAX_LENGTH_BY_TYPE, MAX_NOTE_LENGTH, RAW_LENGTH_FACTOR

MAX_PARTS = 200
MAX_TEXT_CHARS = 2_000_000
# A value continued over many lines stops growing here: the rules refuse it as too long anyway, and
# appending to an ever longer string would cost quadratic time.
MAX_VALUE_CHARS = RAW_LENGTH_FACTOR * max(MAX_LENGTH_BY_TYPE.values())
CHECK_LINES = 256  # lines between two looks at the CPU budget
MAX_HTML_CHARS = 500_000  # of HTML converted per message (html2text is the slow step: bounded first)

_SPACES = {"\u00a0": " ", "\u202f": " ", "\u2007": " ", "\u2009": " ", "\t": " ", "\u200b": ""}
_QUOTES = {"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u00ab": '"', "\u00bb": '"'}
_GUILLEMET_SPACE = re.compile(r"«\s*|\s*»")  # « valeur » → "valeur": the no-break spaces inside go too
_QUOTE_PREFIX = re.compile(r"^((?:[ ]?>[ ]?)+)")
# « DÉBUT », and « DEBUT » (forms sent before the accents, clients that lose them; the token decides)
_START_RE = re.compile(r"^#{3,}\s*D[EÉ]BUT DU FORMULAIRE ATLAS\s+(?P<token>r[0-9a-z]+-[a-z2-7]+)", re.IGNORECASE)
_END_RE = re.compile(r"^#{3,}\s*FIN DU FORMULAIRE ATLAS", re.IGNORECASE)
_MARKER_RE = re.compile(r"^#{3,}\s*(?P<ref>[^\W\d_][^\W_]*(?:-[^\W_]+)*)")
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

class _MemoisedHeaders(policy.EmailPolicy):
    """`policy.default`, except that a header is parsed once rather than at every access.

    The default policy builds a new header object (a full RFC 5322 parse) each time a header is
    read, and the feed parser and `get_content` read Content-Type several times per part: that was
    about a quarter of the time of a reply. Header objects are immutable and depend only on (name, value),
    so sharing them changes nothing."""

    def header_fetch_parse(self, name, value):
        if type(value) is str and len(value) <= _MEMO_MAX_VALUE:
            return _parsed_header(name, value)
        return super().header_fetch_parse(name, value)


_MEMO_MAX_VALUE = 2000  # a long header is rare and not worth keeping: parse it each time
_POLICY = _MemoisedHeaders()


@functools.lru_cache(maxsize=1024)
def _parsed_header(name: str, value: str):
    return policy.EmailPolicy.header_fetch_parse(_POLICY, name, value)


def parse_message(raw: bytes) -> EmailMessage:
    return BytesParser(policy=_POLICY).parsebytes(raw)


def reply_text(message: Message) -> tuple[str, list[ParseProblem]]:
    """The text to read forms from: plain parts, or HTML converted when no plain part has a form.

    This is the message's one canonical text: the classifier looks for tokens and commands in it
    and the parser reads forms from it, so that nothing (a token in an HTML comment, in a part the
    parser skips) is seen by one and not the other. Works on any `Message` (compat32 or default)."""
    problems: list[ParseProblem] = []
    plains, htmls = [], []  # htmls: decoded but not converted yet (html2text is slow: only when needed)
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
            plains.append(_unflow(text) if str(part.get_param("format", "")).lower() == "flowed" else text)
        else:
            htmls.append(text)
    with_form = [t for t in plains if _has_form(t)]
    if not with_form and htmls:
        htmls = _converted(htmls)
        with_form = [t for t in htmls if _has_form(t)]
    chosen = with_form or plains or htmls
    return "\n".join(chosen)[:MAX_TEXT_CHARS], problems


def _converted(htmls: list[str]) -> list[str]:
    """HTML parts as text, at most MAX_HTML_CHARS of HTML in all (html2text is the slow step)."""
    texts, left = [], MAX_HTML_CHARS
    for html in htmls:
        if left <= 0:
            break
        checkpoint()
        texts.append(html_to_text(html[:left]))
        left -= len(html)
    return texts


def _decoded(part: Message, problems: list[ParseProblem]) -> str | None:
    """The part's text as `get_content` reads it (declared charset, errors replaced), from the payload
    so that it works on compat32 messages too; an unknown or hostile charset falls back to UTF-8,
    then Windows-1252."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return None
    try:
        return payload.decode(str(part.get_param("charset", "ascii")), errors="replace")
    except (LookupError, UnicodeError, ValueError, TypeError):
        pass
    for charset in ("utf-8", "windows-1252"):
        try:
            return payload.decode(charset)
        except UnicodeDecodeError:
            continue
    problems.append(ParseProblem("undecodable", "Une partie du message n'a pas pu être décodée."))
    return None


_WHITESPACE_RUN = re.compile(r"\s{3,}")


def _collapsed(run: re.Match) -> str:
    """A run of whitespace as at most two line breaks (one blank line), or one space."""
    return "\n" * min(2, run.group().count("\n")) or " "


def html_to_text(html: str) -> str:
    # html2text escapes Markdown with regular expressions like ^(\s*)(-) that are quadratic on long
    # runs of whitespace (20 KB of them: seconds); in HTML such a run means no more than this.
    html = _WHITESPACE_RUN.sub(_collapsed, html)
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
        prefix = _QUOTE_PREFIX.match(line) if _may_be_quoted(line) else None
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
    if line.isascii():  # most lines: of the characters to replace, only the tab is ASCII
        return (line.replace("\t", " ") if "\t" in line else line).rstrip()
    if "«" in line or "»" in line:
        line = _GUILLEMET_SPACE.sub('"', line)
    return unicodedata.normalize("NFC", line.translate(_NORMALISE)).rstrip()


def _has_form(text: str) -> bool:
    return "FORMULAIRE ATLAS" in text.upper()


def _MARKDOWN_STRIP(line: str) -> str:
    if "\\" not in line:  # no escape to undo: skip the regular expression
        return line.lstrip()
    return _MD_ESCAPE.sub(r"\1", line).lstrip()


def _may_be_quoted(line: str) -> bool:
    """Whether `_QUOTE_PREFIX` can match: a cheap test that spares the regular expression most lines."""
    return line[:1] == ">" or line[:2] == " >"


def _strip_quote(line: str) -> tuple[int, str]:
    match = _QUOTE_PREFIX.match(line) if _may_be_quoted(line) else None
    if not match:
        return 0, line
    return match.group(1).count(">"), line[match.end():]


@functools.lru_cache(maxsize=4096)  # a form repeats the same few dozen labels: fold each once
def label_key(label: str) -> str:
    """Labels compare without case, accents, asterisks, punctuation spacing."""
    text = unicodedata.normalize("NFKD", label.replace("*", " "))
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    return " ".join(text.replace("\u2019", "'").split())


SWITCH_KEYS = {label_key(DELETE_LABEL): "_delete", label_key(MOVE_LABEL): "_move", label_key(PARENT_LABEL): "_parent"}
_HINT_KEY = label_key(HINT_LABEL)
_HINT = "_hint"  # the line listing a field's allowed values: read as nothing, with what a client wrapped of it


# --- forms ---------------------------------------------------------------------------------------

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
        # Bounded, and compat32 (reply_text reads payloads): the default policy's header parser is
        # quadratic on long folded headers, and reading forms needs none of what it gives.
        message = parse_bounded(raw)
        text, problems = reply_text(message)
    except BudgetExceeded as exc:
        return ParsedReply((), "", "", (ParseProblem("too_complex", f"Message trop complexe pour être lu : {exc}."),))
    except Exception as exc:  # a parser must answer for any input: report, never raise
        return ParsedReply((), "", "", (ParseProblem("unreadable", f"Message illisible ({exc.__class__.__name__})."),))
    return parse_text(text, labels_by_block, problems)


def parse_text(text: str, known_labels: dict[str, set[str]] | None = None,
               problems: list[ParseProblem] | None = None) -> ParsedReply:
    forms: list[_FormBuilder] = []
    note: list[str] = []
    builder: _FormBuilder | None = None
    known = known_labels or {}
    for number, raw_line in enumerate(text.splitlines(), 1):
        if number % CHECK_LINES == 1:
            checkpoint()
        depth, line = _split(raw_line)
        content = _MARKDOWN_STRIP(line)
        marker = content.startswith("###")  # every regular expression below needs it: test it once
        start = _START_RE.match(content) if marker else None
        if start:
            builder = _FormBuilder(token=start.group("token").lower(), depth=depth)
            builder.lines.append(content)
            forms.append(builder)
            continue
        if builder is None:
            if depth == 0:
                note.append(line)
            continue
        builder.lines.append(content)
        if marker and _END_RE.match(content):
            _close_block(builder)
            builder.complete = True
            builder = None
            continue
        _feed(builder, content, number, known)
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
    marker = _MARKER_RE.match(stripped) if stripped.startswith("###") else None
    if marker:
        _close_block(builder)
        builder.current = {"ref": _unaccented(marker.group("ref")).upper(), "fields": {}, "line": number}
        builder.last_key = None
        return
    if builder.current is None or stripped.startswith("===") and _SECTION_RE.match(stripped):
        builder.last_key = None
        return
    if not stripped:
        builder.last_key = None
        return
    if label_key(stripped[:len(HINT_LABEL)]) == _HINT_KEY:  # even cut short by a client's wrapping
        builder.last_key = _HINT
        return
    field_match = _FIELD_RE.match(stripped) if ":" in stripped else None
    if field_match:
        key = label_key(field_match.group("label"))
        allowed = known.get(_part_of(builder.current["ref"])) if known else None
        if allowed is None or key in allowed or key in SWITCH_KEYS or _LOCKED_APD_RE.match(key):
            builder.current["fields"][SWITCH_KEYS.get(key, key)] = field_match.group("value").strip()
            builder.last_key = SWITCH_KEYS.get(key, key)
            return
    if builder.last_key == _HINT:
        return
    if builder.last_key is not None:
        fields = builder.current["fields"]
        if len(fields[builder.last_key]) <= MAX_VALUE_CHARS:  # beyond, the rules refuse it as too long anyway
            fields[builder.last_key] = f"{fields[builder.last_key]} {stripped}".strip()


def _unaccented(ref: str) -> str:
    """NOUVEAU-RÉSEAU → NOUVEAU-RESEAU: keywords are known by their unaccented spelling."""
    return ref if ref.isascii() else unicodedata.normalize("NFKD", ref).encode("ascii", "ignore").decode()


_PART_OF_PREFIX = {"CT": "contact", "AD": "reseau", "APD": "apd", "CO": "cooperation", "PJ": "projet"}


def _part_of(ref: str) -> str:
    if ref in KEYWORD_PARTS:
        return KEYWORD_PARTS[ref]
    return _PART_OF_PREFIX.get(ref.split("-", 1)[0], "?")


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
    size = 0
    for line in lines:
        text = line.strip()
        if text == "--" or text == "-- " or _ATTRIBUTION.match(text):
            break
        kept.append(text)
        size += len(text) + 1
        if size > MAX_NOTE_LENGTH:
            return "\n".join(kept)[:MAX_NOTE_LENGTH].strip() + " […]"
    return "\n".join(kept).strip()
