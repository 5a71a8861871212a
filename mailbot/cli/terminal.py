"""What the CLI prints of text that came from outside (a subject, a From, a note, a value, a
préfecture's address): made harmless for the reviewer's terminal.

A terminal obeys control characters wherever they come from: an agent's subject holding
`ESC ] 0 ; … BEL` retitles the window, `ESC [ 2 J` clears the screen, `CR` overwrites a line already
printed (« rejeté » over « approuvé »), a right-to-left override reverses what follows. So every
human-readable line the CLI prints goes through `printable` (directly, or through `echo`), whether
stdout is a terminal or a pipe (`… | less -R` obeys them too).

Removed: whole escape sequences (CSI, OSC, DCS/SOS/PM/APC strings, two-character escapes; the 7-bit
ESC forms and the 8-bit C1 introducers), then any remaining C0 and C1 control, DEL, and the Unicode
bidirectional overrides, embeddings, isolates and marks. Kept: newlines and tabs where a block of
text is printed (`keep_lines=True`), otherwise each becomes a space so that a value can never start
a line of its own (a forged « #12 … approved » row). Line and paragraph separators count as
newlines. No well-kept library does exactly this (the ANSI packages colour text, they do not
neutralise it), and the grammar is ECMA-48's, small enough to state here.

`--json` output goes through `json_safe`: the same characters are written as `\\uXXXX` escapes, so
the data is exact for programs and inert on a terminal.
"""
from __future__ import annotations

import re
import sys

import click

# ECMA-48: CSI (ESC [ or 0x9B) parameters, intermediates, final byte; OSC and the other strings
# (ESC ] P X ^ _ or 0x9D 0x90 0x98 0x9E 0x9F) up to BEL or ST (ESC \ or 0x9C) — or to the end of the
# text when unterminated, as a terminal would swallow it; any other ESC and the character after it.
_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?"
    r"|(?:\x1b[\]PX^_]|[\x9d\x90\x98\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[\x20-\x2f]*[\x30-\x7e]?"
)
_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_LINE_BREAKS = re.compile(r"\r\n|[\r\n\u2028\u2029\x0b\x0c\x85]")
_CONTROLS = re.compile(f"[\\x00-\\x08\\x0e-\\x1f\\x7f-\\x9f{_BIDI}]")
_UNSAFE_IN_JSON = re.compile(f"[\\x7f-\\x9f{_BIDI}\u2028\u2029]")


def printable(value, *, keep_lines: bool = False) -> str:
    """`value` as text a terminal shows as is (see the module docstring). None is the empty text."""
    if value is None:
        return ""
    text = _SEQUENCE.sub("", value if isinstance(value, str) else str(value))
    text = _LINE_BREAKS.sub("\n", text)  # before the C1 pass: NEL (0x85) is a line break, not noise
    text = _CONTROLS.sub("", text)
    if keep_lines:
        return text
    return text.replace("\n", " ").replace("\t", " ")


def echo(text="", **kwargs) -> None:
    """click.echo for human output: lines and tabs kept, everything else a terminal obeys removed."""
    click.echo(printable(text, keep_lines=True), **kwargs)


def json_safe(dumped: str) -> str:
    """JSON text with C1 controls, DEL, bidi controls and line separators written as escapes
    (`json.dumps(ensure_ascii=False)` already escapes C0; the rest would reach the terminal raw)."""
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", dumped)


def write_raw(data: bytes) -> None:
    """A message exactly as received (`--raw`): byte for byte into a pipe or a file, where it is being
    saved; made printable on a terminal, which would obey any escape sequence in it."""
    stream = sys.stdout
    if stream.isatty():
        echo(data.decode("utf-8", errors="replace"), nl=False)
        return
    stream.flush()
    stream.buffer.write(data)
    stream.buffer.flush()
