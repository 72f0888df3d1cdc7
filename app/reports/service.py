"""The delivery log: every message, with its campaign's and contact's names, filterable,
pageable and exportable at ten million messages.

One filter (``LogFilter``: a Jalali date range, a status, a campaign, a provider account,
a number) serves the page and both exports. The page is read newest first and keyset-paged
on ``(created_at, id)``: each filter has an index ending in those two columns (migration
0024), so any page, the first or the thousandth, is a range read of 51 index entries.
EXPLAIN-checked on SQLite and PostgreSQL by bench/log.py, which prints the figures.

The exports read the same rows oldest first through SQLAlchemy Core (plain tuples, no ORM
objects), with each label translated once and each minute turned into a Jalali date once:
a million rows take a few seconds, within a small multiple of ``sqlite3 -csv``.
"""

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO

from flask_babel import gettext as _
from sqlalchemy import and_, func, literal, select, text, tuple_

from app.contacts.models import Contact
from app.contacts.phones import search_digits
from app.exports import _FORMULA_START, CSV_FLUSH_ROWS, write_xlsx, xlsx_file
from app.extensions import db
from app.limits import ID_MAX
from app.messaging.models import Campaign
from app.occasions.models import Automation
from app.persian import (
    TEHRAN,
    GregorianDate,
    jalali_date,
    jalali_datetime,
    parse_jalali_date,
    show_date,
    show_digits,
    to_tehran,
)
from app.sending.models import (
    ERROR_LABELS,
    LOG_SPARSE_STATUSES,
    MESSAGE_MOBILE_TAIL,
    STATUS_LABELS,
    Message,
    ProviderAccount,
    off_the_way,
)

EXPORT_CHUNK = 5000
PER_PAGE = 50
# A number's start this long (91212…) matches few enough messages to read by the index of
# numbers and sort; a shorter one is read newest first (see _mobile_condition).
RANGE_FROM_DIGITS = 5
TAIL_DIGITS = 4  # the digits of the number's end that ix_messages_mobile_tail… holds


@dataclass(frozen=True)
class LogFilter:
    """Which messages: queued from ``start`` to ``end`` (Tehran days, both included), a
    status, a campaign, a provider account, a number in any form people type."""

    start: date | None = None
    end: date | None = None
    status: str | None = None
    campaign_id: int | None = None
    # Every campaign an automation made (one per day or occurrence it sent on).
    automation_id: int | None = None
    provider_id: int | None = None
    mobile: str = ""
    errors: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def from_mapping(cls, values) -> "LogFilter":
        """A filter from query-string values (from, to, status, campaign, provider, mobile).

        Junk ids and statuses are ignored; a date that cannot be read is left out of the
        filter and named in ``errors``, in the page's language, for the page to show.
        """

        def number(name: str) -> int | None:
            value = str(values.get(name) or "").strip()
            digits = value.isascii() and value.isdigit()
            return int(value) if digits and 0 < int(value) <= ID_MAX else None

        errors: list[str] = []

        def day(name: str, label: str) -> date | None:
            typed = str(values.get(name) or "").strip()
            if not typed:
                return None
            try:
                return parse_jalali_date(typed)
            except GregorianDate as error:
                errors.append(f"{label}: {error.reason()}")
            except ValueError:
                errors.append(
                    _(
                        "%(field)s: «%(value)s» is not a date; write it like 1405/01/01.",
                        field=label,
                        value=show_digits(typed[:40]),
                    )
                )
            return None

        start = day("from", _("From"))
        end = day("to", _("To"))
        if start and end and start > end:
            errors.append(
                _(
                    "The start date %(start)s is after the end date %(end)s.",
                    start=show_date(start),
                    end=show_date(end),
                )
            )
            start = end = None
        status = values.get("status")
        return cls(
            start=start,
            end=end,
            status=status if status in STATUS_LABELS else None,
            campaign_id=number("campaign"),
            automation_id=number("automation"),
            provider_id=number("provider"),
            mobile=str(values.get("mobile") or "").strip()[:40],
            errors=tuple(errors),
        )

    def as_args(self) -> dict:
        """The filter as URL parameters (for links and the exports); empty ones left out."""
        args = {
            "from": jalali_date(self.start) if self.start else None,
            "to": jalali_date(self.end) if self.end else None,
            "status": self.status,
            "campaign": self.campaign_id,
            "automation": self.automation_id,
            "provider": self.provider_id,
            "mobile": self.mobile,
        }
        return {key: value for key, value in args.items() if value}

    @property
    def is_campaign(self) -> bool:
        """Whether this is one campaign's or automation's log (a report staff may export)."""
        return self.campaign_id is not None or self.automation_id is not None


