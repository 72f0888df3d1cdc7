"""Vafa (وفا): a self-hosted, Persian-first SMS retention panel."""

from pathlib import Path

from flask import Flask, has_request_context, redirect, request, session, url_for
from flask_babel import get_locale
from flask_login import current_user
from sqlalchemy import event
from sqlalchemy.engine import Engine

from app.auth.policy import PUBLIC_ENDPOINTS
from app.config import derive_settings, load_config
from app.extensions import babel, csrf, db, login_manager, migrate
from app.form_messages import register_form_messages
from app.limits import register_limits
from app.types import render_migration_type

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOCALES = ("fa", "en")


def create_app(config: dict | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=str(PROJECT_ROOT / "instance"),
        template_folder=str(PROJECT_ROOT / "templates"),
    )
    app.config.update(load_config(Path(app.instance_path)))
    if config:
        app.config.update(config)
    derive_settings(app.config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    register_proxies(app)
    register_limits(app)
    register_extensions(app)
    register_form_messages(app)
    register_blueprints(app)
    register_session_guard(app)
    register_policy(app)
    register_template_helpers(app)
    register_security_headers(app)
    return app


def register_proxies(app: Flask) -> None:
    """Believe X-Forwarded-For/-Proto/-Host from VAFA_TRUSTED_PROXIES proxies only.

    With the default 0 the headers are ignored: anyone could send them, and the login
    throttle counts per client address (request.remote_addr).
    """
    if trusted := app.config["VAFA_TRUSTED_PROXIES"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=trusted, x_proto=trusted, x_host=trusted)


def register_security_headers(app: Flask) -> None:
    from app.headers import add_security_headers, add_strict_transport_security

    app.after_request(add_security_headers)
    if app.config["VAFA_SECURE_COOKIES"]:
        # Reached over HTTPS (that is what the setting says): browsers are told to keep it so.
        app.after_request(add_strict_transport_security)


def select_locale() -> str:
    """The visitor's chosen language; Persian by default and outside requests.

    The API has no session: a script asks for English with ``Accept-Language: en``.
    """
    if has_request_context():
        if request.path.startswith("/api/"):
            return request.accept_languages.best_match(LOCALES) or "fa"
        return session.get("lang") or "fa"
    return "fa"


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(
        app, db, directory=str(PROJECT_ROOT / "migrations"), render_item=render_migration_type
    )
    babel.init_app(app, locale_selector=select_locale)
    login_manager.init_app(app)
    csrf.init_app(app)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """WAL and a busy timeout let the web server and the dispatcher share SQLite."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # Safe with WAL: a crash of the app loses nothing; only a power cut may lose the
        # last commits. Without it every commit waits for the disk.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def register_blueprints(app: Flask) -> None:
    from app import api, audience, auth, contacts, coupons, messaging, occasions, reports, settings
    from app.occasions import automation_views, views  # noqa: F401  (the pages' routes)

    for blueprint in (
        auth.bp,
        contacts.bp,
        audience.bp,
        coupons.bp,
        messaging.bp,
        occasions.bp,
        reports.bp,
        settings.bp,
        api.bp,
    ):
        app.register_blueprint(blueprint)

    @app.get("/")
    def index():
        return redirect(url_for("messaging.campaigns_index"))

    @app.get("/favicon.ico")
    def favicon():
        """Where a browser looks for an icon when a page names none (a file it downloads)."""
        return redirect(url_for("static", filename="favicon.svg"), code=301)

    @app.post("/language")
    def set_language():
        lang = request.form.get("lang")
        if lang in LOCALES:
            session["lang"] = lang
        return redirect(request.referrer or url_for("index"))


def register_session_guard(app: Flask) -> None:
    """Every page but login (and first-run setup) needs a session.

    The API (app.api) checks a bearer token instead, and answers in JSON even at an
    address under /api/ that matches no route.
    """
    from app.auth.service import has_users

    @app.before_request
    def require_login():
        if request.blueprint == "api" or request.path.startswith("/api/"):
            return None
        if request.endpoint in PUBLIC_ENDPOINTS or current_user.is_authenticated:
            return None
        if not has_users():
            return redirect(url_for("auth.setup"))
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def register_policy(app: Flask) -> None:
    """Who may do what, checked for every request from one table (app/auth/policy.py)."""
    from app.auth import policy

    policy.register_policy(app)


def register_template_helpers(app: Flask) -> None:
    from app import persian

    app.jinja_env.filters.update(persian.FILTERS)

    @app.context_processor
    def locale_context():
        locale = get_locale()
        return {"locale": locale, "rtl": locale.text_direction == "rtl"}
