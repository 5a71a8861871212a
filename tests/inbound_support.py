"""Helpers shared by the tests/test_inbound_*.py files: a minimal Atlas with one form sent, and mail."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from datetime import date, datetime, timezone
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from sqlalchemy import select

from mailbot.config import load_config
from mailbot.outbound.outbox import Recipient, enqueue, new_message_id, plus_address, verp_address
from mailbot.tokens import make_token
from store.campaign_models import Campaign, CampaignTarget, OutboundMessage
from store.models import Collectivite, Contact, new_ref

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
RULES = ROOT / "rules" / "campagne-2012.toml"
SECRET = "inbound-test-secret"
BOT = "atlas@cncd.example.fr"


def make_config(db_url: str, **env: str):
    return load_config(environ={"MAILBOT_DB": db_url, "MAILBOT_SECRET": SECRET, "MAILBOT_FROM": BOT,
                                "MAILBOT_SMTP": "smtp://127.0.0.1:9", **env})


@dataclass(frozen=True)
class Form:
    """One summary sent to one collectivité: what a reply needs to refer to it."""

    collectivite_id: int
    code: str
    campaign_id: int
    outbound_id: int
    token: str
    message_id: str
    delivery_id: int
    contact_email: str

    @property
    def reply_to(self) -> str:
        return plus_address(BOT, self.token)

    @property
    def verp(self) -> str:
        return verp_address(SECRET, BOT, self.delivery_id)


def campaign(session, name: str = "c2012", closed: bool = False) -> Campaign:
    found = session.scalar(select(Campaign).where(Campaign.name == name))
    if found is None:
        rules_text = RULES.read_text(encoding="utf-8")
        rules = tomllib.loads(rules_text)
        found = Campaign(name=name, rules_path=str(RULES), rules_text=rules_text, year=rules["year"],
                         apd_editable_year=rules["apd"]["editable_year"], deadline=date(2012, 6, 30),
                         closed=closed, created_at=datetime.now(timezone.utc))
        session.add(found)
        session.flush()
    return found


def send_form(session, *, code: str = "COM-35238", name: str = "Rennes", email: str = "marie.dupont@rennes.fr",
              campaign_name: str = "c2012", closed: bool = False) -> Form:
    """A collectivité with one contact, in a campaign, sent its summary (the outbox row and delivery)."""
    coll = session.scalar(select(Collectivite).where(Collectivite.code == code))
    if coll is None:
        kind = {"COM": "commune", "DEP": "departement", "REG": "region"}[code.split("-")[0]]
        coll = Collectivite(code=code, kind=kind, insee=code.split("-")[1], name=name, in_atlas=True)
        session.add(coll)
        session.flush()
        session.add(Contact(ref=new_ref("CT"), collectivite_id=coll.id, role="cadre", first_name="Marie",
                            last_name="Dupont", title="Chargée de mission", email=email))
    camp = campaign(session, campaign_name, closed)
    message_id = new_message_id(BOT)

    def build(outbound_id: int) -> EmailMessage:
        token = make_token(SECRET, camp.name, coll.code, outbound_id)
        msg = EmailMessage()
        msg["From"] = BOT
        msg["To"] = email
        msg["Reply-To"] = plus_address(BOT, token)
        msg["Subject"] = f"[Atlas 2012] Mise à jour de la fiche de {coll.name} ({coll.code})"
        msg["Message-ID"] = message_id
        msg["X-Mailer"] = "atlas-mailbot"
        msg.set_content(f"#### DEBUT DU FORMULAIRE ATLAS {token} ####\nCourriel* : {email}\n#### FIN ####\n")
        return msg

    outbound = enqueue(session, build, [Recipient(email)], kind="summary", campaign_id=camp.id,
                       collectivite_id=coll.id, token=lambda oid: make_token(SECRET, camp.name, coll.code, oid))
    target = session.scalar(select(CampaignTarget).where(CampaignTarget.campaign_id == camp.id,
                                                         CampaignTarget.collectivite_id == coll.id))
    if target is None:
        session.add(CampaignTarget(campaign_id=camp.id, collectivite_id=coll.id, summary_id=outbound.id,
                                   unreachable=False, reminders_sent=0))
    outbound.deliveries[0].state = "sent"
    session.flush()
    return Form(coll.id, coll.code, camp.id, outbound.id, outbound.token, outbound.message_id,
                outbound.deliveries[0].id, email)


def mail(*, sender: str, to: str = BOT, subject: str = "Bonjour", body: str = "Bonjour,\n",
         in_reply_to: str | None = None, headers: dict | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "example.fr")
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    return msg.as_bytes()


def fixture(kind: str, name: str, token: str | None = None) -> bytes:
    raw = (FIXTURES / kind / name).read_bytes()
    return raw.replace(b"atlas+TOKEN@", f"atlas+{token}@".encode()) if token else raw


def outbound_count(session, kind: str | None = None) -> int:
    query = select(OutboundMessage.id)
    if kind:
        query = query.where(OutboundMessage.kind == kind)
    return len(session.scalars(query).all())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_serve(env: dict, cwd: Path, log: Path, *, workers: int = 2) -> subprocess.Popen:
    """`python -m mailbot serve` as a separate process, once it accepts SMTP connections."""
    # PYTHONFAULTHANDLER: a server that hangs can be made to print every thread's stack (stop_serve)
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONFAULTHANDLER": "1", **env}
    handle = open(log, "ab")
    process = subprocess.Popen([sys.executable, "-m", "mailbot", "serve", "--workers", str(workers),
                                "--log-level", "WARNING", "--dev"], env=full_env, cwd=cwd, stdout=handle, stderr=handle)
    handle.close()
    host, _, port = env["MAILBOT_LISTEN"].rpartition(":")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"mailbot serve exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection((host, int(port)), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError("mailbot serve did not start listening within 60 s")


def stop_serve(process: subprocess.Popen, log: Path, seconds: float = 60) -> int:
    """SIGTERM, as an operator stops it; a server still there after `seconds` is made to print its
    threads' stacks (SIGABRT, with faulthandler on) and the test fails with them: never left running."""
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGABRT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        raise AssertionError(f"serve did not stop within {seconds:g} s of SIGTERM:\n" + log.read_text()[-6000:]) from None