def _tehran_midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=TEHRAN).astimezone(UTC)


def _mobile_condition(typed: str):
    """The number filter, as a range or an equality on the ``mobile`` index where it can.

    0912…, +98912…, ۰۹۱۲… and 912… are the start of a number (search_digits drops the
    prefix); other digits, such as 4567, are its end.
    """
    digits = search_digits(typed)
    if not digits:
        return None
    if digits.startswith("9"):
        prefix = "+98" + digits[:10]
        if len(digits) >= 10:
            return Message.mobile == prefix
        if len(digits) < RANGE_FROM_DIGITS:
            # 0912 is a tenth of all numbers: a range of the mobile index would be a
            # million rows to sort at ten million messages, while reading newest first
            # fills a page within a few hundred. The expression keeps the planners
            # (SQLite's has no statistics) off the index.
            return func.substr(Message.mobile, 1, len(prefix)) == prefix
        # Digits only: the next prefix is the last digit plus one (":" after "9").
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        return and_(Message.mobile >= prefix, Message.mobile < upper)
    if len(digits) >= TAIL_DIGITS:
        tail = MESSAGE_MOBILE_TAIL == digits[-TAIL_DIGITS:]  # noqa: SIM300 (an SQL expression)
        return and_(tail, Message.mobile.endswith(digits)) if len(digits) > TAIL_DIGITS else tail
    # One to three digits match a thousandth of the messages or more: newest first, a
    # page fills within a few tens of thousands of rows.
    return Message.mobile.endswith(digits)


def conditions(log_filter: LogFilter) -> list:
    """The WHERE terms of a filter."""
    terms = []
    if log_filter.start:
        terms.append(Message.created_at >= _tehran_midnight(log_filter.start))
    if log_filter.end:
        terms.append(Message.created_at < _tehran_midnight(log_filter.end + timedelta(days=1)))
    if log_filter.status in LOG_SPARSE_STATUSES:
        # The partial index's own condition beside the status, so SQLite uses that index.
        terms += [Message.status == log_filter.status, text(off_the_way("messages.status"))]
    elif log_filter.status:
        # On the way to delivery: most messages are delivered or sent, and those queued or
        # being sent are the newest, so the newest messages fill a page at once.
        # ``status || ''`` keeps the database from reading them all through
        # ix_messages_status_id only to sort them by time.
        terms.append(Message.status.concat("") == log_filter.status)
    if log_filter.campaign_id:
        terms.append(Message.campaign_id == log_filter.campaign_id)
    if log_filter.automation_id:
        # Its runs' messages: a range of (campaign_id, created_at, id) each, sorted.
        runs = select(Campaign.id).where(Campaign.automation_id == log_filter.automation_id)
        terms.append(Message.campaign_id.in_(runs))
    if log_filter.provider_id:
        terms.append(Message.provider_id == log_filter.provider_id)
    mobile = _mobile_condition(log_filter.mobile)
    if mobile is not None:
        terms.append(mobile)
    return terms


PAGE_COLUMNS = (
    Message.id,
    Message.created_at,
    Message.mobile,
    Message.body,
    Message.parts,
    Message.status,
    Message.error,
    Message.provider_ref,
    Message.sent_at,
    Message.done_at,
    Message.campaign_id,
    Message.contact_id,
    Campaign.name.label("campaign_name"),
    Campaign.automation_id,
    Contact.first_name,
    Contact.last_name,
)


@dataclass(frozen=True)
class LogPage:
    rows: list
    next_before: int | None  # the id of the last row shown, when there is more


def page_statement(log_filter: LogFilter, before: int | None = None, per_page=PER_PAGE):
    """The SELECT of a page (bench/log.py explains it): newest first, after ``before``.

    ``before`` is the id of the last message of the previous page: the page goes on from
    its ``(created_at, id)``, an index range, never an OFFSET.
    """
    after = None
    if before:
        created_at = db.session.scalar(select(Message.created_at).where(Message.id == before))
        if created_at is not None:
            after = tuple_(Message.created_at, Message.id) < tuple_(
                literal(created_at, Message.created_at.type), before
            )
            # The page's own bound is the tighter one: an index range takes one upper
            # bound, and with the date range's end it would walk every message between
            # that end and this page (a million, deep in a year).
            if log_filter.end and created_at < _tehran_midnight(log_filter.end + timedelta(1)):
                log_filter = replace(log_filter, end=None)
    stmt = (
        select(*PAGE_COLUMNS)
        .select_from(Message)
        .outerjoin(Campaign, Campaign.id == Message.campaign_id)
        .outerjoin(Contact, Contact.id == Message.contact_id)
        .where(*conditions(log_filter))
    )
    if after is not None:
        stmt = stmt.where(after)
    return stmt.order_by(Message.created_at.desc(), Message.id.desc()).limit(per_page + 1)


