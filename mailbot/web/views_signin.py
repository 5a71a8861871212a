"""Signing in and out: ask for a link by address, open the mailed link, confirm, sign out.

Opening a link only shows a button: the sign-in happens on its POST, so a mail scanner that
follows links does not spend the reviewer's link."""
from __future__ import annotations

from starlette.background import BackgroundTask
from starlette.responses import Response

from mailbot.web import accounts
from mailbot.web.page import Page, safe_path
from mailbot.web.security import SESSION_COOKIE


def signin_form(page: Page) -> Response:
    if page.reviewer is not None and page.reviewer.active:
        return page.redirect(safe_path(page.param("suite", "/")))
    return page.render("signin.html", suite=safe_path(page.param("suite", "/")), sent=False)


def signin_request(page: Page) -> Response:
    console = page.console
    email = page.param("email").strip()
    client = page.request.client.host if page.request.client else "?"
    allowed, outbound_id = accounts.request_link(console.sessions, console.engine, console.config, email, client)
    if not allowed:
        return page.render("signin.html", status=429, suite="/", sent=False,
                           error="Trop de demandes de connexion : réessayez dans un quart d'heure.")
    response = page.render("signin.html", suite="/", sent=True, email=email)
    if outbound_id is not None:
        response.background = BackgroundTask(accounts.deliver, console.engine, console.config, [outbound_id])
    return response


def link_page(page: Page) -> Response:
    token = page.request.path_params["token"]
    usable = accounts.link_usable(page.console.readers, token)
    return page.render("signin_link.html", status=200 if usable else 410, usable=usable, token=token,
                       suite=safe_path(page.param("suite", "/")))


def link_use(page: Page) -> Response:
    signed = accounts.sign_in(page.console.sessions, page.console.config, page.request.path_params["token"])
    if signed is None:
        return page.render("signin_link.html", status=410, usable=False, token="", suite="/")
    reviewer, key = signed
    page.cookies[SESSION_COOKIE] = page.console.signer.sign(key)
    return page.redirect(safe_path(page.param("suite", "/")), f"Bonjour {reviewer.name}, vous êtes connecté.")


def signout(page: Page) -> Response:
    key = page.console.signer.unsign(page.request.cookies.get(SESSION_COOKIE), page.console.session_seconds)
    if key:
        accounts.sign_out(page.console.sessions, key)
    page.cookies[SESSION_COOKIE] = None
    return page.redirect("/connexion", "Vous êtes déconnecté.")
