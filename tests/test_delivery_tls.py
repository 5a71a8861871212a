"""STARTTLS, implicit TLS and AUTH on the outbound relay, against real aiosmtpd servers over TCP.

The relays here use a self-signed certificate made by the test. What real clients do, and what we do:
the certificate is verified (name and signature) against the system's CAs, or only against the CA
file given as `?cafile=PATH`; never "accept anything". With `starttls=1` a relay that does not offer
STARTTLS is refused before anything (password or message) is sent in clear.
"""
from __future__ import annotations

import ipaddress
import ssl
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select, update

from mailbot.outbound.campaign import create_campaign, render_campaign
from mailbot.cli.commands import main
from mailbot.config import ConfigError, load_config, parse_smtp_url
from mailbot.outbound import delivery
from mailbot.clock import wait_for
from mailbot.outbound.delivery import MAX_ATTEMPTS, deliver_pending, run_worker
from mailbot.devtools.sink import SinkHandler, free_port
from store.campaign_models import Delivery, OutboundMessage
from tests.test_delivery import queue_message

ROOT = Path(__file__).resolve().parent.parent
USER, PASSWORD = "atlas", "s3cret ünïcode"


# --- a self-signed certificate, made here ---------------------------------------------------------

@dataclass(frozen=True)
class Cert:
    cert: Path
    key: Path


