"""Which collectivité a message without a token is about (pure: text in, candidates out).

Agents who first hear of a campaign through their préfecture write to the bot with the forwarded
circular, or a plain « je souhaite mettre à jour notre fiche », and no form token. This module reads
what such a message says about its author's collectivité and ranks the candidates of the reference
data; `mailbot.replies.tokenless` decides what to answer.

Clues, strongest first:
  - identifiers: one of our codes (`COM-35238`), a SIREN (9 digits, Luhn-checked), an INSEE code
    introduced as such (« INSEE 35238 »);
  - a postcode followed by a commune's name (« 35000 Rennes »): the postcode gives the département;
  - a named body: « Mairie de … », « Ville de … », « Communauté de communes du … », « Communauté
    d'agglomération … », « Conseil départemental de … », « Région … »;
  - a line of the signature that is exactly a collectivité's name;
  - the sender's mail domain (`ville-rennes.fr`), only when nothing else speaks.
Names are compared accent-, case- and punctuation-insensitively, exactly first, then with rapidfuzz.
Candidates are narrowed to a territory (the forwarding préfecture's département, or the départements
of the postcodes written) whenever that leaves any.

Only the agent's own text is read for clues: a forwarded circular lists every collectivité of its
territory, and a quoted question lists our candidates — reading them would match everything.
"""
from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from mailbot.budget import checkpoint

MAX_CANDIDATES = 5
CONFIDENT = 90  # a single candidate at or above this score is taken without asking
PLAUSIBLE = 75  # below this, a candidate is not worth proposing
TIE_MARGIN = 2  # candidates this close to the best one are as likely as it

KIND_LABELS = {"commune": "commune", "epci": "intercommunalité", "departement": "département", "region": "région"}
EPCI_PREFIXES = {"cc": "CC", "ca": "CA", "cu": "CU", "metropole": "METRO"}


@dataclass(frozen=True)
class Entry:
    """One collectivité of the reference data, as identification needs it."""

    id: int
    code: str  # COM-35238, EPCI-200068047, DEP-35, REG-53
    kind: str
    name: str
    insee: str
    siren: str | None
    departement: str | None
    region: str | None
    in_atlas: bool = False
    population: int | None = None
    epci_type: str | None = None


@dataclass(frozen=True)
class Candidate:
    entry: Entry
    score: float
    evidence: str  # in French, for reviewers: « SIREN 213500853 », « « Mairie de Rennes » »


@dataclass(frozen=True)
class Identification:
    outcome: str  # one | several | none
    candidates: tuple[Candidate, ...] = ()
    territory: tuple[str, ...] = ()  # the départements the search was narrowed to

    @property
    def chosen(self) -> Entry | None:
        return self.candidates[0].entry if self.outcome == "one" else None


@dataclass(frozen=True)
class MessageText:
    """A message split into what its author wrote and what they forwarded or quoted."""

    own: str
    forwarded: str = ""
    subject: str = ""
    sender: str = ""


# --- normalisation ---------------------------------------------------------------------------------------

_NON_WORD = re.compile(r"[^0-9a-z]+")
_ABBREVIATIONS = {"st": "saint", "ste": "sainte", "sts": "saints", "stes": "saintes"}
_ARTICLES = ("de la ", "de l ", "des ", "du ", "de ", "d ", "la ", "le ", "les ", "l ")


