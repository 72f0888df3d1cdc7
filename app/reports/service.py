"""The delivery log: every message, filterable, pageable and exportable."""

from collections.abc import Iterator
from typing import IO

from flask_babel import gettext as _
from sqlalchemy import select

from app.contacts.phones import search_digits
from app.exports import csv_chunks, xlsx_file
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


def log_header() -> list[str]:
    return [
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


def log_rows(campaign_id=None, status=None, mobile=None) -> Iterator[list]:
    """The delivery log's rows for an export, oldest first: the one way both files get them.

    Dates are Jalali, Tehran time; the mobile is in its national form with spaces (so a
    CSV opened in Excel keeps the 0). Rows are read in id-keyed chunks, so exporting ten
    million messages holds one chunk in memory at a time.
    """
    accounts = dict(db.session.execute(select(ProviderAccount.id, ProviderAccount.name)).all())
    after = 0
    while True:
        stmt = _filtered(select(Message), campaign_id, status, mobile)
        rows = db.session.scalars(
            stmt.where(Message.id > after).order_by(Message.id).limit(EXPORT_CHUNK)
        ).all()
        for message in rows:
            yield [
                message.id,
                message.campaign_id,
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
        if len(rows) < EXPORT_CHUNK:
            return
        after = rows[-1].id
        db.session.expunge_all()


def export_csv(campaign_id=None, status=None, mobile=None) -> Iterator[str]:
    """The delivery log as CSV text chunks: UTF-8 with a BOM so Excel keeps Persian intact."""
    return csv_chunks(log_header(), log_rows(campaign_id, status, mobile))


def export_xlsx(campaign_id=None, status=None, mobile=None, rtl: bool = True) -> IO[bytes]:
    """The delivery log as an Excel workbook in a temporary file (see app.exports)."""
    return xlsx_file(
        log_header(),
        log_rows(campaign_id, status, mobile),
        sheet=_("Delivery log"),
        rtl=rtl,
        widths={2: 15, 3: 50, 5: 14, 8: 17, 9: 17, 10: 17, 11: 30},
    )
