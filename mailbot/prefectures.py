"""Préfectures: their directory, the circular each receives, and the report on its territory.

In the real campaign the ministry writes to the préfets, who pass the circular on to the collectivités
of their territory. A préfecture's territory is its département's collectivités (communes, EPCI, the
département itself); the préfecture de région (`is_region_seat`) also has the région.

Figures come from `mailbot.campaign.target_states`, the same rows `campaign status` counts, so a
territory's report always agrees with the campaign's status.
"""
from __future__ import annotations

import csv
import io
import logging
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from email.message import EmailMessage

from sqlalchemy import Engine, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mailbot.campaign import STATUS_COLUMNS, campaign_rules, get_campaign, target_states
from mailbot.clock import utcnow
from mailbot.config import Config
from mailbot.outbox import Recipient, enqueue, new_message_id
from mailbot.render import build_message, make_environment, sender_of
from mailbot.form import mask_address
from store.campaign_models import Campaign, CampaignTarget, Delivery, OutboundMessage
from store.models import Collectivite, Contact, Prefecture, REF_PREFIX, new_ref
from store.prefecture_models import Circular

log = logging.getLogger("mailbot.prefectures")

CIRCULAR_TEMPLATE = "prefecture_circular"
REPORT_TEMPLATE = "prefecture_report"
KIND_LABELS = {"commune": "commune", "epci": "intercommunalité", "departement": "département", "region": "région"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class PrefectureError(ValueError):
    """A request about préfectures that cannot be honoured; the message is for the user."""


# --- the directory -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DirectoryLine:
    """One line of a directory file: a département's préfecture, or a région's (its seat's)."""

    line: int
    level: str  # departement | region
    code: str
    name: str
    address: str
    email: str | None


_COLUMNS = {
    "code": "code", "departement": "departement", "département": "departement", "region": "region",
    "région": "region", "name": "name", "nom": "name", "address": "address", "adresse": "address",
    "email": "email", "courriel": "email", "e-mail": "email", "mail": "email",
}


def parse_directory(text: str) -> list[DirectoryLine]:
    """The lines of a directory CSV (header row; `,` or `;`), or PrefectureError naming every bad line.

    Columns: `code` (a département: `35`, `DEP-35`, `2A`, `971`; a région: `REG-53`), or a
    `departement` / `region` column instead; `name`; `address` (newlines allowed inside quotes);
    `email` optional (a row without one keeps the préfecture's current address).
    """
    text = text.lstrip("\ufeff")
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = [_COLUMNS.get(h.strip().lower()) for h in next(reader, [])]
    problems: list[str] = []
    if not {"name", "address"} <= set(header) or not {"code", "departement", "region"} & set(header):
        raise PrefectureError("the directory needs a header row with code (or departement/region), name, address "
                              "and optionally email")
    lines = []
    for number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        values = {key: cell.strip() for key, cell in zip(header, row) if key}
        try:
            lines.append(_directory_line(number, values))
        except PrefectureError as exc:
            problems.append(f"line {number}: {exc}")
    if problems:
        raise PrefectureError("; ".join(problems))
    return lines


def _directory_line(number: int, values: dict) -> DirectoryLine:
    level, code = _level_and_code(values)
    name, address, email = values.get("name", ""), values.get("address", ""), values.get("email") or None
    if not name or not address:
        raise PrefectureError("name and address are required")
    if email is not None and not _EMAIL.match(email):
        raise PrefectureError(f"{email!r} is not an e-mail address")
    return DirectoryLine(number, level, code, name, address.replace("\r\n", "\n"), email)


def _level_and_code(values: dict) -> tuple[str, str]:
    if values.get("region"):
        return "region", values["region"].upper().removeprefix("REG-")
    raw = (values.get("departement") or values.get("code") or "").upper()
    if raw.startswith("REG-"):
        return "region", raw.removeprefix("REG-")
    code = raw.removeprefix("DEP-")
    if not re.fullmatch(r"\d{2,3}|2[AB]", code):
        raise PrefectureError(f"{raw or '(empty)'!r} is neither a département code (35, 2A, 971) nor a région (REG-53)")
    return "departement", code.zfill(2)


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0


def import_directory(session: Session, lines: list[DirectoryLine]) -> ImportReport:
    """Create or update the préfectures the lines name; all or nothing (the caller's transaction).

    A région's line updates its préfecture de région, the seat département's préfecture (in France the
    préfet de région is also the préfet of that département).
    """
    report = ImportReport()
    problems = []
    departements = {c.insee: c for c in session.scalars(select(Collectivite).where(Collectivite.kind == "departement"))}
    for line in lines:
        if line.level == "region":
            found = session.scalar(select(Prefecture).where(Prefecture.region == line.code,
                                                             Prefecture.is_region_seat.is_(True)))
            if found is None:
                problems.append(f"line {line.line}: no préfecture de région known for région {line.code}")
                continue
        else:
            found = session.scalar(select(Prefecture).where(Prefecture.departement == line.code))
            if found is None:
                dep = departements.get(line.code)
                if dep is None:
                    problems.append(f"line {line.line}: unknown département {line.code}")
                    continue
                if line.email is None:
                    problems.append(f"line {line.line}: a new préfecture needs an e-mail address")
                    continue
                found = Prefecture(ref=new_ref(REF_PREFIX["prefecture"]), departement=line.code, region=dep.region or "",
                                   is_region_seat=False, name=line.name, email=line.email, address=line.address)
                session.add(found)
                report.created += 1
                continue
        found.name, found.address = line.name, line.address
        found.email = line.email or found.email
        report.updated += 1
    if problems:
        raise PrefectureError("; ".join(problems))
    session.flush()
    return report


def list_directory(session: Session) -> list[dict]:
    """Every préfecture, with how many collectivités of its territory are in the Atlas."""
    in_atlas = Counter()
    regions_in_atlas = Counter()
    for kind, dep, region in session.execute(
        select(Collectivite.kind, Collectivite.departement, Collectivite.region).where(Collectivite.in_atlas.is_(True))
    ):
        if kind == "region":
            regions_in_atlas[region] += 1
        elif dep:
            in_atlas[dep] += 1
    return [
        {"ref": p.ref, "departement": p.departement, "region": p.region, "is_region_seat": p.is_region_seat,
         "name": p.name, "email": p.email, "address": p.address,
         "in_atlas": in_atlas[p.departement] + (regions_in_atlas[p.region] if p.is_region_seat else 0)}
        for p in session.scalars(select(Prefecture).order_by(Prefecture.departement))
    ]


# --- territories -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TerritoryRow:
    """One collectivité of a territory with its campaign status (state None: not in this campaign)."""

    code: str
    name: str
    kind: str
    departement: str | None
    region: str | None
    siren: str | None
    population: int | None
    state: dict | None

    @property
    def status(self) -> str:
        return status_label(self.state)


def status_label(state: dict | None) -> str:
    """One French phrase for a collectivité's progress, the most advanced step first."""
    if state is None:
        return "hors campagne"
    for column, label in (("approved", "modifications approuvées"), ("pending_review", "en attente de relecture"),
                          ("confirmed", "fiche confirmée"), ("replied", "a répondu"),
                          ("unreachable", "injoignable"), ("bounced", "adresse en échec"),
                          ("delivered", "fiche reçue, sans réponse"), ("sent", "fiche envoyée")):
        if state[column]:
            return label
    return "fiche pas encore envoyée"


def territory_key(prefectures: dict[str, Prefecture], seats: dict[str, str], kind: str, departement: str | None,
                  region: str | None) -> str | None:
    """The département code of the préfecture a collectivité belongs to (a région: its seat's)."""
    if departement:
        return departement if departement in prefectures else None
    if kind == "region":
        return seats.get(region or "")
    return None


def territories(session: Session, campaign: Campaign) -> dict[str, list[TerritoryRow]]:
    """Préfecture (département code) → the collectivités of its territory that are in the Atlas or in
    the campaign, with their campaign status, in code order."""
    prefectures = {p.departement: p for p in session.scalars(select(Prefecture))}
    seats = {p.region: p.departement for p in prefectures.values() if p.is_region_seat}
    states = {s["code"]: s for s in target_states(session, campaign)}
    in_campaign = select(CampaignTarget.collectivite_id).where(CampaignTarget.campaign_id == campaign.id)
    rows: dict[str, list[TerritoryRow]] = {dep: [] for dep in prefectures}
    for coll in session.execute(
        select(Collectivite.code, Collectivite.name, Collectivite.kind, Collectivite.departement, Collectivite.region,
               Collectivite.siren, Collectivite.population)
        .where(or_(Collectivite.in_atlas.is_(True), Collectivite.id.in_(in_campaign)))
        .order_by(Collectivite.code)
    ):
        key = territory_key(prefectures, seats, coll.kind, coll.departement, coll.region)
        if key is not None:
            rows[key].append(TerritoryRow(coll.code, coll.name, coll.kind, coll.departement, coll.region, coll.siren,
                                          coll.population, states.get(coll.code)))
    return rows


def figures(rows: list[TerritoryRow]) -> dict[str, int]:
    """The campaign-status columns over a territory, counted exactly as `campaign_status` counts."""
    counts = Counter()
    for row in rows:
        if row.state is None:
            continue
        counts["collectivites"] += 1
        for column in STATUS_COLUMNS[1:]:
            counts[column] += 1 if row.state[column] else 0
    return {column: counts[column] for column in STATUS_COLUMNS}


# --- attachments ----------------------------------------------------------------------------------------------

STATUS_CSV_COLUMNS = ("code", "nom", "type", "département", "SIREN", "état", "envoyée", "remise", "rebond",
                      "injoignable", "a répondu", "confirmée", "en attente de relecture", "approuvée")
_FLAG_COLUMNS = ("sent", "delivered", "bounced", "unreachable", "replied", "confirmed", "pending_review", "approved")


def status_csv(rows: list[TerritoryRow], known: dict[str, dict] | None = None) -> bytes:
    """The territory as a spreadsheet: `;`-separated UTF-8 with a byte-order mark, the form French
    office spreadsheets open without asking. `known` adds what is known of unreachable ones."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    extra = ("contacts connus", "dernier incident") if known is not None else ()
    writer.writerow(STATUS_CSV_COLUMNS + extra)
    for row in rows:
        flags = ["" if row.state is None else ("oui" if row.state[c] else "non") for c in _FLAG_COLUMNS]
        line = [row.code, row.name, KIND_LABELS.get(row.kind, row.kind), row.departement or "", row.siren or "",
                row.status, *flags]
        if known is not None:
            info = known.get(row.code, {})
            line += [" | ".join(c["text"] for c in info.get("contacts", [])), info.get("incident") or ""]
        writer.writerow(line)
    return out.getvalue().encode("utf-8-sig")


def attach_csv(message: EmailMessage, filename: str, data: bytes) -> EmailMessage:
    """Add a CSV attachment (the message becomes multipart/mixed; the email package does the MIME)."""
    message.add_attachment(data, maintype="text", subtype="csv", filename=filename, params={"charset": "utf-8"})
    return message


def csv_name(kind: str, campaign: Campaign, prefecture: Prefecture) -> str:
    return f"atlas-{campaign.year}-{kind}-{prefecture.departement}.csv"


# --- the circular ------------------------------------------------------------------------------------------

def build_circular(config: Config, campaign: Campaign, prefecture: Prefecture, rows: list[TerritoryRow]) -> EmailMessage:
    """The circular for one préfecture (pure): the campaign, how agents reach the bot, its territory."""
    rules = campaign_rules(campaign)
    context = {
        "campaign": campaign, "contact": rules.contact, "title": rules.title, "prefecture": prefecture,
        "bot_address": config.from_address, "rows": rows, "kind_labels": KIND_LABELS,
        "attachment": csv_name("collectivites", campaign, prefecture),
    }
    return build_message(make_environment(), CIRCULAR_TEMPLATE, context, sender=sender_of(config),
                         to=[prefecture.email], message_id=new_message_id(config.from_address),
                         auto_submitted="auto-generated",
                         attachments=[(context["attachment"], status_csv(rows))])


@dataclass
class CircularReport:
    sent: int = 0
    already: int = 0
    outbound_ids: list[int] = field(default_factory=list)
    delivered: int = 0
    deferred: int = 0
    failed: int = 0


def send_circulars(engine: Engine, sessions, config: Config, campaign_name: str) -> CircularReport:
    """Queue the circular of every préfecture that has not had one for this campaign, then deliver.

    One transaction per préfecture; the unique (campaign, préfecture) row makes a second run, or a
    concurrent one, send nothing twice. Circulars queued by an interrupted run are delivered too.
    """
    from mailbot.delivery import deliver_pending

    report = CircularReport()
    with sessions() as session:
        campaign = get_campaign(session, campaign_name)
        by_territory = territories(session, campaign)
        done = set(session.scalars(select(Circular.prefecture_id).where(Circular.campaign_id == campaign.id)))
        prefecture_ids = [p.id for p in session.scalars(select(Prefecture).order_by(Prefecture.departement))]
    for prefecture_id in prefecture_ids:
        if prefecture_id in done:
            report.already += 1
            continue
        try:
            with sessions.begin() as session:
                prefecture = session.get(Prefecture, prefecture_id)
                campaign_row = session.get(Campaign, campaign.id)
                message = build_circular(config, campaign_row, prefecture, by_territory[prefecture.departement])
                outbound = enqueue(session, message, [Recipient(prefecture.email)], kind="circular",
                                   campaign_id=campaign.id)
                session.add(Circular(campaign_id=campaign.id, prefecture_id=prefecture_id, outbound_id=outbound.id,
                                     created_at=utcnow()))
                session.flush()
            report.sent += 1
        except IntegrityError:
            report.already += 1  # another run sent it meanwhile
    with sessions() as session:
        report.outbound_ids = list(session.scalars(select(Circular.outbound_id).where(Circular.campaign_id == campaign.id)))
    if report.outbound_ids:
        delivered = deliver_pending(engine, config, only_outbound=set(report.outbound_ids))
        report.delivered, report.deferred, report.failed = delivered.sent, delivered.deferred, delivered.failed
    return report


# --- the territory report ------------------------------------------------------------------------------------

@dataclass
class TerritoryReport:
    prefecture: Prefecture
    rows: list[TerritoryRow]
    figures: dict[str, int]
    unreachable: list[dict]  # what is known of each unreachable collectivité

    def as_json(self) -> dict:
        return {"departement": self.prefecture.departement, "prefecture": self.prefecture.name,
                "email": self.prefecture.email, "figures": self.figures, "unreachable": self.unreachable}


def territory_reports(session: Session, campaign: Campaign) -> list[TerritoryReport]:
    """One report per préfecture whose territory has collectivités in the campaign."""
    prefectures = {p.departement: p for p in session.scalars(select(Prefecture))}
    by_territory = territories(session, campaign)
    unreachable_codes = [r.code for rows in by_territory.values() for r in rows if r.state and r.state["unreachable"]]
    known = what_is_known(session, campaign, unreachable_codes)
    reports = []
    for dep in sorted(by_territory):
        rows = by_territory[dep]
        counted = figures(rows)
        if not counted["collectivites"]:
            continue
        unreachable = [{"code": r.code, "name": r.name, "kind": KIND_LABELS.get(r.kind, r.kind), "siren": r.siren,
                        "population": r.population, **known.get(r.code, {"contacts": [], "incident": None})}
                       for r in rows if r.state and r.state["unreachable"]]
        reports.append(TerritoryReport(prefectures[dep], rows, counted, unreachable))
    return reports


def what_is_known(session: Session, campaign: Campaign, codes: list[str]) -> dict[str, dict]:
    """Contacts (addresses masked: the préfecture is not one of them) and the last delivery incident."""
    if not codes:
        return {}
    known: dict[str, dict] = defaultdict(lambda: {"contacts": [], "incident": None})
    ids = dict(session.execute(select(Collectivite.id, Collectivite.code).where(Collectivite.code.in_(codes))).all())
    for contact in session.scalars(select(Contact).where(Contact.collectivite_id.in_(ids)).order_by(Contact.id)):
        state = {"ok": "", "bouncing": " (en échec)", "invalid": " (invalide)"}.get(contact.email_state, "")
        address = mask_address(contact.email) + state if contact.email else "sans adresse"
        text = f"{contact.first_name} {contact.last_name}, {contact.title} — {address}".strip()
        known[ids[contact.collectivite_id]]["contacts"].append(
            {"name": f"{contact.first_name} {contact.last_name}".strip(), "title": contact.title,
             "email": mask_address(contact.email) if contact.email else None, "email_state": contact.email_state,
             "text": text})
    for cid, detail in session.execute(
        select(OutboundMessage.collectivite_id, Delivery.detail)
        .join(Delivery, Delivery.outbound_id == OutboundMessage.id)
        .where(OutboundMessage.campaign_id == campaign.id, OutboundMessage.collectivite_id.in_(ids),
               Delivery.detail.is_not(None))
        .order_by(Delivery.id)
    ):
        known[ids[cid]]["incident"] = detail  # the latest wins
    for code in codes:
        usable = [c for c in known[code]["contacts"] if c["email"] and c["email_state"] == "ok"]
        if not usable and known[code]["incident"] is None:
            known[code]["incident"] = "aucune adresse électronique utilisable"
    return dict(known)


def build_report(config: Config, campaign: Campaign, report: TerritoryReport) -> EmailMessage:
    """The territory report for one préfecture (pure), with the whole territory as CSV."""
    context = {
        "campaign": campaign, "prefecture": report.prefecture, "figures": report.figures,
        "unreachable": report.unreachable, "bot_address": config.from_address,
        "contact": campaign_rules(campaign).contact, "attachment": csv_name("avancement", campaign, report.prefecture),
    }
    known = {item["code"]: item for item in report.unreachable}
    return build_message(make_environment(), REPORT_TEMPLATE, context, sender=sender_of(config),
                         to=[report.prefecture.email], message_id=new_message_id(config.from_address),
                         auto_submitted="auto-generated",
                         attachments=[(context["attachment"], status_csv(report.rows, known))])


def send_reports(engine: Engine, sessions, config: Config, campaign_name: str) -> tuple[int, int]:
    """Queue and deliver one report per préfecture concerned; (queued, sent). Each run sends a fresh
    report: it is a picture of the day, not a one-off like the circular."""
    from mailbot.delivery import deliver_pending

    with sessions.begin() as session:
        campaign = get_campaign(session, campaign_name)
        ids = []
        for report in territory_reports(session, campaign):
            outbound = enqueue(session, build_report(config, campaign, report),
                               [Recipient(report.prefecture.email)], kind="report", campaign_id=campaign.id)
            ids.append(outbound.id)
    delivered = deliver_pending(engine, config, only_outbound=set(ids)) if ids else None
    return len(ids), delivered.sent if delivered else 0