def fold(text: str) -> str:
    """« Saint-Étienne-du-Rouvray » → « saint etienne du rouvray »: no accents, case or punctuation."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    words = _NON_WORD.sub(" ", plain.replace("œ", "oe").replace("æ", "ae")).split()
    return " ".join(_ABBREVIATIONS.get(word, word) for word in words)


def strip_article(key: str) -> str:
    for article in _ARTICLES:
        if key.startswith(article):
            return key[len(article):]
    return key


def name_key(entry: Entry) -> str:
    """The key a collectivité is looked up by: an EPCI without its « CC »/« CA » prefix and article."""
    key = fold(entry.name)
    if entry.kind == "epci":
        first, _, rest = key.partition(" ")
        if first in EPCI_PREFIXES and rest:
            key = strip_article(rest)
    return key


# --- the directory -----------------------------------------------------------------------------------------

@dataclass
class Directory:
    """The reference data indexed for look-ups (built once per message, or cached by the caller)."""

    entries: list[Entry]
    departement_names: dict[str, str] = field(default_factory=dict)  # code → name

    def __post_init__(self) -> None:
        self.by_code = {e.code: e for e in self.entries}
        self.by_siren = {e.siren: e for e in self.entries if e.siren}
        self.by_insee = {e.insee: e for e in self.entries if e.kind == "commune"}
        self.by_key: dict[tuple[str, str], list[Entry]] = defaultdict(list)
        for entry in self.entries:
            self.by_key[(entry.kind, name_key(entry))].append(entry)
        self.keys_by_kind: dict[str, list[str]] = defaultdict(list)
        for kind, key in self.by_key:
            self.keys_by_kind[kind].append(key)

    def restricted(self, entries: list[Entry]) -> Directory:
        return Directory(entries, self.departement_names)

    def label(self, entry: Entry) -> str:
        """« Saint-Martin, commune, Gers (32), COM-32389 »: how a candidate is shown to an agent."""
        where = ""
        if entry.kind in ("commune", "epci") and entry.departement:
            name = self.departement_names.get(entry.departement)
            where = f", {name} ({entry.departement})" if name else f", département {entry.departement}"
        return f"{entry.name}, {KIND_LABELS.get(entry.kind, entry.kind)}{where}, {entry.code}"


# --- splitting a message --------------------------------------------------------------------------------------

_FORWARD_MARKERS = re.compile(
    r"^\s*(-{2,}\s*(message transf[ée]r[ée]|forwarded message|original message|message d'origine|"
    r"message original|mail original)\s*-{2,}|d[ée]but du message (r[ée]exp[ée]di[ée]|transf[ée]r[ée])\s*:|"
    r"begin forwarded message\s*:)",
    re.IGNORECASE,
)
_OUTLOOK_HEADER = re.compile(r"^\s*\*?(de|from)\s*:\*?\s+\S", re.IGNORECASE)
_OUTLOOK_FOLLOW = re.compile(r"^\s*\*?(envoy[ée]|sent|date|[àa]|to|objet|subject)\s*:", re.IGNORECASE)
_WROTE = re.compile(r"(a [ée]crit|wrote)\s*:\s*$", re.IGNORECASE)


def split_own_text(text: str) -> tuple[str, str]:
    """(what the author wrote, what they forwarded or quoted): the text is cut at the first forward
    marker, Outlook header block (« De : … » followed by « Envoyé : » or « Objet : ») or « … a écrit : »
    line; quoted lines (« > ») anywhere are set aside."""
    lines = text.replace("\r\n", "\n").split("\n")
    own: list[str] = []
    rest: list[str] = []
    for index, line in enumerate(lines):
        if _starts_forward(lines, index):
            rest.extend(lines[index:])
            break
        (rest if line.lstrip().startswith(">") else own).append(line)
    return "\n".join(own).strip(), "\n".join(line.lstrip("> ") for line in rest).strip()


def _starts_forward(lines: list[str], index: int) -> bool:
    line = lines[index]
    if _FORWARD_MARKERS.match(line) or _WROTE.search(line):
        return True
    if _OUTLOOK_HEADER.match(line):
        return any(_OUTLOOK_FOLLOW.match(following) for following in lines[index + 1:index + 5])
    return False


# --- clues --------------------------------------------------------------------------------------------------

_OUR_CODE = re.compile(r"\b(COM|EPCI|DEP|REG)-([0-9][0-9AB][0-9]{0,7})\b", re.IGNORECASE)
_SIREN = re.compile(r"(?<![\d-])(\d{3})[ .\u00a0\u202f]?(\d{3})[ .\u00a0\u202f]?(\d{3})(?![\d-])")
_INSEE = re.compile(r"\binsee\W{0,12}([0-9][0-9AB][0-9]{3})\b", re.IGNORECASE)
_POSTCODE = re.compile(r"(?<![\d-])((?:[0-8]\d|9[0-8])\d{3})(?![\d-])")
_POSTCODE_NAME = re.compile(r"(?<![\d-])((?:[0-8]\d|9[0-8])\d{3})[ \u00a0]+([^\W\d_][^\n,;()0-9]{1,60})")
_NAME = r"(?P<name>[^\W\d_][^\n,;:()!?«»\"]{1,80})"
_ART = r"(?:de\s+la\s+|de\s+l['’]\s*|des\s+|du\s+|de\s+|d['’]\s*)?"
_NAMED = (
    ("commune", re.compile(r"\b(?:mairie|ville|commune|municipalit[ée])\s+" + _ART + _NAME, re.IGNORECASE)),
    ("epci:CC", re.compile(r"\bcommunaut[ée]\s+de\s+communes\s+" + _ART + _NAME, re.IGNORECASE)),
    ("epci:CA", re.compile(r"\bcommunaut[ée]\s+d['’]\s*agglom[ée]ration\s+" + _ART + _NAME, re.IGNORECASE)),
    ("epci:CU", re.compile(r"\bcommunaut[ée]\s+urbaine\s+" + _ART + _NAME, re.IGNORECASE)),
    ("epci:METRO", re.compile(r"\bm[ée]tropole\s+" + _ART + _NAME, re.IGNORECASE)),
    ("epci", re.compile(r"\b(?:CC|CA|CU)\s+" + _ART + _NAME)),
    ("departement", re.compile(r"\b(?:conseil\s+(?:d[ée]partemental|g[ée]n[ée]ral)|d[ée]partement)\s+"
                               + _ART + _NAME, re.IGNORECASE)),
    ("region", re.compile(r"\b(?:conseil\s+r[ée]gional|r[ée]gion)\s+" + _ART + _NAME, re.IGNORECASE)),
)
# Words that end a name written in a sentence: « Mairie de Rennes souhaite… », « Ville de Nancy pour… ».
_NAME_STOP = re.compile(
    r"\s(?:souhaite|souhaitons|voudrait|aimerait|pour|et\s+je|je|nous|vous|qui|a|avec|merci|concernant|"
    r"dans|sur\s+l|suite|est|sont|vient|fait|demande|-)(?=[\s.,;!?]|$)", re.IGNORECASE)
_SIGN_OFF = re.compile(r"^\s*(bien\s+)?(cordialement|sinc[eè]res salutations|salutations|bien [àa] vous|"
                       r"respectueusement|--\s*)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Clues:
    codes: tuple[str, ...] = ()  # our codes, INSEE and SIREN numbers written
    named: tuple[tuple[str, str, str], ...] = ()  # (kind spec, name as written, the phrase)
    postcode_names: tuple[tuple[str, str], ...] = ()  # (postcode, name as written)
    signature: tuple[str, ...] = ()
    departements: tuple[str, ...] = ()  # from the postcodes written


def luhn_ok(digits: str) -> bool:
    """SIREN numbers carry a Luhn check digit: it tells them from phone numbers and amounts."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def departement_of_postcode(postcode: str) -> str | None:
    """The département a postcode belongs to (Corsica's 20xxx: 2A below 20200, else 2B)."""
    if postcode.startswith("97") or postcode.startswith("98"):
        return postcode[:3]
    if postcode.startswith("20"):
        return "2A" if postcode < "20200" else "2B"
    return postcode[:2] if postcode[:2] != "00" else None


