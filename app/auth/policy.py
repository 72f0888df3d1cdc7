"""Who may do what: one table, checked on the server before every request.

Each endpoint of the app names the permission it needs (``ENDPOINTS``); each role holds a
set of permissions (``ROLES``). ``enforce`` runs before every request and refuses with a
Persian 403 page when the signed-in user's role lacks the permission — before the view
runs, so a refused request changes nothing. An endpoint missing from the table is refused
to everyone, the owner too: a new route must be given its entry here before anyone can
use it (tests/integration/test_roles.py walks the URL map to prove every one has).

Menus and buttons ask the same table through the ``can(permission)`` template helper, so
what a user sees mirrors what the server lets them do.
"""

from collections.abc import Callable

from flask import Flask, Request, current_app, jsonify, render_template, request
from flask_babel import gettext as _
from flask_login import current_user

# Kinds of access that are not permissions a role holds.
PUBLIC = "public"  # no session needed (login, first-run setup, static files)
SIGNED_IN = "signed_in"  # any signed-in user (the home page, logging out, language)
API = "api"  # the JSON API checks its own bearer token (app.api.views.require_token)

# Permissions.
CONTACTS = "contacts"  # contacts, purchases, opt-outs, lists, tags, bulk tag/list/opt-out
IMPORTS = "imports"
CAMPAIGNS = "campaigns"  # composing, starting, pausing, resuming and cancelling campaigns
REPORTS = "reports"  # the delivery log, the retention report and their exports
PROVIDERS = "providers"  # provider accounts: seeing, adding, editing, testing
API_TOKENS = "api_tokens"
SENDING_RULES = "sending_rules"
USERS = "users"
AUDIT = "audit"
CONTACT_EXPORTS = "contact_exports"  # every contact as CSV or Excel
BULK_DELETE = "bulk_delete"
RETRY_UNKNOWN = "retry_unknown"  # sending again messages that may have arrived
LOG_EXPORTS = "log_exports"  # the delivery log as CSV or Excel, beyond one campaign's

STAFF_PERMISSIONS = frozenset({CONTACTS, IMPORTS, CAMPAIGNS, REPORTS})
OWNER_PERMISSIONS = STAFF_PERMISSIONS | {
    PROVIDERS,
    API_TOKENS,
    SENDING_RULES,
    USERS,
    AUDIT,
    CONTACT_EXPORTS,
    BULK_DELETE,
    RETRY_UNKNOWN,
    LOG_EXPORTS,
}
ROLES: dict[str, frozenset[str]] = {"owner": OWNER_PERMISSIONS, "staff": STAFF_PERMISSIONS}


def _bulk_action(req: Request) -> str:
    """Bulk tag, list and opt-out are staff work; deleting every match is the owner's.

    Any ``action=delete`` in the query or the form counts, whichever the view reads.
    """
    return BULK_DELETE if "delete" in req.values.getlist("action") else CONTACTS


def _campaign_control(req: Request) -> str:
    """Retrying messages of unknown fate may send them twice: the owner decides that."""
    return RETRY_UNKNOWN if (req.view_args or {}).get("action") == "retry" else CAMPAIGNS


def _log_export(req: Request) -> str:
    """One campaign's log is a report, as its coupon codes are: staff export it. The whole
    log, or any other slice of it (a day, a status, a number), is a full export of every
    number messaged: the owner's."""
    campaign = str(req.args.get("campaign") or "").strip()
    return REPORTS if campaign.isascii() and campaign.isdigit() and int(campaign) else LOG_EXPORTS


Rule = str | Callable[[Request], str]

