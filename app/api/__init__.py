"""The JSON API at /api/v1: token authentication, JSON errors, campaigns.

Shops and scripts call it with ``Authorization: Bearer vafa_…``; it never uses the
panel's session, so it is exempt from CSRF (a cross-site page cannot attach the header).
"""

from flask import Blueprint

from app.extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

from app.api import automations, errors, segments, views  # noqa: E402,F401
