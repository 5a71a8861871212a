"""The reference data loader and the national dataset generator.

Figures are counted here with plain SQL, independently of store.queries.
"""
from __future__ import annotations

import random
import uuid

import pytest
from sqlalchemy import text

from store.db import make_engine, session_factory, upgrade
from store.refdata import (
    departement_of_commune,
    load_reference,
    prefecture_name,
    read_collectivites,
    region_seats,
)
from store.seed import SeedError, seed_atlas, target_figures
from store.seed.french import de, fill
from store.seed.plan import plan_atlas
from store.seed.sampling import Refs, apportion
from store.seed.world import read_world

SMALL = 0.05

PROJECTS_OF_KIND = "SELECT count(*) FROM project p JOIN cooperation c ON c.id = p.cooperation_id WHERE c.kind = "
FIGURES_SQL = {
    "collectivites": "SELECT count(*) FROM collectivite WHERE in_atlas",
    "partenaires": "SELECT count(DISTINCT partner_id) FROM cooperation",
    "pays": "SELECT count(DISTINCT country_code) FROM cooperation",
    "projets_cooperation": PROJECTS_OF_KIND + "'cooperation'",
    "projets_actions": PROJECTS_OF_KIND + "'action'",
}
# Every table, in a stable order, for comparing two stores row by row.
DUMP_SQL = {
    "collectivite": "SELECT id, code FROM collectivite WHERE in_atlas ORDER BY id",
    "prefecture": "SELECT * FROM prefecture ORDER BY id",
    "network": "SELECT * FROM network ORDER BY id",
    "partner": "SELECT * FROM partner ORDER BY id",
    "cooperation": "SELECT * FROM cooperation ORDER BY id",
    "project": "SELECT * FROM project ORDER BY id",
    "project_theme": "SELECT * FROM project_theme ORDER BY project_id, theme_code",
    "contact": "SELECT * FROM contact ORDER BY id",
    "membership": "SELECT * FROM membership ORDER BY id",
    "apd_amount": "SELECT * FROM apd_amount ORDER BY id",
}


def scalar(engine, sql: str, **params):
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def figures(engine) -> dict[str, int]:
    return {key: scalar(engine, sql) for key, sql in FIGURES_SQL.items()}


def dump(engine) -> dict[str, list[tuple]]:
    with engine.connect() as conn:
        return {table: [tuple(row) for row in conn.execute(text(sql))] for table, sql in DUMP_SQL.items()}


def assert_reference_data(engine):
    assert scalar(engine, "SELECT count(*) FROM collectivite") == 36359
    assert scalar(engine, "SELECT count(*) FROM prefecture") == 109
    with session_factory(engine).begin() as session:
        assert set(load_reference(session).values()) == {0}  # already there: left alone
    assert scalar(engine, "SELECT name_fr FROM country WHERE code = 'DE'") == "Allemagne"
    assert scalar(engine, "SELECT name_fr FROM country WHERE code = 'SN'") == "Sénégal"
    assert scalar(engine, "SELECT code FROM collectivite WHERE insee = '35238' AND kind = 'commune'") == "COM-35238"
    assert scalar(engine, "SELECT count(*) FROM theme") >= 15
    assert scalar(engine, "SELECT count(*) FROM network WHERE scope = 'regional' AND region IS NULL") == 0
    # Exactly one préfecture de région in each metropolitan and DROM région.
    with engine.connect() as conn:
        seats = dict(conn.execute(text(
            "SELECT region, count(*) FROM prefecture WHERE is_region_seat GROUP BY region"
        )).all())
        regions = [r for (r,) in conn.execute(text(
            "SELECT insee FROM collectivite WHERE kind = 'region' AND zone IN ('metro', 'drom')"
        ))]
    assert len(regions) == 18 and all(seats.get(r) == 1 for r in regions)
    assert scalar(engine, "SELECT departement FROM prefecture WHERE region = '53' AND is_region_seat") == "35"
    assert scalar(engine, "SELECT count(*) FROM prefecture WHERE email NOT LIKE '%@prefectures.example.fr'") == 0