def delivery_log(log_filter: LogFilter, before: int | None = None, per_page=PER_PAGE) -> LogPage:
    """A page of messages, newest first, with names, and the id to continue from."""
    rows = db.session.execute(page_statement(log_filter, before, per_page)).all()
    more = len(rows) > per_page
    rows = rows[:per_page]
    return LogPage(rows, rows[-1].id if more else None)


def contact_name(first_name: str | None, last_name: str | None) -> str:
    return " ".join(part for part in (first_name, last_name) if part)


def error_text(message) -> str:
    label = ERROR_LABELS.get(message.error or "")
    return str(label) if label else (message.error or "")


def automations_for_filter() -> list[tuple[int, str]]:
    """Every automation, for the log's automation choice."""
    return db.session.execute(
        select(Automation.id, Automation.name).order_by(Automation.name)
    ).all()


def campaigns_for_filter(limit: int = 200) -> list[tuple[int, str]]:
    """The latest campaigns (those of automations too), for the log's campaign choice."""
    return db.session.execute(
        select(Campaign.id, Campaign.name)
        .where(Campaign.status != "draft")
        .order_by(Campaign.id.desc())
        .limit(limit)
    ).all()


def provider_accounts() -> list[tuple[int, str]]:
    return db.session.execute(
        select(ProviderAccount.id, ProviderAccount.name).order_by(ProviderAccount.id)
    ).all()


def count_over(log_filter: LogFilter, cap: int) -> bool:
    """Whether more than ``cap`` messages match (reads at most cap + 1 index entries)."""
    limited = select(Message.id).where(*conditions(log_filter)).limit(cap + 1).subquery()
    return db.session.scalar(select(func.count()).select_from(limited)) > cap


def count_matching(log_filter: LogFilter) -> int:
    return db.session.scalar(select(func.count(Message.id)).where(*conditions(log_filter)))


# Exports --------------------------------------------------------------------------------