def clean_name(raw: str) -> str:
    """A name cut where the sentence goes on (« Rennes souhaite mettre à jour » → « Rennes »)."""
    name = _NAME_STOP.split(" " + raw.strip() + " ", maxsplit=1)[0]
    return " ".join(name.replace("’", "'").split()).strip(" .-'")


# Identification reads at most this much of the author's text, and tries at most this many names:
# each name costs a fuzzy search of the whole directory (thousands of « Mairie de … » lines would
# otherwise cost minutes). An agent names their collectivité near the top or in the signature.
MAX_OWN_LINES = 150
MAX_OWN_CHARS = 15_000
MAX_CLUES = 12


def bounded_own(own: str) -> str:
    """The head and the tail of the author's text (the signature is at the end), within the limits."""
    lines = own[:MAX_OWN_CHARS * 2].split("\n")
    if len(lines) > MAX_OWN_LINES:
        lines = lines[:MAX_OWN_LINES - 20] + lines[-20:]
    kept = "\n".join(lines)
    return kept if len(kept) <= MAX_OWN_CHARS else kept[:MAX_OWN_CHARS - 2000] + "\n" + kept[-2000:]


def find_clues(text: MessageText) -> Clues:
    own = bounded_own(text.own)
    body = f"{text.subject[:300]}\n{own}"
    codes: list[str] = []
    codes += [f"{kind.upper()}-{number.upper()}" for kind, number in _OUR_CODE.findall(body)]
    codes += [f"INSEE:{number.upper()}" for number in _INSEE.findall(body)]
    codes += [f"SIREN:{''.join(groups)}" for groups in _SIREN.findall(body) if luhn_ok("".join(groups))]
    named = []
    for kind, pattern in _NAMED:
        for match in pattern.finditer(body):
            name = clean_name(match.group("name"))
            if name:
                lead = match.group(0)[:match.start("name") - match.start()]
                named.append((kind, name, " ".join(f"{lead}{name}".split())))
    postcode_names = [(code, clean_name(name)) for code, name in _POSTCODE_NAME.findall(own)]
    departements = tuple(dict.fromkeys(d for d in map(departement_of_postcode, _POSTCODE.findall(own)) if d))
    return Clues(tuple(dict.fromkeys(codes))[:MAX_CLUES], _distinct(named, 1)[:MAX_CLUES],
                 tuple(dict.fromkeys(postcode_names))[:MAX_CLUES], signature_lines(own), departements[:MAX_CLUES])


