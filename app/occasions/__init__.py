"""Occasions and automations: the Jalali, lunar Hijri and Gregorian occasion calendar,
and the messages the panel sends by itself (birthdays, anniversaries, occasions,
win-back, welcome, after a purchase)."""
