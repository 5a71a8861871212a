"""The préfectures' directory: a CSV of préfectures (département or région code, name, address, e-mail) imported all or nothing, and listed."""
from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import REF_PREFIX, Collectivite, Prefecture, new_ref

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


def decode_directory(data: bytes) -> str:
    """A directory file's text: UTF-8 (with or without the BOM Excel writes), else windows-1252 (what
    French Excel saves as « CSV (séparateur : point-virgule) »). UTF-8 is tried first because a
    windows-1252 accented letter is almost never valid UTF-8, while the reverse always decodes."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        raise PrefectureError("fichier illisible : ni UTF-8 ni windows-1252 (enregistrez-le depuis Excel en "
                              "« CSV UTF-8 » ou « CSV (séparateur : point-virgule) »)") from None


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
        raise PrefectureError("l'annuaire doit commencer par une ligne d'en-tête : code (ou departement / region), "
                              "nom, adresse et, si vous le souhaitez, courriel")
    lines = []
    for number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        values = {key: cell.strip() for key, cell in zip(header, row) if key}
        try:
            lines.append(_directory_line(number, values))
        except PrefectureError as exc:
            problems.append(f"ligne {number} : {exc}")
    if problems:
        raise PrefectureError("; ".join(problems))
    return lines


def _directory_line(number: int, values: dict) -> DirectoryLine:
    level, code = _level_and_code(values)
    name, address, email = values.get("name", ""), values.get("address", ""), values.get("email") or None
    if not name or not address:
        raise PrefectureError("le nom et l'adresse sont obligatoires")
    if email is not None and not _EMAIL.match(email):
        raise PrefectureError(f"« {email} » n'est pas une adresse électronique")
    return DirectoryLine(number, level, code, name, address.replace("\r\n", "\n"), email)


def _level_and_code(values: dict) -> tuple[str, str]:
    if values.get("region"):
        return "region", values["region"].upper().removeprefix("REG-")
    raw = (values.get("departement") or values.get("code") or "").upper()
    if raw.startswith("REG-"):
        return "region", raw.removeprefix("REG-")
    code = raw.removeprefix("DEP-")
    if not re.fullmatch(r"\d{2,3}|2[AB]", code):
        raise PrefectureError(f"« {raw} » n'est ni un code de département (35, 2A, 971) ni une région (REG-53)"
                              if raw else "code de département ou de région manquant")
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
                problems.append(f"ligne {line.line} : aucune préfecture de région connue pour la région {line.code}")
                continue
        else:
            found = session.scalar(select(Prefecture).where(Prefecture.departement == line.code))
            if found is None:
                dep = departements.get(line.code)
                if dep is None:
                    problems.append(f"ligne {line.line} : département inconnu {line.code}")
                    continue
                if line.email is None:
                    problems.append(f"ligne {line.line} : une nouvelle préfecture a besoin d'une adresse électronique")
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
