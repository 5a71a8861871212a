"""Read-only data access: headline figures and one collectivité's whole record."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Update, distinct, func, select, update
from sqlalchemy.orm import Session, selectinload

from store.campaign_models import CampaignTarget
from store.models import (
    ApdAmount,
    Collectivite,
    Contact,
    Cooperation,
    Country,
    Membership,
    Network,
    Partner,
    Project,
    ProjectTheme,
)


def campaign_target(session: Session, campaign_id: int, collectivite_id: int) -> CampaignTarget | None:
    """A collectivité's row in a campaign (sent, replied, confirmed), for the caller to update."""
    return session.scalar(select(CampaignTarget).where(
        CampaignTarget.campaign_id == campaign_id, CampaignTarget.collectivite_id == collectivite_id))


def atlas_stats(session: Session) -> dict[str, int]:
    """The figures the circular counts: partners are distinct foreign authorities, not pairs."""

    def count(stmt) -> int:
        return session.scalar(stmt) or 0

    def projects_of(kind: str):
        return (
            select(func.count(Project.id))
            .join(Cooperation, Project.cooperation_id == Cooperation.id)
            .where(Cooperation.kind == kind)
        )

    in_atlas = select(Collectivite.id).where(Collectivite.in_atlas.is_(True))
    return {
        "collectivites": count(select(func.count()).select_from(in_atlas.subquery())),
        "partenaires": count(select(func.count(distinct(Cooperation.partner_id)))),
        "pays": count(select(func.count(distinct(Cooperation.country_code)))),
        "cooperations": count(select(func.count(Cooperation.id)).where(Cooperation.kind == "cooperation")),
        "projets_cooperation": count(projects_of("cooperation")),
        "actions": count(select(func.count(Cooperation.id)).where(Cooperation.kind == "action")),
        "projets_actions": count(projects_of("action")),
        "contacts": count(select(func.count(Contact.id)).where(Contact.collectivite_id.in_(in_atlas))),
        "adhesions": count(select(func.count(Membership.id))),
        "montants_apd": count(select(func.count(ApdAmount.id)).where(ApdAmount.amount.is_not(None))),
    }


def territory_names(session: Session, level: str) -> dict[str, str]:
    """`level` = departement | region: its numbers → names (« 35 » → « Ille-et-Vilaine »), for the
    tables people read (a number alone says little, and 53 is both a département and a région)."""
    rows = session.execute(select(Collectivite.code, Collectivite.name).where(Collectivite.kind == level))
    return {code.split("-", 1)[1]: name for code, name in rows}


def find_collectivite(session: Session, code: str) -> Collectivite | None:
    return session.scalar(select(Collectivite).where(Collectivite.code == code.strip().upper()))


_RECORD_OPTIONS = (
    selectinload(Collectivite.contacts),
    selectinload(Collectivite.memberships).selectinload(Membership.network),
    selectinload(Collectivite.apd_amounts),
    selectinload(Collectivite.cooperations).selectinload(Cooperation.partner),
    selectinload(Collectivite.cooperations).selectinload(Cooperation.country),
    selectinload(Collectivite.cooperations).selectinload(Cooperation.projects).selectinload(Project.theme_links),
)


def collectivite_record(session: Session, code: str) -> dict | None:
    """The whole record of one collectivité as plain data, the five parts in the circular's order."""
    coll = session.scalar(
        select(Collectivite).where(Collectivite.code == code.strip().upper()).options(*_RECORD_OPTIONS)
    )
    return None if coll is None else record_data(coll)


