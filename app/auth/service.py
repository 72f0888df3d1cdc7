"""Users: creating the owner, checking passwords."""

from sqlalchemy import func, select

from app.auth.models import ROLES, User
from app.extensions import db, login_manager
from app.persian import show_number

MIN_PASSWORD_LENGTH = 8


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The session's user; a deactivated one is no one, so their sessions stop at once."""
    user = db.session.get(User, int(user_id))
    return user if user is not None and user.is_active else None


def has_users() -> bool:
    return db.session.scalar(select(func.count(User.id))) > 0


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == email.strip().lower()))


class UserError(ValueError):
    """Why a user cannot be created; the message is shown to the person creating it."""


def check_password_policy(password: str, email: str = "") -> None:
    """Raise UserError when a new password is not allowed (on creation and on reset)."""
    from flask_babel import gettext as _

    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(
            _(
                "The password must be at least %(count)s characters.",
                count=show_number(MIN_PASSWORD_LENGTH),
            )
        )


def create_user(email: str, password: str, role: str = "owner") -> User:
    """Add a user with a hashed password; the caller commits."""
    from flask_babel import gettext as _

    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise UserError(_("Enter a valid email address."))
    if role not in ROLES:
        raise UserError(_("The role must be one of: %(roles)s", roles=", ".join(ROLES)))
    check_password_policy(password, email)
    if find_user(email) is not None:
        raise UserError(_("A user with this email already exists."))
    user = User(email=email, role=role)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    return user


def authenticate(email: str, password: str) -> User | None:
    user = find_user(email)
    if user is None or not user.check_password(password) or not user.is_active:
        return None
    return user
