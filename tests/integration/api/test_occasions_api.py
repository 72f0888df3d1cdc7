"""GET /api/v1/occasions: every occurrence of a range, in Persian, estimates marked; bad,
missing and too long ranges refused with the API's error shape."""

import pytest

from app.extensions import db
from app.occasions import service as occasions
from tests.integration.api.api_support import error_of, fields_of


def test_the_occasions_of_a_range_with_their_shape(api):
    response = api.get("/occasions?from=2026-12-01&to=2027-03-20")
    assert response.status_code == 200
    items = response.json["items"]
    yalda = next(item for item in items if item["key"] == "yalda")
    assert yalda == {
        "key": "yalda",
        "name": "شب یلدا",
        "calendar": "jalali",
        "date": "2026-12-21",
        "jalali": "1405/09/30",
        "estimate": False,
    }
    fitr = next(item for item in items if item["key"] == "eid_fitr")
    assert (fitr["date"], fitr["jalali"], fitr["calendar"]) == ("2027-03-10", "1405/12/19", "hijri")
    assert [item["date"] for item in items] == sorted(item["date"] for item in items)
    assert all(set(item) == set(yalda) for item in items)


def test_names_are_persian_whatever_the_language_and_estimates_marked(api):
    response = api.get(
        "/occasions?from=2027-05-01&to=2027-06-30", headers={"Accept-Language": "en"}
    )
    adha = next(item for item in response.json["items"] if item["key"] == "eid_adha")
    assert adha["name"] == "عید قربان" and adha["estimate"] is True


def test_the_shops_own_occasions_and_moved_days_are_listed(api):
    own = occasions.save_custom_occasion(None, "سالگرد فروشگاه", "jalali", 9, 10)
    occasions.shift_occurrence("eid_fitr:1448", 1)
    db.session.commit()
    items = api.get("/occasions?from=2026-12-01&to=2027-03-20").json["items"]
    shop = next(item for item in items if item["key"] == own.key)
    assert (shop["name"], shop["jalali"]) == ("سالگرد فروشگاه", "1405/09/10")
    fitr = next(item for item in items if item["key"] == "eid_fitr")
    assert fitr["jalali"] == "1405/12/20"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("", "from"),
        ("?from=2026-12-01", "to"),
        ("?from=1405/09/30&to=2027-01-01", "from"),
        ("?from=2026-02-30&to=2027-01-01", "from"),
        ("?from=2027-01-01&to=2026-12-01", "to"),
        ("?from=2020-01-01&to=2026-12-01", "to"),  # more than three years
    ],
)
def test_bad_missing_and_too_long_ranges_are_refused(api, query, field):
    error = error_of(api.get("/occasions" + query), 422, "invalid")
    assert field in fields_of(error)


def test_persian_digits_are_read(api):
    response = api.get("/occasions?from=۲۰۲۶-۱۲-۲۱&to=۲۰۲۶-۱۲-۲۱")
    assert [item["key"] for item in response.json["items"]] == ["yalda"]
