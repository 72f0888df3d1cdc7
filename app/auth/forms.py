from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, ValidationError

from app.auth.service import UserError, check_password_policy


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired()])
    password = PasswordField(_l("Password"), validators=[DataRequired()])


# Passwords use InputRequired: one of only spaces reaches the policy
# (app.auth.service.check_password_policy), which says what is wrong with it.


class SetupForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired()])
    password = PasswordField(_l("Password"), validators=[InputRequired()])
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[InputRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )

    def validate_password(self, field) -> None:
        """The policy's own words under the field (not WTForms' "Field must be at least…")."""
        try:
            check_password_policy(field.data or "", self.email.data or "")
        except UserError as error:
            raise ValidationError(str(error)) from None


class ChangePasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired()])
    password = PasswordField(_l("New password"), validators=[InputRequired()])
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[InputRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )


def _role_choices():
    from app.auth.users import ROLE_LABELS

    return list(ROLE_LABELS.items())


class AddUserForm(FlaskForm):
    """The owner adds a colleague with a first password, to be told in person."""

    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    role = SelectField(_l("Role"), default="staff")
    password = PasswordField(_l("First password"), validators=[DataRequired()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.role.choices = _role_choices()


class RoleForm(FlaskForm):
    role = SelectField(_l("Role"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.role.choices = _role_choices()


class ResetPasswordForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[DataRequired()])


class ActiveForm(FlaskForm):
    """Deactivate or reactivate: a button, with its CSRF token."""
