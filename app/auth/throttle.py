"""Failed-login throttling, per account and per client address, kept in the database.

Why hand-written: Flask-Limiter (through the `limits` library) keeps its counters in
memory, Redis, Memcached, MongoDB or etcd. Vafa runs on SQLite or PostgreSQL alone, and
in-memory counters would be per gunicorn worker and forgotten on restart — an attacker
would simply get N times the attempts. Its limits also count requests, where this
counts failures and forgets an account's failures when its owner logs in. A row per
key in one small table does all of that in both databases.

The rule (documented in README.md, "Logging in"):

- an account (any e-mail typed, known or not, so the answer tells nothing) gets
  ACCOUNT.free failures; each further failure locks it for a delay that doubles from
  ACCOUNT.first_delay up to ACCOUNT.max_delay;
- a client address gets ADDRESS.free failures across all accounts, then the same;
- while locked, attempts are refused without checking the password, and not counted;
- failures are forgotten ACCOUNT.forget_after the last one, and a successful login
  forgets its account's (not its address's: an attacker with an account of their own
  could otherwise reset their address's count).

A lock never lasts longer than max_delay, and a browser that has logged into the
account before (it holds a signed cookie naming it, set by app.auth.views) is not held
by the account's lock at all, only by its own address's: an attacker who keeps failing
on the owner's e-mail slows down strangers' browsers, never the owner's own.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, or_, select, update

from app.auth.models import LoginThrottle
from app.extensions import db
from app.types import utcnow


@dataclass(frozen=True)
class Rule:
    free: int
    first_delay: timedelta
    max_delay: timedelta
    forget_after: timedelta

    def delay(self, failures: int) -> timedelta | None:
        if failures < self.free:
            return None
        doublings = min(failures - self.free, 20)
        return min(self.first_delay * 2**doublings, self.max_delay)


ACCOUNT = Rule(
    free=5,
    first_delay=timedelta(minutes=1),
    max_delay=timedelta(minutes=15),
    forget_after=timedelta(hours=1),
)
# Generous: several people of one shop may share an address (an office, a phone carrier).
ADDRESS = Rule(
    free=20,
    first_delay=timedelta(minutes=1),
    max_delay=timedelta(minutes=15),
    forget_after=timedelta(hours=1),
)


def account_key(email: str) -> str:
    """The key of an e-mail as typed (trimmed, lower case); hashed, so any length fits."""
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    return f"account:{digest}"


def password_change_key(user_id: int) -> str:
    """Wrong current passwords typed on a signed-in user's account page (app.auth.views)."""
    return f"password-change:{user_id}"


def address_key(address: str | None) -> str:
    return f"address:{(address or 'unknown')[:64]}"


def wait_time(keys: list[str]) -> timedelta | None:
    """How long until every one of these keys may try again; None if all may now."""
    now = utcnow()
    until = db.session.scalar(
        select(LoginThrottle.locked_until)
        .where(LoginThrottle.key.in_(keys), LoginThrottle.locked_until > now)
        .order_by(LoginThrottle.locked_until.desc())
        .limit(1)
    )
    return until - now if until else None


def record_failure(key: str, rule: Rule) -> None:
    """Count one failed login for this key (atomically: several processes may count at
    once) and lock it when it has had its free attempts. The caller commits."""
    now = utcnow()
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    db.session.execute(
        insert(LoginThrottle)
        .values(key=key, failures=0, last_failure_at=now, locked_until=None)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    forgotten = LoginThrottle.last_failure_at < now - rule.forget_after
    failures = db.session.scalar(
        update(LoginThrottle)
        .where(LoginThrottle.key == key)
        .values(
            failures=case((forgotten, 1), else_=LoginThrottle.failures + 1),
            last_failure_at=now,
        )
        .returning(LoginThrottle.failures)
    )
    if delay := rule.delay(failures):
        db.session.execute(
            update(LoginThrottle).where(LoginThrottle.key == key).values(locked_until=now + delay)
        )
    _forget_old(now)


def forget(key: str) -> None:
    """Forget this key's failures (its owner just logged in). The caller commits."""
    db.session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))


def _forget_old(now: datetime) -> None:
    """Drop rows nobody needs any more, so the table stays as small as the attack."""
    oldest = now - max(ACCOUNT.forget_after, ADDRESS.forget_after)
    db.session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.last_failure_at < oldest,
            or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until < now),
        )
    )
