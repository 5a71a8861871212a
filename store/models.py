"""The Atlas as typed SQLAlchemy 2.x models.

Five parts per collectivité, as the 2012 circular lists them (II.2): contacts (élus et cadres),
network memberships, APD amounts per year, cooperations (décentralisées or autres actions
extérieures, with project sheets). Every record a form can show has a stable short `ref` and a
`version` counter that SQLAlchemy bumps on each UPDATE (optimistic concurrency for later reviews).
Models never read configuration.
"""
from __future__ import annotations

import secrets
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Crockford's base32 without I, L, O, U: references are read aloud and retyped by people.
REF_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
REF_LENGTH = 6

KINDS = ("region", "departement", "commune", "epci")
KIND_PREFIX = {"region": "REG", "departement": "DEP", "commune": "COM", "epci": "EPCI"}
ROLES = ("elu", "cadre")
EMAIL_STATES = ("ok", "bouncing", "invalid")
COOPERATION_KINDS = ("cooperation", "action")
STATUSES = ("en_cours", "en_sommeil", "termine")

REF_PREFIX = {
    "contact": "CT",
    "membership": "AD",
    "apd": "APD",
    "partner": "PA",
    "cooperation": "CO",
    "project": "PJ",
    "prefecture": "PF",
}


def new_ref(prefix: str, rng=None) -> str:
    """A short reference such as `CT-7K3Q9A`; `rng` (random.Random) makes seeding deterministic."""
    choice = rng.choice if rng is not None else secrets.choice
    return f"{prefix}-" + "".join(choice(REF_ALPHABET) for _ in range(REF_LENGTH))


