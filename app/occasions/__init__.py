"""Occasions and automations: the Jalali, lunar Hijri and Gregorian occasion calendar,
and the messages the panel sends by itself (birthdays, anniversaries, occasions,
win-back, welcome, after a purchase).

The pages' modules are imported by app.register_blueprints, not here: app.messaging.models
imports app.occasions.models, and the pages import app.messaging.
"""

from flask import Blueprint

bp = Blueprint("occasions", __name__, url_prefix="/occasions")
