"""Reading pages the way a person does: visible text, table rows, numbers in either script."""

import re
from html import unescape

from flask_babel import force_locale

from app.persian import ascii_digits


def in_locale(lang: str, make):
    """``make()`` evaluated in ``lang``: what a page in that language shows."""
    with force_locale(lang):
        return str(make())


def text_of(html: str) -> str:
    """The visible text of some HTML: tags dropped, entities decoded, spaces collapsed."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    html = re.sub(r"</?bdi\b[^>]*>", "", html)  # an isolated word is still part of its text
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def page_text(response) -> str:
    """The visible text of a page."""
    return text_of(response.text)


def row_text(response, needle: str) -> str:
    """The visible text of the one table row that contains ``needle``."""
    rows = [
        row
        for row in re.findall(r"<tr\b.*?</tr>", response.text, flags=re.S)
        if needle in unescape(row)
    ]
    assert len(rows) == 1, f"expected one row with {needle!r}, found {len(rows)}"
    return text_of(rows[0])


def as_int(shown: str) -> int:
    """A number as a page shows it (۱٬۲۳۴ or 1,234) as an int."""
    return int(ascii_digits(shown).replace("٬", "").replace(",", "").strip())


def contact_ids_on(response) -> list[int]:
    """Ids of the contacts listed on a contacts page (their selection checkboxes)."""
    return [int(v) for v in re.findall(r'name="contact_ids"\s+value="(\d+)"', response.text)]


# The owner's provider key in tests, and a member of staff (fixtures in conftest.py).
KEY = "kave-0a1b2c3d4e5f6a7b8c9d-1234"
STAFF_EMAIL = "staff@example.com"
PASSWORD = "a good password"


def log_in(client, email="owner@example.com", password=PASSWORD):
    """Log ``client`` in through the login form (for tests that first move the clock)."""
    response = client.post("/login", data={"email": email, "password": password})
    assert response.status_code == 302, response.text
    return client


def provider_form(**fields) -> dict:
    """The provider account form as the owner submits it (a blank key keeps the stored one)."""
    return {
        "name": "کاوه",
        "kind": "kavenegar",
        "api_key": "",
        "senders": "3000123456",
        "base_url": "",
        "price_per_part": "0",
        **fields,
    }
