"""Provider secrets (API keys, passwords) encrypted at rest.

A stored secret is ``fernet:`` followed by a Fernet token (AES-128-CBC with an
HMAC-SHA256, from the ``cryptography`` library), so the database, its backups and its
dumps hold no key a reader could use. The encryption key is derived with HKDF from
``VAFA_ENCRYPTION_KEY`` when it is set, else from the app's ``SECRET_KEY``; a secret
sealed under an earlier key still opens while that key's source is listed in
``VAFA_ENCRYPTION_OLD_KEYS`` (comma-separated), and ``vafa providers rotate-keys``
seals every stored secret again under the current key, after which the old ones may go.

A secret that no configured key opens (the secret key changed and the old one was not
kept) raises ``SecretUnreadable``: the caller says so in Persian and the owner types
the key again. Nothing here logs, and no error carries a secret or a key.
"""

from base64 import urlsafe_b64encode
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

PREFIX = "fernet:"
# Binds derived keys to this one use: the same SECRET_KEY also signs the session cookie.
_INFO = b"vafa provider secrets v1"


class SecretUnreadable(Exception):
    """A stored secret that no configured encryption key can open."""


def _derive(source: str) -> bytes:
    """A Fernet key from any string (a SECRET_KEY, a passphrase, a Fernet key)."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO)
    return urlsafe_b64encode(hkdf.derive(source.encode()))


@lru_cache(maxsize=8)
def _box(current: str, old: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(_derive(source)) for source in (current, *old) if source])


def key_sources(config) -> tuple[str, tuple[str, ...]]:
    """The current key's source and the old ones', from the app's settings."""
    current = config.get("VAFA_ENCRYPTION_KEY") or config["SECRET_KEY"]
    old = config.get("VAFA_ENCRYPTION_OLD_KEYS") or ()
    if isinstance(old, str):
        old = old.split(",")
    return current, tuple(s.strip() for s in old if s and s.strip())


def box(config=None) -> MultiFernet:
    """The current key first (it seals), then the old ones (they only open)."""
    current, old = key_sources(config if config is not None else current_app.config)
    return _box(current, old)


def is_sealed(stored: str | None) -> bool:
    return bool(stored) and stored.startswith(PREFIX)


def seal(secret: str, config=None) -> str:
    """What is stored for ``secret``; an empty secret stays empty (nothing to hide)."""
    if not secret:
        return ""
    return PREFIX + box(config).encrypt(secret.encode()).decode()


def unseal(stored: str | None, config=None) -> str:
    """The secret a stored value holds; raises SecretUnreadable if no key opens it."""
    if not stored:
        return ""
    if not is_sealed(stored):
        # Written before encryption (the migration seals these) or by hand in the
        # database: not a secret we can vouch for, and never sent anywhere.
        raise SecretUnreadable("stored secret is not sealed")
    try:
        return box(config).decrypt(stored.removeprefix(PREFIX).encode()).decode()
    except (InvalidToken, ValueError):
        raise SecretUnreadable("no configured encryption key opens the stored secret") from None


def reseal(stored: str | None, config=None) -> str:
    """``stored`` sealed again under the current key (for ``rotate-keys``)."""
    if not stored:
        return ""
    return seal(unseal(stored, config), config)
