from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired, Length

from app.coupons.models import CODE_MAX


class RedeemForm(FlaskForm):
    """The «ثبت استفاده» button under a code, with an optional note (an invoice number)."""

    code = HiddenField(validators=[DataRequired(), Length(max=CODE_MAX)])
    note = StringField(
        _l("Note (optional), such as the invoice number"), validators=[Length(max=200)]
    )