def assert_coherent_atlas(engine, expected: dict[str, int]) -> None:
    # Every partner is used; every collectivité in the Atlas has a cooperation, and only those do.
    assert scalar(engine, "SELECT count(*) FROM partner") == expected["partenaires"]
    assert scalar(engine, "SELECT count(*) FROM partner WHERE id NOT IN "
                          "(SELECT partner_id FROM cooperation WHERE partner_id IS NOT NULL)") == 0
    assert scalar(engine, "SELECT count(*) FROM collectivite c WHERE in_atlas AND NOT EXISTS "
                          "(SELECT 1 FROM cooperation o WHERE o.collectivite_id = c.id)") == 0
    assert scalar(engine, "SELECT count(*) FROM cooperation o JOIN collectivite c ON c.id = o.collectivite_id "
                          "WHERE NOT c.in_atlas") == 0
    # Some collectivités cannot be reached by e-mail at all; every one has a contact.
    unreachable = scalar(engine, "SELECT count(*) FROM collectivite c WHERE in_atlas AND NOT EXISTS "
                                 "(SELECT 1 FROM contact t WHERE t.collectivite_id = c.id AND t.email IS NOT NULL)")
    assert 1 <= unreachable <= 0.06 * expected["collectivites"]
    assert scalar(engine, "SELECT count(*) FROM collectivite c WHERE in_atlas AND NOT EXISTS "
                          "(SELECT 1 FROM contact t WHERE t.collectivite_id = c.id)") == 0
    # Records are fresh (version 1), dated no later than the 2012 campaign, with 1–3 themes.
    for table in ("partner", "cooperation", "project", "contact", "membership", "apd_amount"):
        assert scalar(engine, f"SELECT count(*) FROM {table} WHERE version <> 1") == 0
    assert scalar(engine, "SELECT max(status_year) FROM project") <= 2012
    assert scalar(engine, "SELECT max(since_year) FROM cooperation") <= 2011
    assert scalar(engine, "SELECT count(*) FROM project p WHERE NOT EXISTS "
                          "(SELECT 1 FROM project_theme t WHERE t.project_id = p.id)") == 0
    assert scalar(engine, "SELECT max(n) FROM (SELECT count(*) AS n FROM project_theme GROUP BY project_id) AS x") <= 3
    assert scalar(engine, "SELECT count(*) FROM apd_amount WHERE year = 2010 AND amount IS NULL") >= 1


def assert_same_rows_from_the_same_seed(engine, fresh_store) -> None:
    twin = fresh_store()
    seed_atlas(twin, scale=SMALL, seed=2012)
    first = dump(engine)
    assert first == dump(twin)  # references included
    # Another seed: same figures, other rows (planned in memory, to spare a third store).
    with session_factory(engine)() as session:
        world = read_world(session)
    rng = random.Random(7)
    other = plan_atlas(world, target_figures(SMALL), rng, Refs(rng))
    assert all(other.figures[key] == value for key, value in target_figures(SMALL).items())
    with engine.connect() as conn:
        partners = conn.execute(text("SELECT name, ref FROM partner ORDER BY id")).all()
    assert [p.name for p in other.partners] != [row.name for row in partners]
    assert other.partner_refs != [row.ref for row in partners]


@pytest.fixture
def fresh_store(db_url, tmp_path):
    """Makes more empty, migrated stores on the same backend as `engine`."""
    made: list[tuple] = []
    base = db_url.rsplit("options=", 1)[0].rstrip("?&")  # the PostgreSQL URL without its search_path
    admin = None if db_url.startswith("sqlite") else make_engine(base)

    def make():
        if admin is None:
            url, schema = f"sqlite:///{tmp_path / f'extra-{len(made)}.sqlite'}", None
        else:
            schema = f"t_{uuid.uuid4().hex[:12]}"
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
        engine = make_engine(url)
        upgrade(engine)
        made.append((engine, schema))
        return engine

    yield make
    for engine, schema in made:
        engine.dispose()
        if schema:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    if admin is not None:
        admin.dispose()


# --- pure helpers ---------------------------------------------------------------------------------


def test_target_figures_scale_the_circular():
    assert target_figures(1) == {
        "collectivites": 4800, "partenaires": 10106, "pays": 142, "projets_cooperation": 12476, "projets_actions": 606,
    }
    assert target_figures(SMALL) == {
        "collectivites": 240, "partenaires": 505, "pays": 32, "projets_cooperation": 624, "projets_actions": 30,
    }
    assert target_figures(0.01)["pays"] == 14 and target_figures(0.0001)["pays"] == 3
    assert target_figures(10)["pays"] == 142 and target_figures(10)["partenaires"] == 101060


