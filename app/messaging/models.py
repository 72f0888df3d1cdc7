from datetime import datetime
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, ForeignKey, Index, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.contacts.models import ContactList, Tag
from app.extensions import db
from app.occasions.models import Automation
from app.sending.models import ProviderAccount
from app.types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from app.audience.models import Segment

# draft (estimate shown) → scheduled → preparing (writing its messages)
#   → sending (dispatcher at work) ⇄ paused → done | cancelled
# sending ⇄ checking (nothing left to send, but some messages' fate is not known yet)
#   → done, once none is uncertain
CAMPAIGN_STATUS_LABELS = {
    "draft": _l("Draft"),
    "scheduled": _l("Scheduled"),
    "preparing": _l("Preparing"),
    "sending": _l("Sending"),
    "checking": _l("Checking with the provider"),
    "paused": _l("Paused"),
    "done": _l("Sent"),
    "cancelled": _l("Cancelled"),
}


# At most this share of an audience (per cent) may be kept unsent as the holdout: beyond
# half, the campaign would mostly not be sent at all.
HOLDOUT_PERCENT_MAX = 50


class Campaign(db.Model):
    """One message text sent to an audience, now or at a scheduled moment."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    # Sent to every contact, or to those its audience entries include (lists, tags,
    # segments); either way minus those its excluding entries name. A campaign whose
    # chosen lists were all deleted goes to nobody (never to everyone by accident).
    to_everyone: Mapped[bool] = mapped_column(Boolean, default=False)
    provider_id: Mapped[int] = mapped_column(ForeignKey("provider_accounts.id"))
    sender: Mapped[str] = mapped_column(String(32))
    # Marketing messages respect the sending window, opt-outs and the frequency cap,
    # and carry the opt-out line.
    marketing: Mapped[bool] = mapped_column(Boolean, default=True)
    # Coupon codes for {کد تخفیف} in the text: a fixed prefix (A–Z, 0–9) and the length of
    # the random part; empty means the defaults (app/coupons/service.py: CouponSettings).
    coupon_prefix: Mapped[str | None] = mapped_column(String(8))
    coupon_length: Mapped[int | None] = mapped_column(SmallInteger)
    # The share of the audience (per cent, 0–50) kept unsent to measure the campaign's
    # effect: their messages are written ``skipped`` with the error ``holdout``, the
    # contacts chosen by app.messaging.service.held_out.
    holdout_percent: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    status: Mapped[str] = mapped_column(String(16), default="draft")
    # Why the campaign is paused: an error code (see ERROR_LABELS) or "owner".
    paused_reason: Mapped[str | None] = mapped_column(String(32))
    paused_detail: Mapped[str | None] = mapped_column(Text)
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # A campaign an automation made for one of its occurrences (app/occasions/), named
    # in the automation's terms: a day ("1405-09-30"), or an occasion's own year.
    automation_id: Mapped[int | None] = mapped_column(
        ForeignKey("automations.id", ondelete="SET NULL")
    )
    occurrence: Mapped[str | None] = mapped_column(String(64))

    provider: Mapped[ProviderAccount] = relationship()
    automation: Mapped[Automation | None] = relationship()
    audience: Mapped[list["AudienceEntry"]] = relationship(
        back_populates="campaign",
        cascade="all, delete-orphan",
        order_by="AudienceEntry.id",
        lazy="selectin",
    )

    __table_args__ = (
        Index("ix_campaigns_status_scheduled_at", "status", "scheduled_at"),
        # One campaign per automation and occurrence.
        Index("ix_campaigns_automation_id_occurrence", "automation_id", "occurrence", unique=True),
    )

    @property
    def yet_to_go_out(self) -> bool:
        """Confirmed and not finished: its audience is read again when it goes out.

        A draft is not (it starts only once confirmed).
        """
        return self.status in ("scheduled", "preparing", "sending", "paused")


class MessageTemplate(db.Model):
    """A ready message text («قالب پیام») the owner starts a campaign from.

    Built-ins (``builtin``, with a stable ``key``: welcome, birthday…) are written on a
    fresh install; the owner may edit them but not delete them. The owner's own have no key.
    """

    __tablename__ = "message_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    body: Mapped[str] = mapped_column(Text)
    key: Mapped[str | None] = mapped_column(String(32), unique=True)
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


AUDIENCE_KINDS = ("list", "tag", "segment")


class AudienceEntry(db.Model):
    """One list, tag or segment a campaign goes to (or, ``excluded``, keeps away from).

    Each kind has its own column, so the database itself forgets a deleted list, tag or
    segment (ON DELETE SET NULL) wherever it is deleted from; ``name`` keeps what the
    owner chose, for the campaign's page.
    """

    __tablename__ = "campaign_audience"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))  # list | tag | segment
    excluded: Mapped[bool] = mapped_column(Boolean, default=False)
    list_id: Mapped[int | None] = mapped_column(ForeignKey("contact_lists.id", ondelete="SET NULL"))
    tag_id: Mapped[int | None] = mapped_column(ForeignKey("tags.id", ondelete="SET NULL"))
    segment_id: Mapped[int | None] = mapped_column(ForeignKey("segments.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(100), default="")

    campaign: Mapped[Campaign] = relationship(back_populates="audience")
    # Loaded with the entry: the campaign's page names them (as they are called now).
    contact_list: Mapped[ContactList | None] = relationship(
        back_populates="campaign_entries", lazy="joined"
    )
    tag: Mapped[Tag | None] = relationship(back_populates="campaign_entries", lazy="joined")
    # By name: segments (app.audience) build on campaigns ("received campaign X"), not
    # the other way round.
    segment: Mapped["Segment | None"] = relationship(
        back_populates="campaign_entries", lazy="joined"
    )

    __table_args__ = (
        Index("ix_campaign_audience_campaign_id", "campaign_id"),
        Index("ix_campaign_audience_list_id", "list_id"),
        Index("ix_campaign_audience_tag_id", "tag_id"),
        Index("ix_campaign_audience_segment_id", "segment_id"),
    )

    @property
    def ref_id(self) -> int | None:
        """The id of the list, tag or segment; None once it has been deleted."""
        return getattr(self, f"{self.kind}_id")

    @property
    def current_name(self) -> str:
        """The list's, tag's or segment's name now (it may have been renamed), else the
        one kept."""
        item = {"list": self.contact_list, "tag": self.tag, "segment": self.segment}.get(self.kind)
        return item.name if item is not None else self.name
