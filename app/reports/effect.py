"""Did a campaign bring customers back? Its recipients' purchases against its holdout's.

A campaign (or an automation's campaign) may keep a share of its audience unsent: their
messages are written ``skipped`` with the error ``holdout``, chosen by a hash of the
contact and the campaign (``app.messaging.service.held_out``). Both groups are then
followed over the same days and compared: ``days`` whole Tehran days from the midnight
that begins the day the campaign started, i.e. that day through that day + ``days`` − 1.
Whole days, not hours from the send: a purchase entered by hand is stored at 12:00
Tehran of its day, so a same-day purchase after an evening send would be missed.

- conversion rate of each group: contacts with at least one purchase in those days ÷
  contacts in the group;
- uplift: recipients' rate − holdout's rate, with a two-proportion z-test (pooled
  standard error) and its 95 % interval (unpooled), the textbook pair:
  z = (p₁ − p₀) ÷ √(p(1 − p)(1/n₁ + 1/n₀)), p = (c₁ + c₀) ÷ (n₁ + n₀);
  interval = (p₁ − p₀) ± 1.96 × √(p₁(1 − p₁)/n₁ + p₀(1 − p₀)/n₀);
  the p-value is two-sided: erfc(|z| ÷ √2).
- attributed revenue: what the recipients spent in those days; coupon redemptions: the
  campaign's codes used.

Written by hand: the test is three lines of arithmetic (``math.erfc`` is the normal
tail), not worth a statistics library.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import and_, case, func, select

from app.contacts.models import Purchase
from app.coupons.models import Coupon
from app.extensions import db
from app.messaging.models import Campaign
from app.persian import day_start, show_number, to_tehran
from app.sending.models import HANDED_OVER, HOLDOUT, Message

DAYS_DEFAULT = 14
DAYS_MAX = 365
Z_95 = 1.959964


@dataclass(frozen=True)
class Effect:
    days: int
    start: datetime | None  # the first moment counted: Tehran midnight of the start's day
    recipients: int
    holdout: int
    recipient_conversions: int
    holdout_conversions: int
    revenue: int  # Rials the recipients spent in the days
    coupons_redeemed: int

    @property
    def recipient_rate(self) -> float | None:
        return self.recipient_conversions / self.recipients if self.recipients else None

    @property
    def holdout_rate(self) -> float | None:
        return self.holdout_conversions / self.holdout if self.holdout else None

    @property
    def measurable(self) -> bool:
        return bool(self.recipients and self.holdout)

    @property
    def uplift(self) -> float | None:
        if not self.measurable:
            return None
        return self.recipient_rate - self.holdout_rate

    @property
    def z(self) -> float | None:
        if not self.measurable:
            return None
        pooled = (self.recipient_conversions + self.holdout_conversions) / (
            self.recipients + self.holdout
        )
        error = math.sqrt(pooled * (1 - pooled) * (1 / self.recipients + 1 / self.holdout))
        return self.uplift / error if error else None

    @property
    def p_value(self) -> float | None:
        z = self.z
        return math.erfc(abs(z) / math.sqrt(2)) if z is not None else None

    @property
    def interval(self) -> tuple[float, float] | None:
        if not self.measurable:
            return None
        p1, p0 = self.recipient_rate, self.holdout_rate
        error = math.sqrt(p1 * (1 - p1) / self.recipients + p0 * (1 - p0) / self.holdout)
        return self.uplift - Z_95 * error, self.uplift + Z_95 * error

    @property
    def significant(self) -> bool:
        return self.p_value is not None and self.p_value < 0.05

    def in_words(self) -> str:
        """What it means, as the owner reads it."""
        if not self.recipients:
            return _("Nobody has received this campaign yet.")
        if not self.holdout:
            return _(
                "No holdout was kept, so there is nothing to compare with: keep a share of "
                "the audience unsent next time to see what the messages changed."
            )
        if self.z is None:
            return _("Nobody in either group has bought yet: nothing to compare so far.")
        per_hundred = show_number(round(abs(self.uplift) * 100))
        if self.uplift >= 0:
            said = _("about %(count)s more customers in 100 came back", count=per_hundred)
        else:
            said = _("about %(count)s fewer customers in 100 came back", count=per_hundred)
        if self.significant:
            return _("%(said)s; this is unlikely to be chance.", said=said)
        return _(
            "%(said)s; this could well be chance (the groups are small or the difference "
            "is slight).",
            said=said,
        )


def campaign_effect(campaign: Campaign, days: int = DAYS_DEFAULT) -> Effect:
    """The recipients' purchases against the holdout's over ``days`` Tehran days, from the
    midnight that begins the day the campaign started (see the module)."""
    if campaign.started_at is None:
        return Effect(days, None, 0, 0, 0, 0, 0, 0)
    first_day = to_tehran(campaign.started_at).date()
    start, end = day_start(first_day), day_start(first_day + timedelta(days=days))
    in_group = case((Message.error == HOLDOUT, "holdout"), else_="recipients")
    counted = and_(
        Message.campaign_id == campaign.id,
        Message.contact_id.is_not(None),
        (Message.status.in_(("unknown", *HANDED_OVER)))
        | and_(Message.status == "skipped", Message.error == HOLDOUT),
    )
    sizes = dict(
        db.session.execute(
            select(in_group, func.count(func.distinct(Message.contact_id)))
            .where(counted)
            .group_by(in_group)
        ).all()
    )
    bought = (
        select(
            in_group,
            func.count(func.distinct(Message.contact_id)),
            func.coalesce(func.sum(Purchase.amount), 0),
        )
        .join(
            Purchase,
            and_(
                Purchase.contact_id == Message.contact_id,
                Purchase.purchased_at >= start,
                Purchase.purchased_at < end,
            ),
        )
        .where(counted)
        .group_by(in_group)
    )
    converted = {group: (count, spent) for group, count, spent in db.session.execute(bought)}
    redeemed = db.session.scalar(
        select(func.count(Coupon.redeemed_at)).where(Coupon.campaign_id == campaign.id)
    )
    return Effect(
        days,
        start,
        sizes.get("recipients", 0),
        sizes.get("holdout", 0),
        converted.get("recipients", (0, 0))[0],
        converted.get("holdout", (0, 0))[0],
        int(converted.get("recipients", (0, 0))[1]),
        redeemed or 0,
    )
