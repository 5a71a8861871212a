"""Finding the reply forms in whatever came back (pure: bytes in, parsed forms out).

See docs/reply-form.md for the format. The parser knows the marker syntax and, per block, the labels
it may meet (from the rules, passed in); it knows nothing of the database. It never raises on bad
input: anything it cannot read becomes a `ParseProblem`.
"""
from __future__ import annotations

import codecs
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
from mailbot.outbound.form import (
    APD_BLOCK,
    DELETE_LABEL,
    HINT_LABEL,
    KEYWORD_PARTS,
    MARKER_SEPARATOR,
    MOVE_LABEL,
    OWNER_RE,
    PARENT_LABEL,
    label_key,
)
from mailbot.replies.words import starts_signature
from mailbot.rules import MAX_LENGTH_BY_TYPE, MAX_NOTE_LENGTH, RAW_LENGTH_FACTOR

MAX_PARTS = 200
MAX_TEXT_CHARS = 2_000_000
# A value continued over many lines stops growing here: the rules refuse it as too long anyway, and
# appending to an ever longer string would cost quadratic time.
MAX_VALUE_CHARS = RAW_LENGTH_FACTOR * max(MAX_LENGTH_BY_TYPE.values())
CHECK_LINES = 256  # lines between two looks at the CPU budget
MAX_HTML_CHARS = 500_000  # of HTML converted per message (html2text is the slow step: bounded first)
# and at most this many tags: html2text's cost is per tag (about 10 µs), so 500 KB of « <li>x » took
# over 1 s. A real reply quoting a large summary in Outlook's HTML holds a few thousand.
MAX_HTML_TAGS = 50_000
CHECK_TAGS = 256  # tags converted between two looks at the CPU budget

_SPACES = {"\u00a0": " ", "\u202f": " ", "\u2007": " ", "\u2009": " ", "\t": " ", "\u200b": ""}
_QUOTES = {"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u00ab": '"', "\u00bb": '"'}
# « valeur » → "valeur": the no-break spaces inside go too. A run of spaces before « » » is matched
# from its first space only (else each space of a long run starts a scan to its end: quadratic).
_GUILLEMET_SPACE = re.compile(r"«\s*|(?<!\s)\s*»|»")
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
    owner: str | None = None  # the collectivité code on an APD or new-record marker (form version 2)
    name: str | None = None  # a new record's local name (`#### NOUVELLE-COOPERATION 1 · …`), for its projects


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
    parser skips) is seen by one and not the other. Works on any `Message` (compat32 or default).
    The sender's own text comes first; a form found only in a message attached to it (forwarded as
    an attachment, or an HTML alternative) follows after a forward separator, so that nothing there
    is taken for the sender's words."""
    problems: list[ParseProblem] = []
    plains, htmls = [], []  # (text, embedded); htmls are converted only when needed (html2text is slow)
    for part, embedded in _text_parts(message, problems):
        text = _decoded(part, problems)
        if text is None:
            continue
        if part.get_content_type() == "text/plain":
            flowed = str(_param(part, "format") or "").lower() == "flowed"
            plains.append((_unflow(text) if flowed else text, embedded))
        else:
            htmls.append((text, embedded))
    with_form = [t for t, _embedded in plains if _has_form(t)]
    if not with_form and htmls:
        htmls = list(zip(_converted([h for h, _embedded in htmls]), [e for _html, e in htmls]))
        with_form = [t for t, _embedded in htmls if _has_form(t)]
    own = next((t for t, embedded in plains or htmls if not embedded), None)
    if not with_form:
        chosen = [t for t, _embedded in plains or htmls]
    elif own is None or own in with_form:
        chosen = with_form
    else:
        chosen = [own, FORWARD_SEPARATOR, *with_form]
    return "\n".join(chosen)[:MAX_TEXT_CHARS], problems


FORWARD_SEPARATOR = "---------- Message transféré ----------"


def _converted(htmls: list[str]) -> list[str]:
    """HTML parts as text, at most MAX_HTML_CHARS of HTML and MAX_HTML_TAGS tags in all (html2text
    is the slow step)."""
    texts, left, tags_left = [], MAX_HTML_CHARS, MAX_HTML_TAGS
    for html in htmls:
        if left <= 0 or tags_left <= 0:
            break
        checkpoint()
        kept, tags = _first_tags(html[:left], tags_left)
        texts.append(html_to_text(kept))
        left -= len(html)
        tags_left -= tags
    return texts


