"""The owner's users page: adding staff, changing roles, resetting passwords, deactivating.

The shop always keeps one active owner: the last one cannot be demoted or deactivated,
or nobody could manage providers, tokens or users again. Each change is audited; the
caller commits.
"""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.auth.audit import record_audit
from app.auth.models import ROLES, User
from app.auth.service import UserError, create_user, end_sessions, set_password
from app.extensions import db

ROLE_LABELS = {"owner": _l("Owner"), "staff": _l("Staff")}


def all_users() -> list[User]:
    """Active users first, then by e-mail."""
    return db.session.scalars(select(User).order_by(User.is_active.desc(), User.email)).all()


def _keep_an_owner(user: User) -> None:
    """Refuse to take the last active owner away (``user`` is about to stop being one).

    The active owners' rows are locked (PostgreSQL; SQLite has one writer at a time), so
    two owners demoting each other at once cannot both succeed.
    """
    owners = db.session.scalars(
        select(User.id)
        .where(User.role == "owner", User.is_active.is_(True))
        .order_by(User.id)
        .with_for_update()
    ).all()
    if not [owner for owner in owners if owner != user.id]:
        raise UserError(
            _(
                "%(email)s is the shop's only active owner. Make another user an owner"
                " first: someone must be able to manage providers, tokens and users.",
                email=user.email,
            )
        )


def add_user(email: str, password: str, role: str) -> User:
    user = create_user(email, password, role)
    record_audit("user.add", user.email, {"role": user.role})
    return user


def change_role(user: User, role: str) -> bool:
    """Give the user another role; False when it is the one they have."""
    if role not in ROLES:
        raise UserError(_("The role must be one of: %(roles)s", roles=", ".join(ROLES)))
    if role == user.role:
        return False
    if user.role == "owner" and user.is_active:
        _keep_an_owner(user)
    record_audit("user.role", user.email, {"from_role": user.role, "role": role})
    user.role = role
    return True


def reset_password(user: User, password: str) -> None:
    """Set a new password chosen by the owner (under the same policy as a new user's);
    every session the user had ends with the old password."""
    set_password(user, password)
    record_audit("user.password", user.email)


def set_active(user: User, active: bool) -> bool:
    """Deactivate (no login, open sessions end) or reactivate; False if nothing changes."""
    if user.is_active == active:
        return False
    if not active and user.role == "owner":
        _keep_an_owner(user)
    user.is_active = active
    if not active:
        end_sessions(user)  # reactivating later does not bring old cookies back
    record_audit("user.reactivate" if active else "user.deactivate", user.email)
    return True
