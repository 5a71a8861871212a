"""Writing reviewed changes into the Atlas records (data access; the decisions live in mailbot/review/decide.py).

A change names its record by reference, its field by the rules-file key and its values in the same
plain-data shape as the snapshots (store.queries): a country is its ISO code, a partner its name, an
amount a decimal string, themes a list of codes. `value_of` reads a record back in that shape, so the
value the agent saw, the value now and the value asked for compare directly.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import flag_modified

from store.conversation_models import InboundAttachment
from store.models import (
    ApdAmount,
    Contact,
    Cooperation,
    Membership,
    Network,
    Partner,
    Project,
    ProjectTheme,
    REF_PREFIX,
    new_ref,
)
from store.queries import apd_data, contact_data, cooperation_data, project_data

MODELS = {"contact": Contact, "reseau": Membership, "apd": ApdAmount, "cooperation": Cooperation,
          "action": Cooperation, "projet": Project}
PREFIXES = {"contact": REF_PREFIX["contact"], "reseau": REF_PREFIX["membership"], "apd": REF_PREFIX["apd"],
            "cooperation": REF_PREFIX["cooperation"], "action": REF_PREFIX["cooperation"],
            "projet": REF_PREFIX["project"]}
DECIMAL_FIELDS = {("apd", "amount"), ("projet", "budget")}
# non-null text columns a created record may leave blank on the form
BLANK_DEFAULTS = {"contact": {"first_name": "", "last_name": "", "title": "", "role": "cadre"},
                  "projet": {"title": "", "status": "en_cours"}}


class ApplyError(Exception):
    """A change that cannot be written as asked (its record is gone, belongs elsewhere…); French."""


@dataclass(frozen=True)
class Applied:
    ref: str  # the record written (a create's new reference)
    old: object  # the value before, in snapshot shape (a whole record for a delete)
    new: object


def _eager(entity: str) -> tuple:
    """What `record_state` reads, loaded with the record rather than one query at a time."""
    if entity == "reseau":
        return (selectinload(Membership.network),)
    if entity in ("cooperation", "action"):
        return (selectinload(Cooperation.partner), selectinload(Cooperation.country),
                selectinload(Cooperation.projects).selectinload(Project.theme_links))
    if entity == "projet":
        return (selectinload(Project.theme_links), selectinload(Project.cooperation))
    return ()


def load(session: Session, entity: str, ref: str, collectivite_id: int):
    """The record `ref` of this collectivité, or None; a reference of another collectivité is None too."""
    row = load_many(session, {entity: {ref}}).get((entity, ref))
    return None if row is None or owner_id(row) != collectivite_id else row


def load_many(session: Session, wanted: dict[str, set[str]]) -> dict[tuple[str, str], object]:
    """Records by (entity, ref), a query per kind of record (bulk decisions load a batch at once)."""
    found = {}
    for entity, refs in wanted.items():
        model = MODELS[entity]
        for i in range(0, len(refs), 500):
            chunk = sorted(refs)[i:i + 500]
            for row in session.scalars(select(model).where(model.ref.in_(chunk)).options(*_eager(entity))):
                found[(entity, row.ref)] = row
    return found


def owner_id(row) -> int:
    return row.cooperation.collectivite_id if isinstance(row, Project) else row.collectivite_id


def record_state(entity: str, row) -> dict:
    """A record in snapshot shape (what `diff` compared against)."""
    if entity == "contact":
        return contact_data(row)
    if entity == "reseau":
        return {"ref": row.ref, "version": row.version, "network": row.network.code, "name": row.network.name}
    if entity == "apd":
        return apd_data(row)
    if entity in ("cooperation", "action"):
        return cooperation_data(row)
    return project_data(row)


def value_of(entity: str, row, field: str):
    return record_state(entity, row).get(field)


def same_value(entity: str, field: str | None, a, b) -> bool:
    if (entity, field) in DECIMAL_FIELDS and a is not None and b is not None:
        try:
            return Decimal(str(a)) == Decimal(str(b))
        except InvalidOperation:
            return False
    return a == b


# --- writing ------------------------------------------------------------------------------------------

def update_field(session: Session, entity: str, row, field: str, value) -> Applied:
    old = value_of(entity, row, field)
    _set(session, entity, row, field, value)
    flag_modified(row, "ref")  # a change held in a related table (themes) still bumps the version
    return Applied(row.ref, old, value)


def _set(session: Session, entity: str, row, field: str, value) -> None:
    if (entity, field) == ("apd", "document_name") and isinstance(value, dict):
        attach_document(session, row, value)
    elif (entity, field) in DECIMAL_FIELDS:
        setattr(row, field, None if value in (None, "") else Decimal(str(value)))
    elif entity == "reseau" and field == "network":
        row.network_id = network_id(session, value)
    elif entity in ("cooperation", "action") and field == "partner":
        row.partner = None if not value else partner(session, row.country_code, value)
    elif entity in ("cooperation", "action") and field == "country_code":
        name = row.partner.name if row.partner is not None else None
        row.country_code = value
        row.partner = None if name is None else partner(session, value, name)
    elif entity == "projet" and field == "themes":
        row.theme_links = [ProjectTheme(theme_code=code) for code in (value or [])]
    elif entity == "contact" and field == "email":
        row.email = value or None
        row.email_state, row.email_state_at, row.email_state_reason = "ok", None, None
    else:
        setattr(row, field, value)


def attach_document(session: Session, row: ApdAmount, value: dict) -> None:
    """The APD document a reply attached (a change's value names the kept attachment): its bytes, its
    name and its type go into the declaration. A file that is no longer kept whole, or that was
    flagged dangerous, is never written into the Atlas."""
    attachment = session.get(InboundAttachment, int(value.get("attachment_id") or 0))
    if attachment is None or attachment.data is None:
        raise ApplyError("la pièce jointe proposée n'est plus disponible")
    if attachment.dangerous:
        raise ApplyError(f"la pièce jointe proposée est dangereuse ({attachment.danger}) : elle n'est pas enregistrée")
    row.document = attachment.data
    row.document_name = attachment.filename[:255]
    row.document_type = (attachment.detected_type or attachment.content_type)[:100]


def network_id(session: Session, code: str) -> int:
    found = session.scalar(select(Network.id).where(Network.code == code))
    if found is None:
        raise ApplyError(f"réseau inconnu : {code}")
    return found


def partner(session: Session, country_code: str, name: str) -> Partner:
    """Partners are shared between collectivités: one row per (country, name)."""
    found = session.scalar(select(Partner).where(Partner.country_code == country_code, Partner.name == name))
    if found is None:
        found = Partner(ref=new_ref(REF_PREFIX["partner"]), country_code=country_code, name=name)
        session.add(found)
    return found


def move(session: Session, row: Cooperation, kind: str) -> Applied:
    old = row.kind
    row.kind = kind
    session.flush()
    return Applied(row.ref, old, kind)


def delete(session: Session, entity: str, row) -> Applied:
    """Removes the record; `old` keeps all of it (projects included) so a revert can put it back."""
    state = record_state(entity, row)
    if isinstance(row, Project):
        state["parent_ref"] = row.cooperation.ref
    session.delete(row)
    session.flush()
    return Applied(row.ref, state, None)


def create(session: Session, entity: str, values: dict, collectivite_id: int, *, parent=None,
           ref: str | None = None) -> Applied:
    """A new record from a filled empty block (or, for a revert, from a deleted record's state)."""
    ref = ref or new_ref(PREFIXES[entity])
    fields = {**BLANK_DEFAULTS.get(entity, {}), **{k: v for k, v in values.items() if v is not None}}
    if entity == "contact":
        row = Contact(ref=ref, collectivite_id=collectivite_id, **_columns(Contact, fields))
    elif entity == "reseau":
        row = Membership(ref=ref, collectivite_id=collectivite_id, network_id=network_id(session, fields["network"]))
    elif entity == "apd":
        document = fields.get("document_name")
        row = ApdAmount(ref=ref, collectivite_id=collectivite_id, year=int(fields["year"]),
                        amount=_decimal(fields.get("amount")),
                        document_name=None if isinstance(document, dict) else document)
        if isinstance(document, dict):
            attach_document(session, row, document)
    elif entity in ("cooperation", "action"):
        row = Cooperation(ref=ref, collectivite_id=collectivite_id, kind=fields.get("kind", entity),
                          country_code=fields["country_code"], twinning=bool(fields.get("twinning", False)),
                          since_year=fields.get("since_year"))
        if fields.get("partner"):
            row.partner = partner(session, fields["country_code"], fields["partner"])
    else:
        if parent is None:
            raise ApplyError("la coopération de ce projet n'existe plus")
        row = Project(ref=ref, cooperation=parent, **_columns(Project, fields, skip={"budget", "themes"}),
                      budget=_decimal(fields.get("budget")))
        row.theme_links = [ProjectTheme(theme_code=code) for code in fields.get("themes") or []]
    session.add(row)
    session.flush()
    for project in values.get("projects") or []:  # a reverted delete of a cooperation brings its projects back
        create(session, "projet", project, collectivite_id, parent=row, ref=project.get("ref"))
    return Applied(row.ref, None, record_state(entity, row))


def _columns(model, fields: dict, skip: set[str] = frozenset()) -> dict:
    names = set(model.__table__.columns.keys()) - {"id", "ref", "version"} - set(skip)
    return {k: v for k, v in fields.items() if k in names}


def _decimal(value) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))
