"""Export and import (store/exchange/): byte-identical round trips, and refusals that write nothing.

Each test builds a small Atlas with the ORM, exports it, and imports it into a second fresh store
on the same backend (a second SQLite file, or a second PostgreSQL schema).
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import uuid
from contextlib import contextmanager
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Column, ForeignKey, Integer, MetaData, Table, func, select, text

from store import exchange
from store.exchange import load, plans
from store.campaign_models import Campaign, OutboundMessage, ReminderLog, Snapshot
from store.db import make_engine, session_factory, upgrade
from store.exchange import ImportRefused, export_atlas, import_atlas
from store.models import (
    ApdAmount,
    Collectivite,
    Contact,
    Cooperation,
    Country,
    Membership,
    Network,
    Partner,
    Prefecture,
    Project,
    ProjectTheme,
    Theme,
    new_ref,
)

PG_URL = os.environ.get("MAILBOT_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
DOCUMENT = b"%PDF-1.4\n\x00\xff\xfe binary d\xc3\xa9lib\xc3\xa9ration\n"


@contextmanager
def pg_schema_url():
    """A URL to a throwaway PostgreSQL schema (the same pattern as tests/conftest.py)."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def second_db_url(db_url, tmp_path):
    """An empty database on the same backend as `db_url` (db_url has already skipped if PG is absent)."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'second.sqlite'}"
        return
    with pg_schema_url() as url:
        yield url


@pytest.fixture
def target(second_db_url):
    """A second migrated, empty store to import into."""
    eng = make_engine(second_db_url)
    upgrade(eng)
    yield eng
    eng.dispose()


def build_atlas(Session) -> None:
    """A small Atlas touching every Atlas table and every column type (JSON, Date and bytes included)."""
    with Session.begin() as s:
        senegal, vietnam = Country(code="SN", name_fr="Sénégal"), Country(code="VN", name_fr="Viêt Nam")
        s.add_all([senegal, vietnam, Country(code="BF", name_fr="Burkina Faso")])
        s.add_all([Theme(code="sante", label="Santé"), Theme(code="eau", label="Eau et assainissement"),
                   Theme(code="culture", label="Culture")])
        cuf = Network(code="CUF", name="Cités Unies France", acronym="CUF", scope="national")
        s.add(cuf)
        bretagne = Collectivite(code="REG-53", kind="region", insee="53", name="Bretagne", region="53",
                                in_atlas=True)
        ille = Collectivite(code="DEP-35", kind="departement", insee="35", name="Ille-et-Vilaine",
                            departement="35", region="53", population=1_079_498, in_atlas=False)
        rennes = Collectivite(code="COM-35238", kind="commune", insee="35238", siren="213502388", name="Rennes",
                              departement="35", region="53", population=222_485, zone="B1", in_atlas=True)
        s.add_all([bretagne, ille, rennes])
        s.add(Prefecture(ref=new_ref("PF"), departement="35", region="53", is_region_seat=True,
                         name="Préfecture d'Ille-et-Vilaine", email="pref-35@interieur.gouv.fr",
                         address="3 avenue de la Préfecture\n35026 Rennes Cedex 9"))
        rennes.contacts = [
            Contact(ref=new_ref("CT"), role="elu", first_name="Marie", last_name="Dupont",
                    title="Adjointe « relations internationales »", email="m.dupont@rennes.fr"),
            Contact(ref=new_ref("CT"), role="cadre", first_name="Loïc", last_name="Le Gall",
                    title="Chargé de mission", email="l.legall@rennes.fr", email_state="bouncing",
                    email_state_at=datetime(2012, 2, 3, 8, 30, 15, 250_000, tzinfo=timezone.utc),
                    email_state_reason="550 5.1.1 user unknown"),
        ]
        bretagne.contacts = [Contact(ref=new_ref("CT"), role="elu", first_name="Jean", last_name="Martin",
                                     title="Vice-président", email=None)]
        rennes.memberships = [Membership(ref=new_ref("AD"), network=cuf)]
        rennes.apd_amounts = [
            ApdAmount(ref=new_ref("APD"), year=2010, amount=Decimal("15000.5"), document_name="délib.pdf",
                      document_type="application/pdf", document=DOCUMENT),
            ApdAmount(ref=new_ref("APD"), year=2011, amount=None),
        ]
        louga = Partner(ref=new_ref("PA"), country=senegal, name="Commune de Louga")
        cooperation = Cooperation(ref=new_ref("CO"), kind="cooperation", country=senegal, partner=louga,
                                  twinning=True, since_year=1990)
        action = Cooperation(ref=new_ref("CO"), kind="action", country=vietnam, partner=None, twinning=False)
        rennes.cooperations = [cooperation, action]
        health = Project(ref=new_ref("PJ"), title="Centre de santé 🏥", status="en_cours", status_year=2011,
                         description='Dit "pilote"\nsur deux lignes', start_year=2009, budget=Decimal("120000"),
                         operators="CHU de Rennes")
        health.theme_links = [ProjectTheme(theme_code="sante"), ProjectTheme(theme_code="eau")]
        cooperation.projects = [health]
        action.projects = [Project(ref=new_ref("PJ"), title="Festival", status="termine", end_year=2010)]
        campaign = Campaign(name="campagne-2012", rules_path="rules/campagne-2012.toml", rules_text="[x]\n",
                            year=2012, apd_editable_year=2011, deadline=date(2012, 6, 30),
                            created_at=datetime(2012, 3, 1, 8, 0, tzinfo=timezone.utc), closed=False)
        s.add(campaign)
        s.flush()
        message = OutboundMessage(kind="summary", campaign_id=campaign.id, collectivite_id=rennes.id,
                                  message_id="<1@atlas>", subject="Votre fiche", recipients=["m.dupont@rennes.fr"],
                                  raw=b"Subject: Votre fiche\r\n\r\n\xe9", created_at=datetime(2012, 3, 2, tzinfo=timezone.utc))
        s.add(message)
        s.flush()
        s.add(Snapshot(outbound_id=message.id, collectivite_id=rennes.id,
                       data={"records": {"CT": 1}, "note": "état", "list": [1, 2.5, None]}))
        # JSON null in a NOT NULL JSON column: exported as null, and must import again.
        s.add(ReminderLog(campaign_id=campaign.id, collectivite_id=rennes.id, outbound_id=message.id,
                          sent_at=datetime(2012, 4, 1, tzinfo=timezone.utc), missing=None))


def directory_bytes(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


def row_counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {plan.name: conn.execute(select(func.count()).select_from(plan.table)).scalar()
                for plan in exchange.table_plans()}


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# --- Round trip -----------------------------------------------------------------------------------


def test_export_import_export_is_byte_identical(engine, Session, target, tmp_path):
    build_atlas(Session)
    counts = export_atlas(engine, tmp_path / "first")
    assert import_atlas(target, tmp_path / "first") == counts
    export_atlas(target, tmp_path / "second")

    assert directory_bytes(tmp_path / "first") == directory_bytes(tmp_path / "second")
    assert counts["collectivite"] == 3 and counts["contact"] == 3 and counts["project_theme"] == 2
    assert "alembic_version" not in counts
    assert row_counts(target) == row_counts(engine)


def test_export_files_are_canonical(engine, Session, tmp_path):
    build_atlas(Session)
    export_atlas(engine, tmp_path / "out")
    out = tmp_path / "out"

    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["format"] == "atlas-mailbot-export" and manifest["format_version"] == 1
    names = [entry["name"] for entry in manifest["tables"]]
    assert names.index("collectivite") < names.index("contact") < names.index("delivery")
    assert names.index("cooperation") < names.index("project") < names.index("project_theme")
    assert {entry["name"]: entry["rows"] for entry in manifest["tables"]}["apd_amount"] == 2

    apd = read_lines(out / "apd_amount.jsonl")
    assert list(apd[0]) == [c.name for c in ApdAmount.__table__.columns]  # keys in column order
    assert apd[0]["amount"] == "15000.50" and apd[1]["amount"] is None
    assert base64.b64decode(apd[0]["document"]) == DOCUMENT and apd[1]["document"] is None
    contacts = read_lines(out / "contact.jsonl")
    assert [c["id"] for c in contacts] == sorted(c["id"] for c in contacts)
    bouncing = next(c for c in contacts if c["email_state"] == "bouncing")
    assert bouncing["email_state_at"] == "2012-02-03T08:30:15.250000+00:00"
    assert [c["code"] for c in read_lines(out / "country.jsonl")] == ["BF", "SN", "VN"]
    assert read_lines(out / "snapshot.jsonl")[0]["data"] == {"records": {"CT": 1}, "note": "état", "list": [1, 2.5, None]}
    assert read_lines(out / "campaign.jsonl")[0]["deadline"] == "2012-06-30"
    raw = (out / "project.jsonl").read_text(encoding="utf-8")
    assert "🏥" in raw and "\\n" in raw  # UTF-8 as is, one line per row


def test_import_keeps_values_and_later_inserts_get_fresh_ids(engine, Session, target, tmp_path):
    build_atlas(Session)
    export_atlas(engine, tmp_path / "out")
    import_atlas(target, tmp_path / "out")

    with session_factory(target).begin() as s:
        rennes = s.scalars(select(Collectivite).where(Collectivite.code == "COM-35238")).one()
        assert rennes.apd_amounts[0].document == DOCUMENT and rennes.apd_amounts[0].amount == Decimal("15000.50")
        assert rennes.cooperations[0].projects[0].themes == ["eau", "sante"]
        assert as_utc(rennes.contacts[1].email_state_at) == datetime(2012, 2, 3, 8, 30, 15, 250_000, tzinfo=timezone.utc)
        highest = s.scalar(select(func.max(Contact.id)))
        added = Contact(ref=new_ref("CT"), collectivite_id=rennes.id, role="cadre", first_name="Anne",
                        last_name="Nouvelle", title="Stagiaire")
        network = Network(code="AFCCRE", name="Association française du CCRE", scope="international")
        s.add_all([added, network])
        s.flush()
        assert added.id == highest + 1 and network.id == 2


def as_utc(moment: datetime) -> datetime:
    # SQLite gives back the naive UTC value it stored; PostgreSQL an aware one.
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def test_sqlite_export_imports_identically_into_postgresql(tmp_path):
    """The format does not depend on the backend: SQLite → PostgreSQL → the same bytes."""
    reason = _pg_unreachable()
    if reason:
        pytest.skip(reason)
    source = make_engine(f"sqlite:///{tmp_path / 'source.sqlite'}")
    upgrade(source)
    build_atlas(session_factory(source))
    export_atlas(source, tmp_path / "from-sqlite")
    with pg_schema_url() as url:
        pg = make_engine(url)
        upgrade(pg)
        import_atlas(pg, tmp_path / "from-sqlite")
        export_atlas(pg, tmp_path / "from-pg")
        pg.dispose()
    source.dispose()
    assert directory_bytes(tmp_path / "from-sqlite") == directory_bytes(tmp_path / "from-pg")


def _pg_unreachable() -> str | None:
    try:
        probe = make_engine(PG_URL)
        with probe.connect() as conn:
            conn.execute(text("select 1"))
        probe.dispose()
    except Exception as exc:  # no server is a skip, not a failure, as in conftest
        return f"PostgreSQL not reachable at {PG_URL}: {exc.__class__.__name__}"
    return None


def test_imported_date_times_are_stored_in_utc(exported, target, tmp_path):
    """Any UTC offset is accepted on import; the store (and so the next export) holds UTC."""
    edit_line(exported / "contact.jsonl", 2, _with(email_state_at="2012-02-03T09:30:15.25+01:00"))
    import_atlas(target, exported)
    export_atlas(target, tmp_path / "again")
    assert read_lines(tmp_path / "again" / "contact.jsonl")[1]["email_state_at"] == "2012-02-03T08:30:15.250000+00:00"


def test_empty_store_round_trips(engine, target, tmp_path):
    counts = export_atlas(engine, tmp_path / "out")
    assert set(counts.values()) == {0}
    assert (tmp_path / "out" / "contact.jsonl").read_bytes() == b""
    assert import_atlas(target, tmp_path / "out") == counts


def test_export_over_an_older_export_replaces_it(engine, Session, tmp_path):
    export_atlas(engine, tmp_path / "out")
    build_atlas(Session)
    export_atlas(engine, tmp_path / "out")
    assert len(read_lines(tmp_path / "out" / "contact.jsonl")) == 3
    assert not list((tmp_path / "out").glob("*.tmp"))


# --- Refusals: the message names file and line, and the target store stays empty ------------------


@pytest.fixture
def exported(engine, Session, tmp_path) -> Path:
    build_atlas(Session)
    export_atlas(engine, tmp_path / "export")
    return tmp_path / "export"


def edit_line(path: Path, number: int, change) -> None:
    """Replace line `number` (1-based) by change(parsed line), or by `change` itself if it is a str."""
    lines = path.read_text(encoding="utf-8").splitlines()
    current = lines[number - 1]
    lines[number - 1] = change if isinstance(change, str) else json.dumps(change(json.loads(current)), ensure_ascii=False)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def assert_refused(target, directory: Path, *fragments: str) -> str:
    with pytest.raises(ImportRefused) as caught:
        import_atlas(target, directory)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message
    assert "\n" not in message
    assert set(row_counts(target).values()) == {0}
    return message


def test_bad_json_names_file_and_line_and_writes_nothing(exported, target):
    edit_line(exported / "contact.jsonl", 3, '{"collectivite_id": 1, "role": ')
    message = assert_refused(target, exported, "contact.jsonl:3: JSON invalide")
    assert message.startswith("contact.jsonl:3:")


def _with(**changes):
    return lambda row: {**row, **changes}


def _without(key):
    return lambda row: {k: v for k, v in row.items() if k != key}


# (file, line, change, what the refusal must say): one per kind of check.
BAD_VALUES = [
    ("contact.jsonl", 1, _with(nickname="Mimi"), "contact.jsonl:1: colonne inconnue nickname"),
    ("contact.jsonl", 2, _without("title"), "contact.jsonl:2: colonne manquante title"),
    ("collectivite.jsonl", 2, _with(population="many"), "collectivite.jsonl:2: population: entier attendu"),
    ("collectivite.jsonl", 1, _with(in_atlas=1), "in_atlas: true ou false attendu"),
    ("collectivite.jsonl", 1, _with(name=None), "name: null n'est pas permis"),
    ("collectivite.jsonl", 1, _with(kind="x" * 13), "kind: 13 caractères, au plus 12 permis"),
    ("apd_amount.jsonl", 1, _with(amount=15000.5), "amount: nombre décimal attendu"),
    ("apd_amount.jsonl", 1, _with(amount="1.234"), "amount: 1.234 a plus de 2 décimales"),
    ("apd_amount.jsonl", 1, _with(amount="1234567890123.00"), "amount: 1234567890123.00 est trop grand"),
    ("apd_amount.jsonl", 1, _with(document="not base64!"), "document: base64 invalide"),
    ("contact.jsonl", 2, _with(email_state_at="2012-02-03T08:30:15"), "email_state_at: 2012-02-03T08:30:15 n'a pas de décalage UTC"),
    ("contact.jsonl", 2, _with(email_state_at="yesterday"), "email_state_at: date-heure ISO 8601 attendue"),
    ("campaign.jsonl", 1, _with(deadline="30/06/2012"), "deadline: date ISO 8601 attendue"),
    ("network.jsonl", 1, _with(id=2 ** 40), "id: 1099511627776 dépasse les bornes"),
    ("contact.jsonl", 1, lambda row: [row], "contact.jsonl:1: objet JSON attendu, trouvé tableau"),
    ("contact.jsonl", 3, _with(collectivite_id=999), "contact.jsonl:3: collectivite_id=999 ne désigne aucune ligne de collectivite"),
    ("project_theme.jsonl", 2, _with(theme_code="peche"), "theme_code='peche' ne désigne aucune ligne de theme"),
    ("cooperation.jsonl", 1, _with(partner_id=42), "partner_id=42 ne désigne aucune ligne de partner"),
    ("membership.jsonl", 1, _with(network_id=7), "network_id=7 ne désigne aucune ligne de network"),
]


def test_each_bad_value_is_refused(exported, target, tmp_path):
    # One test loops over the cases: each would otherwise migrate two stores just to refuse a line.
    for number, (file, line, change, expected) in enumerate(BAD_VALUES):
        case = shutil.copytree(exported, tmp_path / f"case-{number}")
        edit_line(case / file, line, change)
        with pytest.raises(ImportRefused) as caught:
            import_atlas(target, case)
        assert expected in str(caught.value), (expected, str(caught.value))
    assert set(row_counts(target).values()) == {0}


def test_duplicate_primary_key_is_refused(exported, target):
    path = exported / "contact.jsonl"
    first = read_lines(path)[0]
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps({**first, "ref": "CT-ZZZZZZ"}, ensure_ascii=False) + "\n")
    assert_refused(target, exported, "contact.jsonl:4: id=", "figure deux fois (clé primaire)")


def test_duplicate_unique_value_is_refused(exported, target):
    second = read_lines(exported / "contact.jsonl")[1]
    edit_line(exported / "contact.jsonl", 3, _with(ref=second["ref"]))
    assert_refused(target, exported, "contact.jsonl:3: ref=", "figure deux fois (valeur unique)")


def test_duplicate_key_inside_a_line_is_refused(exported, target):
    edit_line(exported / "country.jsonl", 1, '{"code":"BF","code":"SN","name_fr":"x"}')
    assert_refused(target, exported, "country.jsonl:1: la clé 'code' figure deux fois")


def test_a_table_may_point_to_itself_in_any_order(tmp_path):
    """Self-references (e.g. a change set reverting another) are checked once the whole file is read."""
    node = Table("node", MetaData(), Column("id", Integer, primary_key=True),
                 Column("parent_id", ForeignKey("node.id"), nullable=True))
    plan = plans._plan(node)
    (tmp_path / "node.jsonl").write_text('{"id":1,"parent_id":2}\n{"id":2,"parent_id":null}\n', encoding="utf-8")
    load._validate(tmp_path, [plan], {"node": 2})
    (tmp_path / "node.jsonl").write_text('{"id":1,"parent_id":3}\n{"id":2,"parent_id":1}\n', encoding="utf-8")
    with pytest.raises(ImportRefused, match=r"^node.jsonl:1: parent_id=3 ne désigne aucune ligne de node$"):
        load._validate(tmp_path, [plan], {"node": 2})


def test_row_count_must_match_the_manifest(exported, target):
    lines = (exported / "theme.jsonl").read_text(encoding="utf-8").splitlines()
    (exported / "theme.jsonl").write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")
    assert_refused(target, exported, "theme.jsonl : 2 lignes, alors que manifest.json en annonce 3")


def test_missing_file_listed_in_manifest_is_refused(exported, target):
    (exported / "partner.jsonl").unlink()
    assert_refused(target, exported, "partner.jsonl : absent, alors que manifest.json annonce la table partner")


def test_manifest_problems_are_refused(exported, target, tmp_path):
    assert_refused(target, tmp_path / "nowhere", "dossier introuvable")
    manifest_path = exported / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest_path.write_text(json.dumps({**manifest, "format_version": 99}), encoding="utf-8")
    assert_refused(target, exported, "la version de format 99 n'est pas prise en charge")
    manifest["tables"][0]["columns"].append("colour")
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    assert_refused(target, exported, "colonne inconnue colour")
    manifest_path.unlink()
    assert_refused(target, exported, "pas de manifest.json")


def test_import_into_a_non_empty_store_is_refused(exported, engine):
    before = row_counts(engine)
    with pytest.raises(ImportRefused, match="la base n'est pas vide"):
        import_atlas(engine, exported)
    assert row_counts(engine) == before


def test_database_refusal_rolls_back_everything(exported, target, monkeypatch):
    """If something slips past validation, the database's refusal is reported and nothing stays."""
    monkeypatch.setattr(load, "_validate", lambda *args: None)
    edit_line(exported / "contact.jsonl", 2, _with(collectivite_id=999))
    assert_refused(target, exported, "contact.jsonl:1-3: la base a refusé ces lignes", "rien n'a été importé")


