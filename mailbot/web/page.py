"""One request as a view sees it (`Page`), and what every view needs (`Console`): settings, the store,
the signer, the templates (autoescaped: nothing an agent wrote becomes HTML)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from mailbot.config import Config
from mailbot.web import accounts, present
from mailbot.web.decisions import LabelCache
from mailbot.web.security import FLASH_COOKIE, SESSION_COOKIE, Signer
from store.console_queries import refresh_statistics
from store.db import make_engine, read_sessions, session_factory
from store.models import Collectivite

HERE = Path(__file__).parent
MAX_FORM_FIELDS = 2000  # a set's page posts one checkbox per change; nothing legitimate posts more
MAX_FORM_BYTES = 1_000_000


@dataclass
class Console:
    """What every view needs: settings, the store, the signer, the templates."""

    config: Config
    engine: object
    sessions: object  # for decisions and claims
    readers: object  # for pages: on SQLite their transactions never take the write lock (store.db)
    signer: Signer
    templates: Environment
    claim_minutes: int = 20
    labels: LabelCache = field(default_factory=LabelCache)
    _territories: tuple | None = None

    @classmethod
    def create(cls, config: Config, engine=None) -> Console:
        engine = engine or make_engine(config.db)
        refresh_statistics(engine)
        env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True),
                          trim_blocks=True, lstrip_blocks=True)
        env.globals.update(p=present)
        env.filters["when"] = present.when
        env.filters["count"] = present.count
        return cls(config, engine, session_factory(engine), read_sessions(engine), Signer(config.secret), env)

    def territories(self, session) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """(code, name) of the régions and of the départements, for the filters (fixed data: read once)."""
        if self._territories is None:
            rows = session.execute(select(Collectivite.kind, Collectivite.region, Collectivite.departement,
                                          Collectivite.name).where(Collectivite.kind.in_(("region", "departement"))))
            rows = rows.all()
            self._territories = (
                sorted({(r.region, r.name) for r in rows if r.kind == "region" and r.region}, key=lambda t: t[1]),
                sorted({(r.departement, r.name) for r in rows if r.kind == "departement" and r.departement}))
        return self._territories

    @property
    def session_seconds(self) -> int:
        return int(self.config.web_session_hours) * 3600


@dataclass
class Page:
    """One request as a view sees it: the form already read and checked, the signed-in reviewer."""

    console: Console
    request: Request
    form: FormData | None
    reviewer: accounts.ReviewerInfo | None
    csrf: str
    flash: str | None = None
    cookies: dict[str, str | None] = field(default_factory=dict)  # to set (None: delete) on the response

    def param(self, name: str, default: str = "") -> str:
        if self.form is not None and name in self.form:
            return str(self.form.get(name) or "")
        return self.request.query_params.get(name, default)

    def render(self, template: str, status: int = 200, **context) -> HTMLResponse:
        html = self.console.templates.get_template(template).render(
            page=self, reviewer=self.reviewer, csrf=self.csrf, flash=self.flash, **context)
        return self.finish(HTMLResponse(html, status_code=status))

    def redirect(self, url: str, flash: str | None = None) -> Response:
        if flash:
            self.cookies[FLASH_COOKIE] = self.console.signer.sign(flash)
        return self.finish(RedirectResponse(safe_path(url), status_code=303))

    def finish(self, response: Response) -> Response:
        secure = self.request.url.scheme == "https"
        for name, value in self.cookies.items():
            if value is None:
                response.delete_cookie(name, path="/", httponly=True, samesite="lax", secure=secure)
            else:
                max_age = self.console.session_seconds if name == SESSION_COOKIE else 3600
                response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="lax",
                                    secure=secure)
        return response


def safe_path(url: str) -> str:
    """Only paths of this site: a `suite=` parameter never sends a reviewer elsewhere."""
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or not url.startswith("/") or url.startswith(("//", "/\\")) or "\\" in url:
        return "/"
    return url


def error_page(page: Page, status: int, title: str, message: str) -> Response:
    return page.render("error.html", status=status, title=title, message=message)
