"""The console at HTTP level (Starlette's test client on the application, both backends): who may
open every route, CSRF, sign-in links and their rate limit, sessions that end, claims, escaping, the
security headers; and the pure helpers (word diff, filters)."""
from __future__ import annotations

import html
import threading
import re
from email import policy
from email.parser import BytesParser
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update
from starlette.testclient import TestClient

from mailbot.clock import utcnow
from mailbot.config import load_config
from mailbot.web import accounts, filters, present
from mailbot.web.app import create_app
from mailbot.web.page import safe_path
from mailbot.web.routes import ROUTES
from mailbot.web.security import CONTENT_SECURITY_POLICY, SESSION_COOKIE
from store import console_queries as q
from store.conversation_models import InboundAttachment, ReviewerReply
from store.inbound_models import InboundMessage
from store.models import ApdAmount
from store.review_models import AuditEntry, ChangeSet
from store.reviewer_models import ReviewerSession, SignInAttempt
from tests.review_support import REVIEWERS, collectivite_with, contact_snapshot, make_set, update as change_update
from tests.web_support import csrf_of, mailed, mailed_link, sign_in

CLAIRE, PAUL = "Claire Martin", "Paul Durand"


@pytest.fixture
def web(seeded_db_url, seeded_sessions, seeded_engine, sink):
    controller, _ = sink
    config = load_config(environ={"MAILBOT_DB": seeded_db_url, "MAILBOT_SMTP": f"smtp://127.0.0.1:{controller.port}",
                                  **REVIEWERS})
    accounts.add_reviewer(seeded_sessions, CLAIRE, "claire.martin@diplomatie.gouv.fr")
    accounts.add_reviewer(seeded_sessions, PAUL, "paul.durand@diplomatie.gouv.fr")
    app = create_app(config, seeded_engine)
    return config, seeded_sessions, app


def _client(app) -> TestClient:
    return TestClient(app, base_url="http://testserver", follow_redirects=False)


def _pending_set(sessions, *, title="Maire adjointe chargée des relations internationales", skip=frozenset()) -> int:
    with sessions.begin() as session:
        coll = collectivite_with(session, skip=set(skip))
        contact = contact_snapshot(session, coll.contacts[0].ref)
        return make_set(session, coll, [change_update("contact", contact, "title", title)])


def _path(route, set_id: int) -> str:
    return (route.path.replace("{set_id:int}", str(set_id)).replace("{change_id:int}", "1")
            .replace("{index:int}", "0").replace("{attachment_id:int}", "1").replace("{token}", "x" * 43))


# --- access control: every route of routes.ROUTES ------------------------------------------------------

def test_every_reviewer_route_refuses_a_visitor_signed_out(web):
    config, sessions, app = web
    set_id = _pending_set(sessions)
    client = _client(app)
    reviewer_routes = [r for r in ROUTES if r.access == "reviewer"]
    assert len(reviewer_routes) >= 14
    for route in reviewer_routes:
        page = client.get("/connexion")  # a visitor's own CSRF token: refused for lack of a session anyway
        response = client.request(route.method, _path(route, set_id),
                                  data={"csrf": csrf_of(page.text)} if route.method == "POST" else None)
        if route.method == "GET":
            assert response.status_code == 303, route.path
            assert response.headers["location"].startswith("/connexion?suite="), route.path
        else:
            assert response.status_code == 403, route.path
            assert "Connexion nécessaire" in response.text
    with sessions() as session:
        assert session.get(ChangeSet, set_id).status == "pending"
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 0


def test_every_reviewer_route_refuses_a_disabled_reviewer_at_once(web):
    config, sessions, app = web
    set_id = _pending_set(sessions)
    client = _client(app)
    sign_in(client, sessions, config, PAUL)
    queue = client.get("/")
    assert queue.status_code == 200 and "File de relecture" in queue.text
    token = csrf_of(queue.text)
    accounts.disable_reviewer(sessions, PAUL)  # while signed in
    for route in (r for r in ROUTES if r.access == "reviewer"):
        response = client.request(route.method, _path(route, set_id),
                                  data={"csrf": token, "raison": "x", "texte": "x"} if route.method == "POST" else None)
        assert response.status_code == 403, route.path
        assert "Compte désactivé" in response.text
    with sessions() as session:
        assert session.get(ChangeSet, set_id).status == "pending"
        assert session.scalar(select(func.count()).select_from(ReviewerReply)) == 0
    # and a disabled reviewer gets no new link either
    with pytest.raises(accounts.AccountError):
        accounts.printed_link(sessions, config, PAUL)


