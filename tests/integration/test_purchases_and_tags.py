"""Purchases keep each contact's totals right; tags attach once."""

from datetime import UTC, datetime

from sqlalchemy import func, select

from app.contacts.models import Purchase, Tag
from app.contacts.service import (
    PurchaseInput,
    find_or_create_tags,
    record_purchases,
    refresh_purchase_totals,
    tag_contacts,
)
from app.extensions import db

NOWRUZ = datetime(2026, 3, 21, 7, 0, tzinfo=UTC)
YALDA = datetime(2025, 12, 21, 15, 0, tzinfo=UTC)


def test_purchases_in_any_order_give_the_right_totals(make_contact):
    ali = make_contact("09121234567", first_name="علی")
    created, duplicates = record_purchases(
        [
            PurchaseInput(ali.id, NOWRUZ, 2_500_000, "INV-2"),
            PurchaseInput(ali.id, YALDA, 1_000_000, "INV-1"),
        ]
    )
    db.session.commit()
    db.session.refresh(ali)

    assert (created, duplicates) == (2, 0)
    assert (ali.first_purchase_at, ali.last_purchase_at) == (YALDA, NOWRUZ)
    assert (ali.purchase_count, ali.total_spent) == (2, 3_500_000)


def test_a_reference_counts_once_even_when_posted_again(make_contact):
    ali = make_contact("09121234567")
    record_purchases([PurchaseInput(ali.id, NOWRUZ, 500, "INV-9")])
    created, duplicates = record_purchases(
        [
            PurchaseInput(ali.id, NOWRUZ, 500, "INV-9"),
            PurchaseInput(ali.id, NOWRUZ, 700, "INV-10"),
            PurchaseInput(ali.id, NOWRUZ, 700, "INV-10"),
            PurchaseInput(ali.id, NOWRUZ, 100, None),
        ]
    )
    db.session.commit()
    db.session.refresh(ali)

    assert (created, duplicates) == (2, 2)
    assert (ali.purchase_count, ali.total_spent) == (3, 1_300)


def test_totals_follow_a_deleted_purchase(make_contact):
    ali = make_contact("09121234567")
    record_purchases(
        [
            PurchaseInput(ali.id, YALDA, 100, "a"),
            PurchaseInput(ali.id, NOWRUZ, 200, "b"),
        ]
    )
    db.session.execute(Purchase.__table__.delete().where(Purchase.reference == "b"))
    refresh_purchase_totals({ali.id})
    db.session.commit()
    db.session.refresh(ali)

    assert (ali.purchase_count, ali.total_spent, ali.last_purchase_at) == (1, 100, YALDA)


def test_tags_are_created_once_and_attach_once(make_contact):
    ali, sara = make_contact("09121234567"), make_contact("09351112233")
    vip, wholesale = find_or_create_tags(["VIP", " عمده‌فروش ", "VIP"])
    again = find_or_create_tags(["عمده‌فروش"])

    assert again == [wholesale]
    assert tag_contacts([ali.id, sara.id], [vip.id]) == 2
    assert tag_contacts([ali.id], [vip.id, wholesale.id]) == 1
    db.session.commit()
    assert db.session.scalar(select(func.count(Tag.id))) == 2
    db.session.refresh(ali)
    assert sorted(t.name for t in ali.tags) == sorted(["VIP", "عمده‌فروش"])
