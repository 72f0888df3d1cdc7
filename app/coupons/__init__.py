from flask import Blueprint

bp = Blueprint("coupons", __name__, url_prefix="/coupons")

from app.coupons import views  # noqa: E402,F401
