"""Replies written by hand, as mail clients write them (tests/fixtures/replies/*.eml), to summaries of
collectivités whose records are fixed: the fixtures quote exactly the form the loop sends.

A fixture holds `@@TOKEN@@` where the form's token goes (the Reply-To address and the form's opening
line) and `@@MSGID@@` where the summary's Message-ID goes (In-Reply-To, References). `fill` puts the
real ones in, inside each part as the client encoded it (base64, quoted-printable, 8-bit).
"""
from __future__ import annotations

import base64
import quopri
from decimal import Decimal
from email import policy
from email.parser import BytesParser
from pathlib import Path

from sqlalchemy import select

from store.models import (ApdAmount, Collectivite, Contact, Cooperation, Membership, Network, Partner, Project,
                          ProjectTheme)

REPLIES = Path(__file__).resolve().parent / "fixtures" / "replies"

# Two collectivités that the seed does not have (no commune 35997 or 35998 in Ille-et-Vilaine).
VAL = {"code": "COM-35998", "name": "Val-d'Atlas", "prefix": "VDA", "mail": "val-datlas.example.fr"}
MONT = {"code": "COM-35997", "name": "Mont-Atlas", "prefix": "MTA", "mail": "mont-atlas.example.fr"}


def add_collectivite(session, spec: dict) -> Collectivite:
    """A commune with two contacts, a network, APD for 2009, a cooperation in Senegal with a project,
    and an external action in Haiti; every reference fixed (CT-VDAC01…)."""
    p, mail = spec["prefix"], spec["mail"]
    coll = Collectivite(code=spec["code"], kind="commune", insee=spec["code"].split("-")[1], name=spec["name"],
                        departement="35", region="53", population=4200, in_atlas=True)
    session.add(coll)
    session.flush()
    session.add_all([
        Contact(ref=f"CT-{p}C01", collectivite_id=coll.id, role="elu", first_name="Marie", last_name="Dupont",
                title="Adjointe aux relations internationales", email=f"marie.dupont@{mail}"),
        Contact(ref=f"CT-{p}C02", collectivite_id=coll.id, role="cadre", first_name="Jean", last_name="Martin",
                title="Directeur des relations internationales", email=f"j.martin@{mail}"),
        Membership(ref=f"AD-{p}R01", collectivite_id=coll.id,
                   network_id=session.scalar(select(Network.id).where(Network.code == "cuf"))),
        ApdAmount(ref=f"APD-{p}A09", collectivite_id=coll.id, year=2009, amount=Decimal("10000.00")),
    ])
    partner = session.scalar(select(Partner).where(Partner.country_code == "SN", Partner.name == "Dakar"))
    if partner is None:
        partner = Partner(ref=f"PA-{p}P01", country_code="SN", name="Dakar")
        session.add(partner)
        session.flush()
    cooperation = Cooperation(ref=f"CO-{p}K01", collectivite_id=coll.id, kind="cooperation", country_code="SN",
                              partner_id=partner.id, twinning=False, since_year=1992)
    action = Cooperation(ref=f"CO-{p}X01", collectivite_id=coll.id, kind="action", country_code="HT",
                         twinning=False, since_year=2010)
    session.add_all([cooperation, action])
    session.flush()
    project = Project(ref=f"PJ-{p}J01", cooperation_id=cooperation.id, title="Accès à l'eau dans les quartiers",
                      status="en_cours", status_year=2010, start_year=2008, budget=Decimal("45000.00"),
                      operators="Eau Vive",
                      description="Réhabilitation de bornes-fontaines et formation des comités de gestion.")
    session.add(project)
    session.flush()
    session.add_all([ProjectTheme(project_id=project.id, theme_code="eau_assainissement"),
                     ProjectTheme(project_id=project.id, theme_code="sante")])
    session.flush()
    return coll


def fixture(name: str) -> bytes:
    return (REPLIES / name).read_bytes()


def fill(raw: bytes, token: str, message_id: str) -> bytes:
    """The fixture with the real token and Message-ID, each part re-encoded as the client had it."""
    values = {b"@@TOKEN@@": token.encode(), b"@@MSGID@@": message_id.strip("<>").encode()}
    message = BytesParser(policy=policy.compat32).parsebytes(raw)
    for part in message.walk():
        if part.is_multipart():
            continue
        cte = (part.get("Content-Transfer-Encoding") or "7bit").lower()
        payload = part.get_payload(decode=True) or b""
        for placeholder, value in values.items():
            payload = payload.replace(placeholder, value)
        if cte == "base64":
            part.set_payload(base64.encodebytes(payload).decode("ascii"))
        elif cte == "quoted-printable":
            part.set_payload(quopri.encodestring(payload).decode("ascii"))
        else:
            part.set_payload(payload.decode("latin-1"))  # 8-bit bytes kept as they are (surrogates avoided)
    head, _, _body = raw.partition(b"\r\n\r\n") if b"\r\n\r\n" in raw else raw.partition(b"\n\n")
    for placeholder, value in values.items():
        head = head.replace(placeholder, value)
    return head + b"\r\n\r\n" + _body_bytes(message)


def _body_bytes(message) -> bytes:
    """The message's body as bytes (latin-1 round trip: 8-bit payloads come back byte for byte)."""
    text = message.as_string(policy=policy.compat32.clone(linesep="\r\n", max_line_length=0))
    return text.split("\r\n\r\n", 1)[1].encode("latin-1")
