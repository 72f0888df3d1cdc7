from flask import Blueprint

bp = Blueprint("audience", __name__, url_prefix="/audience")

from app.audience import rfm_views  # noqa: E402,F401
