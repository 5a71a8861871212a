"""Helpers for the console's tests: the console served by uvicorn in a thread, a headless Chromium
driven by Selenium (Debian's `chromium` and `chromium-driver`), signing in through the mailed link."""
from __future__ import annotations

import os
import re
import shutil
from contextlib import contextmanager
from email import policy
from email.parser import BytesParser

import pytest

from mailbot.clock import wait_for
from mailbot.web.accounts import printed_link
from mailbot.web.server import bound_port, start_in_thread

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
LINK = re.compile(r"https?://\S+/connexion/lien/[\w-]+")


def browser_missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed"
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        return "Debian packages chromium and chromium-driver are not installed"
    return None


def require_browser() -> None:
    """Skip without a browser, except in CI (CI=true) where a missing browser is a failure."""
    missing = browser_missing()
    if missing is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(missing + " (CI=true: browser tests must run)")
    pytest.skip(missing)


@contextmanager
def console(config, engine=None):
    """The console on a free port: yields its base URL."""
    server, thread = start_in_thread(config, engine=engine, host="127.0.0.1", port=0)
    try:
        yield f"http://127.0.0.1:{bound_port(server)}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def new_driver(width: int = 1440, height: int = 1000):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     f"--window-size={width},{height}", "--lang=fr-FR"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(0)
    return driver


def mailed(sink_handler, address: str, *, after: int = 0) -> list:
    """The messages the sink received for `address`, waiting until there are more than `after`."""
    def arrived():
        found = [m for m in list(sink_handler.messages) if address in m.rcpt_tos]
        return found if len(found) > after else None

    return wait_for(arrived, seconds=20)


def text_of(raw: bytes) -> str:
    return BytesParser(policy=policy.default).parsebytes(raw).get_body(("plain",)).get_content()


def mailed_link(sink_handler, address: str, *, after: int = 0) -> str:
    """The sign-in link in the latest message the sink received for `address`."""
    return LINK.search(text_of(mailed(sink_handler, address, after=after)[-1].content)).group(0)


# --- HTTP-level: Starlette's test client on the application, no socket -----------------------------------

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    return CSRF.search(html).group(1)


def sign_in(client, sessions, config, name: str) -> None:
    """Sign `client` in as `name` through a one-time link (as the mailed one), then its confirmation."""
    token = printed_link(sessions, config, name).rsplit("/", 1)[1]
    page = client.get(f"/connexion/lien/{token}")
    assert page.status_code == 200, page.text
    done = client.post(f"/connexion/lien/{token}", data={"csrf": csrf_of(page.text), "suite": "/"},
                       follow_redirects=False)
    assert done.status_code == 303, done.text