def _first_tags(html: str, limit: int) -> tuple[str, int]:
    """The start of `html` with at most `limit` « < » (tag openings), and how many it has."""
    count = html.count("<")
    if count <= limit:
        return html, count
    position = -1
    for _ in range(limit + 1):
        position = html.find("<", position + 1)
    return html[:position], limit


def _param(part: Message, name: str):
    """A Content-Type parameter: from the header object the default policy parsed once, or (compat32,
    a plain string header) as get_param reads it."""
    params = getattr(part.get("content-type"), "params", None)
    return params.get(name) if params is not None else part.get_param(name)


def _text_parts(message: Message, problems: list[ParseProblem]):
    """(part, embedded) for each text part, in order; `embedded`: inside an attached message."""
    count = 0
    stack = [(message, False)]
    while stack:
        part, embedded = stack.pop()
        count += 1
        if count > MAX_PARTS:
            problems.append(ParseProblem("too_many_parts", "Le message contient trop de parties ; seules les premières ont été lues."))
            return
        if part.get_content_type() == "message/rfc822":
            stack.extend((inner, True) for inner in reversed(part.get_payload()) if isinstance(inner, Message))
            continue
        if part.is_multipart():
            subparts = part.get_payload()
            stack.extend((inner, embedded) for inner in reversed(subparts if isinstance(subparts, list) else []))
            continue
        if part.get_content_disposition() == "attachment" or part.get_content_type() not in ("text/plain", "text/html"):
            continue
        yield part, embedded


# Labels that browsers and mail readers decode as windows-1252 (WHATWG Encoding Standard): clients
# that say ISO-8859-1 or US-ASCII write windows-1252 (old Outlook, Windows Live Mail: `€` as 0x80).
_WINDOWS_1252_LABELS = frozenset({
    "ansi_x3.4-1968", "ascii", "cp1252", "cp819", "csisolatin1", "ibm819", "iso-8859-1", "iso-ir-100",
    "iso8859-1", "iso88591", "iso_8859-1", "iso_8859-1:1987", "l1", "latin1", "us-ascii", "windows-1252",
    "x-cp1252", "latin-1", "iso-8859-1:1987",
})
# windows-1252 as WHATWG defines it: Latin-1 with 0x80–0x9F remapped; the five bytes windows-1252
# leaves undefined stay the C1 controls (Python's cp1252 codec would refuse them). A charmap table:
# decoded in C (a table of characters translated one by one cost 1.4 s on a 6 MB part).
_WINDOWS_1252_TABLE = "".join(
    bytes([byte]).decode("cp1252") if 0x80 <= byte < 0xA0 and byte not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)
    else chr(byte) for byte in range(256))


def decode_windows_1252(payload: bytes) -> str:
    return codecs.charmap_decode(payload, "strict", _WINDOWS_1252_TABLE)[0]


