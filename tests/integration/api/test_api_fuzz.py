"""The API keeps to its own OpenAPI document, checked by requests made from the document.

Schemathesis reads /api/v1/openapi.json from the app (in-process, WSGI, no network) and
sends, with a real token, requests the document allows (each must be answered 2xx or
with a 4xx the operation documents) and requests it forbids (each must be refused with a
4xx). Every answer must have the status, content type and shape the document declares,
and nothing may answer 5xx. Derandomized: every run sends the same requests.

A request the document allows may still be refused with 422 for what a schema cannot
say (the document's 422 names these): ``semantic_refusal`` lists them by the English
message, and any other 422 to a valid request is a disagreement between the two.
"""

import re

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.core.failures import Failure

from app import create_app
from app.api.openapi import document
from app.contacts.models import ContactList
from app.extensions import db
from app.messaging.models import Campaign
from app.sending.service import default_account

# Each operation gets this many generated requests per phase (valid and invalid ones):
# enough to walk every field's boundaries, small enough for well under a minute.
EXAMPLES = 25

# Refusals of valid requests for what JSON Schema cannot express (English messages).
SEMANTIC = re.compile(
    "|".join(
        [
            r"^There is no list with id",
            r"^There is no tag with id",
            r"is both chosen and excluded",
            r"^There is no segment with id",
            r"^The segment .* cannot be used until its rules are fixed",
            r"^Another list has this name",
            r"^There is no provider account with id",
            r"is not a sender line of this account",
            r"^This provider account has no sender line",
            r"^Unknown placeholder",
            r"is never closed: a placeholder ends with",  # {نام without its }
            r"has no opening one: a placeholder starts with",
            r"^An empty placeholder",
            r"^There is no contact with id",
            r"^Another template is already named",
            r"^This moment has passed",
            r"is in the future",
            r"^This moment is in the future",
            r"is not a real date",  # a day missing from the calendar (1403/07/31)
            r"send each number once",
            r"^No contact has this number",
            r"^A shop can have at most .* there are already",
            r"^Another segment is already named",
            r"^Rule [0-9.]+: there is no such (list|tag|campaign)",
            r"^A segment has at most .* rules",
            r"^Another automation is already called",
            r"^Choose an occasion from the calendar",  # a key the calendar does not have
            r"^A win-back comes at least one day after",
            r"^Choose the provider account the sender line belongs to",
            r"is not a line of this account",
            r"^There is no such provider account",
            r"^Give a time of day such as",  # 24:00, 10:75
            r"comes before .from.",  # a plan whose "to" is before its "from"
            r"days at a time",
        ]
    )
)


class Disagreement(Failure):
    """A valid request refused with a 422 the document does not foresee."""

    def __init__(self, operation: str, details: list[dict]):
        self.details = details
        super().__init__(
            operation=operation,
            title="Valid request refused",
            message=f"422 to a request the document allows: {details}",
        )


def semantic_refusal(ctx, response, case):
    """A valid request is accepted, or refused only for what a schema cannot say."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 422:
        return None
    details = response.json()["error"]["details"]
    unforeseen = [d for d in details if not SEMANTIC.search(d["message"])]
    if unforeseen:
        raise Disagreement(case.operation.label, unforeseen)
    return None


def _document() -> dict:
    """The document as the app builds it (it needs no database, only the settings)."""
    app = create_app(
        {"TESTING": True, "SECRET_KEY": "fuzz", "SQLALCHEMY_DATABASE_URI": "sqlite://"}
    )
    with app.app_context():
        return document()


DOCUMENT = _document()
schema = schemathesis.openapi.from_dict(DOCUMENT)
schema.config.update(base_url="http://localhost/api/v1")  # in-process: never leaves the app
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
    max_examples=EXAMPLES,
    deterministic=True,
    with_security_parameters=False,
)


def test_the_app_serves_the_document_the_fuzzer_reads(client):
    assert client.get("/api/v1/openapi.json").json == DOCUMENT


@pytest.fixture
def shop_app(app, make_contact):
    """The app as a WSGI callable, with a list, a contact and a campaign to find."""
    shop = ContactList(name="سایت")
    db.session.add(shop)
    make_contact("09121234567", first_name="علی")
    account = default_account()
    db.session.add(
        Campaign(
            name="یلدا",
            body="سلام",
            to_everyone=True,
            provider_id=account.id,
            sender=account.sender_lines[0],
        )
    )
    db.session.commit()

    def wsgi(environ, start_response):
        # Each request in an application context of its own, as in production.
        with app.app_context():
            return list(app.wsgi_app(environ, start_response))

    return wsgi


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_keeps_to_its_document(case, shop_app, token):
    # Every request, the checks' own probes included, goes to this test's app.
    case.operation.app = case.operation.schema.app = shop_app
    case.call_and_validate(
        headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"},
        excluded_checks=[schemathesis.checks.positive_data_acceptance],
        additional_checks=[semantic_refusal],
    )
