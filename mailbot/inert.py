"""Text from outside made inert: what a terminal or a reader would obey in it is removed.

A terminal obeys control characters wherever they come from: an agent's subject holding
`ESC ] 0 ; … BEL` retitles the window, `ESC [ 2 J` clears the screen, `CR` overwrites a line already
printed, a right-to-left override reverses what follows. Removed: whole escape sequences (CSI, OSC,
DCS/SOS/PM/APC strings, two-character escapes; the 7-bit ESC forms and the 8-bit C1 introducers),
then any remaining C0 and C1 control, DEL, and the Unicode bidirectional overrides, embeddings,
isolates and marks. Kept: newlines and tabs when asked (`keep_lines=True`), otherwise each becomes a
space. No well-kept library does exactly this (the ANSI packages colour text, they do not neutralise
it), and the grammar is ECMA-48's, small enough to state here.

Used by the CLI before printing (mailbot.cli.terminal) and by the header decoder
(mailbot.inbound.read), so a subject is stored without the sequence rather than with its visible
remains (« [2J[H » once its ESC alone is gone).
"""
from __future__ import annotations

import re

# ECMA-48: CSI (ESC [ or 0x9B) parameters, intermediates, final byte; OSC and the other strings
# (ESC ] P X ^ _ or 0x9D 0x90 0x98 0x9E 0x9F) up to BEL or ST (ESC \ or 0x9C) — or to the end of the
# text when unterminated, as a terminal would swallow it; any other ESC and the character after it.
_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?"
    r"|(?:\x1b[\]PX^_]|[\x9d\x90\x98\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[\x20-\x2f]*[\x30-\x7e]?"
)
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_LINE_BREAKS = re.compile(r"\r\n|[\r\n\u2028\u2029\x0b\x0c\x85]")
_CONTROLS = re.compile("[\\x00-\\x08\\x0e-\\x1f\\x7f-\\x9f]")
_BIDI = re.compile(f"[{BIDI_CONTROLS}]")


def inert_text(value, *, keep_lines: bool = False, keep_bidi: bool = False) -> str:
    """`value` as text a terminal shows as is (see the module docstring). None is the empty text.

    `keep_bidi` keeps the bidirectional controls: what is stored keeps them (an attachment named with
    a right-to-left override is evidence for reviewers); what is printed never does."""
    if value is None:
        return ""
    text = _SEQUENCE.sub("", value if isinstance(value, str) else str(value))
    text = _LINE_BREAKS.sub("\n", text)  # before the C1 pass: NEL (0x85) is a line break, not noise
    text = _CONTROLS.sub("", text)
    if not keep_bidi:
        text = _BIDI.sub("", text)
    if keep_lines:
        return text
    return text.replace("\n", " ").replace("\t", " ")