def make_self_signed(directory: Path, name: str, *, dns: list[str], ips: list[str]) -> Cert:
    """A self-signed certificate that is its own CA (so it can be given as `cafile`)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(timezone.utc)
    san = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    paths = Cert(directory / f"{name}.pem", directory / f"{name}.key")
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()))
    return paths


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> dict[str, Cert]:
    directory = tmp_path_factory.mktemp("certs")
    return {
        "relay": make_self_signed(directory, "relay", dns=["localhost"], ips=["127.0.0.1"]),
        # a valid certificate, but for another host than the one we connect to
        "other": make_self_signed(directory, "other", dns=["relay.example"], ips=[]),
    }


def server_context(cert: Cert) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert.cert, cert.key)
    return context


# --- relays -------------------------------------------------------------------------------------

@dataclass
class RelayLog(SinkHandler):
    """The sink, plus what the relay saw of each command: over TLS or not, authenticated or not."""

    mail_commands: list[tuple[bool, bool]] = field(default_factory=list)  # (over TLS, authenticated)
    auth_attempts: list[tuple[str, bool]] = field(default_factory=list)  # (login, accepted)
    password: str = PASSWORD  # what the relay's account accepts

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.mail_commands.append((session.ssl is not None, bool(session.authenticated)))
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    def authenticator(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode()
              and auth_data.password == self.password.encode())
        with self.lock:
            login = auth_data.login.decode() if isinstance(auth_data, LoginPassword) else "?"
            self.auth_attempts.append((login, ok))
        return AuthResult(success=ok, handled=False)


@pytest.fixture
def start_relay():
    """start_relay(**aiosmtpd SMTP options) → (port, handler); every relay stopped at the end."""
    started: list[Controller] = []

    def start(**options) -> tuple[int, RelayLog]:
        handler = RelayLog()
        controller = Controller(handler, hostname="127.0.0.1", port=free_port(), decode_data=False,
                                enable_SMTPUTF8=True, authenticator=handler.authenticator, **options)
        controller.start()
        started.append(controller)
        return controller.port, handler

    yield start
    for controller in started:
        controller.stop()


def starttls_relay(start_relay, cert: Cert) -> tuple[int, RelayLog]:
    """A submission relay: STARTTLS required before anything, AUTH required and only over TLS."""
    return start_relay(tls_context=server_context(cert), require_starttls=True,
                       auth_required=True, auth_require_tls=True)


def smtp_url(port: int, *, user: str | None = USER, password: str = PASSWORD, scheme: str = "smtp",
             query: str = "starttls=1", cafile: Path | None = None) -> str:
    from urllib.parse import quote

    credentials = f"{quote(user, safe='')}:{quote(password, safe='')}@" if user else ""
    options = "&".join(filter(None, [query, f"cafile={quote(str(cafile))}" if cafile else ""]))
    return f"{scheme}://{credentials}127.0.0.1:{port}" + (f"?{options}" if options else "")


def config_with(db_url: str, url: str, **extra):
    return load_config(environ={"MAILBOT_DB": db_url, "MAILBOT_SMTP": url, "MAILBOT_SECRET": "k",
                                "MAILBOT_FROM": "atlas@cncd.example.fr", **extra})


def deliveries(Session) -> list[Delivery]:
    with Session() as session:
        return list(session.scalars(select(Delivery).order_by(Delivery.id)))


# --- a campaign over STARTTLS + AUTH --------------------------------------------------------------

@pytest.fixture
def campaign(seeded_engine, seeded_sessions):
    with seeded_sessions.begin() as session:
        create_campaign(session, "c2012", ROOT / "rules" / "campagne-2012.toml", date(2012, 6, 30))
    return seeded_engine, seeded_sessions


def test_campaign_is_delivered_over_starttls_with_the_right_credentials(campaign, seeded_db_url, start_relay, certs):
    engine, Session = campaign
    port, relay = starttls_relay(start_relay, certs["relay"])
    config = config_with(seeded_db_url, smtp_url(port, cafile=certs["relay"].cert))
    rendered = render_campaign(engine, Session, config, "c2012", limit=3)
    report = deliver_pending(engine, config)
    envelopes = len(deliveries(Session))
    assert rendered.rendered == 3 and envelopes >= 3
    assert report.sent == envelopes and report.relay_error is None, report.errors
    assert sum(len(m.rcpt_tos) for m in relay.messages) == envelopes
    # every transaction (one a message) ran inside TLS, after a successful AUTH with our login
    assert relay.mail_commands == [(True, True)] * rendered.rendered
    assert relay.auth_attempts and all(attempt == (USER, True) for attempt in relay.auth_attempts)
    with Session() as session:
        subjects = set(session.scalars(select(OutboundMessage.subject)))
    assert all(any(s.encode() in m.content or b"Atlas" in m.content for s in subjects) for m in relay.messages)
    assert all(d.state == "sent" for d in deliveries(Session))


def test_wrong_password_stops_the_send_with_a_clear_error_and_is_not_retried_forever(
        campaign, seeded_db_url, start_relay, certs):
    engine, Session = campaign
    port, relay = starttls_relay(start_relay, certs["relay"])
    url = smtp_url(port, password="wrong", cafile=certs["relay"].cert)
    result = CliRunner().invoke(main, ["campaign", "send", "c2012", "--limit", "5", "--quiet"],
                                env={"MAILBOT_DB": seeded_db_url, "MAILBOT_SMTP": url, "MAILBOT_SECRET": "k"})
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "refuse l'authentification de 'atlas'" in result.output and "535" in result.output
    assert not relay.messages and not relay.mail_commands
    # one AUTH attempt for the whole run, not one per envelope (a relay would lock the account)
    assert relay.auth_attempts == [(USER, False)]
    rows = deliveries(Session)
    tried, rest = rows[0], rows[1:]
    assert (tried.state, tried.smtp_code, tried.attempts) == ("deferred", 535, 1)
    assert "refuse l'authentification" in tried.detail and "MAILBOT_SMTP" in tried.detail
    assert rest and all((d.state, d.attempts) == ("queued", 0) for d in rest)

    # retries are bounded by the backoff schedule: the last attempt records a failure
    with Session.begin() as session:
        session.execute(update(Delivery).where(Delivery.id == tried.id)
                        .values(attempts=MAX_ATTEMPTS - 1, next_attempt_at=datetime.now(timezone.utc) - timedelta(1)))
    config = config_with(seeded_db_url, url)
    report = deliver_pending(engine, config)
    assert report.relay_error and report.sent == 0
    tried = deliveries(Session)[0]
    assert tried.state == "failed" and tried.attempts == MAX_ATTEMPTS
    assert tried.detail.startswith(f"abandon après {MAX_ATTEMPTS} tentatives") and "535" in tried.detail

    # the password fixed, a rerun sends everything else
    fixed = config_with(seeded_db_url, smtp_url(port, cafile=certs["relay"].cert))
    report = deliver_pending(engine, fixed)
    assert report.sent == len(rest) and sum(len(m.rcpt_tos) for m in relay.messages) == len(rest)


def test_serve_backs_off_while_the_relay_refuses_and_delivers_once_it_accepts(
        Session, engine, db_url, start_relay, certs, monkeypatch):
    """`serve`'s delivery worker: a refused login is retried on the backoff schedule, not in a loop
    (a relay locks an account that fails too often), and the queue leaves once the relay accepts."""
    monkeypatch.setattr(delivery, "BACKOFF_SECONDS", (0.5, 0.5, 0.5))
    port, relay = starttls_relay(start_relay, certs["relay"])
    relay.password = "not ours yet"
    queue_message(Session, ["a@ville.fr", "b@ville.fr", "c@ville.fr"])
    stop = threading.Event()
    worker = threading.Thread(target=run_worker, args=(engine, config_with(db_url, smtp_url(port, cafile=certs["relay"].cert)), stop),
                              kwargs={"idle_seconds": 0.05}, daemon=True)
    worker.start()
    try:
        time.sleep(1.3)
        refused = list(relay.auth_attempts)
        # at 0, 0.5 and 1.0 s: three logins, not one per idle tick (some twenty-five)
        assert 2 <= len(refused) <= 4 and not any(ok for _, ok in refused), refused
        assert not relay.messages
        relay.password = PASSWORD  # the account is fixed on the relay's side
        wait_for(lambda: sum(len(m.rcpt_tos) for m in relay.messages) == 3, seconds=10)
    finally:
        stop.set()
        worker.join(timeout=10)
    assert not worker.is_alive()
    assert sorted(r for m in relay.messages for r in m.rcpt_tos) == ["a@ville.fr", "b@ville.fr", "c@ville.fr"]
    assert [d.state for d in deliveries(Session)] == ["sent"] * 3


def test_relay_without_starttls_is_refused_and_nothing_goes_out_in_clear(Session, engine, db_url, start_relay):
    # a relay that would happily take AUTH and mail in clear
    port, relay = start_relay(auth_require_tls=False)
    queue_message(Session, ["a@ville.fr", "b@ville.fr"])
    report = deliver_pending(engine, config_with(db_url, smtp_url(port)))
    assert report.sent == 0 and "n'offre pas STARTTLS" in report.relay_error
    assert not relay.auth_attempts, "the password was sent in clear"
    assert not relay.mail_commands and not relay.messages
    assert [d.state for d in deliveries(Session)] == ["deferred", "queued"]


def test_self_signed_relay_is_refused_unless_its_certificate_is_trusted(Session, engine, db_url, start_relay, certs):
    port, relay = starttls_relay(start_relay, certs["relay"])
    queue_message(Session, ["a@ville.fr"])
    # verified against the system's CAs by default: a self-signed certificate is not trusted
    report = deliver_pending(engine, config_with(db_url, smtp_url(port)))
    assert report.sent == 0 and "certificat du relais" in report.relay_error
    assert "self-signed" in report.relay_error and "cafile" in report.relay_error
    assert not relay.auth_attempts and not relay.messages
    # trusted through ?cafile=: delivered
    with Session.begin() as session:
        session.execute(update(Delivery).values(next_attempt_at=None))
    report = deliver_pending(engine, config_with(db_url, smtp_url(port, cafile=certs["relay"].cert)))
    assert report.sent == 1 and relay.mail_commands == [(True, True)]


def test_trusted_certificate_for_another_name_is_refused(Session, engine, db_url, start_relay, certs):
    port, relay = starttls_relay(start_relay, certs["other"])
    queue_message(Session, ["a@ville.fr"])
    report = deliver_pending(engine, config_with(db_url, smtp_url(port, cafile=certs["other"].cert)))
    assert report.sent == 0 and "certificat du relais" in report.relay_error
    assert "mismatch" in report.relay_error or "match" in report.relay_error
    assert not relay.auth_attempts and not relay.messages


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_implicit_tls_smtps_is_verified_too(Session, engine, db_url, start_relay, certs):
    # aiosmtpd cannot tell an implicit-TLS session is encrypted, hence auth_require_tls=False here
    # (aiosmtpd issue #281); the session is TLS all the same.
    port, relay = start_relay(ssl_context=server_context(certs["relay"]), auth_required=True,
                              auth_require_tls=False)
    queue_message(Session, ["a@ville.fr"])
    report = deliver_pending(engine, config_with(db_url, smtp_url(port, scheme="smtps", query="")))
    assert report.sent == 0 and "certificat du relais" in report.relay_error and not relay.auth_attempts
    with Session.begin() as session:
        session.execute(update(Delivery).values(next_attempt_at=None))
    url = smtp_url(port, scheme="smtps", query="", cafile=certs["relay"].cert)
    report = deliver_pending(engine, config_with(db_url, url))
    assert report.sent == 1 and relay.auth_attempts == [(USER, True)] and len(relay.messages) == 1


def test_relay_url_options():
    target = parse_smtp_url("smtp://u:p@relay.example:587?starttls=1&cafile=/etc/ssl/relay-ca.pem")
    assert (target.starttls, target.ssl, target.cafile) == (True, False, "/etc/ssl/relay-ca.pem")
    assert parse_smtp_url("smtps://u:p@relay.example").port == 465
    assert parse_smtp_url("smtp://127.0.0.1:8026").cafile is None
    for bad, why in [
        ("smtp://u:p@relay.example:25", "un identifiant exige TLS"),
        ("smtp://relay.example:25?cafile=/x.pem", "cafile sans TLS"),
        ("smtps://relay.example?starttls=1", "déjà en TLS"),
        ("smtp://relay.example?starttls=1&verify=0", "option\\(s\\) inconnue"),
    ]:
        with pytest.raises(ConfigError, match=why):
            parse_smtp_url(bad)
