"""The console in a real headless Chromium (Debian's chromium + chromium-driver, driven by Selenium):
every story of the issue's « Done when », against a seeded SQLite store and a console served by
uvicorn. Skipped without a browser, except in CI (CI=true), where that is a failure."""
from __future__ import annotations

import shutil
from email import policy
from email.parser import BytesParser

import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import make_url

from mailbot.config import load_config
from mailbot.web import accounts
from store.db import make_engine, session_factory
from store.inbound_models import InboundMessage
from store.models import Contact
from store.review_models import AuditEntry, Change, ChangeSet
from store.reviewer_models import ReviewerSession
from tests.review_support import REVIEWERS, collectivite_with, contact_snapshot, make_set, update as change
from tests.web_support import console, mailed, mailed_link, new_driver, require_browser, text_of

CLAIRE = ("Claire Martin", "claire.martin@diplomatie.gouv.fr")
PAUL = ("Paul Durand", "paul.durand@diplomatie.gouv.fr")
WAIT = 15


@pytest.fixture
def store(store_template, tmp_path, sink):
    require_browser()
    target = tmp_path / "atlas.sqlite"
    shutil.copy(make_url(store_template("sqlite", seeded=True)).database, target)
    url = f"sqlite:///{target}"
    controller, handler = sink
    config = load_config(environ={"MAILBOT_DB": url, "MAILBOT_SMTP": f"smtp://127.0.0.1:{controller.port}",
                                  "MAILBOT_WEB_URL": "http://placeholder", **REVIEWERS})
    engine = make_engine(url)
    sessions = session_factory(engine)
    for name, email in (CLAIRE, PAUL):
        accounts.add_reviewer(sessions, name, email)
    with console(config, engine) as base:
        yield base, config, sessions, handler
    engine.dispose()


@pytest.fixture
def browsers():
    opened = []

    def open_one():
        driver = new_driver()
        opened.append(driver)
        return driver

    yield open_one
    for driver in opened:
        driver.quit()


# --- helpers ---------------------------------------------------------------------------------------------

def wait(driver, condition, seconds=WAIT):
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    # a page being replaced by the next one (element gone, stale, detached): look again until the timeout
    ignored = (WebDriverException,)
    return WebDriverWait(driver, seconds, ignored_exceptions=ignored).until(condition)


def by_id(driver, element_id):
    from selenium.webdriver.common.by import By

    return wait(driver, lambda d: d.find_element(By.ID, element_id))


def page_has(driver, text):
    wait(driver, lambda d: text in d.find_element("tag name", "body").text)


def press(driver, keys):
    from selenium.webdriver.common.action_chains import ActionChains

    for key in keys:
        ActionChains(driver).send_keys(key).perform()


def sign_in(driver, base, handler, who) -> None:
    """Through the form and the mailed link, as a reviewer does."""
    name, email = who
    before = len([m for m in handler.messages if email in m.rcpt_tos])
    driver.get(base + "/")
    wait(driver, lambda d: "/connexion" in d.current_url)
    by_id(driver, "email").send_keys(email)
    driver.find_element("css selector", "form.formulaire button[type=submit]").click()
    by_id(driver, "lien-envoye")
    link = mailed_link(handler, email, after=before)
    driver.get(base + "/connexion/lien/" + link.rsplit("/", 1)[1])
    by_id(driver, "se-connecter").click()
    page_has(driver, f"Bonjour {name}, vous êtes connecté.")


def pending_set(sessions, changes_of, *, skip=(), trusted=True, sender=None) -> int:
    """A pending set on a collectivité not used yet; `changes_of(contact snapshot)` gives its changes."""
    with sessions.begin() as session:
        used = set(session.scalars(select(ChangeSet.collectivite_id)))
        coll = collectivite_with(session, skip=used | set(skip))
        contact = contact_snapshot(session, coll.contacts[0].ref)
        return make_set(session, coll, changes_of(contact), trusted=trusted, sender=sender)


def state(sessions, set_id) -> str:
    with sessions() as session:
        return session.get(ChangeSet, set_id).status


def no_script_ran(driver) -> None:
    """Nothing the agent wrote ran, and the page itself broke no rule of its CSP (no inline script)."""
    assert driver.execute_script("return window.pwned === undefined")
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == [], errors


# --- stories ---------------------------------------------------------------------------------------------