def _decoded(part: Message, problems: list[ParseProblem]) -> str | None:
    """The part's text (declared charset, errors replaced), from the payload so that it works on
    compat32 messages too. Labels that mean windows-1252 to every reader are read as windows-1252;
    an unlabelled part is UTF-8 when it is; an unknown or hostile charset falls back to UTF-8, then
    windows-1252."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return None
    label = _param(part, "charset")
    if label is None or str(label).strip().lower() in _WINDOWS_1252_LABELS:
        if label is None and not payload.isascii():
            try:
                return payload.decode("utf-8")  # no label at all: UTF-8 when it is, rather than a guess
            except UnicodeDecodeError:
                pass
        return decode_windows_1252(payload)
    try:
        return payload.decode(str(label), errors="replace")
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


# A « < » that opens a tag never closed within this many characters is text: the standard HTML
# parser rescans the rest of the document for each such opening (quadratic: a fuzzed 1.5 MB part with
# thousands of them took 27 s of CPU). No real tag is this long. A start tag is text too when a quote
# in it is not a value closed before its « > »: the parser's quoted value runs past the « > » to the
# next such quote, anywhere in the document (a fuzzed 1.4 MB part: 14 s).
_UNCLOSED_TAG = re.compile(r"""<(?:
    (?=[!/?])(?![^>]{0,4096}>)
  | (?=[A-Za-z])(?!(?=[^>]{0,4096}>)[A-Za-z](?:[^>"'=]|=\s*(?:"[^">]*"|'[^'>]*'|(?=[^"'])))*>)
)""", re.VERBOSE)


def _without_comments(html: str) -> str:
    """HTML comments removed, as a browser hides them: a token in a comment is read by nobody.

    Done before the unclosed-tag rule (a long comment is not an unclosed tag), with str.find so that
    thousands of « <!-- » stay linear; an unclosed comment runs to the end, as in a browser."""
    kept: list[str] = []
    start = 0
    while (opening := html.find("<!--", start)) != -1:
        kept.append(html[start:opening])
        closing = html.find("-->", opening + 4)
        if closing == -1:
            return "".join(kept)
        start = closing + 3
    kept.append(html[start:])
    return "".join(kept)


def html_to_text(html: str) -> str:
    # html2text escapes Markdown with regular expressions like ^(\s*)(-) that are quadratic on long
    # runs of whitespace (20 KB of them: seconds); in HTML such a run means no more than this.
    html = _UNCLOSED_TAG.sub("&lt;", _WHITESPACE_RUN.sub(_collapsed, _without_comments(html)))
    converter = html2text.HTML2Text()
    converter.body_width = 0  # never re-wrap: lines must stay lines
    converter.ignore_images = True
    converter.ignore_emphasis = True
    converter.ignore_links = True
    converter.ignore_tables = True
    converter.unicode_snob = True
    converter.mark_code = False
    converter.tag_callback = _NestingLimit()
    text = converter.handle(html)
    return "\n".join(_MD_ESCAPE.sub(r"\1", line) for line in text.splitlines())


class _NestingLimit:
    """html2text's tag callback: lists and quotes nested deeper than any mail's are read as flat
    text. html2text indents each line by its depth: 2,000 unclosed « <ol> » of a fuzzed part made
    millions of characters of indentation (seconds). Being called at each tag, it is also where the
    conversion looks at the message's CPU budget (mailbot.budget)."""

    DEPTH = 20
    NESTING = ("ol", "ul", "dl", "blockquote")

    def __init__(self) -> None:
        self.depth = dict.fromkeys(self.NESTING, 0)
        self.ignored = dict.fromkeys(self.NESTING, 0)
        self.tags = 0

    def __call__(self, converter, tag: str, attrs, start: bool) -> bool:
        self.tags += 1
        if self.tags % CHECK_TAGS == 0:
            checkpoint()
        if tag not in self.depth:
            return False
        if start:
            if self.depth[tag] >= self.DEPTH:
                self.ignored[tag] += 1
                return True
            self.depth[tag] += 1
            return False
        if self.ignored[tag]:
            self.ignored[tag] -= 1
            return True
        self.depth[tag] = max(0, self.depth[tag] - 1)
        return False


def _unflow(text: str) -> str:
    """RFC 3676: a line ending in a space continues on the next line of the same quote depth."""
    out: list[str] = []
    depth_open: int | None = None  # the quote depth of the paragraph being joined, None when none is
    pieces: list[str] = []  # its lines, joined once at its end (thousands of flowed lines: not quadratic)

    def close() -> None:
        out.append(">" * depth_open + (" " if depth_open else "") + "".join(pieces))
        pieces.clear()

    for line in text.splitlines():
        prefix = _QUOTE_PREFIX.match(line) if _may_be_quoted(line) else None
        depth = prefix.group(1).count(">") if prefix else 0
        body = line[prefix.end():] if prefix else line
        if body.startswith(" ") and prefix is None:
            body = body[1:]  # space-stuffing
        if depth_open is not None and not (depth_open == depth and line != "-- "):
            close()
            depth_open = None
        if depth_open is None:
            depth_open = depth
        pieces.append(body)
        if not (body.endswith(" ") and body.strip() and line != "-- "):
            close()
            depth_open = None
    if depth_open is not None:
        close()
    return "\n".join(out)


# --- normalisation -------------------------------------------------------------------------------

_NORMALISE = str.maketrans({**_SPACES, **_QUOTES})