def collectivite_records(session: Session, ids: list[int]) -> dict[int, dict]:
    """Whole records of many collectivités in six queries (campaign rendering), the same dicts as
    `record_data`. Read as rows, not ORM objects: a campaign reads thousands of records, and building
    and tracking their objects cost a fifth of rendering a summary."""
    ids = list(ids)
    if not ids:
        return {}
    owned = Collectivite.id.in_(ids)
    contacts = _by_owner(session, select(Contact.collectivite_id, *_columns(Contact, CONTACT_FIELDS))
                         .where(Contact.collectivite_id.in_(ids)).order_by(Contact.id))
    reseaux = _by_owner(session, select(Membership.collectivite_id, Membership.ref, Membership.version,
                                        Network.code.label("network"), Network.name)
                        .join(Network, Membership.network_id == Network.id)
                        .where(Membership.collectivite_id.in_(ids)).order_by(Membership.id))
    apd = _by_owner(session, select(ApdAmount.collectivite_id, *_columns(ApdAmount, APD_FIELDS))
                    .where(ApdAmount.collectivite_id.in_(ids)).order_by(ApdAmount.year))
    cooperations = _cooperation_rows(session, ids)
    rows = session.execute(select(Collectivite.id, *_columns(Collectivite, COLLECTIVITE_FIELDS)).where(owned))
    return {row.id: _assemble(row, contacts.get(row.id, []),
                              [_reseau(m.ref, m.version, m.network, m.name) for m in reseaux.get(row.id, [])],
                              apd.get(row.id, []), cooperations.get(row.id, []))
            for row in rows}


COLLECTIVITE_FIELDS = ("code", "kind", "name", "siren", "departement", "region", "population", "in_atlas", "version")
CONTACT_FIELDS = ("ref", "version", "role", "first_name", "last_name", "title", "email", "email_state")
APD_FIELDS = ("ref", "version", "year", "amount", "document_name")
PROJECT_FIELDS = ("ref", "version", "title", "status", "status_year", "description", "start_year", "end_year",
                  "budget", "operators", "beneficiaries")


def _columns(model, names: tuple[str, ...]) -> list:
    return [getattr(model, name) for name in names]


def _by_owner(session: Session, query) -> dict[int, list]:
    """Rows grouped by their first column (the owner's id), in the query's order."""
    grouped: dict[int, list] = {}
    for row in session.execute(query):
        grouped.setdefault(row[0], []).append(row)
    return grouped


def _cooperation_rows(session: Session, ids: list[int]) -> dict[int, list[dict]]:
    """Cooperations and external actions of the collectivités `ids`, with their projects and themes."""
    cooperation_ids = select(Cooperation.id).where(Cooperation.collectivite_id.in_(ids))
    themes = _by_owner(session, select(ProjectTheme.project_id, ProjectTheme.theme_code)
                       .join(Project, ProjectTheme.project_id == Project.id)
                       .where(Project.cooperation_id.in_(cooperation_ids)).order_by(ProjectTheme.theme_code))
    projects = _by_owner(session, select(Project.cooperation_id, Project.id, *_columns(Project, PROJECT_FIELDS))
                         .where(Project.cooperation_id.in_(cooperation_ids)).order_by(Project.id))
    rows = session.execute(
        select(Cooperation.collectivite_id, Cooperation.id, Cooperation.ref, Cooperation.version, Cooperation.kind,
               Cooperation.country_code, Country.name_fr.label("country"), Partner.name.label("partner"),
               Partner.ref.label("partner_ref"), Cooperation.twinning, Cooperation.since_year)
        .join(Country, Cooperation.country_code == Country.code)
        .outerjoin(Partner, Cooperation.partner_id == Partner.id)
        .where(Cooperation.collectivite_id.in_(ids)).order_by(Cooperation.id)
    )
    grouped: dict[int, list[dict]] = {}
    for c in rows:
        projects_of = [_project(p, [t.theme_code for t in themes.get(p.id, [])]) for p in projects.get(c.id, [])]
        grouped.setdefault(c.collectivite_id, []).append(_cooperation(c, c.country, c.partner, c.partner_ref, projects_of))
    return grouped


def record_data(coll: Collectivite) -> dict:
    return _assemble(coll, coll.contacts,
                     [_reseau(m.ref, m.version, m.network.code, m.network.name) for m in coll.memberships],
                     coll.apd_amounts, [cooperation_data(c) for c in coll.cooperations])


def _assemble(coll, contacts, reseaux: list[dict], apd, links: list[dict]) -> dict:
    """A record's dict from its parts, ORM objects or rows alike (they share attribute names)."""
    return {
        **{name: getattr(coll, name) for name in COLLECTIVITE_FIELDS},
        "contacts": [contact_data(c) for c in contacts],
        "reseaux": reseaux,
        "apd": [apd_data(a) for a in apd],
        "cooperations": [c for c in links if c["kind"] == "cooperation"],
        "actions": [c for c in links if c["kind"] == "action"],
    }


