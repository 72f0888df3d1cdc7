from flask import Blueprint

bp = Blueprint("auth", __name__)

from app.auth import admin_views, views  # noqa: E402,F401
