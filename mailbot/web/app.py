"""The console application: the guard every route goes through (who may open it, the CSRF token of
every POST), the security headers of every response, the routes of `routes.ROUTES`.

Views are plain functions `view(page: Page) -> Response`, run in a worker thread (they use the store
synchronously, like the CLI).
"""
from __future__ import annotations

from typing import Callable
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from mailbot.config import Config
from mailbot.web import accounts
from mailbot.web.page import HERE, MAX_FORM_BYTES, MAX_FORM_FIELDS, Console, Page, error_page
from mailbot.web.routes import ROUTES
from mailbot.web.security import FLASH_COOKIE, PRE_COOKIE, SECURITY_HEADERS, SESSION_COOKIE, new_token


def guarded(view: Callable[[Page], Response], access: str):
    """The endpoint of one route: session, access, CSRF on POST, then the view in a worker thread."""

    async def endpoint(request: Request) -> Response:
        console: Console = request.app.state.console
        form = None
        if request.method == "POST":
            form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS, max_part_size=MAX_FORM_BYTES)
        return await run_in_threadpool(_serve, console, request, form, view, access)

    return endpoint


def _serve(console: Console, request: Request, form, view, access: str) -> Response:
    signer = console.signer
    key = signer.unsign(request.cookies.get(SESSION_COOKIE), console.session_seconds)
    reviewer = accounts.session_reviewer(console.readers, key) if key else None
    page = Page(console, request, form, reviewer, "")
    if reviewer is None and key:
        page.cookies[SESSION_COOKIE] = None  # expired or signed out: forget it
        key = None
    pre = signer.unsign(request.cookies.get(PRE_COOKIE), 86400) if not key else None
    if not key and not pre:
        pre = new_token()
        page.cookies[PRE_COOKIE] = signer.sign(pre)
    page.csrf = signer.csrf(key or f"pre|{pre}")
    flash = signer.unsign(request.cookies.get(FLASH_COOKIE), 300)
    if flash:
        page.flash = flash
        page.cookies[FLASH_COOKIE] = None
    if access == "reviewer":
        refused = _refusal(page, reviewer)
        if refused is not None:
            return refused
    if request.method == "POST":
        sent = str(form.get("csrf") or "") or request.headers.get("x-csrf-token", "")
        if not signer.csrf_ok(key or f"pre|{pre}", sent):
            return error_page(page, 403, "Formulaire refusé",
                              "Ce formulaire n'est plus valable (jeton de sécurité absent ou périmé). "
                              "Rechargez la page et recommencez.")
    return view(page)


def _refusal(page: Page, reviewer) -> Response | None:
    if reviewer is None:
        if page.request.method == "GET":
            target = page.request.url.path + (f"?{page.request.url.query}" if page.request.url.query else "")
            return page.redirect(f"/connexion?suite={quote(target, safe='')}")
        return error_page(page, 403, "Connexion nécessaire",
                          "Votre session a expiré ou vous n'êtes pas connecté : connectez-vous à nouveau.")
    if not reviewer.active:
        return error_page(page, 403, "Compte désactivé",
                          "Votre compte de relecteur a été désactivé : adressez-vous à l'administrateur.")
    return None


class SecurityHeaders:
    """Pure ASGI middleware: the CSP and friends on every response, static files included."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.decode().lower() for k, _ in headers}  # a download sets a stricter CSP
                headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items() if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(config: Config, engine=None) -> Starlette:
    app = Starlette(routes=_routes())
    app.state.console = Console.create(config, engine)
    app.add_middleware(SecurityHeaders)
    return app


def _routes() -> list:
    routes = [Route(r.path, guarded(r.view, r.access), methods=[r.method], name=r.name) for r in ROUTES]
    return routes + [Mount("/static", StaticFiles(directory=HERE / "static"), name="static")]
