"""Settings, declared once as data: the docs, the defaults and the validation come from here.

Precedence: environment variable > `mailbot.toml` (or `--config FILE`) > default.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


class ConfigError(ValueError):
    """A setting that cannot be used; the message is shown to the user as is."""


@dataclass(frozen=True)
class Setting:
    name: str
    env: str
    default: Any
    help: str
    kind: type = str


SETTINGS: tuple[Setting, ...] = (
    Setting("db", "MAILBOT_DB", "sqlite:///mailbot.sqlite",
            "SQLAlchemy URL of the store (SQLite file by default, PostgreSQL by URL)."),
    Setting("smtp", "MAILBOT_SMTP", "smtp://127.0.0.1:8026",
            "Outbound relay: smtp[s]://[user:pass@]host:port[?starttls=1][&cafile=PATH]. The relay's "
            "certificate is always verified (system CAs, or only PATH when given); credentials "
            "need TLS (smtps:// or starttls=1)."),
    Setting("listen", "MAILBOT_LISTEN", "127.0.0.1:8025", "Inbound SMTP listener host:port."),
    Setting("imap", "MAILBOT_IMAP", "", "Mailbox to read: imap[s]://user:pass@host:port/FOLDER (empty: off)."),
    Setting("from_address", "MAILBOT_FROM", "atlas@cncd.example.fr", "The bot's own address."),
    Setting("from_name", "MAILBOT_FROM_NAME", "Atlas de la coopération décentralisée",
            "Display name of the bot's From, in French (what a recipient's mail client shows)."),
    Setting("dkim_key", "MAILBOT_DKIM_KEY", "",
            "PEM private key that DKIM-signs every outgoing message (empty: unsigned); "
            "`mailbot dkim-keygen` makes one and prints its DNS record."),
    Setting("dkim_selector", "MAILBOT_DKIM_SELECTOR", "atlas",
            "DKIM selector: the key's DNS record is <selector>._domainkey.<domain>."),
    Setting("dkim_domain", "MAILBOT_DKIM_DOMAIN", "",
            "Domain that signs (d=); empty: the domain of from_address."),
    Setting("secret", "MAILBOT_SECRET", "dev-secret-change-me", "Key that signs the reply-form tokens."),
    Setting("rules", "MAILBOT_RULES", "", "Default rules file (empty: the shipped rules/campagne-2012.toml)."),
    Setting("templates_dir", "MAILBOT_TEMPLATES_DIR", "",
            "Folder of mail templates that replace the shipped ones of the same name (empty: none)."),
    Setting("reviewers", "MAILBOT_REVIEWERS", "", "Comma-separated names allowed to review."),
    Setting("reviewer", "MAILBOT_REVIEWER", "", "Name used for review decisions when --as is absent."),
    Setting("digest_to", "MAILBOT_DIGEST_TO", "", "Comma-separated addresses that receive the reviewers' digest."),
    Setting("rate_limit", "MAILBOT_RATE_LIMIT", 0.0, "Outbound messages per second (0: unlimited).", float),
    Setting("smtp_connections", "MAILBOT_SMTP_CONNECTIONS", 4,
            "Parallel connections to the relay used by the delivery worker.", int),
    Setting("render_processes", "MAILBOT_RENDER_PROCESSES", 0,
            "Processes rendering a large campaign's summaries (0: one per CPU; 1: no worker processes).", int),
    Setting("max_message_size", "MAILBOT_MAX_MESSAGE_SIZE", 25 * 1024 * 1024,
            "Largest inbound message accepted, in bytes.", int),
    Setting("web_listen", "MAILBOT_WEB_LISTEN", "",
            "host:port of the reviewers' web console; `mailbot serve` runs it too when set "
            "(`mailbot web` alone listens on 127.0.0.1:8080 when empty)."),
    Setting("web_url", "MAILBOT_WEB_URL", "",
            "The console's address as reviewers open it, for the sign-in links mailed to them "
            "(empty: http://<web_listen>)."),
    Setting("web_session_hours", "MAILBOT_WEB_SESSION_HOURS", 10,
            "How long a console session lasts before the reviewer signs in again.", int),
    Setting("lease_seconds", "MAILBOT_LEASE_SECONDS", 300.0,
            "A claim on an inbound message or a delivery older than this belongs to nobody and is taken "
            "again (claims of a process of this host that is gone are taken again at once).", float),
    Setting("max_attachment_bytes", "MAILBOT_MAX_ATTACHMENT_BYTES", 10 * 1024 * 1024,
            "Largest attachment kept as a file with its message, in bytes (a larger one is listed, and stays "
            "in the message as received).", int),
    Setting("max_answers_per_day", "MAILBOT_MAX_ANSWERS_PER_DAY", 5,
            "Automatic answers the bot sends one address per day, at most (loop safety).", int),
    Setting("trusted_authserv_ids", "MAILBOT_TRUSTED_AUTHSERV_IDS", "",
            "Comma-separated server ids (the first word of their Authentication-Results headers) of the "
            "mail servers that receive our mail: their SPF/DKIM/DMARC verdict is believed (empty: "
            "none; DKIM signatures are then checked locally)."),
)
DEFAULT_WEB_LISTEN = "127.0.0.1:8080"
SETTINGS_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    user: str | None = None
    password: str | None = None
    starttls: bool = False
    ssl: bool = False
    # a CA bundle to trust instead of the system's (a relay with a private or self-signed certificate)
    cafile: str | None = None

    @property
    def tls(self) -> bool:
        return self.ssl or self.starttls


@dataclass(frozen=True)
class ImapTarget:
    host: str
    port: int
    user: str
    password: str
    folder: str = "INBOX"
    ssl: bool = False


@dataclass(frozen=True)
class Config:
    values: dict[str, Any] = field(default_factory=dict)
    source: str = "defaults"

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def smtp_target(self) -> SmtpTarget:
        return parse_smtp_url(self.values["smtp"])

    @property
    def imap_target(self) -> ImapTarget | None:
        return parse_imap_url(self.values["imap"]) if self.values["imap"] else None

    @property
    def listen_address(self) -> tuple[str, int]:
        return parse_host_port(self.values["listen"])

    @property
    def dkim_signing_domain(self) -> str:
        return self.values.get("dkim_domain") or self.values.get("from_address", "").rpartition("@")[2]

    @property
    def web_address(self) -> tuple[str, int]:
        return parse_host_port(self.values["web_listen"] or DEFAULT_WEB_LISTEN)

    @property
    def web_base_url(self) -> str:
        host, port = self.web_address
        return (self.values["web_url"] or f"http://{host}:{port}").rstrip("/")

    @property
    def templates_override(self) -> str | None:
        """The `templates_dir` folder, or None (also for the partial configs worker processes build)."""
        return self.values.get("templates_dir") or None

    @property
    def reviewer_names(self) -> list[str]:
        return _names(self.values["reviewers"])

    @property
    def digest_addresses(self) -> list[str]:
        return _names(self.values["digest_to"])

    @property
    def authserv_ids(self) -> list[str]:
        return _names(self.values.get("trusted_authserv_ids", ""))


def _names(raw) -> list[str]:
    """A list setting, written as a TOML list or as comma-separated text (environment variables)."""
    items = raw if isinstance(raw, list) else str(raw).split(",")
    return [name.strip() for name in items if name.strip()]


_KIND_WORDS = {int: "un nombre entier", float: "un nombre", str: "un texte"}


def _coerce(setting: Setting, raw: Any, origin: str) -> Any:
    if setting.kind is str and isinstance(raw, list):
        return raw
    try:
        return setting.kind(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{origin} : {setting.name} doit être {_KIND_WORDS.get(setting.kind, setting.kind.__name__)}, pas {raw!r}") from None


def load_config(path: str | Path | None = None, environ: dict[str, str] | None = None) -> Config:
    """Read defaults, then the TOML file (explicit path, else ./mailbot.toml if present), then the environment."""
    environ = dict(os.environ) if environ is None else environ
    values = {s.name: s.default for s in SETTINGS}
    source = "defaults"
    file = Path(path) if path else Path("mailbot.toml")
    if path and not file.exists():
        raise ConfigError(f"fichier de configuration introuvable : {file}")
    if file.exists():
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{file} : TOML invalide ({exc})") from None
        unknown = sorted(set(data) - set(SETTINGS_BY_NAME))
        if unknown:
            raise ConfigError(f"{file} : réglage(s) inconnu(s) {', '.join(unknown)} (voir la liste dans le README)")
        for name, raw in data.items():
            values[name] = _coerce(SETTINGS_BY_NAME[name], raw, str(file))
        source = str(file)
    for setting in SETTINGS:
        if setting.env in environ:
            values[setting.name] = _coerce(setting, environ[setting.env], setting.env)
    return Config(values=values, source=source)


def parse_host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ConfigError(f"adresse attendue sous la forme hôte:port, pas {text!r}")
    return host.strip("[]"), int(port)


def parse_smtp_url(url: str) -> SmtpTarget:
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ConfigError(f"adresse du relais SMTP illisible {url!r} : attendu smtp://[utilisateur:mot-de-passe@]hôte:port[?starttls=1]")
    query = parse_qs(parts.query)
    try:
        port = parts.port or (465 if parts.scheme == "smtps" else 25)
    except ValueError:
        raise ConfigError(f"adresse du relais SMTP illisible {url!r} : le port n'est pas un nombre") from None
    unknown = sorted(set(query) - {"starttls", "cafile"})
    if unknown:
        raise ConfigError(f"adresse du relais SMTP {url!r} : option(s) inconnue(s) {', '.join(unknown)} (starttls, cafile)")
    target = SmtpTarget(
        host=parts.hostname,
        port=port,
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        starttls=query.get("starttls", ["0"])[0] in ("1", "true", "yes"),
        ssl=parts.scheme == "smtps",
        cafile=query["cafile"][0] if "cafile" in query else None,
    )
    if target.ssl and target.starttls:
        raise ConfigError(f"adresse du relais SMTP {url!r} : smtps:// est déjà en TLS, starttls=1 n'a pas de sens avec lui")
    # AUTH PLAIN/LOGIN send the password as is: never over a connection an eavesdropper can read
    if target.user and not target.tls:
        raise ConfigError(f"adresse du relais SMTP {url!r} : un identifiant exige TLS (ajoutez ?starttls=1 ou utilisez smtps://)")
    if target.cafile and not target.tls:
        raise ConfigError(f"adresse du relais SMTP {url!r} : cafile sans TLS (ajoutez ?starttls=1 ou utilisez smtps://)")
    return target


def parse_imap_url(url: str) -> ImapTarget:
    parts = urlsplit(url)
    if parts.scheme not in ("imap", "imaps") or not parts.hostname or not parts.username:
        raise ConfigError(f"adresse IMAP illisible {url!r} : attendu imap[s]://utilisateur:mot-de-passe@hôte:port/DOSSIER")
    try:
        port = parts.port or (993 if parts.scheme == "imaps" else 143)
    except ValueError:
        raise ConfigError(f"adresse IMAP illisible {url!r} : le port n'est pas un nombre") from None
    return ImapTarget(
        host=parts.hostname,
        port=port,
        user=unquote(parts.username),
        password=unquote(parts.password or ""),
        folder=unquote(parts.path.lstrip("/")) or "INBOX",
        ssl=parts.scheme == "imaps",
    )
