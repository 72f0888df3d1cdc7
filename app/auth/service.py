"""Users: creating them, the password policy, checking passwords, ending sessions."""

from flask_babel import gettext as _
from sqlalchemy import func, select
from werkzeug.security import check_password_hash

from app.auth import models
from app.auth.models import ROLES, User
from app.extensions import db, login_manager
from app.persian import show_number

MIN_PASSWORD_LENGTH = 10


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The user of a session or remember cookie, if still active and its session version
    is still current.

    Sessions and cookies carry "<id>:<version>" (User.get_id); a password change or
    "log out everywhere" raises the version, so every older one stops working. The bare
    ids that sessions held before versions existed are refused the same way.
    """
    user_key, _sep, version = user_id.partition(":")
    if not (user_key.isdigit() and version.isdigit()) or len(user_key) > 18:
        return None
    user = db.session.get(User, int(user_key))
    if user is None or not user.is_active or str(user.session_version) != version:
        return None
    return user


def has_users() -> bool:
    return db.session.scalar(select(func.count(User.id))) > 0


def normalise_email(email: str) -> str:
    return email.strip().lower()


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalise_email(email)))


class UserError(ValueError):
    """Why a user cannot be created; the message is shown to the person creating it."""


class WrongPassword(UserError):
    """The current password typed to confirm a change is not the user's."""


def check_password_policy(password: str, email: str) -> None:
    """Refuse a password that is short, blank, or the account's own e-mail address.

    Setup, `vafa create-user` and every password change pass through here. Length is
    counted in characters, so a Persian password is held to the same rule.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(
            _(
                "The password must be at least %(count)s characters.",
                count=show_number(MIN_PASSWORD_LENGTH),
            )
        )
    if password.isspace():
        raise UserError(_("The password cannot be only spaces."))
    typed = password.strip().casefold()
    email = normalise_email(email).casefold()
    if typed in {email, email.partition("@")[0]}:
        raise UserError(_("The password cannot be the email address or the part before @."))


def create_user(email: str, password: str, role: str = "owner") -> User:
    """Add a user with a hashed password; the caller commits."""
    email = normalise_email(email)
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


def set_password(user: User, password: str) -> None:
    """Give the user a new password and end their other sessions; the caller commits.

    A session or remember cookie stolen before the change stops working with it. The
    caller logs the current browser in again (login_user) if it should stay logged in.
    """
    check_password_policy(password, user.email)
    user.set_password(password)
    end_sessions(user)


def change_password(user: User, current: str, new: str) -> None:
    """The user's own change: the current password first, then the policy."""
    if not user.check_password(current):
        raise WrongPassword(_("The current password is wrong."))
    set_password(user, new)


def end_sessions(user: User) -> None:
    """End every session and remember cookie of this user ("log out everywhere")."""
    user.session_version = (user.session_version or 1) + 1


_dummy_hashes: dict[object, str] = {}


def _hash_of_nobody() -> str:
    """A hash made the way new passwords are hashed, checked for unknown e-mails.

    Made once per hashing function (app.auth.models.generate_password_hash, which the
    tests swap for a cheaper method), so checking it costs what a real check costs.
    """
    generate = models.generate_password_hash
    if generate not in _dummy_hashes:
        _dummy_hashes[generate] = generate("not anybody's password")
    return _dummy_hashes[generate]


def authenticate(email: str, password: str) -> User | None:
    """The user with this e-mail and password, or None.

    An unknown e-mail costs the same work as a known one — one password hash checked
    with the same method — so the time of the answer does not tell which e-mails
    have accounts.
    """
    user = find_user(email)
    if user is None:
        check_password_hash(_hash_of_nobody(), password)
        return None
    if not user.check_password(password) or not user.is_active:
        return None
    return user