def _distinct(items: list[tuple], key_index: int) -> tuple:
    """Items in order, one per key (the same name written twice is searched for once)."""
    seen: dict = {}
    for item in items:
        seen.setdefault((item[0], fold(item[key_index])), item)
    return tuple(seen.values())


def signature_lines(own: str) -> tuple[str, ...]:
    """The short lines after the sign-off (or the last lines): where agents name their employer."""
    lines = [line.strip() for line in own.split("\n") if line.strip()]
    start = next((i for i, line in enumerate(lines) if _SIGN_OFF.match(line)), max(0, len(lines) - 6))
    return tuple(line for line in lines[start:start + 8] if len(line) <= 80 and not _SIGN_OFF.match(line))


# --- matching --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CandidateScan:
    """Every candidate a message names in one directory, before any narrowing: the costly part of
    identification (fuzzy matching over 36,000 names), done by the inbound worker before its write
    transaction; what the store says (the territory) narrows it afterwards."""

    text: MessageText
    directory: Directory = field(compare=False, repr=False)
    clues: Clues
    found: tuple[Candidate, ...]


def scan_candidates(text: MessageText, directory: Directory) -> CandidateScan:
    clues = find_clues(text)
    found = _by_identifier(clues, directory)
    if not found:
        found = (_by_postcode_and_name(clues, directory) + _by_named_body(clues, directory)
                 + _by_signature(clues, directory))
    if not found:
        found = _by_domain(text.sender, directory)
    return CandidateScan(text, directory, clues, tuple(found))