def log_header() -> list[str]:
    return [
        _("Message"),
        _("Campaign"),
        _("Contact"),
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


XLSX_WIDTHS = {1: 20, 2: 18, 3: 15, 4: 50, 6: 14, 9: 17, 10: 17, 11: 17, 12: 30}


def _minute(column):
    """A moment as its UTC minute in text, ``2026-03-21 07:00``, read by the database.

    Both databases give the same text, and an export turns each distinct minute into a
    Jalali date once instead of parsing a datetime per cell. SQLite stores the moment as
    this text followed by seconds; PostgreSQL formats its timestamptz in UTC.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD HH24:MI")
    return func.substr(column, 1, 16)


class _JalaliMinutes:
    """UTC minute text → the Jalali date and Tehran time it shows.

    Worked out an hour at a time (sixty texts from one time-zone conversion, where the
    hour has one offset) and kept for the latest hours only: a million messages sent one
    a minute over two years touch seventeen thousand hours, and the export's memory stays
    flat whatever their number.
    """

    KEEP_HOURS = 2000

    def __init__(self):
        self.hours: dict[str, list[str]] = {}

    def __getitem__(self, minute: str | None) -> str:
        if minute is None:
            return ""
        shown = self.hours.get(minute[:13])
        if shown is None:
            shown = self._hour(minute[:13])
        return shown[int(minute[14:16])]

    def _hour(self, hour: str) -> list[str]:
        if len(self.hours) >= self.KEEP_HOURS:
            self.hours.clear()
        start = datetime(
            int(hour[:4]), int(hour[5:7]), int(hour[8:10]), int(hour[11:13]), tzinfo=UTC
        )
        local = to_tehran(start)
        if local.utcoffset() == to_tehran(start + timedelta(minutes=59)).utcoffset():
            # One offset all hour: the Tehran clock runs from local.minute on, into the
            # next hour (and perhaps the next day) half-way through.
            day, next_day = local.date(), local.date() + timedelta(days=1)
            texts = (jalali_date(day), jalali_date(next_day))
            shown = []
            for minute in range(local.minute, local.minute + 60):
                hour_of_day = local.hour + minute // 60
                shown.append(f"{texts[hour_of_day // 24]} {hour_of_day % 24:02d}:{minute % 60:02d}")
        else:  # the hour the clocks moved (Iran kept daylight saving until 1401)
            shown = [jalali_datetime(start + timedelta(minutes=m)) for m in range(60)]
        self.hours[hour] = shown
        return shown


def log_rows(log_filter: LogFilter) -> Iterator[tuple]:
    """The delivery log's rows for an export, oldest first: the one way both files get them.

    Names instead of ids (an empty cell when the campaign or contact was deleted), dates
    Jalali in Tehran time, the mobile in its national form with spaces (so Excel keeps the
    0). Rows are streamed through Core in batches of ``EXPORT_CHUNK`` (a server-side
    cursor on PostgreSQL), so ten million messages hold one batch in memory at a time.
    """
    statuses = {key: str(label) for key, label in STATUS_LABELS.items()}
    errors = {key: str(label) for key, label in ERROR_LABELS.items()}
    accounts = dict(provider_accounts())
    minutes = _JalaliMinutes()
    stmt = (
        select(
            Message.id,
            Campaign.name,
            Contact.first_name,
            Contact.last_name,
            Message.mobile,
            Message.body,
            Message.parts,
            Message.status,
            Message.provider_id,
            Message.provider_ref,
            _minute(Message.created_at),
            _minute(Message.sent_at),
            _minute(Message.done_at),
            Message.error,
        )
        .select_from(Message)
        .outerjoin(Campaign, Campaign.id == Message.campaign_id)
        .outerjoin(Contact, Contact.id == Message.contact_id)
        .where(*conditions(log_filter))
        .order_by(Message.created_at, Message.id)
        .execution_options(yield_per=EXPORT_CHUNK)
    )
    for (
        message_id,
        campaign,
        first_name,
        last_name,
        mobile,
        body,
        parts,
        status,
        provider_id,
        provider_ref,
        created_at,
        sent_at,
        done_at,
        error,
    ) in db.session.connection().execute(stmt):
        national = "0" + mobile[3:]
        yield (
            message_id,
            campaign or "",
            f"{first_name} {last_name}" if first_name and last_name else first_name or last_name,
            f"{national[:4]} {national[4:7]} {national[7:]}",
            body,
            parts,
            statuses.get(status, status),
            accounts.get(provider_id, ""),
            provider_ref,
            minutes[created_at],
            sent := minutes[sent_at],
            sent if done_at == sent_at else minutes[done_at],
            errors.get(error, error) if error else "",
        )


def csv_chunks(header: list[str], rows) -> Iterator[str]:
    """The rows as CSV text chunks, the BOM first; text cells guarded against formulas.

    As app.exports.csv_chunks, with the guard inlined for the log's few text columns:
    a million rows pass through here, and a function call per cell was most of the time.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(_guarded(header))
    flush = CSV_FLUSH_ROWS
    for count, row in enumerate(rows, start=1):
        writer.writerow(_guarded(row) if _risky(row) else row)
        if count % flush == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


# The columns of a log row that hold someone's text (campaign, contact, body, reference).
_TEXT_COLUMNS = (1, 2, 4, 8)


def _risky(row) -> bool:
    for column in _TEXT_COLUMNS:
        value = row[column]
        if value and value.startswith(_FORMULA_START):
            return True
    return False


def _guarded(row) -> list:
    return [
        "'" + value if isinstance(value, str) and value.startswith(_FORMULA_START) else value
        for value in row
    ]


def export_csv(log_filter: LogFilter) -> Iterator[str]:
    """The delivery log as CSV text chunks: UTF-8 with a BOM so Excel keeps Persian intact."""
    return csv_chunks(log_header(), log_rows(log_filter))


def export_xlsx(log_filter: LogFilter, rtl: bool = True) -> IO[bytes]:
    """The delivery log as an Excel workbook in a temporary file (see app.exports)."""
    return xlsx_file(
        log_header(), log_rows(log_filter), sheet=_("Delivery log"), rtl=rtl, widths=XLSX_WIDTHS
    )


def write_log_xlsx(
    target: str | Path,
    log_filter: LogFilter,
    rtl: bool,
    progress: Callable[[int, int | None], None] | None = None,
) -> None:
    """The delivery log as an Excel workbook at ``target`` (a background export).

    ``progress(done, total)`` is called every ``EXPORT_CHUNK`` rows, so the export's page
    shows how far it is and a watcher can tell a long export from a dead one.
    """
    rows = log_rows(log_filter)
    if progress is not None:
        rows = _reporting(rows, progress, count_matching(log_filter))
    write_xlsx(target, log_header(), rows, sheet=_("Delivery log"), rtl=rtl, widths=XLSX_WIDTHS)


def _reporting(rows, progress, total: int):
    for count, row in enumerate(rows):
        if count % EXPORT_CHUNK == 0:
            progress(count, total)
        yield row
    progress(total, total)
