"""What reviewers read, computed without I/O: French labels, values as the form writes them, the
words a change altered, and the geometry of the campaign chart (drawn by the template as SVG)."""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import date, datetime

from mailbot.replies.acknowledge import ENTITY_NAMES, shown
from mailbot.clock import aware
from mailbot.outbound.render import number

SET_STATES = {"pending": "en attente", "approved": "approuvé", "rejected": "rejeté",
              "partial": "approuvé en partie", "superseded": "remplacé", "confirmed": "confirmé"}
CHANGE_STATES = {"pending": "à décider", "applied": "appliqué", "rejected": "rejeté", "conflict": "en conflit"}
OPS = {"create": "ajout", "update": "modification", "delete": "suppression", "move": "déplacement"}
KINDS = {"region": "région", "departement": "département", "commune": "commune", "epci": "intercommunalité"}
ROLES = {"elu": "élu", "cadre": "cadre"}
STATUS_COLUMNS = {  # the `campaign status` columns, in the order of the journey
    "sent": "envoyées", "delivered": "remises", "bounced": "rejetées par le serveur",
    "unreachable": "injoignables", "replied": "ont répondu", "confirmed": "ont confirmé",
    "pending_review": "en relecture", "approved": "approuvées",
}
CHART_COLUMNS = ("sent", "delivered", "bounced", "replied", "confirmed", "pending_review", "approved")
_TOKENS = re.compile(r"\s+|[\w@.\-']+|[^\w\s]", re.UNICODE)
MONTHS = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc.")


@dataclass(frozen=True)
class Segment:
    text: str
    changed: bool


def value_text(entity: str, field_key: str | None, value, labels: dict[tuple[str, str], str]) -> str:
    """A value as the form writes it: amounts « 12 500 € », lists joined, a record as « label : value »."""
    if isinstance(value, dict):
        parts = [f"{labels.get((entity, k), k)} : {shown(entity, k, v)}" for k, v in value.items()
                 if v not in (None, "", []) and k not in ("ref", "version")]
        return " ; ".join(parts) or "(vide)"
    return shown(entity, field_key, value)


def word_diff(before: str, after: str) -> tuple[list[Segment], list[Segment]]:
    """`before` and `after` cut into words, each marked when this change removed or added it."""
    old, new = _TOKENS.findall(before), _TOKENS.findall(after)
    left: list[Segment] = []
    right: list[Segment] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        changed = tag != "equal"
        if i2 > i1:
            left.append(Segment("".join(old[i1:i2]), changed))
        if j2 > j1:
            right.append(Segment("".join(new[j1:j2]), changed))
    return _joined(left), _joined(right)


def _joined(segments: list[Segment]) -> list[Segment]:
    """Neighbours of the same kind in one segment, and a lone space between two changed runs counted
    as changed: « des finances » is marked as one phrase, not two words."""
    out: list[Segment] = []
    for index, segment in enumerate(segments):
        bridged = (not segment.changed and not segment.text.strip() and 0 < index < len(segments) - 1
                   and segments[index - 1].changed and segments[index + 1].changed)
        segment = Segment(segment.text, True) if bridged else segment
        if out and out[-1].changed == segment.changed:
            out[-1] = Segment(out[-1].text + segment.text, segment.changed)
        else:
            out.append(segment)
    return out


def field_label(entity: str, field_key: str | None, ref: str, labels: dict[tuple[str, str], str]) -> str:
    if entity == "apd" and ref.startswith("APD-") and ref[4:].isdigit():
        return f"APD {ref[4:]}"
    if not field_key:
        return ENTITY_NAMES.get(entity, entity)
    return labels.get((entity, field_key), field_key)


def when(value: datetime | None) -> str:
    """« 30 nov. 2026 à 14 h 05 » (UTC)."""
    if value is None:
        return "—"
    value = aware(value)
    return f"{value.day} {MONTHS[value.month - 1]} {value.year} à {value.hour} h {value.minute:02d}"


def when_iso(text: str | None) -> str:
    return when(datetime.fromisoformat(text)) if text else "—"


def day_label(value) -> str:
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    return f"{value.day} {MONTHS[value.month - 1]}"


def days_since(value: datetime, now: datetime) -> int:
    return max(0, (now - aware(value)).days)


