"""A préfecture's territory: its département's collectivités (communes, EPCI, the département itself; the région for the préfecture de région), their campaign status, and the CSV that lists them."""
from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from email.message import EmailMessage

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from mailbot.outbound.campaign import STATUS_COLUMNS, target_states
from store.campaign_models import Campaign, CampaignTarget
from store.models import Collectivite, Prefecture

KIND_LABELS = {"commune": "commune", "epci": "intercommunalité", "departement": "département", "region": "région"}

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