def test_apportion_is_exact_and_respects_floor_and_caps():
    assert apportion(10, [1, 1, 1]) == [4, 3, 3]
    parts = apportion(100, [5, 1, 0.01], floor=1, caps=[50, 60, 2])
    assert sum(parts) == 100 and parts[0] <= 50 and parts[2] <= 2 and min(parts) >= 1


def test_french_elision_in_names():
    assert de("Angers") == "d'Angers" and de("Le Kef") == "du Kef" and de("Les Cayes") == "des Cayes"
    assert de("Ouagadougou") == "de Ouagadougou" and de("Yaoundé") == "de Yaoundé"
    assert fill("Commune de {}", "Oujda") == "Commune d'Oujda"
    assert fill("Ayuntamiento de {}", "Alicante") == "Ayuntamiento de Alicante"


def test_prefecture_names_and_region_seats_from_the_csv():
    assert prefecture_name("33", "Gironde") == "Préfecture de la Gironde"
    assert prefecture_name("59", "Nord") == "Préfecture du Nord"
    assert prefecture_name("01", "Ain") == "Préfecture de l'Ain"
    assert prefecture_name("35", "Ille-et-Vilaine") == "Préfecture d'Ille-et-Vilaine"
    assert departement_of_commune("2A004") == "2A" and departement_of_commune("97411") == "974"
    seats = region_seats(read_collectivites())
    assert seats["53"] == "35" and seats["94"] == "2A" and seats["04"] == "974" and seats["11"] == "75"


# --- the store, on both backends ------------------------------------------------------------------


def test_small_seed_on_each_backend(engine, fresh_store):
    """Scale 0.05: the scaled figures exactly, a coherent Atlas, the reference data, the same rows
    from the same seed and others from another, no second seeding. One test, because every store
    costs a full reference data load."""
    returned = seed_atlas(engine, scale=SMALL, seed=2012)
    expected = target_figures(SMALL)
    assert figures(engine) == expected
    assert {key: returned[key] for key in expected} == expected
    assert_coherent_atlas(engine, expected)
    assert_reference_data(engine)
    assert_same_rows_from_the_same_seed(engine, fresh_store)
    with pytest.raises(SeedError, match="already holds Atlas data"):
        seed_atlas(engine, scale=SMALL)
    assert figures(engine) == expected  # the refused seed left the store as it was


def test_seed_refuses_a_bad_scale(engine):
    with pytest.raises(SeedError, match="scale"):
        seed_atlas(engine, scale=0)
    with pytest.raises(SeedError, match="scale"):
        seed_atlas(engine, scale=11)


@pytest.mark.slow
def test_scale_one_gives_exactly_the_circulars_figures(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'atlas.sqlite'}")
    upgrade(engine)
    seed_atlas(engine)
    assert figures(engine) == {
        "collectivites": 4800, "partenaires": 10106, "pays": 142, "projets_cooperation": 12476, "projets_actions": 606,
    }
    # All 18 régions of metropolitan France and the DROM, and every city of 100,000 inhabitants or more.
    assert scalar(engine, "SELECT count(*) FROM collectivite WHERE in_atlas AND kind = 'region'") == 18
    assert scalar(engine, "SELECT count(*) FROM collectivite WHERE kind = 'commune' AND zone <> 'com' "
                          "AND population >= 100000 AND NOT in_atlas") == 0
    engine.dispose()


def test_records_read_as_rows_are_the_records_of_the_orm(seeded_sessions):
    """collectivite_records (rows, for campaigns) gives exactly record_data of the ORM objects."""
    from sqlalchemy import select

    from store.models import Collectivite
    from store.queries import _RECORD_OPTIONS, collectivite_records, record_data

    with seeded_sessions() as session:
        colls = session.scalars(select(Collectivite).where(Collectivite.in_atlas.is_(True))
                                .options(*_RECORD_OPTIONS)).all()
        expected = {coll.id: record_data(coll) for coll in colls}
        records = collectivite_records(session, list(expected))
    assert records == expected
    kinds = {(bool(r["contacts"]), bool(r["reseaux"]), bool(r["apd"]), bool(r["cooperations"]), bool(r["actions"]))
             for r in records.values()}
    assert (True, True, True, True, True) in kinds, "the seeded store has records with every part"
    assert any(p["themes"] for r in records.values() for c in r["cooperations"] for p in c["projects"])
    assert collectivite_records(session, []) == {}
