"""Occasions and automations: the Jalali, lunar Hijri and Gregorian occasion calendar,
and the messages the panel sends by itself (birthdays, anniversaries, occasions,
win-back, welcome, after a purchase)."""

from flask import Blueprint

bp = Blueprint("occasions", __name__, url_prefix="/occasions")

from app.occasions import views  # noqa: E402,F401
