"""Audiences: segments (saved rules over contacts, compiled to SQL), RFM, birthday windows."""

from flask import Blueprint

bp = Blueprint("audience", __name__, url_prefix="/audience")

from app.audience import rfm_views, views  # noqa: E402,F401
