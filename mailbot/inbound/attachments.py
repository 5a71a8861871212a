"""Attachments of inbound mail (pure: a parsed message in, typed attachments and their assessment out).

An agent's reply may carry files: the document the circular lets a collectivité join to its APD
declaration, a scan, a spreadsheet — or something no reviewer should open. Everything here treats the
file as outside input: its name and declared type come from the sender's client and decide nothing
alone. The type is read from the content's first bytes (`filetype`, a maintained magic-number table)
as well as from the name; a file is *dangerous* when either says executable, script or macro-enabled
office file, when its name hides an executable extension (« facture.exe.pdf », right-to-left tricks),
or when an archive lists such files. The bot never opens a file beyond these first bytes and an
archive's table of contents.

Names are kept as sent for reviewers (bounded), made safe to write into a directory
(`pathvalidate`, plus no hidden or relative names) and made safe to print (control and bidi
characters shown as escapes).
"""
from __future__ import annotations

import hashlib
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from email.message import Message

import filetype
from pathvalidate import sanitize_filename

from mailbot.inbound.read import header_text, parse_bounded

MAX_ATTACHMENTS = 50  # per message: beyond, the raw message still holds them
MAX_NAME = 255
SAVED_NAME_CHARS = 160  # with the number and the suffix, well under every file system's 255
SNIFF_BYTES = 8192
# Archive members we look at for executables: enough for any real document, bounded for a hostile one.
MAX_ARCHIVE_MEMBERS = 2000

# What the circular's document may be, by extension: the categories reviewers see.
DOCUMENT_EXTENSIONS = {
    "pdf": "document", "doc": "document", "docx": "document", "odt": "document", "rtf": "document",
    "txt": "document", "xls": "spreadsheet", "xlsx": "spreadsheet", "ods": "spreadsheet", "csv": "spreadsheet",
    "ppt": "document", "pptx": "document", "odp": "document",
    "jpg": "image", "jpeg": "image", "png": "image", "gif": "image", "heic": "image", "heif": "image",
    "tif": "image", "tiff": "image", "webp": "image", "bmp": "image",
}
# Executables, scripts, installers, shortcuts and macro-enabled office files (Windows, macOS, Linux).
DANGEROUS_EXTENSIONS = frozenset("""
    exe com scr pif bat cmd msi msp mst msc dll cpl sys drv ocx cab js jse vbs vbe vb wsf wsc wsh ws
    ps1 ps1xml ps2 psc1 psm1 psd1 sh bash zsh csh ksh fish py pyc pyw pl rb php jar class apk app dmg
    pkg deb rpm run command hta lnk url scf reg inf iso img vhd vhdx chm gadget application appx msix
    msixbundle appref-ms xll wll xla xlam xlsm xltm xlsb docm dotm pptm potm ppam ppsm sldm one
    elf bin out so dylib action workflow htm html xhtml shtml svg mht mhtml xht
""".split())
# Web pages and SVG run scripts when opened in a browser.
ACTIVE_TYPES = ("text/html", "application/xhtml+xml", "image/svg+xml", "application/x-msdownload",
                "application/x-dosexec", "application/x-executable", "application/x-sh", "application/x-msdos-program",
                "application/hta", "application/javascript", "text/javascript")
# Windows, Linux and macOS executables, and scripts, by their first bytes.
_EXECUTABLE_MAGIC = (
    (b"MZ", "programme Windows (en-tête MZ)"),
    (b"\x7fELF", "programme Linux (en-tête ELF)"),
    (b"\xfe\xed\xfa\xce", "programme macOS (Mach-O)"), (b"\xfe\xed\xfa\xcf", "programme macOS (Mach-O)"),
    (b"\xce\xfa\xed\xfe", "programme macOS (Mach-O)"), (b"\xcf\xfa\xed\xfe", "programme macOS (Mach-O)"),
    (b"#!", "script (ligne #!)"),
)
# An inner extension that hides an executable (« facture.exe.pdf »): only the unambiguous ones, so that
# « compte.rendu.2012.pdf » or « www.mairie.com.pdf » stay documents.
HIDING_EXTENSIONS = frozenset("exe scr pif bat cmd msi js jse vbs vbe wsf hta jar ps1 lnk cpl dll apk docm xlsm pptm".split())
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_OLE_MACROS = ("_VBA_PROJECT".encode("utf-16-le"), "Macros".encode("utf-16-le"))
_BIDI_AND_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True)
class Attachment:
    """One file of a message, as its client sent it."""

    position: int  # from 1, in the message's order
    filename: str
    content_type: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True)
