from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional


class ImportForm(FlaskForm):
    file = FileField(
        _l("CSV file"),
        validators=[
            FileRequired(_l("Choose a file to import.")),
            FileAllowed(["csv", "txt"], _l("Only CSV files can be imported for now.")),
        ],
    )
    list_id = SelectField(_l("Add them to a list"), coerce=int, validators=[Optional()])
    new_list = StringField(_l("…or a new list named"), validators=[Optional(), Length(max=100)])


class ListForm(FlaskForm):
    name = StringField(_l("List name"), validators=[DataRequired(), Length(max=100)])


class MembershipForm(FlaskForm):
    """Selected contacts (checkboxes named contact_ids) into or out of a list."""

    list_id = SelectField(_l("List"), coerce=int, validators=[DataRequired()])