def normalise_line(line: str) -> str:
    if line.isascii():  # most lines: of the characters to replace, only the tab is ASCII
        return (line.replace("\t", " ") if "\t" in line else line).rstrip()
    if "«" in line or "»" in line:
        line = _GUILLEMET_SPACE.sub('"', line)
    if _TO_NORMALISE.search(line):  # str.translate walks the whole line: only when there is something to replace
        line = line.translate(_NORMALISE)
    return unicodedata.normalize("NFC", line).rstrip()


_TO_NORMALISE = re.compile("[" + re.escape("".join({**_SPACES, **_QUOTES})) + "]")


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


SWITCH_KEYS = {label_key(DELETE_LABEL): "_delete", label_key(MOVE_LABEL): "_move", label_key(PARENT_LABEL): "_parent"}
_HINT_KEY = label_key(HINT_LABEL)
_HINT = "_hint"  # the line listing a field's allowed values: read as nothing, with what a client wrapped of it


def _unaccented(ref: str) -> str:
    """NOUVEAU-RÉSEAU → NOUVEAU-RESEAU: keywords are known by their unaccented spelling."""
    return ref if ref.isascii() else unicodedata.normalize("NFKD", ref).encode("ascii", "ignore").decode()


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
    commenting: bool = False  # the sender's words typed into the quoted form: a run is open


def parse_reply(raw: bytes, labels_by_block: dict[str, set[str]] | None = None) -> ParsedReply:
    """Parse a reply. `labels_by_block` maps a part key to the label keys it may contain
    (`mailbot.outbound.form.form_labels`); when given, a `Label : value` line whose label is unknown for its
    block is prose (it continues the previous value) instead of a field."""
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
    """The forms of `text` and the sender's own words (docs/reply-form.md, « How a reply is read »).

    A form is read at the quote depth of its opening line only: a line at another depth never
    continues a value nor fills a field. It ends at its closing line, at a signature delimiter or a
    closing formula at its depth, at a quotation introduced at its depth, or where its quoted
    region ends. Lines the sender typed at depth 0 (above, below or inside a quoted form) are their
    words; quoted or forwarded history is not."""
    reader = _Reader(known_labels or {})
    known = reader.known
    for number, raw_line in enumerate(text.splitlines(), 1):
        if number % CHECK_LINES == 1:
            checkpoint()
        depth, line = _split(raw_line)
        content = _MARKDOWN_STRIP(line)
        builder = reader.builder
        # the two commonest lines, without a method call: a form line at its form's depth, quoted
        # text outside any form (the rest of `_Reader.read`)
        if content[:3] != "###":
            if builder is None:
                if depth:
                    continue
            elif depth == builder.depth and not reader.tagged:
                builder.commenting = False
                if _feed(builder, content, number, known):
                    builder.lines.append(content)
                    continue
        reader.read(number, depth, line, content)
    reader.close_form(complete=False)
    parsed = tuple(
        ParsedForm(b.token, tuple(b.blocks), b.depth, b.complete, tuple(b.lines))
        for b in _best_copy_per_token(reader.forms)
    )
    return ParsedReply(parsed, _clean_note(reader.note), text, tuple(problems or ()))


