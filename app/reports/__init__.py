from flask import Blueprint

bp = Blueprint("reports", __name__, url_prefix="/reports")

from app.reports import dashboard_views, retention_views, views  # noqa: E402,F401