def _reseau(ref: str, version: int, network: str, name: str) -> dict:
    return {"ref": ref, "version": version, "network": network, "name": name}


def contact_data(c: Contact) -> dict:
    return {name: getattr(c, name) for name in CONTACT_FIELDS}


def apd_data(a: ApdAmount) -> dict:
    values = {name: getattr(a, name) for name in APD_FIELDS}
    values["amount"] = None if a.amount is None else str(a.amount)
    return values


def cooperation_data(c: Cooperation) -> dict:
    return _cooperation(c, c.country.name_fr, c.partner.name if c.partner else None,
                        c.partner.ref if c.partner else None, [project_data(p) for p in c.projects])


def _cooperation(c, country: str, partner: str | None, partner_ref: str | None, projects: list[dict]) -> dict:
    return {
        "ref": c.ref, "version": c.version, "kind": c.kind, "country_code": c.country_code, "country": country,
        "partner": partner, "partner_ref": partner_ref, "twinning": c.twinning, "since_year": c.since_year,
        "projects": projects,
    }


def project_data(p: Project) -> dict:
    return _project(p, p.themes)


def _project(p, themes: list[str]) -> dict:
    values = {name: getattr(p, name) for name in PROJECT_FIELDS}
    values["budget"] = None if p.budget is None else str(p.budget)
    return {**values, "themes": themes}


KIND_WORDS = {"commune": "commune", "epci": "intercommunalité", "departement": "département", "region": "région"}


def _euros(amount) -> str:
    """« 740 820 € » (French grouping, cents only when there are some); — when unknown."""
    if amount is None or amount == "":
        return "—"
    value = Decimal(str(amount))
    text = f"{value:,.0f}" if value == value.to_integral_value() else f"{value:,.2f}"
    return text.replace(",", "\u202f").replace(".", ",") + " €"


def format_record(record: dict) -> str:
    """A plain-text view for `mailbot show` (the mail templates have their own, richer rendering)."""
    lines = [f"{record['name']} ({record['code']}, {KIND_WORDS.get(record['kind'], record['kind'])}, "
             f"dép. {record['departement']}, rég. {record['region']})"]
    lines.append("Élus et cadres:")
    lines += [f"  [{c['ref']}] {c['first_name']} {c['last_name']}, {c['title']} <{c['email'] or '—'}>"
              for c in record["contacts"]]
    lines.append("Associations et réseaux:")
    lines += [f"  [{m['ref']}] {m['name']}" for m in record["reseaux"]]
    lines.append("Aide publique au développement:")
    lines += [f"  [{a['ref']}] {a['year']}: {_euros(a['amount'])}"
              + (f" — document joint : {_printable(a['document_name'])}" if a.get("document_name") else "")
              for a in record["apd"]]
    for key, title in (("cooperations", "Coopérations décentralisées:"), ("actions", "Autres actions extérieures:")):
        lines.append(title)
        for c in record[key]:
            twin = " (jumelage)" if c["twinning"] else ""
            lines.append(f"  [{c['ref']}] {c['country']} — {c['partner'] or '—'}{twin}")
            lines += [f"    [{p['ref']}] {p['title']} ({p['status']}{', ' + str(p['status_year']) if p['status_year'] else ''})"
                      for p in c["projects"]]
    return "\n".join(lines)


def _printable(text: str) -> str:
    """A name an agent sent (an attachment's), safe on a terminal: control characters as escapes."""
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text)


def address_bouncing(address: str, reason: str, at: datetime) -> Update:
    """Every contact with this address (any case) marked bouncing: no longer a usable recipient.
    For a bounce report (mailbot.inbound.route) and a relay's refusal at RCPT (mailbot.outbound.delivery)."""
    return (update(Contact).where(func.lower(Contact.email) == address.lower())
            .values(email_state="bouncing", email_state_at=at, email_state_reason=reason[:2000]))
