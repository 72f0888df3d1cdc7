from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import BooleanField, RadioField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from app.contacts.importing.files import WRONG_EXTENSION
from app.contacts.importing.reading import EXTENSIONS


class UploadForm(FlaskForm):
    """The first step of an import: the file, and whether it holds contacts or purchases."""

    file = FileField(
        _l("File"),
        validators=[
            FileRequired(_l("Choose a file to import.")),
            FileAllowed(EXTENSIONS, WRONG_EXTENSION),
        ],
    )
    kind = RadioField(_l("The file holds"), default="contacts")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Set here, not in the declaration: WTForms 3.3 deprecates declared tuple choices.
        self.kind.choices = [("contacts", _l("Contacts")), ("purchases", _l("Purchases"))]


class MappingForm(FlaskForm):
    """The second step: what the columns hold (column-N selects, read by the view) and how."""

    header = BooleanField(_l("The first row holds the column names"))
    on_duplicate = RadioField(_l("Numbers already in your contacts"), default="skip")
    list_id = SelectField(_l("Add them to a list"), coerce=int, validators=[Optional()])
    new_list = StringField(_l("…or a new list named"), validators=[Optional(), Length(max=100)])
    toman = BooleanField(_l("Amounts are in Tomans (multiplied by 10 to store Rials)"))
    create_contacts = BooleanField(_l("Add numbers not in your contacts as new contacts"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.on_duplicate.choices = [
            ("skip", _l("Leave those contacts as they are")),
            ("update", _l("Update them with the file's values (empty cells change nothing)")),
        ]


class ListForm(FlaskForm):
    name = StringField(_l("List name"), validators=[DataRequired(), Length(max=100)])


class MembershipForm(FlaskForm):
    """Selected contacts (checkboxes named contact_ids) into or out of a list."""

    list_id = SelectField(_l("List"), coerce=int, validators=[DataRequired()])