class _Reader:
    """One pass over the lines: forms being built, and the sender's words."""

    def __init__(self, known: dict[str, set[str]]):
        self.known = known
        self.forms: list[_FormBuilder] = []
        self.note: list[str] = []
        self.builder: _FormBuilder | None = None
        self.history = False  # past a forward separator or a « De : … Envoyé : … » block: not their words
        self.header_at: int | None = None  # where a « De : » line was noted, until the block is confirmed
        self.orphan = False  # in a block pasted outside every form: form lines, not words (they change nobody)
        self.tagged: list[int] = []  # notes tagged with a block, until the form resumes below them

    def read(self, number: int, depth: int, line: str, content: str) -> None:
        marker = content.startswith("###")  # every regular expression below needs it: test it once
        start = _START_RE.match(content) if marker else None
        if start:
            self.close_form(complete=False)
            self.builder = _FormBuilder(token=start.group("token").lower(), depth=depth)
            self.builder.lines.append(content)
            self.forms.append(self.builder)
            return
        builder = self.builder
        if builder is not None:
            if depth != builder.depth:
                self._off_depth(builder, depth, content)
                return
            if marker and _END_RE.match(content):
                self.close_form(complete=True)
                return
            builder.commenting = False
            if self.tagged:
                self.tagged.clear()  # the form resumed: those were comments inside it
            if _feed(builder, content, number, self.known):
                builder.lines.append(content)
                return
            self.close_form(complete=False)  # a signature or a new quotation: the form is over
        if depth == 0:
            self._note_line(line)

    def close_form(self, *, complete: bool) -> None:
        for index in self.tagged:  # written below the form's quoted region, not inside a block
            self.note[index] = _TAG.sub("", self.note[index], count=1)
        self.tagged.clear()
        if self.builder is not None:
            _close_block(self.builder)
            self.builder.complete = complete
            self.builder = None

    def _off_depth(self, builder: _FormBuilder, depth: int, content: str) -> None:
        """A value never continues across a change of quote depth. Deeper lines are older quotes;
        shallower ones, at depth 0, are the sender's words, noted with the block they sit in."""
        builder.last_key = None
        stripped = content.strip()
        if depth > builder.depth or not stripped:
            if depth == 0 and builder.commenting:
                self.note.append("")  # the end of a paragraph the sender typed
            builder.commenting = False
            return
        if _QUOTE_INTRO.match(stripped) or _FORWARD.match(stripped):
            self.close_form(complete=False)  # a new quotation starts: the form's quoted region is over
            if depth == 0:
                self._note_line(content)
            return
        if depth == 0:
            if not builder.commenting and builder.current is not None:
                stripped = f"[{builder.current['ref']}] {stripped}"
                self.tagged.append(len(self.note))
            builder.commenting = True
            self.note.append(stripped)

    def _note_line(self, line: str) -> None:
        if self.history:
            return
        stripped = line.strip()
        if stripped.startswith("###") or stripped.startswith("===") and _SECTION_RE.match(stripped):
            self.orphan = True
            return
        if self.orphan and stripped:
            return
        self.orphan = False
        if _FORWARD.match(stripped):
            self.history = True
            return
        if _HEADER_LINE.match(stripped):
            if self.header_at is None and _HEADER_START.match(stripped):
                self.header_at = len(self.note)
            elif self.header_at is not None:  # « De : … » then « Envoyé : … »: a quoted message's header
                del self.note[self.header_at:]
                self.history = True
                return
            self.note.append(stripped)
            return
        if stripped:
            self.header_at = None
        if _QUOTE_INTRO.match(stripped):
            return  # « Le … a écrit : »: the quote follows; the sender may write below it
        self.note.append(stripped)


def _ends_form(stripped: str) -> bool:
    """A line that cannot be form content and ends it: a signature delimiter, a closing formula or a
    phone's footer alone on its line (mailbot/replies/words.toml), a quotation's introduction."""
    return stripped == "--" or bool(_QUOTE_INTRO.match(stripped) or _FORWARD.match(stripped)) \
        or starts_signature(stripped)


def _split(line: str) -> tuple[int, str]:
    depth, rest = _strip_quote(line)
    return depth, normalise_line(rest)


def _feed(builder: _FormBuilder, content: str, number: int, known: dict[str, set[str]]) -> bool:
    """Read one line at the form's depth; False when it is not form content and ends the form."""
    stripped = content.strip()
    if not stripped:
        builder.last_key = None
        return True
    marker = _MARKER_RE.match(stripped) if stripped[0] == "#" and stripped.startswith("###") else None
    if marker:
        _close_block(builder)
        ref = _unaccented(marker.group("ref")).upper()
        owner, name = _marker_binding(stripped[marker.end():]) if ref in _BOUND_REFS else (None, None)
        allowed = known.get(_part_of(ref)) if known else None  # None: any label (no rules given)
        builder.current = {"ref": ref, "fields": {}, "line": number, "owner": owner, "name": name, "allowed": allowed}
        builder.last_key = None
        return True
    current = builder.current
    if current is None or stripped[0] == "=" and _SECTION_RE.match(stripped):
        builder.last_key = None
        return current is not None or not _ends_form(stripped)
    if label_key(stripped[:len(HINT_LABEL)]) == _HINT_KEY:  # even cut short by a client's wrapping
        builder.last_key = _HINT
        return True
    if ":" in stripped:
        field_match = _FIELD_RE.match(stripped)
        if field_match:
            key = label_key(field_match.group("label"))
            allowed = current["allowed"]
            if key in allowed or key in SWITCH_KEYS or _LOCKED_APD_RE.match(key) if allowed is not None \
                    else not _ends_form(stripped):  # without the rules' labels, any label but a quotation's
                key = SWITCH_KEYS.get(key, key)
                current["fields"][key] = field_match.group("value").strip()
                builder.last_key = key
                return True
    if _ends_form(stripped):
        return False
    if builder.last_key == _HINT:
        return True
    if builder.last_key is not None:  # a value the client re-wrapped, or prose with a colon in it
        fields = current["fields"]
        if len(fields[builder.last_key]) <= MAX_VALUE_CHARS:  # beyond, the rules refuse it as too long anyway
            fields[builder.last_key] = f"{fields[builder.last_key]} {stripped}".strip()
    return True


