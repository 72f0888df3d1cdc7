from flask import Blueprint

bp = Blueprint("messaging", __name__, url_prefix="/campaigns")

from app.messaging import template_views, views  # noqa: E402,F401