def identify(text: MessageText, directory: Directory, territory: tuple[str, ...] = (), *,
             scan: CandidateScan | None = None) -> Identification:
    """The collectivité `text` is about: one confident candidate, several to choose from, or none.

    `territory`: département codes the author's collectivité is known to be in (the préfecture that
    forwarded the circular); candidates outside it are dropped when any remain inside. `scan`: the
    candidates already scanned from this text in this directory (used only if it is that text and that
    directory).
    """
    if scan is None or scan.directory is not directory or scan.text != text:
        scan = scan_candidates(text, directory)
    narrowing = tuple(territory) or scan.clues.departements
    found, used = _narrow(list(scan.found), narrowing)
    return decide(found, used)


def decide(found: list[Candidate], territory: tuple[str, ...] = ()) -> Identification:
    best = _best_per_entry(found)
    plausible = [c for c in best if c.score >= PLAUSIBLE]
    if not plausible:
        return Identification("none", (), territory)
    top = plausible[0].score
    leaders = [c for c in plausible if c.score >= top - TIE_MARGIN]
    if top >= CONFIDENT and len(leaders) == 1:
        return Identification("one", (leaders[0],), territory)
    return Identification("several", tuple(plausible[:MAX_CANDIDATES]), territory)


def _best_per_entry(found: list[Candidate]) -> list[Candidate]:
    """One candidate per collectivité (its best evidence), best first; ties go to the Atlas's own
    collectivités, then to the most populous (the likelier author)."""
    best: dict[int, Candidate] = {}
    for candidate in found:
        if candidate.entry.id not in best or candidate.score > best[candidate.entry.id].score:
            best[candidate.entry.id] = candidate
    return sorted(best.values(), key=lambda c: (-c.score, not c.entry.in_atlas, -(c.entry.population or 0),
                                                c.entry.code))


def _narrow(found: list[Candidate], departements: tuple[str, ...]) -> tuple[list[Candidate], tuple[str, ...]]:
    if not departements or not found:
        return found, ()
    inside = [c for c in found if in_territory(c.entry, departements)]
    return (inside, tuple(departements)) if inside else (found, ())


def in_territory(entry: Entry, departements: tuple[str, ...], regions: tuple[str, ...] = ()) -> bool:
    if entry.departement:
        return entry.departement in departements
    return bool(regions) and entry.region in regions


def _by_identifier(clues: Clues, directory: Directory) -> list[Candidate]:
    found = []
    for code in clues.codes:
        kind, _, value = code.partition(":")
        if kind == "SIREN":
            entry = directory.by_siren.get(value)
        elif kind == "INSEE":
            entry = directory.by_insee.get(value)
        else:
            entry = directory.by_code.get(code)
        if entry is not None:
            label = code.replace(":", " ") if ":" in code else f"code {code}"
            found.append(Candidate(entry, 100, label))
    return found


def _by_postcode_and_name(clues: Clues, directory: Directory) -> list[Candidate]:
    found = []
    for postcode, name in clues.postcode_names:
        departement = departement_of_postcode(postcode)
        for candidate in match_name(name, "commune", directory):
            if candidate.entry.departement == departement:
                # Below a named body: the town of a postal address may be the post office's, not the author's.
                found.append(Candidate(candidate.entry, candidate.score * 0.92, f"« {postcode} {name} »"))
    return found


def _by_named_body(clues: Clues, directory: Directory) -> list[Candidate]:
    found = []
    for kind_spec, name, phrase in clues.named:
        kind, _, epci_type = kind_spec.partition(":")
        for candidate in match_name(name, kind, directory):
            if epci_type and candidate.entry.epci_type and not candidate.entry.epci_type.startswith(epci_type[:2]):
                continue  # « Communauté de communes X » is not the agglomération X
            found.append(Candidate(candidate.entry, candidate.score * 0.97, f"« {phrase} »"))
    return found


def _by_signature(clues: Clues, directory: Directory) -> list[Candidate]:
    """A signature line that is exactly a name; weaker than a named body (« Paris » may be a city
    where a meeting took place), so it proposes rather than decides unless nothing contradicts it."""
    found = []
    for line in clues.signature:
        key = fold(line)
        for kind in ("commune", "epci", "departement", "region"):
            for entry in directory.by_key.get((kind, key), []):
                found.append(Candidate(entry, 90, f"signature « {line} »"))
    return found