ENDPOINTS: dict[str, Rule] = {
    # Open to visitors.
    "auth.login": PUBLIC,
    "auth.setup": PUBLIC,
    "set_language": PUBLIC,
    "static": PUBLIC,
    "favicon": PUBLIC,
    # Anyone signed in.
    "index": SIGNED_IN,
    "auth.logout": SIGNED_IN,
    # One's own account: changing one's password, logging out everywhere else.
    "auth.account": SIGNED_IN,
    "auth.password": SIGNED_IN,
    "auth.end_other_sessions": SIGNED_IN,
    # Contacts, lists, tags.
    "contacts.index": CONTACTS,
    "contacts.contact": CONTACTS,
    "contacts.new_contact": CONTACTS,
    "contacts.edit_contact": CONTACTS,
    "contacts.delete_contact": CONTACTS,
    "contacts.add_purchase": CONTACTS,
    "contacts.opt_in": CONTACTS,
    "contacts.opt_out": CONTACTS,
    "contacts.settings": CONTACTS,
    "contacts.lists": CONTACTS,
    "contacts.edit_list": CONTACTS,
    "contacts.delete_list": CONTACTS,
    "contacts.add_to_list": CONTACTS,
    "contacts.remove_from_list": CONTACTS,
    "contacts.tags": CONTACTS,
    "contacts.rename_tag": CONTACTS,
    "contacts.delete_tag": CONTACTS,
    "contacts.bulk_action": _bulk_action,
    # Segments (saved rules over contacts).
    "audience.segments_index": CONTACTS,
    "audience.segment": CONTACTS,
    "audience.new_segment": CONTACTS,
    "audience.edit_segment": CONTACTS,
    "audience.delete_segment": CONTACTS,
    # Full exports of the contacts (and the background Excel export's pages).
    "contacts.export_csv": CONTACT_EXPORTS,
    "contacts.export_xlsx": CONTACT_EXPORTS,
    "contacts.export_status": CONTACT_EXPORTS,
    "contacts.export_file": CONTACT_EXPORTS,
    # RFM groups: seeing them and scoring everyone again.
    "audience.rfm_page": CONTACTS,
    "audience.rfm_score": CONTACTS,
    # Imports.
    "contacts.import_contacts": IMPORTS,
    "contacts.import_job": IMPORTS,
    "contacts.discard_import": IMPORTS,
    "contacts.import_status": IMPORTS,
    "contacts.import_rejected": IMPORTS,
    # Campaigns.
    "messaging.campaigns_index": CAMPAIGNS,
    "messaging.new_campaign": CAMPAIGNS,
    "messaging.preview": CAMPAIGNS,
    "messaging.campaign": CAMPAIGNS,
    "messaging.confirm": CAMPAIGNS,
    "messaging.progress": CAMPAIGNS,
    "messaging.control": _campaign_control,
    # Coupon codes. Redeeming is CONTACTS work: whoever serves customers at the counter
    # types the code a customer shows, and the page names that customer (name, number),
    # which CONTACTS already lets them see; composing campaigns is not needed for that.
    "coupons.lookup": CONTACTS,
    "coupons.redeem": CONTACTS,
    # A campaign's codes with names and numbers: a report, as its delivery log is.
    "coupons.export_csv": REPORTS,
    "coupons.export_xlsx": REPORTS,
    # Automatic messages: set up and switched like campaigns.
    "occasions.automations": CAMPAIGNS,
    "occasions.automation": CAMPAIGNS,
    "occasions.new_automation": CAMPAIGNS,
    "occasions.edit_automation": CAMPAIGNS,
    "occasions.automation_active": CAMPAIGNS,
    "occasions.automation_plan": CAMPAIGNS,
    "occasions.delete_automation": CAMPAIGNS,
    "messaging.templates": CAMPAIGNS,
    "messaging.new_template": CAMPAIGNS,
    "messaging.edit_template": CAMPAIGNS,
    "messaging.delete_template": CAMPAIGNS,
    # Reports.
    "reports.dashboard": REPORTS,
    "reports.read_credit": REPORTS,
    "reports.messages": REPORTS,
    "reports.messages_csv": _log_export,
    "reports.messages_xlsx": _log_export,
    # A large Excel export's page and file: named by an unguessable token.
    "reports.export_status": REPORTS,
    "reports.export_file": REPORTS,
    "reports.retention": REPORTS,
    "reports.retention_xlsx": REPORTS,
    "reports.cohorts_xlsx": REPORTS,
    # The owner's settings.
    # The occasion calendar: seen by whoever plans campaigns; the shop's own occasions are
    # theirs too; moving a day and the mourning list change when marketing may leave.
    "occasions.calendar": CAMPAIGNS,
    "occasions.add_custom": CAMPAIGNS,
    "occasions.edit_custom": CAMPAIGNS,
    "occasions.delete_custom": CAMPAIGNS,
    "occasions.shift": SENDING_RULES,
    "occasions.mourning": SENDING_RULES,
    "settings.providers": PROVIDERS,
    "settings.provider": PROVIDERS,
    "settings.test_provider": PROVIDERS,
    "settings.sending": SENDING_RULES,
    "settings.api_tokens": API_TOKENS,
    "auth.users": USERS,
    "auth.user": USERS,
    "auth.user_role": USERS,
    "auth.user_password": USERS,
    "auth.user_active": USERS,
    "auth.audit": AUDIT,
    # The JSON API: a bearer token, made by the owner on the API tokens page.
    "api.openapi": API,
    "api.list_campaigns": API,
    "api.list_automations": API,
    "api.create_automation": API,
    "api.automation": API,
    "api.activate_automation": API,
    "api.deactivate_automation": API,
    "api.automation_plan": API,
    "api.create_campaign": API,
    "api.get_campaign": API,
    "api.estimate": API,
    "api.messages": API,
    "api.start": API,
    "api.pause": API,
    "api.resume": API,
    "api.cancel": API,
    "api.retry": API,
    "api.get_contact": API,
    "api.upsert_contacts": API,
    "api.record_purchases": API,
    "api.get_coupon": API,
    "api.redeem_coupon": API,
    "api.render_template_text": API,
    "api.list_templates": API,
    "api.create_template": API,
    "api.template": API,
    "api.list_lists": API,
    "api.create_list": API,
    "api.list_item": API,
    "api.list_tags": API,
    "api.list_segments": API,
    "api.create_segment": API,
    "api.segment": API,
    "api.sample_segment": API,
    "api.retention_report": API,
    "api.campaign_effect_report": API,
    "api.list_occasions": API,
}