def test_sign_in_by_mailed_link_then_sign_out_and_an_expired_session(store, browsers):
    base, config, sessions, handler = store
    driver = browsers()
    sign_in(driver, base, handler, CLAIRE)
    assert driver.find_element("css selector", ".qui").text == CLAIRE[0]
    cookie = driver.get_cookie("atlas_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    by_id(driver, "deconnexion").click()
    page_has(driver, "Vous êtes déconnecté.")
    driver.get(base + "/campagne")
    wait(driver, lambda d: "/connexion" in d.current_url)
    # signed in again, the session expires: the next page asks to sign in
    sign_in(driver, base, handler, CLAIRE)
    with sessions.begin() as session:
        session.execute(update(ReviewerSession).values(expires_at=ReviewerSession.created_at))
    driver.get(base + "/")
    wait(driver, lambda d: "/connexion" in d.current_url)
    by_id(driver, "email")


def test_walk_the_queue_and_approve_with_the_keyboard(store, browsers):
    base, config, sessions, handler = store
    ids = [pending_set(sessions, lambda c, n=n: [change("contact", c, "title", f"Chargée de mission n° {n}")])
           for n in range(3)]
    driver = browsers()
    sign_in(driver, base, handler, CLAIRE)
    driver.get(base + "/")
    wait(driver, lambda d: d.find_element("css selector", "tr.choisie").get_attribute("data-set") == str(ids[0]))
    press(driver, "jjk")
    wait(driver, lambda d: d.find_element("css selector", "tr.choisie").get_attribute("data-set") == str(ids[1]))
    press(driver, "a")  # approve the chosen row in place
    wait(driver, lambda d: "appliquée" in d.find_element("id", f"ligne-{ids[1]}").text)
    assert state(sessions, ids[1]) == "approved"
    assert state(sessions, ids[0]) == state(sessions, ids[2]) == "pending"
    with sessions() as session:
        assert session.scalars(select(AuditEntry.reviewer).where(AuditEntry.changeset_id == ids[1])).all() == [CLAIRE[0]]
    # o opens the chosen set, n goes to the next one, a approves it whole
    wait(driver, lambda d: d.find_element("css selector", "tr.choisie").get_attribute("data-set") == str(ids[2]))
    press(driver, "kko")
    wait(driver, lambda d: f"/ensembles/{ids[0]}" in d.current_url)
    press(driver, "n")
    wait(driver, lambda d: f"/ensembles/{ids[2]}" in d.current_url)
    press(driver, "a")
    page_has(driver, f"Ensemble n° {ids[2]} : 1 appliquée(s)")
    assert state(sessions, ids[2]) == "approved"


def test_reject_with_a_reason_and_the_agent_is_told(store, browsers):
    base, config, sessions, handler = store
    set_id = pending_set(sessions, lambda c: [change("contact", c, "title", "Chef de cabinet")],
                         sender="agent.refus@mairie.example.fr")
    driver = browsers()
    sign_in(driver, base, handler, CLAIRE)
    driver.get(base + f"/ensembles/{set_id}")
    by_id(driver, "approuver-tout")
    press(driver, "r")
    wait(driver, lambda d: d.switch_to.active_element.get_attribute("id") == "raison")
    driver.switch_to.active_element.send_keys("Le titre doit être celui de l'arrêté de nomination")
    by_id(driver, "rejeter-tout").click()
    page_has(driver, "1 rejetée(s)")
    assert state(sessions, set_id) == "rejected"
    notice = text_of(mailed(handler, "agent.refus@mairie.example.fr")[-1].content)
    assert "Le titre doit être celui de l'arrêté de nomination" in notice


def test_edit_a_value_the_rules_check_then_approve(store, browsers):
    base, config, sessions, handler = store
    set_id = pending_set(sessions, lambda c: [change("contact", c, "email", "jean.dupont@@mairie",
                                                     errors=[{"field": "email", "code": "email",
                                                              "message": "adresse invalide"}])])
    driver = browsers()
    sign_in(driver, base, handler, CLAIRE)
    driver.get(base + f"/ensembles/{set_id}")
    by_id(driver, "approuver-tout").click()  # refused while the error stands
    page_has(driver, "a une erreur")
    assert state(sessions, set_id) == "pending"
    press(driver, "e")
    field = wait(driver, lambda d: d.switch_to.active_element if
                 "valeur-corrigee" in (d.switch_to.active_element.get_attribute("class") or "") else None)
    field.clear()
    field.send_keys("pas une adresse")
    field.submit()
    page_has(driver, "« pas une adresse » est refusé")  # the rules refuse this one: the value stays as it was
    press(driver, "e")
    field = wait(driver, lambda d: d.switch_to.active_element if
                 "valeur-corrigee" in (d.switch_to.active_element.get_attribute("class") or "") else None)
    field.clear()
    field.send_keys("jean.dupont@mairie.example.fr")
    field.submit()
    page_has(driver, "les règles l'acceptent")
    by_id(driver, "approuver-tout").click()
    page_has(driver, "1 appliquée(s)")
    with sessions() as session:
        edited = session.scalar(select(Change).where(Change.changeset_id == set_id))
        assert edited.status == "applied" and edited.edited_by == CLAIRE[0] and edited.asked == "jean.dupont@@mairie"
        assert session.scalar(select(Contact.email).where(Contact.ref == edited.ref)) == "jean.dupont@mairie.example.fr"


def test_resolve_a_conflict_both_ways(store, browsers):
    base, config, sessions, handler = store
    ids = [pending_set(sessions, lambda c, n=n: [change("contact", c, "title", f"Titre demandé {n}")])
           for n in range(2)]
    with sessions.begin() as session:  # someone changed both records since the agents saw them
        for set_id in ids:
            ref = session.scalar(select(Change.ref).where(Change.changeset_id == set_id))
            session.scalar(select(Contact).where(Contact.ref == ref)).title = "Titre changé entre-temps"
    driver = browsers()
    sign_in(driver, base, handler, CLAIRE)
    outcomes = {}
    for set_id, button in zip(ids, ("prendre-demande", "garder-actuel")):
        driver.get(base + f"/ensembles/{set_id}")
        by_id(driver, "approuver-tout").click()
        page_has(driver, "1 en conflit à trancher")
        conflict = driver.find_element("css selector", ".conflit").text
        assert all(title in conflict.lower() for title in ("vu par l'agent", "dans l'atlas maintenant", "demandé"))
        assert "Titre changé entre-temps" in conflict and f"Titre demandé" in conflict
        driver.find_element("css selector", f"[id^={button}-]").click()
        page_has(driver, "approuvé" if button == "prendre-demande" else "rejeté")
        with sessions() as session:
            ref = session.scalar(select(Change.ref).where(Change.changeset_id == set_id))
            outcomes[button] = session.scalar(select(Contact.title).where(Contact.ref == ref))
    assert outcomes == {"prendre-demande": "Titre demandé 0", "garder-actuel": "Titre changé entre-temps"}
    assert state(sessions, ids[0]) == "approved" and state(sessions, ids[1]) == "rejected"


def test_two_browser_sessions_claim_the_same_set(store, browsers):
    base, config, sessions, handler = store
    set_id = pending_set(sessions, lambda c: [change("contact", c, "title", "Directrice des relations internationales")])
    claire, paul = browsers(), browsers()
    sign_in(claire, base, handler, CLAIRE)
    sign_in(paul, base, handler, PAUL)
    claire.get(base + f"/ensembles/{set_id}")
    by_id(claire, "approuver-tout")
    paul.get(base + "/")
    page_has(paul, "en cours chez Claire Martin")
    paul.get(base + f"/ensembles/{set_id}")
    assert "En cours chez Claire Martin" in by_id(paul, "en-cours").text
    by_id(paul, "approuver-tout").click()  # refused: Claire holds it
    page_has(paul, "est en cours chez Claire Martin : prenez la main")
    assert state(sessions, set_id) == "pending"
    by_id(paul, "prendre-la-main").click()
    page_has(paul, "Vous avez pris la main")
    by_id(claire, "approuver-tout").click()  # Claire's page is stale: the store says Paul holds it now
    page_has(claire, "est en cours chez Paul Durand")
    by_id(paul, "approuver-tout").click()
    page_has(paul, "1 appliquée(s)")
    assert state(sessions, set_id) == "approved"
    with sessions() as session:
        assert session.get(ChangeSet, set_id).decided_by == PAUL[0]


def test_bulk_preview_then_confirm(store, browsers):
    base, config, sessions, handler = store
    clean = [pending_set(sessions, lambda c, n=n: [change("contact", c, "title", f"Conseiller n° {n}")])
             for n in range(3)]
    erroneous = pending_set(sessions, lambda c: [change("contact", c, "email", "x@", errors=[
        {"field": "email", "code": "email", "message": "adresse invalide"}])])
    stranger = pending_set(sessions, lambda c: [change("contact", c, "title", "Maire")], trusted=False,
                           sender="inconnu@example.org")
    driver = browsers()
    sign_in(driver, base, handler, CLAIRE)
    driver.find_element("link text", "Approbation groupée").click()
    by_id(driver, "voir-apercu").click()
    assert by_id(driver, "apercu-nombre").text == "3"
    listed = {int(a.text) for a in driver.find_elements("css selector", "#apercu td.num a")}
    assert listed == set(clean)
    by_id(driver, "confirmer").click()
    page_has(driver, "Approbation groupée : 3 ensemble(s) traité(s), 3 modification(s) appliquée(s)")
    assert [state(sessions, i) for i in clean] == ["approved"] * 3
    assert state(sessions, erroneous) == state(sessions, stranger) == "pending"


def test_a_stale_bulk_preview_applies_nothing(store, browsers):
    base, config, sessions, handler = store
    first = pending_set(sessions, lambda c: [change("contact", c, "title", "Conseiller")])
    driver = browsers()
    sign_in(driver, base, handler, CLAIRE)
    driver.get(base + "/lot?apercu=1")
    assert by_id(driver, "apercu-nombre").text == "1"
    late = pending_set(sessions, lambda c: [change("contact", c, "title", "Conseillère")])  # arrives meanwhile
    by_id(driver, "confirmer").click()
    by_id(driver, "apercu-perime")
    assert state(sessions, first) == state(sessions, late) == "pending"
    by_id(driver, "confirmer").click()
    page_has(driver, "2 ensemble(s) traité(s)")


def test_an_agents_script_and_img_onerror_are_shown_as_text_and_never_run(store, browsers):
    base, config, sessions, handler = store
    script = "<script>window.pwned = 1</script>"
    image = '<img src=x onerror="window.pwned = 2">'
    set_id = pending_set(sessions, lambda c: [change("contact", c, "title", script),
                                              change("contact", c, "last_name", image)])
    with sessions.begin() as session:
        session.get(ChangeSet, set_id).note = f"Bonjour {image} {script}"
    driver = browsers()
    sign_in(driver, base, handler, CLAIRE)
    driver.get(base + f"/?q=pwned")
    page_has(driver, "1 ensemble")
    driver.get(base + f"/ensembles/{set_id}")
    page_has(driver, script)
    page_has(driver, image)
    assert not driver.find_elements("css selector", "main img, main script")
    no_script_ran(driver)


def test_a_form_without_its_csrf_token_is_refused(store, browsers):
    base, config, sessions, handler = store
    set_id = pending_set(sessions, lambda c: [change("contact", c, "title", "Maire")])
    driver = browsers()
    sign_in(driver, base, handler, CLAIRE)
    driver.get(base + f"/ensembles/{set_id}")
    by_id(driver, "approuver-tout")
    driver.execute_script("document.querySelector('#decision input[name=csrf]').remove()")
    by_id(driver, "approuver-tout").click()
    page_has(driver, "Formulaire refusé")
    assert state(sessions, set_id) == "pending"


def test_a_reviewer_answers_the_agent_and_the_answer_is_threaded_on_the_agents_message(store, browsers):
    base, config, sessions, handler = store
    agent = "agent.question@mairie.example.fr"
    set_id = pending_set(sessions, lambda c: [change("contact", c, "title", "Chargé de coopération")], sender=agent)
    with sessions() as session:
        agents_message = session.get(InboundMessage, session.get(ChangeSet, set_id).inbound_id).message_id
    driver = browsers()
    sign_in(driver, base, handler, PAUL)
    driver.get(base + f"/ensembles/{set_id}")
    by_id(driver, "texte-reponse").send_keys("Bonjour,\nle titre est-il celui de l'arrêté ? <img src=x onerror=pwned=1>")
    by_id(driver, "envoyer-reponse").click()
    page_has(driver, f"Votre réponse à {agent} est partie dans le fil de son message")
    thread = by_id(driver, "conversation").text
    assert "par Paul Durand" in thread and "<img src=x onerror=pwned=1>" in thread
    no_script_ran(driver)
    answer = mailed(handler, agent)[-1]
    parsed = BytesParser(policy=policy.default).parsebytes(answer.content)
    assert parsed["In-Reply-To"] == agents_message and agents_message in parsed["References"]
    assert "le titre est-il celui de l'arrêté ?" in parsed.get_body(("plain",)).get_content()
    assert "Paul Durand" in parsed.get_body(("plain",)).get_content()
