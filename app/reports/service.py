"""The delivery log: every message, filterable, pageable and exportable."""

import csv
import io
from collections.abc import Iterator

from flask_babel import gettext as _
from sqlalchemy import select

from app.contacts.phones import search_digits
from app.extensions import db
from app.persian import jalali_datetime, national_mobile
from app.sending.models import ERROR_LABELS, STATUS_LABELS, Message, ProviderAccount

EXPORT_CHUNK = 5000


def _filtered(stmt, campaign_id: int | None, status: str | None, mobile: str | None):
    if campaign_id:
        stmt = stmt.where(Message.campaign_id == campaign_id)
    if status in STATUS_LABELS:
        stmt = stmt.where(Message.status == status)
    digits = search_digits(mobile or "")
    if digits:
        # As in the contacts search: 0912… is the start of a number, 4567 any part of one.
        if digits.startswith("9"):
            stmt = stmt.where(Message.mobile.startswith("+98" + digits))
        else:
            stmt = stmt.where(Message.mobile.contains(digits))
    return stmt


def delivery_log(campaign_id=None, status=None, mobile=None, before=None, per_page=50):
    """A page of messages, newest first, and the id to continue from."""
    stmt = _filtered(select(Message), campaign_id, status, mobile)
    if before:
        stmt = stmt.where(Message.id < before)
    rows = db.session.scalars(stmt.order_by(Message.id.desc()).limit(per_page + 1)).all()
    more = len(rows) > per_page
    rows = rows[:per_page]
    return rows, (rows[-1].id if more else None)


def error_text(message: Message) -> str:
    label = ERROR_LABELS.get(message.error or "")
    return str(label) if label else (message.error or "")


def export_csv(campaign_id=None, status=None, mobile=None) -> Iterator[str]:
    """The delivery log as CSV text chunks: UTF-8 with a BOM so Excel keeps Persian intact.

    Dates are Jalali, Tehran time; rows are read in id-keyed chunks, so exporting ten
    million messages holds one chunk in memory at a time.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(
        [
            _("Message"),
            _("Campaign"),
            _("Mobile"),
            _("Text"),
            _("Parts"),
            _("Status"),
            _("Provider"),
            _("Provider id"),
            _("Queued at"),
            _("Sent at"),
            _("Final status at"),
            _("Error"),
        ]
    )
    accounts = dict(db.session.execute(select(ProviderAccount.id, ProviderAccount.name)).all())
    after = 0
    while True:
        stmt = _filtered(select(Message), campaign_id, status, mobile)
        rows = db.session.scalars(
            stmt.where(Message.id > after).order_by(Message.id).limit(EXPORT_CHUNK)
        ).all()
        for message in rows:
            writer.writerow(
                [
                    message.id,
                    message.campaign_id or "",
                    national_mobile(message.mobile),
                    message.body,
                    message.parts,
                    str(STATUS_LABELS.get(message.status, message.status)),
                    accounts.get(message.provider_id, ""),
                    message.provider_ref or "",
                    jalali_datetime(message.created_at),
                    jalali_datetime(message.sent_at) if message.sent_at else "",
                    jalali_datetime(message.done_at) if message.done_at else "",
                    error_text(message),
                ]
            )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if len(rows) < EXPORT_CHUNK:
            return
        after = rows[-1].id
        db.session.expunge_all()