class Assessment:
    category: str  # document | image | spreadsheet | other | dangerous
    detected_type: str | None  # MIME type read from the content, None when unknown
    danger: str | None  # why it is dangerous, in French; None when it is not

    @property
    def dangerous(self) -> bool:
        return self.danger is not None


@dataclass(frozen=True)
class KeptFile:
    """A file with what we found of it."""

    attachment: Attachment
    assessment: Assessment


def assess_files(raw: bytes) -> tuple[KeptFile, ...]:
    """Every file of a message, judged: CPU work (decoding, inspecting archives) that the inbound
    worker does before its write transaction. Nothing for a message the parser cannot read
    (classification records why)."""
    try:
        message = parse_bounded(raw)
    except Exception:
        return ()
    return tuple(KeptFile(found, assess(found.filename, found.content_type, found.data))
                 for found in extract_attachments(message))


# --- finding the files -------------------------------------------------------------------------------------

def extract_attachments(message: Message, *, limit: int = MAX_ATTACHMENTS) -> list[Attachment]:
    """The files of a message: every leaf part that is not its readable body (a named part, a part
    marked `attachment`, or any non-text part). Attached messages (message/rfc822) are forwarded mail,
    read as text elsewhere, not files."""
    found: list[Attachment] = []
    for part in _leaves(message):
        if len(found) >= limit:
            break
        if not _is_file(part):
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            payload = b""
        found.append(Attachment(len(found) + 1, _filename(part, len(found) + 1), _declared_type(part), payload))
    return found


def _leaves(message: Message):
    stack = [message]
    while stack:
        part = stack.pop(0)
        if part is not message and part.get_content_type() == "message/rfc822":
            continue
        if part.is_multipart():
            stack[0:0] = list(part.get_payload())
            continue
        yield part


def _is_file(part: Message) -> bool:
    disposition = (part.get_content_disposition() or "").lower()
    if disposition == "attachment" or part.get_filename():
        return True
    return part.get_content_maintype() not in ("text", "multipart", "message")


def _filename(part: Message, position: int) -> str:
    try:
        raw = part.get_filename() or ""
    except Exception:  # a broken RFC 2231 parameter: the name is lost, not the file
        raw = ""
    name = header_text(raw).strip() if raw else ""
    if not name:
        extension = filetype.get_type(mime=part.get_content_type())
        name = f"piece-jointe-{position}" + (f".{extension.extension}" if extension else "")
    return bounded_name(name)


def _declared_type(part: Message) -> str:
    return part.get_content_type()[:100]


def bounded_name(name: str) -> str:
    """At most MAX_NAME characters, the extension kept (it is what says what the file is)."""
    return _shortened(unicodedata.normalize("NFC", name), MAX_NAME)


def _shortened(name: str, limit: int) -> str:
    if len(name) <= limit:
        return name
    stem, dot, extension = name.rpartition(".")
    if dot and stem and 0 < len(extension) <= 16:
        return stem[:limit - len(extension) - 1] + "." + extension
    return name[:limit]


# --- judging them ------------------------------------------------------------------------------------------

def extensions(name: str) -> list[str]:
    """Every extension of a name, innermost first: « rapport.exe.pdf » → [exe, pdf]. Spaces and dots
    padding an extension (« facture.pdf      .exe ») do not hide it."""
    base = re.split(r"[\\/]", name)[-1]
    pieces = [p.strip().lower() for p in base.split(".")[1:]]
    return [p for p in pieces if p and re.fullmatch(r"[a-z0-9_-]{1,16}", p)]


def assess(filename: str, content_type: str, data: bytes) -> Assessment:
    """What kind of file this is and whether it is dangerous, from its name, its declared type and its
    content's first bytes (and an archive's list of members)."""
    head = data[:SNIFF_BYTES]
    guessed = filetype.guess(head) if head else None
    detected = guessed.mime if guessed else None
    danger = _danger(filename, content_type, data, head, detected)
    if danger:
        return Assessment("dangerous", detected, danger)
    return Assessment(_category(filename, content_type, detected), detected, None)