def entity_names(entities) -> str:
    """The parts of the record a set touches, in words (« contact, aide publique au développement »)."""
    return ", ".join(ENTITY_NAMES.get(e, e) for e in entities)


def waiting(value: datetime, now: datetime) -> str:
    days = days_since(value, now)
    return "reçu aujourd'hui" if days == 0 else "depuis 1 jour" if days == 1 else f"depuis {days} jours"


def size(octets: int) -> str:
    """« 12 Ko », « 1,5 Mo », as a file manager writes them."""
    if octets < 1024:
        return "moins d'1 Ko"
    if octets < 1024 * 1024:
        return f"{round(octets / 1024)} Ko"
    return f"{octets / (1024 * 1024):.1f} Mo".replace(".", ",")


def count(value: int) -> str:
    return number(value)


@dataclass(frozen=True)
class Bar:
    key: str
    label: str
    value: int
    width: float  # in the chart's units, 0..CHART_WIDTH
    y: int


CHART_WIDTH = 480
BAR_HEIGHT = 22
BAR_GAP = 8


def chart_bars(figures: dict[str, int]) -> list[Bar]:
    """One horizontal bar per column of the campaign's journey, scaled to the collectivités targeted."""
    total = max(figures.get("collectivites", 0), 1)
    return [Bar(key, STATUS_COLUMNS[key], figures.get(key, 0), round(CHART_WIDTH * figures.get(key, 0) / total, 1),
                index * (BAR_HEIGHT + BAR_GAP))
            for index, key in enumerate(CHART_COLUMNS)]


def percent(part: int, whole: int) -> str:
    return "—" if not whole else f"{round(100 * part / whole)} %"


@dataclass(frozen=True)
class ChangeView:
    """One change as the set page shows it."""

    id: int
    op: str
    entity: str
    entity_label: str
    ref: str
    field_label: str
    status: str
    before: list[Segment]
    after: list[Segment]
    current: str | None  # the Atlas now, for a conflict
    asked: str | None  # the agent's value, when a reviewer corrected it
    edited_by: str | None
    errors: list[dict]
    matches: list[dict]
    reason: str | None
    decided_by: str | None
    editable: bool
    edit_value: str
    edit_fields: list[tuple[str, str]]  # (key, label) of a created record's fields


def change_view(change: dict, labels: dict[tuple[str, str], str]) -> ChangeView:
    entity, key = change["entity"], change["field"]
    before = "" if change["op"] == "create" else value_text(entity, key, change["old"], labels)
    after = "" if change["op"] == "delete" else value_text(entity, key, change["new"], labels)
    if change["op"] == "move":
        before, after = "action extérieure", "coopération décentralisée"
    left, right = word_diff(before, after)
    new = change["new"]
    return ChangeView(
        id=change["id"], op=change["op"], entity=entity, entity_label=ENTITY_NAMES.get(entity, entity),
        ref=change["ref"], field_label=field_label(entity, key, change["ref"], labels), status=change["status"],
        before=left, after=right,
        current=value_text(entity, key, change["current"], labels) if change["status"] == "conflict" else None,
        asked=value_text(entity, key, change["asked"], labels) if change["asked"] is not None else None,
        edited_by=change["edited_by"], errors=change["errors"] or [], matches=change["matches"] or [],
        reason=change["reason"], decided_by=change["decided_by"],
        editable=change["status"] == "pending" and change["op"] in ("create", "update"),
        edit_value="" if isinstance(new, dict) or new is None else str(new),
        edit_fields=[(k, labels.get((entity, k), k)) for k in new] if isinstance(new, dict) else [])


def outcome_sentence(set_id: int, status: str, applied: int, rejected: int, conflicts: int, untouched: int) -> str:
    """What a decision did, in one French sentence for the reviewer."""
    if not (applied or rejected or conflicts):
        return (f"Ensemble n° {set_id} : rien n'a été fait, ses modifications étaient déjà décidées "
                f"(état : {SET_STATES.get(status, status)}).")
    parts = [f"{n} {label}" for n, label in ((applied, "appliquée(s)"), (rejected, "rejetée(s)"),
                                              (conflicts, "en conflit à trancher"), (untouched, "déjà décidée(s)"))
             if n]
    return f"Ensemble n° {set_id} : {', '.join(parts)} — {SET_STATES.get(status, status)}."
