"""What the agent wrote besides the form: courtesy, a confirmation, or words for reviewers (pure).

The knowledge is data (`mailbot/replies/words.toml`): greetings, thanks, closing formulas and confirmation
phrases, and what a French signature block looks like. A note made only of courtesy and
confirmation phrases, followed by a signature, says nothing reviewers must read; anything else is
words, and a message with words always reaches a reviewer (mailbot.understand).
"""
from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).with_name("words.toml")

EMPTY, COURTESY, CONFIRMATION, WORDS = "empty", "courtesy", "confirmation", "words"
_REF_PREFIX = re.compile(r"^\[[A-Z0-9#-]+\] ")  # a comment typed inside the form, noted with its block


@dataclass(frozen=True)
class Reading:
    kind: str  # empty | courtesy | confirmation | words
    words: str  # what the agent wrote before their signature, as written


def _alternatives(patterns: list[str]) -> str:
    return "|".join(f"(?:{p})" for p in sorted(patterns, key=len, reverse=True))  # longest first


def _phrase(patterns: list[str]) -> re.Pattern:
    """One phrase at the start of folded text, ending at a word boundary."""
    return re.compile(rf"(?:{_alternatives(patterns)})(?: |$)")


@dataclass(frozen=True)
class _Patterns:
    confirmation: re.Pattern
    courtesy: re.Pattern
    closings: re.Pattern  # a line of closing formulas and thanks only
    closing: re.Pattern  # one closing formula somewhere in folded text
    ends: re.Pattern
    contact: re.Pattern
    heading: re.Pattern
    name: re.Pattern
    postscript: re.Pattern


def load_patterns(path: Path = DATA) -> _Patterns:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    phrases, signature = data["phrases"], data["signature"]
    courtesy = phrases["greeting"] + phrases["thanks"] + phrases["closing"] + phrases["filler"]
    closings = phrases["closing"] + phrases["thanks"] + phrases["greeting"]
    return _Patterns(
        confirmation=_phrase(phrases["confirmation"]),
        courtesy=_phrase(courtesy),
        closings=re.compile(rf"(?:(?:{_alternatives(closings)})(?: |$))+"),
        closing=re.compile(rf"(?:^| )(?:{_alternatives(phrases['closing'])})(?: |$)"),
        ends=re.compile(_alternatives(signature["delimiter"] + signature["footer"] + signature["disclaimer"]),
                        re.IGNORECASE),
        contact=re.compile(_alternatives(signature["contact"]), re.IGNORECASE),
        heading=re.compile(_alternatives(signature["heading"]), re.IGNORECASE),
        name=re.compile(_alternatives(signature["name"])),  # case counts: a name is capitalised
        postscript=re.compile(_alternatives(signature["postscript"]), re.IGNORECASE),
    )


_PATTERNS = load_patterns()


def fold(text: str) -> str:
    """Lowercase words without accents or punctuation, as [phrases] are written."""
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text.replace("œ", "oe").replace("Œ", "OE").replace("’", "'"))
        text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(_NON_WORD.sub(" ", text.casefold()).split())


_NON_WORD = re.compile(r"[\W_]+")
MAX_CLOSING = 160  # the longest closing formulas (« Veuillez agréer, Madame, Monsieur, … ») are about 120


@lru_cache(maxsize=4096)  # a long message repeats its lines (separators, quoted blanks, pasted blocks)
def starts_signature(line: str) -> bool:
    """A line after which the agent's text is over: a signature delimiter, a phone's footer, a
    disclaimer, or a closing formula alone on its line (« Cordialement, », « Merci, bien à vous »)."""
    if not line or len(line) > 200:
        return False
    if _PATTERNS.ends.match(line):
        return True
    if len(line) > MAX_CLOSING:
        return False
    folded = fold(line)
    return bool(folded) and _PATTERNS.closing.search(folded) is not None \
        and _PATTERNS.closings.fullmatch(folded + " ") is not None


def read_words(note: str) -> Reading:
    """Whether `note` (the agent's own lines, mailbot.replies.parse) says something reviewers must read."""
    body = _before_signature([_REF_PREFIX.sub("", line.strip()) for line in note.splitlines()])
    text = "\n".join(body).strip()
    if not text:
        return Reading(EMPTY, "")
    rest, confirmed = _consume(fold(text))
    if rest:
        return Reading(WORDS, text)
    return Reading(CONFIRMATION if confirmed else COURTESY, text)


def _before_signature(lines: list[str]) -> list[str]:
    """The lines before the signature: cut at a delimiter, a footer, a disclaimer or a closing
    formula (a postscript after it is kept), then a trailing signature block taken off."""
    for index, line in enumerate(lines):
        if starts_signature(line):
            postscripts = [later for later in lines[index + 1:] if _PATTERNS.postscript.match(later)]
            return _without_trailing_block(lines[:index]) + postscripts
    return _without_trailing_block(lines)


def _without_trailing_block(lines: list[str]) -> list[str]:
    """A signature without a closing formula: from a name line to the end, every line a line of a
    signature block (title, service, address, phone, e-mail…). Without a name line, only trailing
    contact lines (phone, e-mail, address) go: a line such as « Le maire a changé » stays words."""
    start = len(lines)
    while start and _signature_line(lines[start - 1]):
        start -= 1
        if _PATTERNS.name.match(lines[start]) and _consume(fold(lines[start]))[0]:  # « RAS » is no name
            return _without_trailing_block(lines[:start])
    end = len(lines)
    while end and (not lines[end - 1] or _PATTERNS.contact.match(lines[end - 1])):
        end -= 1
    return lines[:end]


def _signature_line(line: str) -> bool:
    return not line or bool(_PATTERNS.contact.match(line) or _PATTERNS.heading.match(line)
                            or _PATTERNS.name.match(line)) or _capitalised(line)


def _capitalised(line: str) -> bool:
    """A signature's heading (« Direction des Relations Internationales »): most words capitalised."""
    words = line.split()
    if not words or len(words) > 8 or line.rstrip()[-1:] in ".!?:":
        return False
    return sum(word[:1].isupper() for word in words) * 2 >= len(words)


def _consume(folded: str) -> tuple[str, bool]:
    """What is left of `folded` after its courtesy and confirmation phrases, and whether one of them
    was a confirmation."""
    rest, confirmed = folded + " ", False
    while rest.strip():
        confirmation = _PATTERNS.confirmation.match(rest)
        courtesy = _PATTERNS.courtesy.match(rest)
        if confirmation and (courtesy is None or confirmation.end() >= courtesy.end()):
            rest, confirmed = rest[confirmation.end():], True
        elif courtesy:
            rest = rest[courtesy.end():]
        else:
            break
    return rest.strip(), confirmed