# --- Command line ---------------------------------------------------------------------------------


def run_cli(url: str, *args: str):
    from mailbot.cli.commands import main  # imports every command family; only the CLI tests need them

    return CliRunner().invoke(main, list(args), env={"MAILBOT_DB": url, "MAILBOT_CONFIG": None})


def assert_one_line_failure(result, fragment: str) -> None:
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit), result.exception  # a ClickException, not a crash
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Erreur : ") and fragment in lines[0], result.output


def test_cli_export_then_import_round_trip(engine, Session, db_url, second_db_url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no mailbot.toml around
    build_atlas(Session)
    exported = run_cli(db_url, "export", str(tmp_path / "a"))
    assert exported.exit_code == 0, exported.output
    assert exported.output.startswith(f"{sum(row_counts(engine).values())} lignes exportées dans ")

    imported = run_cli(second_db_url, "import", str(tmp_path / "a"))  # import initialises the store
    assert imported.exit_code == 0, imported.output
    assert " lignes importées de " in imported.output
    assert run_cli(second_db_url, "export", str(tmp_path / "b")).exit_code == 0
    assert directory_bytes(tmp_path / "a") == directory_bytes(tmp_path / "b")

    assert_one_line_failure(run_cli(second_db_url, "import", str(tmp_path / "a")), "la base n'est pas vide")


def test_cli_failures_are_one_line(engine, Session, db_url, second_db_url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert_one_line_failure(run_cli(second_db_url, "export", str(tmp_path / "x")), "`mailbot init`")

    build_atlas(Session)
    assert run_cli(db_url, "export", str(tmp_path / "a")).exit_code == 0
    edit_line(tmp_path / "a" / "contact.jsonl", 3, "{oops")
    assert run_cli(second_db_url, "init").exit_code == 0
    assert_one_line_failure(run_cli(second_db_url, "import", str(tmp_path / "a")), "contact.jsonl:3: JSON invalide")

    (tmp_path / "file").write_text("not a directory")
    assert_one_line_failure(run_cli(db_url, "export", str(tmp_path / "file" / "sub")), "impossible d'écrire l'export")


def test_the_export_format_page_names_every_table_and_column():
    """docs/export-format.md is what people read to use an export: a new column must appear there."""
    from pathlib import Path

    from store.schema import metadata

    doc = (Path(__file__).resolve().parent.parent / "docs" / "export-format.md").read_text()
    missing = []
    for table in metadata.sorted_tables:
        marker = f"**{table.name}.jsonl**"
        if marker not in doc:
            missing.append(table.name)
            continue
        section = doc.split(marker, 1)[1].split("**", 1)[0]
        missing += [f"{table.name}.{c.name}" for c in table.columns if f"`{c.name}`" not in section]
    assert missing == []