PUBLIC_ENDPOINTS = frozenset(name for name, rule in ENDPOINTS.items() if rule == PUBLIC)


def role_may(role: str | None, permission: str) -> bool:
    """Whether a role holds a permission; an unknown role holds none."""
    return permission in ROLES.get(role or "", frozenset())


def can(permission: str) -> bool:
    """Whether the signed-in user may do this (for templates: ``can('providers')``)."""
    return current_user.is_authenticated and role_may(current_user.role, permission)


def required_permission(endpoint: str, req: Request) -> str | None:
    """What this request needs, or None when the endpoint is not in the table."""
    rule = ENDPOINTS.get(endpoint)
    if rule is None or isinstance(rule, str):
        return rule
    return rule(req)


def allowed(endpoint: str, req: Request) -> bool:
    permission = required_permission(endpoint, req)
    if permission is None:
        return False
    if permission in (PUBLIC, API):
        return True
    if not current_user.is_authenticated:
        return False
    return permission == SIGNED_IN or role_may(current_user.role, permission)


def forbidden():
    """The Persian (or English) page that says the user's role may not do this; under
    /api/, the API's JSON error."""
    if request.path.startswith("/api/"):
        # The API's documented error shape (app/api/errors.py), as its own 403 answers.
        message = _("This request is not allowed.")
        return jsonify({"error": {"code": "forbidden", "message": message, "details": []}}), 403
    return render_template("errors/forbidden.html"), 403


def enforce():
    """before_request: refuse what the table does not allow, before the view runs.

    A request that matched no route (a 404 or 405 to come) is left to Flask.
    """
    endpoint = request.endpoint
    if endpoint is None or allowed(endpoint, request):
        return None
    if endpoint not in ENDPOINTS:
        current_app.logger.error("Endpoint %s is not in the policy table: refused", endpoint)
    return forbidden()


def register_policy(app: Flask) -> None:
    """Check the table before every request (after the session guard) and offer ``can``."""
    app.before_request(enforce)
    app.jinja_env.globals["can"] = can