def test_public_routes_are_only_the_sign_in_pages():
    assert {r.path for r in ROUTES if r.access == "public"} == {"/connexion", "/connexion/lien/{token}"}


def test_a_post_without_its_csrf_token_is_refused(web):
    config, sessions, app = web
    set_id = _pending_set(sessions)
    client = _client(app)
    sign_in(client, sessions, config, CLAIRE)
    page = client.get(f"/ensembles/{set_id}")
    for data in ({}, {"csrf": "0" * 64}, {"csrf": csrf_of(page.text)[:-1] + "x"}):
        response = client.post(f"/ensembles/{set_id}/approuver", data={**data, "portee": "tout"})
        assert response.status_code == 403 and "Formulaire refusé" in response.text
    with sessions() as session:
        assert session.get(ChangeSet, set_id).status == "pending"
    # another reviewer's token does not work either: it is tied to the session
    other = _client(app)
    sign_in(other, sessions, config, PAUL)
    stolen = csrf_of(other.get("/").text)
    assert client.post(f"/ensembles/{set_id}/approuver", data={"csrf": stolen}).status_code == 403
    done = client.post(f"/ensembles/{set_id}/approuver", data={"csrf": csrf_of(page.text), "portee": "tout"})
    assert done.status_code == 303
    with sessions() as session:
        changeset = session.get(ChangeSet, set_id)
        assert changeset.status == "approved" and changeset.decided_by == CLAIRE
        assert session.scalars(select(AuditEntry.reviewer).where(AuditEntry.changeset_id == set_id)).all() == [CLAIRE]


# --- sign-in ---------------------------------------------------------------------------------------------

def test_a_sign_in_link_is_mailed_works_once_and_the_answer_never_tells_who_is_a_reviewer(web, sink):
    config, sessions, app = web
    _, handler = sink
    client = _client(app)
    form = client.get("/connexion")
    assert form.status_code == 200
    answer = client.post("/connexion", data={"csrf": csrf_of(form.text), "email": "Claire.Martin@diplomatie.gouv.fr"})
    stranger = client.post("/connexion", data={"csrf": csrf_of(form.text), "email": "mallory@example.org"})
    assert answer.status_code == stranger.status_code == 200
    assert "un lien de connexion vient de lui être envoyé" in answer.text and \
        "un lien de connexion vient de lui être envoyé" in stranger.text
    link = mailed_link(handler, "claire.martin@diplomatie.gouv.fr")
    assert link.startswith(config.web_base_url)
    assert not [m for m in handler.messages if "mallory@example.org" in m.rcpt_tos]
    path = link.split("8080", 1)[1]
    confirm = client.get(path)
    assert confirm.status_code == 200 and "Se connecter" in confirm.text
    signed = client.post(path, data={"csrf": csrf_of(confirm.text)})
    assert signed.status_code == 303
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax") and "Max-Age=" in cookie
    assert client.get("/").status_code == 200
    # spent: the same link signs nobody in again
    again = _client(app)
    assert again.get(path).status_code == 410
    assert again.post(path, data={"csrf": csrf_of(again.get("/connexion").text)}).status_code == 410


def test_sign_in_requests_are_rate_limited_per_address(web):
    config, sessions, app = web
    client = _client(app)
    token = csrf_of(client.get("/connexion").text)
    codes = [client.post("/connexion", data={"csrf": token, "email": "paul.durand@diplomatie.gouv.fr"}).status_code
             for _ in range(accounts.LIMIT_PER_ADDRESS + 2)]
    assert codes[:accounts.LIMIT_PER_ADDRESS] == [200] * accounts.LIMIT_PER_ADDRESS
    assert codes[accounts.LIMIT_PER_ADDRESS:] == [429, 429]
    # the window passes: allowed again
    with sessions.begin() as session:
        session.execute(update(SignInAttempt).values(at=utcnow() - accounts.LIMIT_WINDOW - timedelta(seconds=1)))
    assert client.post("/connexion", data={"csrf": token, "email": "paul.durand@diplomatie.gouv.fr"}).status_code == 200


