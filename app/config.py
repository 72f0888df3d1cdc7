"""Settings from VAFA_* environment variables, with embedded defaults.

A new install needs no configuration at all: SQLite in ``instance/``, the console
provider, and a secret key generated on first run. Everything a larger shop changes
(database, provider, worker timings) is an environment variable, so no secret ever
lives in the repository.
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path


def _secret_key(instance_path: Path) -> str:
    """Return VAFA_SECRET_KEY, or a key generated once into instance/secret_key."""
    if key := os.environ.get("VAFA_SECRET_KEY"):
        return key
    path = instance_path / "secret_key"
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def load_config(instance_path: Path) -> dict:
    """Build the Flask config from the environment."""
    database_url = os.environ.get("VAFA_DATABASE_URL") or (f"sqlite:///{instance_path / 'vafa.db'}")
    return {
        "SECRET_KEY": _secret_key(instance_path),
        # Provider keys are encrypted at rest with a key derived from this (when set) or
        # from SECRET_KEY; earlier ones, comma-separated, still decrypt until
        # `vafa providers rotate-keys` has encrypted everything again (app/crypto.py).
        "VAFA_ENCRYPTION_KEY": os.environ.get("VAFA_ENCRYPTION_KEY", ""),
        "VAFA_ENCRYPTION_OLD_KEYS": os.environ.get("VAFA_ENCRYPTION_OLD_KEYS", ""),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "BABEL_DEFAULT_LOCALE": "fa",
        "BABEL_DEFAULT_TIMEZONE": "Asia/Tehran",
        "BABEL_TRANSLATION_DIRECTORIES": str(Path(__file__).parent.parent / "translations"),
        "WTF_CSRF_TIME_LIMIT": None,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        # Login and sessions (README.md, "Behind a reverse proxy"). Cookies are sent only
        # over HTTPS when this is on; turn it on wherever the panel is served over HTTPS.
        "VAFA_SECURE_COOKIES": _flag("VAFA_SECURE_COOKIES"),
        # Days a "remembered" login lasts without a visit to the login page.
        "VAFA_REMEMBER_DAYS": _int("VAFA_REMEMBER_DAYS", 30),
        # Reverse proxies in front of the panel whose X-Forwarded-For/-Proto/-Host are
        # believed. 0 trusts none: the address of whoever connects is the client's.
        "VAFA_TRUSTED_PROXIES": _int("VAFA_TRUSTED_PROXIES", 0),
        # Sending
        # Seconds between ticks of the in-process scheduler's jobs.
        "VAFA_TICK_SECONDS": _int("VAFA_TICK_SECONDS", 2),
        # Messages one worker claims at a time, and the provider requests it keeps in
        # flight (as many connections as a minimal client needs to fill the wire; each
        # account's requests per second still limit them).
        "VAFA_DISPATCH_BATCH": _int("VAFA_DISPATCH_BATCH", 2000),
        "VAFA_CONCURRENCY": _int("VAFA_CONCURRENCY", 16),
        # Delivery reports: first asked this many seconds after sending, then every …
        "VAFA_POLL_AFTER": _int("VAFA_POLL_AFTER", 5),
        "VAFA_POLL_EVERY": _int("VAFA_POLL_EVERY", 60),
        # Seconds a worker's or scheduler's lease lasts unless renewed (every quarter of
        # it). When a worker's runs out, the messages it claimed but never handed over go
        # back to the queue; those in a request in flight become `unknown`, never re-sent.
        "VAFA_CLAIM_LEASE": _int("VAFA_CLAIM_LEASE", 30),
        # The sending rules before the owner saves any (app/sending/policy.py): the
        # window for marketing SMS in Tehran time ("08:00-22:00"), quiet days on which
        # none are sent (weekdays and Jalali dates: "جمعه,1405/01/01"), at most N
        # marketing SMS per Tehran day for the whole shop (0: no cap), at most one
        # marketing SMS per contact every N days (0: no cap), the opt-out line (on/off)
        # and its text. Unset: 08:00-22:00, none, 0, 0, on, «لغو۱۱». What the owner saves wins.
        "VAFA_SENDING_WINDOW": os.environ.get("VAFA_SENDING_WINDOW", ""),
        "VAFA_QUIET_DAYS": os.environ.get("VAFA_QUIET_DAYS", ""),
        "VAFA_DAILY_CAP": os.environ.get("VAFA_DAILY_CAP", ""),
        "VAFA_FREQUENCY_CAP_DAYS": os.environ.get("VAFA_FREQUENCY_CAP_DAYS", ""),
        "VAFA_OPTOUT_LINE": os.environ.get("VAFA_OPTOUT_LINE", ""),
        "VAFA_OPTOUT_TEXT": os.environ.get("VAFA_OPTOUT_TEXT", ""),
        # Automations (app/occasions/engine.py): after downtime, the runs missed within
        # this many hours are still made (a birthday greeted at 14:00 instead of 10:00);
        # those further back are let go. Never twice either way.
        "VAFA_AUTOMATION_GRACE": _int("VAFA_AUTOMATION_GRACE", 6),
        "VAFA_CONTACTS_PER_PAGE": _int("VAFA_CONTACTS_PER_PAGE", 50),
        # The contacts page counts a search's matches up to this many ("more than …"
        # beyond), so a million contacts cost no more to count than ten thousand.
        "VAFA_CONTACTS_COUNT_CAP": _int("VAFA_CONTACTS_COUNT_CAP", 10_000),
        # An Excel export of more contacts than this is written in the background (a
        # million take about a minute) and downloaded when ready; CSV always streams.
        "VAFA_EXPORT_BACKGROUND_OVER": _int("VAFA_EXPORT_BACKGROUND_OVER", 50_000),
        # Where uploaded files wait while they are imported (default: instance/imports).
        "VAFA_IMPORT_FOLDER": os.environ.get("VAFA_IMPORT_FOLDER", ""),
        # Importing files: the limits a file is inspected against before it is read
        # (app/contacts/importing/limits.py says why each default is what it is).
        "VAFA_IMPORT_MAX_FILE_MB": _int("VAFA_IMPORT_MAX_FILE_MB", 512),
        "VAFA_IMPORT_MAX_ROWS": _int("VAFA_IMPORT_MAX_ROWS", 2_000_000),
        "VAFA_IMPORT_MAX_COLUMNS": _int("VAFA_IMPORT_MAX_COLUMNS", 60),
        "VAFA_IMPORT_MAX_CELL_CHARS": _int("VAFA_IMPORT_MAX_CELL_CHARS", 32_767),
        "VAFA_IMPORT_MAX_LINE_CHARS": _int("VAFA_IMPORT_MAX_LINE_CHARS", 1_048_576),
        "VAFA_IMPORT_MAX_ZIP_PARTS": _int("VAFA_IMPORT_MAX_ZIP_PARTS", 1_000),
        "VAFA_IMPORT_MAX_SHEET_MB": _int("VAFA_IMPORT_MAX_SHEET_MB", 2_048),
        "VAFA_IMPORT_MAX_SHARED_STRINGS_MB": _int("VAFA_IMPORT_MAX_SHARED_STRINGS_MB", 256),
        "VAFA_IMPORT_MAX_PART_MB": _int("VAFA_IMPORT_MAX_PART_MB", 64),
        "VAFA_IMPORT_MAX_ZIP_RATIO": _int("VAFA_IMPORT_MAX_ZIP_RATIO", 100),
        # The address space (RLIMIT_AS) of the child process that reads an upload; 0: none.
        "VAFA_IMPORT_MEMORY_MB": _int("VAFA_IMPORT_MEMORY_MB", 2_048),
        # Its CPU time (RLIMIT_CPU), in seconds: a reader stuck in a loop is stopped.
        "VAFA_IMPORT_CPU_SECONDS": _int("VAFA_IMPORT_CPU_SECONDS", 900),
        # A running import commits its chunks (and its progress) this often, in seconds.
        "VAFA_IMPORT_COMMIT_SECONDS": _int("VAFA_IMPORT_COMMIT_SECONDS", 5),
        # Distinct names of the shop's own contact fields (imported columns, fields added
        # by hand or through the API); pages that offer them list every one.
        "VAFA_MAX_OWN_FIELDS": _int("VAFA_MAX_OWN_FIELDS", 100),
        # Request bodies, in bytes (app/limits.py): the import upload takes a shop's
        # 1,000,000-row file (100-200 MB); the API's 1000 items fit in a few MB; a form of
        # the panel is far smaller. Larger bodies are refused with 413 before being read.
        "VAFA_MAX_UPLOAD": _int("VAFA_MAX_UPLOAD", 256 * 1024 * 1024),
        "VAFA_MAX_API_BODY": _int("VAFA_MAX_API_BODY", 4 * 1024 * 1024),
        "VAFA_MAX_FORM_BODY": _int("VAFA_MAX_FORM_BODY", 2 * 1024 * 1024),
        # Arrays and objects inside each other in a JSON body (the API's deepest is 5).
        "VAFA_MAX_JSON_DEPTH": _int("VAFA_MAX_JSON_DEPTH", 32),
    }


def derive_settings(config: dict) -> None:
    """Settings that follow from VAFA_* ones, applied after a test's or the caller's
    overrides, so that one switch (VAFA_SECURE_COOKIES) sets every cookie alike."""
    secure = bool(config.get("VAFA_SECURE_COOKIES"))
    config["SESSION_COOKIE_SECURE"] = secure
    config["REMEMBER_COOKIE_SECURE"] = secure
    config["REMEMBER_COOKIE_DURATION"] = timedelta(days=config.get("VAFA_REMEMBER_DAYS", 30))
    # Read once, at start: a sending setting that cannot be read stops the app here.
    from app.sending.policy import default_policy

    config["VAFA_SENDING_DEFAULTS"] = default_policy(config)