def _by_domain(sender: str, directory: Directory) -> list[Candidate]:
    """`ville-rennes.fr`, `mairie-quimper.fr`, `rennes.fr`: a hint worth a question, never a decision."""
    domain = sender.rpartition("@")[2].lower()
    label = domain.split(".")[0] if domain else ""
    label = re.sub(r"^(ville|mairie|commune|cc|agglo|ca|cu|metropole|cg|cd|region)-?", "", label)
    if len(label) < 4:
        return []
    compact = label.replace("-", "")
    return [Candidate(entry, 80, f"adresse {domain}")
            for (kind, key), entries in directory.by_key.items() if kind == "commune" and key.replace(" ", "") == compact
            for entry in entries]


def match_name(name: str, kind: str, directory: Directory) -> list[Candidate]:
    """Collectivités of `kind` called `name`: exact (score 100), else the closest by rapidfuzz.

    A name written in a sentence may run on (« Rennes Métropole et ses communes »): its longest
    leading run of words that is a name wins before any fuzzy matching.
    """
    checkpoint()
    key = fold(name)
    if kind == "epci":
        first, _, rest = key.partition(" ")
        key = strip_article(rest) if first in EPCI_PREFIXES and rest else key
    key = strip_article(key) if (kind, key) not in directory.by_key else key
    words = key.split()
    for length in range(len(words), 0, -1):
        prefix = " ".join(words[:length])
        exact = directory.by_key.get((kind, prefix))
        if exact and (length == len(words) or len(prefix) >= 3):  # not « le », « y »…
            return [Candidate(entry, 100 if length == len(words) else 96, name) for entry in exact]
    found = []
    for key_found, score, _ in process.extract(key, directory.keys_by_kind.get(kind, []), scorer=fuzz.ratio,
                                               limit=MAX_CANDIDATES * 2, score_cutoff=PLAUSIBLE):
        found += [Candidate(entry, score, name) for entry in directory.by_key[(kind, key_found)]]
    return found


# --- answers to our question ----------------------------------------------------------------------------------

_CHOICE_NUMBER = re.compile(r"^\s*(?:n°|no\.?|num[ée]ro|choix|c'est le|le)?\s*([1-9])\s*(?:[.)°]|$|\s)", re.IGNORECASE)
_DEP_IN_PARENS = re.compile(r"\((\d[0-9AB]\d?)\)")


def resolve_choice(text: MessageText, candidates: list[Entry], directory: Directory) -> Entry | None:
    """Which of the candidates we proposed the author chose: its number (« 2 »), its code, INSEE or
    SIREN, its département (« celle des Hautes-Pyrénées », « (65) »), or its name; None if unclear."""
    lines = [line for line in text.own.split("\n") if line.strip()]
    for line in lines[:3]:
        match = _CHOICE_NUMBER.match(line)
        if match and 1 <= int(match.group(1)) <= len(candidates):
            return candidates[int(match.group(1)) - 1]
    upper = text.own.upper()
    by_code = [e for e in candidates if re.search(rf"\b({re.escape(e.code)}|{e.insee}|{e.siren or '#'})\b", upper)]
    if len(by_code) == 1:
        return by_code[0]
    folded = f" {fold(text.own)} "
    by_dep = [e for e in candidates if e.departement and f"({e.departement})" in text.own]
    if not by_dep:
        by_dep = [e for e in candidates if e.departement and _names_departement(folded, e, directory)]
    if len(by_dep) == 1:
        return by_dep[0]
    within = identify(text, directory.restricted(candidates))
    return within.chosen


def _names_departement(folded_text: str, entry: Entry, directory: Directory) -> bool:
    """The text names the candidate's département (not merely its own name: Saint-Martin is both)."""
    name = fold(directory.departement_names.get(entry.departement or "", ""))
    return bool(name) and name != fold(entry.name) and f" {name} " in folded_text