def test_an_expired_link_and_an_expired_or_ended_session_sign_nobody_in(web):
    config, sessions, app = web
    client = _client(app)
    sign_in(client, sessions, config, CLAIRE)
    assert client.get("/").status_code == 200
    with sessions.begin() as session:
        session.execute(update(ReviewerSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    expired = client.get("/")
    assert expired.status_code == 303 and expired.headers["location"].startswith("/connexion")
    sign_in(client, sessions, config, CLAIRE)
    page = client.get("/")
    assert client.post("/deconnexion", data={"csrf": csrf_of(page.text)}).status_code == 303
    assert client.get("/").status_code == 303
    # a cookie copied before signing out is worth nothing after
    sign_in(client, sessions, config, CLAIRE)
    copied = client.cookies.get(SESSION_COOKIE)
    client.post("/deconnexion", data={"csrf": csrf_of(client.get("/").text)})
    thief = _client(app)
    thief.cookies.set(SESSION_COOKIE, copied)
    assert thief.get("/").status_code == 303
    # a forged cookie likewise
    thief.cookies.set(SESSION_COOKIE, "forged.value.sig")
    assert thief.get("/").status_code == 303


# --- pages -----------------------------------------------------------------------------------------------

def test_every_page_carries_a_strict_csp_and_agents_text_is_escaped(web):
    config, sessions, app = web
    set_id = _pending_set(sessions, title='<script>alert(1)</script><img src=x onerror="alert(2)">')
    client = _client(app)
    sign_in(client, sessions, config, CLAIRE)
    for path in ("/", f"/ensembles/{set_id}", "/lot?apercu=1", "/campagne", "/connexion", "/static/console.css"):
        response = client.get(path)
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, path
        assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY and "script-src 'self'" in CONTENT_SECURITY_POLICY
        assert response.headers["x-frame-options"] == "DENY"
    page = client.get(f"/ensembles/{set_id}").text
    assert "<script>alert(1)</script>" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert not re.search(r"<script(?![^>]*\bsrc=\"/static/)", page), "no inline script at all"
    assert client.get(f"/?q=alert").text.count(f'data-set="{set_id}"') == 1  # search by any value


def test_the_queue_filters_searches_sorts_counts_and_pages(web):
    config, sessions, app = web
    ids = [_pending_set(sessions, title=f"Titre numéro {n}") for n in range(3)]
    client = _client(app)
    sign_in(client, sessions, config, CLAIRE)
    page = client.get("/").text
    assert re.search(r'<p class="total" id="total"><strong>3</strong>', page)
    assert re.findall(r'data-set="(\d+)"', page) == [str(i) for i in ids]
    assert re.findall(r'data-set="(\d+)"', client.get("/?tri=recents").text) == [str(i) for i in reversed(ids)]
    assert re.findall(r'data-set="(\d+)"', client.get("/?q=num%C3%A9ro+1").text) == [str(ids[1])]
    assert 'data-set' not in client.get("/?erreurs=oui").text
    assert "Aucun ensemble" in client.get("/?statut=approved").text
    with sessions() as session:
        total = q.queue_total(session, q.QueueQuery(search="numéro"))
    assert total == 3


def test_two_reviewers_opening_a_set_one_holds_it_the_other_sees_who_and_can_take_it_over(web):
    config, sessions, app = web
    set_id = _pending_set(sessions)
    claire, paul = _client(app), _client(app)
    sign_in(claire, sessions, config, CLAIRE)
    sign_in(paul, sessions, config, PAUL)
    assert "En cours chez" not in claire.get(f"/ensembles/{set_id}").text
    seen = paul.get(f"/ensembles/{set_id}").text
    assert f"En cours chez {CLAIRE}" in seen
    refused = paul.post(f"/ensembles/{set_id}/approuver", data={"csrf": csrf_of(seen), "portee": "tout"})
    assert refused.status_code == 303
    assert "en cours chez Claire Martin" in paul.get(refused.headers["location"]).text
    with sessions() as session:
        assert session.get(ChangeSet, set_id).status == "pending"
    paul.post(f"/ensembles/{set_id}/prendre", data={"csrf": csrf_of(seen)})
    assert f"En cours chez {PAUL}" in claire.get(f"/ensembles/{set_id}").text
    with sessions() as session:
        assert q.claim_holder(session, set_id, utcnow())[0] == PAUL


def test_a_claim_is_taken_by_one_reviewer_only_and_lapses(seeded_sessions):
    sessions = seeded_sessions
    set_id = _pending_set(sessions)
    now = utcnow()
    with sessions.begin() as session:
        assert q.claim(session, set_id, CLAIRE, now, minutes=20) == CLAIRE
    with sessions.begin() as session:
        assert q.claim(session, set_id, PAUL, now, minutes=20) == CLAIRE
    with sessions.begin() as session:  # once lapsed, the next reviewer gets it
        assert q.claim(session, set_id, PAUL, now + timedelta(minutes=21), minutes=20) == PAUL


def test_attachments_and_the_message_download_never_render_in_the_browser(web):
    config, sessions, app = web
    set_id = _pending_set(sessions)
    raw = (b"From: agent@mairie.example.fr\r\nTo: atlas@cncd.example.fr\r\nSubject: Re: Atlas\r\n"
           b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n"
           b"Content-Type: text/html; charset=utf-8\r\n\r\n<p>Voir <b>PJ</b></p><script>x()</script>\r\n--B\r\n"
           b"Content-Type: text/html; name=\"../../evil.html\"\r\nContent-Disposition: attachment; "
           b"filename=\"../../evil.html\"\r\n\r\n<script>alert(1)</script>\r\n--B--\r\n")
    with sessions.begin() as session:
        inbound = session.get(ChangeSet, set_id).inbound_id
        session.get(InboundMessage, inbound).raw = raw
    client = _client(app)
    sign_in(client, sessions, config, CLAIRE)
    page = client.get(f"/ensembles/{set_id}").text
    assert "affiché ici comme texte" in page and "<b>PJ</b>" not in page and "evil.html" in page
    download = client.get(f"/ensembles/{set_id}/pieces/0")
    assert download.status_code == 200 and download.content == b"<script>alert(1)</script>"
    assert download.headers["content-type"] == "application/octet-stream"
    assert download.headers["content-disposition"].startswith('attachment; filename="evil.html"')
    assert "sandbox" in download.headers["content-security-policy"]
    assert client.get(f"/ensembles/{set_id}/pieces/1").status_code == 404
    assert client.get(f"/ensembles/{set_id}/message.eml").content == raw


# --- pure helpers ----------------------------------------------------------------------------------------

def test_word_diff_marks_only_the_words_that_changed():
    before, after = present.word_diff("Maire adjointe chargée des finances", "Maire adjointe chargée du budget")
    assert [s.text for s in before if s.changed] == ["des finances"]
    assert [s.text for s in after if s.changed] == ["du budget"]
    assert "".join(s.text for s in after) == "Maire adjointe chargée du budget"
    left, right = present.word_diff("", "Nouveau")
    assert left == [] and right == [present.Segment("Nouveau", True)]


def test_filters_read_back_what_they_write():
    query = filters.parse({"statut": "tous", "region": "53", "erreurs": "non", "q": " Rennes ", "tri": "recents",
                           "page": "3", "concurrents": "oui", "type": "commune", "nature": "message", "pieces": "oui"})
    assert query.where.status is None and query.where.region == "53" and query.where.with_errors is False
    assert query.search == "Rennes" and query.sort == "recents" and query.page == 3 and query.where.competing is True
    assert query.where.set_kind == "message" and query.attachments is True
    assert filters.parse(filters.to_params(query)) == query
    assert filters.parse({"statut": "'; drop", "tri": "x", "page": "-1", "type": "ville"}) == filters.parse({})


def test_approve_some_and_reject_some_of_a_set(web, sink):
    config, sessions, app = web
    with sessions.begin() as session:
        coll = collectivite_with(session, contacts=2)
        first, second = (contact_snapshot(session, c.ref) for c in coll.contacts[:2])
        set_id = make_set(session, coll, [change_update("contact", first, "title", "Conseillère déléguée"),
                                          change_update("contact", second, "title", "Chef de projet")])
        ids = [c.id for c in session.get(ChangeSet, set_id).changes]
    client = _client(app)
    sign_in(client, sessions, config, CLAIRE)
    token = csrf_of(client.get(f"/ensembles/{set_id}").text)
    none = client.post(f"/ensembles/{set_id}/approuver", data={"csrf": token, "portee": "selection"})
    assert "Cochez au moins une modification" in client.get(none.headers["location"]).text
    client.post(f"/ensembles/{set_id}/approuver", data={"csrf": token, "portee": "selection", "changement": [ids[0]]})
    with sessions() as session:
        assert [c.status for c in session.get(ChangeSet, set_id).changes] == ["applied", "pending"]
    no_reason = client.post(f"/ensembles/{set_id}/rejeter", data={"csrf": token, "portee": "tout", "raison": " "})
    assert "Donnez la raison du rejet" in client.get(no_reason.headers["location"]).text
    client.post(f"/ensembles/{set_id}/rejeter",
                data={"csrf": token, "portee": "selection", "changement": [ids[1]], "raison": "Intitulé inexact"})
    with sessions() as session:
        changeset = session.get(ChangeSet, set_id)
        assert changeset.status == "partial" and [c.status for c in changeset.changes] == ["applied", "rejected"]
        assert changeset.changes[1].reason == "Intitulé inexact" and changeset.changes[1].decided_by == CLAIRE
    stranger = client.post(f"/ensembles/{set_id}/corriger/{ids[0] + 1000}", data={"csrf": token, "valeur": "x"})
    assert "n'appartient pas à l'ensemble" in html.unescape(client.get(stranger.headers["location"]).text)


def test_a_next_page_parameter_never_leaves_the_console():
    assert safe_path("/ensembles/3?statut=tous") == "/ensembles/3?statut=tous"
    for hostile in ("https://evil.example/", "//evil.example/", "/\\evil.example/", "evil", "javascript:alert(1)", ""):
        assert safe_path(hostile) == "/", hostile


# --- plausibility warnings (the review core's rules) ----------------------------------------------------

def _apd_divided_by_100(session) -> int:
    """A trusted, error-free set dividing one of a collectivité's APD amounts by a hundred."""
    coll = collectivite_with(session)
    row = session.scalar(select(ApdAmount).where(ApdAmount.collectivite_id == coll.id, ApdAmount.amount > 1000).limit(1))
    if row is None:
        row = ApdAmount(ref="AP-TESTWEB1", collectivite_id=coll.id, year=2010, amount=Decimal("150000"))
        session.add(row)
        session.flush()
    seen = {"ref": row.ref, "version": row.version, "amount": str(row.amount)}
    return make_set(session, coll, [change_update("apd", seen, "amount", str((row.amount / 100).quantize(Decimal("0.01"))))])


def _preview_ids(text: str) -> set[int]:
    """The sets the bulk preview would approve (its table), not those it lists as warned or claimed."""
    table = text.split('id="confirmer-lot"', 1)[1].split('id="avec-avertissements"', 1)[0] if "confirmer-lot" in text else ""
    return {int(n) for n in re.findall(r'href="/ensembles/(\d+)"', table)}


def test_a_warned_set_shows_its_warning_and_the_bulk_preview_leaves_it_out_unless_asked(web):
    config, sessions, app = web
    with sessions.begin() as session:
        divided = _apd_divided_by_100(session)
    plain = _pending_set(sessions)
    client = _client(app)
    sign_in(client, sessions, config, CLAIRE)
    page = html.unescape(client.get(f"/ensembles/{divided}").text)
    warnings = page.split('id="avertissements"', 1)[1].split("</section>", 1)[0]
    assert "<h2>Avertissements</h2>" in warnings and "est divisé par 100" in warnings
    assert "Avertissements</h2>" not in html.unescape(client.get(f"/ensembles/{plain}").text)

    left_out = client.get("/lot?apercu=1")
    assert plain in _preview_ids(left_out.text) and divided not in _preview_ids(left_out.text)
    warned_part = html.unescape(left_out.text.split('id="avec-avertissements"', 1)[1])
    assert f"n° {divided}" in warned_part and "divisé par 100" in warned_part and "Écartés" in warned_part
    taken = client.get("/lot?apercu=1&avertissements=inclure")
    assert {plain, divided} <= _preview_ids(taken.text)

    # confirming the preview without the box approves the plain set only; with it, the warned one too
    fingerprint = re.search(r'name="empreinte" value="([^"]+)"', left_out.text).group(1)
    client.post("/lot", data={"csrf": csrf_of(left_out.text), "empreinte": fingerprint})
    with sessions() as session:
        assert session.get(ChangeSet, plain).status == "approved"
        assert session.get(ChangeSet, divided).status == "pending"
    again = client.get("/lot?apercu=1&avertissements=inclure")
    fingerprint = re.search(r'name="empreinte" value="([^"]+)"', again.text).group(1)
    client.post("/lot", data={"csrf": csrf_of(again.text), "empreinte": fingerprint, "avertissements": "inclure"})
    with sessions() as session:
        assert session.get(ChangeSet, divided).status == "approved"


# --- the conversation: the collectivité's thread, answering the agent, its files -------------------------

def _set_with_files(sessions) -> tuple[int, list[int], str, str]:
    """A set whose message (tied to its collectivité) says something hostile and carries two files, one
    of them dangerous: (set id, attachment ids, the agent's address, the message's Message-ID)."""
    with sessions.begin() as session:
        coll = collectivite_with(session)
        contact = contact_snapshot(session, coll.contacts[0].ref)
        set_id = make_set(session, coll, [change_update("contact", contact, "title", "Chargée de mission")],
                          note="<script>alert(1)</script> Voir la délibération jointe.")
        changeset = session.get(ChangeSet, set_id)
        inbound = session.get(InboundMessage, changeset.inbound_id)
        inbound.collectivite_id = coll.id
        files = [InboundAttachment(inbound_id=inbound.id, position=1, filename="délibération 2011.pdf",
                                   content_type="application/pdf", detected_type="application/pdf", category="document",
                                   size=9, sha256="1" * 64, data=b"%PDF-1.4\n", dangerous=False),
                 InboundAttachment(inbound_id=inbound.id, position=2, filename="../../<b>payload</b>.exe",
                                   content_type="application/octet-stream", category="executable", size=2,
                                   sha256="2" * 64, data=b"MZ", dangerous=True, danger="programme exécutable")]
        session.add_all(files)
        session.flush()
        return set_id, [f.id for f in files], changeset.sender, inbound.message_id


def test_a_sets_page_shows_the_conversation_and_its_files_download_as_attachments_only(web):
    config, sessions, app = web
    set_id, (pdf, exe), sender, _ = _set_with_files(sessions)
    with sessions() as session:
        own = session.get(ChangeSet, set_id).collectivite_id
    other = _pending_set(sessions, skip={own})
    client = _client(app)
    sign_in(client, sessions, config, CLAIRE)
    page = client.get(f"/ensembles/{set_id}").text
    thread = page.split('id="conversation"', 1)[1].split("</section>", 1)[0]
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Voir la délibération jointe." in thread and "<script>" not in page
    assert f"/ensembles/{set_id}/fichiers/{exe}" in thread and "pièce jointe dangereuse" in thread
    assert "&lt;b&gt;payload&lt;/b&gt;" in page and "<b>payload" not in page
    files = page.split('id="pieces-jointes"', 1)[1].split("</ul>", 1)[0]
    assert "Dangereuse : programme exécutable" in files and "délibération 2011.pdf" in files
    document = client.get(f"/ensembles/{set_id}/fichiers/{pdf}")
    assert document.status_code == 200 and document.content == b"%PDF-1.4\n"
    assert document.headers["content-type"] == "application/octet-stream"
    assert document.headers["content-disposition"].startswith(f'attachment; filename="{pdf}-d_lib_ration 2011.pdf"')
    program = client.get(f"/ensembles/{set_id}/fichiers/{exe}")
    disposition = program.headers["content-disposition"]
    assert program.content == b"MZ" and disposition.startswith("attachment; ") and "sandbox" in program.headers["content-security-policy"]
    assert ".exe.dangereux" in disposition and "/" not in disposition.split("filename=", 1)[1] and "<" not in disposition
    # a file of another collectivité's message is not reachable through this set
    assert client.get(f"/ensembles/{other}/fichiers/{pdf}").status_code == 404
    assert client.get(f"/ensembles/{set_id}/fichiers/{exe + 1000}").status_code == 404


def test_a_reviewer_answers_the_agent_in_its_thread_signed_with_their_name(web, sink):
    config, sessions, app = web
    _, handler = sink
    set_id, _, sender, message_id = _set_with_files(sessions)
    client = _client(app)
    sign_in(client, sessions, config, CLAIRE)
    token = csrf_of(client.get(f"/ensembles/{set_id}").text)
    empty = client.post(f"/ensembles/{set_id}/repondre", data={"csrf": token, "texte": "  "})
    assert "Écrivez votre réponse" in html.unescape(client.get(empty.headers["location"]).text)
    assert client.post(f"/ensembles/{set_id}/repondre", data={"texte": "Bonjour"}).status_code == 403  # no CSRF token
    sent = client.post(f"/ensembles/{set_id}/repondre",
                       data={"csrf": token, "texte": "Bonjour,\nle montant <b>2011</b> est-il exact ?"})
    assert sent.status_code == 303 and sent.headers["location"].endswith("#conversation")
    page = client.get(sent.headers["location"]).text
    assert f"Votre réponse à {sender} est partie dans le fil de son message" in html.unescape(page)
    thread = page.split('id="conversation"', 1)[1].split("</section>", 1)[0]
    assert "par Claire Martin" in thread and "le montant &lt;b&gt;2011&lt;/b&gt; est-il exact ?" in thread
    with sessions() as session:
        reply = session.scalar(select(ReviewerReply).where(ReviewerReply.changeset_id == set_id))
        assert reply.reviewer == CLAIRE and reply.text == "Bonjour,\nle montant <b>2011</b> est-il exact ?"
    [mail] = mailed(handler, sender)
    parsed = BytesParser(policy=policy.default).parsebytes(mail.content)
    assert parsed["In-Reply-To"] == message_id and message_id in parsed["References"]
    assert "le montant <b>2011</b> est-il exact ?" in parsed.get_body(("plain",)).get_content()


# --- SQLite: the console's pages never wait for a writer (#16, point 2) ------------------------------------------

def test_pages_are_served_while_a_writer_holds_the_store(web, seeded_engine):
    """A worker's write transaction (BEGIN IMMEDIATE on SQLite, a row lock on PostgreSQL) must not
    hold up a reviewer reading the queue, the progress page or the bulk page: the busy timeout is 30 s,
    a page that waits for the writer is still waiting when the writer lets go."""
    config, sessions, app = web
    _pending_set(sessions)
    client = _client(app)
    sign_in(client, sessions, config, CLAIRE)
    served: dict[str, int] = {}

    def read_pages():
        for path in ("/", "/campagne", "/lot?apercu=1"):
            served[path] = client.get(path).status_code

    with seeded_engine.connect() as writer:
        writer.begin()
        writer.execute(update(ChangeSet).values(note=ChangeSet.note))  # holds the write lock (SQLite)
        reader = threading.Thread(target=read_pages)
        reader.start()
        reader.join(10)
        finished = not reader.is_alive()
        writer.rollback()
    reader.join()
    assert finished, f"pages waited for the writer (served: {served})"
    assert served["/"] == 200 and served["/lot?apercu=1"] == 200 and served["/campagne"] in (200, 404)
