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

from mailbot.inert import BIDI_CONTROLS, inert_text

_UNSAFE_IN_JSON = re.compile(f"[\\x7f-\\x9f{BIDI_CONTROLS}\u2028\u2029]")


def printable(value, *, keep_lines: bool = False) -> str:
    """`value` as text a terminal shows as is (mailbot.inert). None is the empty text."""
    return inert_text(value, keep_lines=keep_lines)


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
