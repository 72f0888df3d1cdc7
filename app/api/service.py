"""API tokens: made once, stored as a hash, checked in constant time.

A token is ``vafa_`` and 43 random URL-safe characters (32 bytes). The database keeps
its sha256 and its first characters: a copied database cannot call the API, and the
owner still recognises each token in the list. The caller commits.
"""

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import select

from app.api.models import ApiToken
from app.extensions import db
from app.persian import normalize_text
from app.types import utcnow

SECRET_PREFIX = "vafa_"
# What the list shows and the lookup uses: "vafa_" and 8 characters of the secret.
PREFIX_LENGTH = len(SECRET_PREFIX) + 8
NAME_MAX = 100
# last_used_at is written at most this often per token: a script calling the API in a
# loop should not turn every read into a write (SQLite has one writer at a time).
LAST_USED_EVERY = timedelta(minutes=1)


class TokenError(ValueError):
    """Why a token cannot be made; shown to the owner as it is."""


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(name: str) -> tuple[ApiToken, str]:
    """Make a token named ``name``; return it and its secret, which is never stored."""
    name = normalize_text(name)
    if not name:
        raise TokenError(_("Give the token a name, such as the script that will use it."))
    if len(name) > NAME_MAX:
        raise TokenError(_("The name is too long."))
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(name=name, token_hash=_hash(secret), prefix=secret[:PREFIX_LENGTH])
    db.session.add(token)
    db.session.flush()
    return token, secret


def authenticate(secret: str, now: datetime | None = None) -> ApiToken | None:
    """The active token whose secret this is, or None; notes when it was last used.

    Rows are found by prefix, then the hashes are compared with ``hmac.compare_digest``
    so the time taken says nothing about how much of a guess was right.
    """
    secret = secret.strip()
    if not secret.startswith(SECRET_PREFIX) or len(secret) <= PREFIX_LENGTH:
        return None
    digest = _hash(secret)
    candidates = db.session.scalars(
        select(ApiToken).where(
            ApiToken.prefix == secret[:PREFIX_LENGTH], ApiToken.revoked_at.is_(None)
        )
    ).all()
    found = None
    for token in candidates:
        if hmac.compare_digest(token.token_hash, digest):
            found = token
    if found is not None:
        now = now or utcnow()
        if found.last_used_at is None or now - found.last_used_at >= LAST_USED_EVERY:
            found.last_used_at = now
    return found


def revoke_token(token_id: int) -> ApiToken | None:
    """Revoke a token for good (revoking twice keeps the first moment); None if unknown."""
    token = db.session.get(ApiToken, token_id)
    if token is not None and token.revoked_at is None:
        token.revoked_at = utcnow()
    return token


def all_tokens() -> list[ApiToken]:
    """Every token, active ones first, newest first."""
    return db.session.scalars(
        select(ApiToken).order_by(ApiToken.revoked_at.is_not(None), ApiToken.id.desc())
    ).all()