def collectivite_code(kind: str, insee_or_siren: str) -> str:
    return f"{KIND_PREFIX[kind]}-{insee_or_siren}"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Record:
    """A record shown in the reply forms: stable reference, version counter."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ref: Mapped[str] = mapped_column(String(16), unique=True)
    version: Mapped[int] = mapped_column(Integer, default=1, nullable=False)

    @declared_attr.directive
    def __mapper_args__(cls):
        return {"version_id_col": cls.__table__.c.version}


class Country(Base):
    __tablename__ = "country"
    code: Mapped[str] = mapped_column(String(2), primary_key=True)  # ISO 3166-1 alpha-2
    name_fr: Mapped[str] = mapped_column(String(120))


class Theme(Base):
    __tablename__ = "theme"
    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    label: Mapped[str] = mapped_column(String(120))


class Network(Base):
    """An association or international network (reference list)."""

    __tablename__ = "network"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    acronym: Mapped[str | None] = mapped_column(String(40))
    scope: Mapped[str] = mapped_column(String(20))  # national | international | regional
    region: Mapped[str | None] = mapped_column(String(3))


class Collectivite(Base):
    __tablename__ = "collectivite"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)  # REG-53, DEP-35, COM-35238, EPCI-…
    kind: Mapped[str] = mapped_column(String(12), index=True)
    insee: Mapped[str] = mapped_column(String(9))
    siren: Mapped[str | None] = mapped_column(String(9), index=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    epci_type: Mapped[str | None] = mapped_column(String(8))
    departement: Mapped[str | None] = mapped_column(String(3), index=True)
    region: Mapped[str | None] = mapped_column(String(3), index=True)
    population: Mapped[int | None] = mapped_column(Integer)
    zone: Mapped[str | None] = mapped_column(String(5))
    in_atlas: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    version: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    __mapper_args__ = {"version_id_col": version}

    contacts: Mapped[list[Contact]] = relationship(back_populates="collectivite", order_by="Contact.id")
    memberships: Mapped[list[Membership]] = relationship(order_by="Membership.id")
    apd_amounts: Mapped[list[ApdAmount]] = relationship(order_by="ApdAmount.year")
    cooperations: Mapped[list[Cooperation]] = relationship(
        back_populates="collectivite", order_by="Cooperation.id"
    )


class Prefecture(Record, Base):
    __tablename__ = "prefecture"
    departement: Mapped[str] = mapped_column(String(3), unique=True)
    region: Mapped[str] = mapped_column(String(3), index=True)
    is_region_seat: Mapped[bool] = mapped_column(Boolean, default=False)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    address: Mapped[str] = mapped_column(Text)


class Contact(Record, Base):
    """Élu ou cadre territorial en charge des relations internationales."""

    __tablename__ = "contact"
    collectivite_id: Mapped[int] = mapped_column(ForeignKey("collectivite.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(8))  # elu | cadre
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    email_state: Mapped[str] = mapped_column(String(10), default="ok")
    email_state_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    email_state_reason: Mapped[str | None] = mapped_column(Text)

    collectivite: Mapped[Collectivite] = relationship(back_populates="contacts")


class Membership(Record, Base):
    __tablename__ = "membership"
    __table_args__ = (UniqueConstraint("collectivite_id", "network_id"),)
    collectivite_id: Mapped[int] = mapped_column(ForeignKey("collectivite.id", ondelete="CASCADE"), index=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("network.id"))

    network: Mapped[Network] = relationship()


class ApdAmount(Record, Base):
    """Aide publique au développement: own-resource euros allocated in one year."""

    __tablename__ = "apd_amount"
    __table_args__ = (UniqueConstraint("collectivite_id", "year"),)
    collectivite_id: Mapped[int] = mapped_column(ForeignKey("collectivite.id", ondelete="CASCADE"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    document_name: Mapped[str | None] = mapped_column(String(255))
    document_type: Mapped[str | None] = mapped_column(String(100))
    document: Mapped[bytes | None] = mapped_column(LargeBinary)


class Partner(Record, Base):
    """A foreign local authority; several French collectivités may share one."""

    __tablename__ = "partner"
    __table_args__ = (UniqueConstraint("country_code", "name"),)
    country_code: Mapped[str] = mapped_column(ForeignKey("country.code"), index=True)
    name: Mapped[str] = mapped_column(String(200))

    country: Mapped[Country] = relationship()


class Cooperation(Record, Base):
    """A coopération décentralisée (kind='cooperation') or an autre action extérieure (kind='action')."""

    __tablename__ = "cooperation"
    collectivite_id: Mapped[int] = mapped_column(ForeignKey("collectivite.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(12), index=True)
    country_code: Mapped[str] = mapped_column(ForeignKey("country.code"), index=True)
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partner.id"), index=True)
    twinning: Mapped[bool] = mapped_column(Boolean, default=False)
    since_year: Mapped[int | None] = mapped_column(Integer)

    collectivite: Mapped[Collectivite] = relationship(back_populates="cooperations")
    country: Mapped[Country] = relationship()
    partner: Mapped[Partner | None] = relationship()
    projects: Mapped[list[Project]] = relationship(
        back_populates="cooperation", order_by="Project.id", cascade="all, delete-orphan", passive_deletes=True
    )


class Project(Record, Base):
    """A fiche-projet under a cooperation or an external action."""

    __tablename__ = "project"
    cooperation_id: Mapped[int] = mapped_column(ForeignKey("cooperation.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(12))  # en_cours | en_sommeil | termine
    status_year: Mapped[int | None] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(Text)
    start_year: Mapped[int | None] = mapped_column(Integer)
    end_year: Mapped[int | None] = mapped_column(Integer)
    budget: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    operators: Mapped[str | None] = mapped_column(Text)  # French actors involved (associations, hospitals…)
    beneficiaries: Mapped[str | None] = mapped_column(Text)

    cooperation: Mapped[Cooperation] = relationship(back_populates="projects")
    theme_links: Mapped[list[ProjectTheme]] = relationship(
        order_by="ProjectTheme.theme_code", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def themes(self) -> list[str]:
        return [link.theme_code for link in self.theme_links]


class ProjectTheme(Base):
    __tablename__ = "project_theme"
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"), primary_key=True)
    theme_code: Mapped[str] = mapped_column(ForeignKey("theme.code"), primary_key=True)
