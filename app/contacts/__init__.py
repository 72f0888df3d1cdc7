from flask import Blueprint

bp = Blueprint("contacts", __name__, url_prefix="/contacts")

from app.contacts import (  # noqa: E402,F401
    bulk_views,
    import_views,
    record_views,
    views,
)