def _danger(filename: str, content_type: str, data: bytes, head: bytes, detected: str | None) -> str | None:
    if _BIDI_AND_CONTROL.search(filename):
        return "nom de fichier trompeur (caractères de contrôle ou d'inversion du sens d'écriture)"
    exts = extensions(filename)
    if exts and exts[-1] in DANGEROUS_EXTENSIONS:
        return f"type de fichier exécutable ou à macros (.{exts[-1]})"
    hidden = [e for e in exts[:-1] if e in HIDING_EXTENSIONS]
    if hidden:
        return f"double extension cachant un exécutable (.{hidden[0]})"
    for magic, label in _EXECUTABLE_MAGIC:
        if head.startswith(magic):
            return f"contenu exécutable : {label}"
    if content_type.lower() in ACTIVE_TYPES or (detected or "") in ACTIVE_TYPES:
        return f"type exécutable ou page active ({content_type if content_type.lower() in ACTIVE_TYPES else detected})"
    if head.startswith(_OLE2) and any(marker in data for marker in _OLE_MACROS):
        return "document Office contenant des macros"
    if head.startswith(b"PK\x03\x04"):
        return _archive_danger(data)
    return None


def _archive_danger(data: bytes) -> str | None:
    """Office Open XML files are zip archives: macros live in vbaProject.bin. Other archives are flagged
    when they list an executable."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = [info.filename for info in archive.infolist()[:MAX_ARCHIVE_MEMBERS]]
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError):
        return None  # truncated or odd: not opened further, kept as it came
    lowered = [n.lower() for n in names]
    if any(n.endswith("vbaproject.bin") for n in lowered):
        return "document Office contenant des macros (vbaProject.bin)"
    for name in lowered:
        exts = extensions(name)
        if exts and exts[-1] in DANGEROUS_EXTENSIONS:
            return f"archive contenant un exécutable ({name[:80]})"
    return None


def _category(filename: str, content_type: str, detected: str | None) -> str:
    exts = extensions(filename)
    by_name = DOCUMENT_EXTENSIONS.get(exts[-1]) if exts else None
    by_content = _category_of_mime(detected) if detected else None
    if by_content is not None and by_name is not None and by_content != by_name and detected != "application/zip":
        return by_content  # the content says what it is (a .pdf that is a JPEG is an image)
    return by_name or by_content or _category_of_mime(content_type.lower()) or "other"


def _category_of_mime(mime: str) -> str | None:
    if mime.startswith("image/"):
        return "image"
    if mime in ("text/csv",) or "spreadsheet" in mime or "excel" in mime:
        return "spreadsheet"
    if mime in ("application/pdf", "application/rtf", "text/plain", "application/msword") or \
            "wordprocessing" in mime or "opendocument.text" in mime or "presentation" in mime or "powerpoint" in mime:
        return "document"
    return None


# --- showing and saving names ------------------------------------------------------------------------------

def shown_name(name: str) -> str:
    """A name safe to print on a terminal or in a text mail: control and bidi characters as escapes."""
    return _BIDI_AND_CONTROL.sub(lambda m: f"\\u{ord(m.group(0)):04x}", name)


def safe_filename(name: str, attachment_id: int, *, dangerous: bool = False) -> str:
    """The name to write a file under, inside the chosen directory only: no separator, no relative or
    hidden name, nothing a file system refuses; prefixed with the attachment's number so two files of
    the same name do not overwrite each other. A dangerous file gets a suffix that keeps it from being
    run by a double click."""
    plain = _BIDI_AND_CONTROL.sub("", name)
    plain = re.split(r"[\\/]", plain)[-1]
    cleaned = sanitize_filename(plain, platform="universal", replacement_text="_").strip().lstrip(".").strip()
    cleaned = _shortened(cleaned or "piece-jointe", SAVED_NAME_CHARS)
    return f"{attachment_id}-{cleaned}" + (".dangereux" if dangerous else "")


def human_size(size: int) -> str:
    """« 12 Ko », « 1,4 Mo » as a French reader expects."""
    if size < 1024:
        return f"{size} octets"
    if size < 1024 * 1024:
        return f"{round(size / 1024)} Ko"
    return f"{size / (1024 * 1024):.1f} Mo".replace(".", ",")