_BOUND_REFS = frozenset({APD_BLOCK, *KEYWORD_PARTS})
_SEPARATORS = re.compile(f"[{re.escape(MARKER_SEPARATOR)}•|?]")  # « · » as sent, or as a client mangled it


def _marker_binding(rest: str) -> tuple[str | None, str | None]:
    """(owner, local name) from what follows an APD or new-record keyword on its marker line:
    `1 · COM-35238 · à remplir ####` → ("COM-35238", "1"). The owner is the collectivité code
    anywhere on the line; the local name is what the agent wrote before the first separator."""
    rest = rest.strip().strip("#").strip()
    words = _SEPARATORS.sub(" ", rest).split()
    owner = next((w.upper() for w in words if OWNER_RE.match(w.upper())), None)
    first = _SEPARATORS.split(rest, 1)[0].split()
    name = " ".join(w for w in first if w.upper() != owner).upper() or None
    return owner, name


_PART_OF_PREFIX = {"CT": "contact", "AD": "reseau", "APD": "apd", "CO": "cooperation", "PJ": "projet"}


def _part_of(ref: str) -> str:
    if ref in KEYWORD_PARTS:
        return KEYWORD_PARTS[ref]
    return _PART_OF_PREFIX.get(ref.split("-", 1)[0], "?")


def _close_block(builder: _FormBuilder) -> None:
    if builder.current is not None:
        current = builder.current
        builder.blocks.append(ParsedBlock(current["ref"], current["fields"], current["line"],
                                          current.get("owner"), current.get("name")))
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


# How clients introduce the message they quote or forward (French and English clients).
_QUOTE_INTRO = re.compile(r"^(le .{0,160}a [ée]crit ?:|on .{0,160}wrote ?:|.{0,80} a [ée]crit ?:)$", re.IGNORECASE)
_FORWARD = re.compile(
    r"^-{2,} ?(message d'origine|original message|message original|mail original|courriel original"
    r"|message transf[ée]r[ée]|forwarded message|message transmis) ?-{2,}$", re.IGNORECASE)
_HEADER_START = re.compile(r"^(de|from|exp[ée]diteur) ?: ", re.IGNORECASE)
_HEADER_LINE = re.compile(r"^(de|from|exp[ée]diteur|envoy[ée]|sent|date|[àa]|to|objet|subject|cc) ?: ", re.IGNORECASE)
_TAG = re.compile(r"^\[[A-Z0-9#-]+\] ")  # the block a comment typed inside a quoted form is noted with


def without_lines(note: str, ours: frozenset[str]) -> str:
    """`note` without the lines of `ours` (normalised lines of the messages we sent): our own
    summary pasted or forwarded without a separator is not the agent's words."""
    if not ours:
        return note
    return _clean_note([line for line in note.splitlines() if line.strip() not in ours])


def text_lines(raw: bytes) -> frozenset[str]:
    """The normalised, non-empty lines of a message's text (for `without_lines`)."""
    text, _problems = reply_text(parse_message(raw))
    return frozenset(filter(None, (normalise_line(line).strip() for line in text.splitlines())))


def _clean_note(lines: list[str]) -> str:
    """The sender's own words as they wrote them: blank runs collapsed, bounded."""
    kept: list[str] = []
    for line in lines:
        if line or (kept and kept[-1]):
            kept.append(line)
    note = "\n".join(kept).strip()
    return note if len(note) <= MAX_NOTE_LENGTH else note[:MAX_NOTE_LENGTH].strip() + " […]"
