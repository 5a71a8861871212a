"""Secrets of the console: signed cookies, CSRF tokens, hashes of tokens kept in the store, and the
headers every response carries. Pure functions of the configured secret."""
from __future__ import annotations

import hashlib
import hmac
import secrets

from itsdangerous import BadSignature, URLSafeTimedSerializer

SESSION_COOKIE = "atlas_session"
PRE_COOKIE = "atlas_pre"  # a visitor not signed in yet: ties the sign-in forms' CSRF token to the browser
FLASH_COOKIE = "atlas_flash"

# No inline script or style anywhere: scripts and styles come from /static only; agents' text can
# never become code. Frames, plugins and foreign form targets are refused.
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",  # sign-in links carry a token: never leak the URL
    "cache-control": "no-store",
}


def new_token() -> str:
    return secrets.token_urlsafe(32)


def digest(token: str) -> str:
    """What the store keeps of a sign-in link's token or a session key."""
    return hashlib.sha256(token.encode()).hexdigest()


class Signer:
    """Signs cookie values with the configured secret; a value older than `max_age` is refused."""

    def __init__(self, secret: str):
        self._secret = secret.encode()
        self._serializer = URLSafeTimedSerializer(secret, salt="atlas-console")

    def sign(self, value: str) -> str:
        return self._serializer.dumps(value)

    def unsign(self, signed: str | None, max_age: int) -> str | None:
        if not signed:
            return None
        try:
            value = self._serializer.loads(signed, max_age=max_age)
        except BadSignature:  # includes SignatureExpired
            return None
        return value if isinstance(value, str) else None

    def csrf(self, key: str) -> str:
        """The CSRF token of a session (or pre-session) key: forms carry it, the cookie proves it."""
        return hmac.new(self._secret, f"csrf|{key}".encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, key: str | None, token: str | None) -> bool:
        return bool(key and token) and hmac.compare_digest(self.csrf(key), token)

    def fingerprint(self, ids: list[int]) -> str:
        """A bulk preview's exact list of sets, so a confirmation applies what was shown or nothing."""
        text = ",".join(map(str, sorted(ids)))
        return hmac.new(self._secret, f"bulk|{text}".encode(), hashlib.sha256).hexdigest()
