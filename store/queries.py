"""Read-only data access: headline figures and one collectivité's whole record."""
from __future__ import annotations

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session, selectinload

from store.models import (
    ApdAmount,
    Collectivite,
    Contact,
    Cooperation,
    Membership,
    Project,
)


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
    """Whole records of many collectivités in a constant number of queries (campaign rendering)."""
    rows = session.scalars(select(Collectivite).where(Collectivite.id.in_(ids)).options(*_RECORD_OPTIONS))
    return {coll.id: record_data(coll) for coll in rows}


def record_data(coll: Collectivite) -> dict:
    return {
        "code": coll.code,
        "kind": coll.kind,
        "name": coll.name,
        "siren": coll.siren,
        "departement": coll.departement,
        "region": coll.region,
        "population": coll.population,
        "in_atlas": coll.in_atlas,
        "version": coll.version,
        "contacts": [contact_data(c) for c in coll.contacts],
        "reseaux": [
            {"ref": m.ref, "version": m.version, "network": m.network.code, "name": m.network.name}
            for m in coll.memberships
        ],
        "apd": [apd_data(a) for a in coll.apd_amounts],
        "cooperations": [cooperation_data(c) for c in coll.cooperations if c.kind == "cooperation"],
        "actions": [cooperation_data(c) for c in coll.cooperations if c.kind == "action"],
    }


def contact_data(c: Contact) -> dict:
    return {
        "ref": c.ref, "version": c.version, "role": c.role, "first_name": c.first_name,
        "last_name": c.last_name, "title": c.title, "email": c.email, "email_state": c.email_state,
    }


def apd_data(a: ApdAmount) -> dict:
    return {
        "ref": a.ref, "version": a.version, "year": a.year,
        "amount": None if a.amount is None else str(a.amount), "document_name": a.document_name,
    }


def cooperation_data(c: Cooperation) -> dict:
    return {
        "ref": c.ref, "version": c.version, "kind": c.kind, "country_code": c.country_code,
        "country": c.country.name_fr, "partner": c.partner.name if c.partner else None,
        "partner_ref": c.partner.ref if c.partner else None, "twinning": c.twinning,
        "since_year": c.since_year, "projects": [project_data(p) for p in c.projects],
    }


def project_data(p: Project) -> dict:
    return {
        "ref": p.ref, "version": p.version, "title": p.title, "themes": p.themes, "status": p.status,
        "status_year": p.status_year, "description": p.description, "start_year": p.start_year,
        "end_year": p.end_year, "budget": None if p.budget is None else str(p.budget),
        "operators": p.operators, "beneficiaries": p.beneficiaries,
    }


def format_record(record: dict) -> str:
    """A plain-text view for `mailbot show` (the mail templates have their own, richer rendering)."""
    lines = [f"{record['name']} ({record['code']}, {record['kind']}, dép. {record['departement']}, "
             f"rég. {record['region']})"]
    lines.append("Élus et cadres:")
    lines += [f"  [{c['ref']}] {c['first_name']} {c['last_name']}, {c['title']} <{c['email'] or '—'}>"
              for c in record["contacts"]]
    lines.append("Associations et réseaux:")
    lines += [f"  [{m['ref']}] {m['name']}" for m in record["reseaux"]]
    lines.append("Aide publique au développement:")
    lines += [f"  [{a['ref']}] {a['year']}: {a['amount'] if a['amount'] is not None else '—'} €"
              for a in record["apd"]]
    for key, title in (("cooperations", "Coopérations décentralisées:"), ("actions", "Autres actions extérieures:")):
        lines.append(title)
        for c in record[key]:
            twin = " (jumelage)" if c["twinning"] else ""
            lines.append(f"  [{c['ref']}] {c['country']} — {c['partner'] or '—'}{twin}")
            lines += [f"    [{p['ref']}] {p['title']} ({p['status']}{', ' + str(p['status_year']) if p['status_year'] else ''})"
                      for p in c["projects"]]
    return "\n".join(lines)
