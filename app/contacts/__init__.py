from flask import Blueprint

bp = Blueprint("contacts", __name__, url_prefix="/contacts")

from app.contacts import import_views, views  # noqa: E402,F401
