"""The ``vafa`` command: Flask's CLI group with Vafa's own commands.

``vafa --help`` lists them all; ``vafa db upgrade`` (Flask-Migrate) brings any database
to the current schema.
"""

import json
import logging
import signal
import sys
import threading
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup, FlaskGroup, with_appcontext

from app import create_app
from app.extensions import db


def _logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Every tick of every job is noise; failures are still logged by app.jobs.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_args: stop.set())
    return stop


@click.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
@click.option("--no-scheduler", is_flag=True, help="Serve pages only; jobs run elsewhere.")
@with_appcontext
def run_command(host: str, port: int, threads: int, no_scheduler: bool) -> None:
    """Run the panel, the scheduler and a worker in one process."""
    from waitress import serve

    from app.jobs import Worker, start_scheduler

    _logging()
    app = current_app._get_current_object()
    if not no_scheduler:
        start_scheduler(app)
        Worker(app).start_thread()
    click.echo(f"Vafa is running on http://{host}:{port}/ (Ctrl+C to stop)")
    serve(app, host=host, port=port, threads=threads, _quiet=True)


@click.command("worker")
@with_appcontext
def worker_command() -> None:
    """Send queued messages and poll delivery reports (run as many as you like)."""
    from app.jobs import Worker

    _logging()
    Worker(current_app._get_current_object(), _stop_on_signals()).run()


@click.command("scheduler")
@with_appcontext
def scheduler_command() -> None:
    """Start due campaigns (exactly one is active; a second one waits)."""
    from app.jobs import scheduler_lock, start_scheduler

    _logging()
    app = current_app._get_current_object()
    stop = _stop_on_signals()
    with scheduler_lock(app):
        scheduler = start_scheduler(app)
        click.echo("Scheduler active")
        stop.wait()
        scheduler.shutdown()


@click.command("create-user")
@click.argument("email")
@click.option("--role", default="owner", show_default=True, type=click.Choice(["owner", "staff"]))
@click.option(
    "--password-file",
    type=click.File("r"),
    help="Read the password from this file's first line (default: standard input).",
)
@with_appcontext
def create_user_command(email: str, role: str, password_file) -> None:
    """Create a user who can log into the panel."""
    from app.auth.audit import record_audit
    from app.auth.service import UserError, create_user

    try:
        user = create_user(email, _read_password(password_file), role)
    except UserError as error:
        raise click.ClickException(str(error)) from None
    record_audit("user.add", user.email, {"role": user.role})
    db.session.commit()
    click.echo(f"Created {user.role} {user.email}")


def _read_password(password_file) -> str:
    if password_file is not None:
        return password_file.readline().rstrip("\n")
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\n")


@click.command("set-password")
@click.argument("email")
@click.option(
    "--password-file",
    type=click.File("r"),
    help="Read the password from this file's first line (default: standard input).",
)
@with_appcontext
def set_password_command(email: str, password_file) -> None:
    """Give a user a new password (a forgotten one); logs them out everywhere."""
    from app.auth import throttle
    from app.auth.service import UserError, find_user, set_password

    user = find_user(email)
    if user is None:
        raise click.ClickException(f"No user has the email {email.strip().lower()}")
    try:
        set_password(user, _read_password(password_file))
    except UserError as error:
        raise click.ClickException(str(error)) from None
    throttle.forget(throttle.account_key(user.email))
    db.session.commit()
    click.echo(f"New password set for {user.email}; every session of theirs has ended")


@click.command("tick")
@with_appcontext
def tick_command() -> None:
    """Run every job once: start due campaigns, send, poll delivery reports."""
    from app.jobs import run_all_once

    run_all_once(current_app._get_current_object())


providers_group = AppGroup("providers", help="SMS provider accounts.")

_KINDS = click.Choice(["kavenegar", "melipayamak", "ippanel", "smsir", "ghasedak", "console"])


def _account_options(command):
    """The options ``add`` and ``edit`` share; in ``edit`` one left out keeps its value."""
    options = [
        click.option(
            "--api-key",
            default="",
            help="API key (Kavenegar, IPPanel, sms.ir, Ghasedak); '-' reads it from standard "
            "input, so it stays out of the shell's history and the process list.",
        ),
        click.option("--username", default="", help="Username (Melipayamak)."),
        click.option(
            "--password", default="", help="Password (Melipayamak); '-' reads it from stdin."
        ),
        click.option(
            "--sender",
            "senders",
            multiple=True,
            help="A sender line; repeat for several. The first is the default.",
        ),
        click.option("--base-url", default=None, help="Another address for the provider's API."),
        click.option("--rate", type=float, default=None, help="Requests per second."),
        click.option("--price-per-part", type=int, default=None, help="Rials per SMS part."),
        click.option("--default", "make_default", is_flag=True, help="Use it for new campaigns."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _save_account(account, action: str, *, name, kind, api_key, username, password, **fields):
    """Save through the panel's own service, audit it and commit; secrets are never echoed."""
    from app.auth.audit import provider_change, provider_snapshot, record_audit
    from app.sending.accounts import AccountError, save_account

    if api_key == "-":
        api_key = sys.stdin.readline().strip()
    if password == "-":
        password = sys.stdin.readline().rstrip("\n")
    before = provider_snapshot(account)
    try:
        saved = save_account(
            account,
            name=name,
            kind=kind,
            api_key=api_key,
            username=username,
            password=password,
            **fields,
        )
    except AccountError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    typed = [
        name
        for name, value in (("api_key", api_key), ("username", username), ("password", password))
        if value
    ]
    record_audit(action, saved.name, provider_change(before, saved, typed))
    db.session.commit()
    return saved


def _find_account(reference: str):
    from app.sending.accounts import find_account

    account = find_account(reference)
    if account is None:
        raise click.ClickException(f"No provider account has the id or name {reference!r}.")
    return account


@providers_group.command("add")
@click.argument("name")
@click.option("--kind", required=True, type=_KINDS)
@_account_options
@with_appcontext
def providers_add(name, kind, senders, base_url, rate, price_per_part, make_default, **secrets):
    """Add a provider account (keys are stored, never printed)."""
    if not senders:
        raise click.UsageError("Give at least one --sender line.")
    account = _save_account(
        None,
        "provider.add",
        name=name,
        kind=kind,
        senders="\n".join(senders),
        base_url=base_url,
        requests_per_second=rate,
        price_per_part=price_per_part or 0,
        is_default=make_default,
        **secrets,
    )
    click.echo(f"Added {account.kind} account {account.name!r} ({account.masked_key()})")


@providers_group.command("edit")
@click.argument("reference", metavar="ACCOUNT")
@click.option("--name", default=None, help="A new name for the account.")
@click.option("--kind", default=None, type=_KINDS, help="Another provider (type the key again).")
@_account_options
@with_appcontext
def providers_edit(
    reference, name, kind, senders, base_url, rate, price_per_part, make_default, **secrets
) -> None:
    """Change an account (by id or name); what is left out stays as it is.

    --sender replaces every line; --base-url "" goes back to the provider's own address.
    A new provider or address needs its key (or password) typed again.
    """
    account = _find_account(reference)
    account = _save_account(
        account,
        "provider.edit",
        name=account.name if name is None else name,
        kind=kind or account.kind,
        senders="\n".join(senders) if senders else account.senders,
        base_url=account.base_url if base_url is None else base_url,
        requests_per_second=rate,
        price_per_part=account.price_per_part if price_per_part is None else price_per_part,
        is_default=make_default,
        **secrets,
    )
    click.echo(f"Saved {account.kind} account {account.name!r} ({account.masked_key()})")


@providers_group.command("remove")
@click.argument("reference", metavar="ACCOUNT")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def providers_remove(reference, yes) -> None:
    """Remove an account that has sent nothing (one with campaigns is kept for their log)."""
    from app.auth.audit import record_audit
    from app.sending.accounts import AccountError, remove_account

    account = _find_account(reference)
    name = account.name
    if not yes:
        click.confirm(f"Remove the provider account {name!r}?", abort=True)
    try:
        remove_account(account)
    except AccountError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    record_audit("provider.remove", name)
    db.session.commit()
    click.echo(f"Removed the provider account {name!r}")


@providers_group.command("test")
@click.argument("reference", metavar="ACCOUNT")
@with_appcontext
def providers_test(reference) -> None:
    """Ask the provider for the account's credit, as «test connection» does in the panel."""
    from app.auth.audit import provider_test, record_audit
    from app.sending.accounts import check_credit

    account = _find_account(reference)
    credit, reason = check_credit(account)
    record_audit("provider.test", account.name, provider_test(account, credit))
    db.session.commit()
    if reason is not None:
        raise click.ClickException(f"Connecting to {account.name!r} failed: {reason}")
    click.echo(f"Connected to {account.name!r}. Credit: {credit:,} Rials.")


@providers_group.command("list")
@with_appcontext
def providers_list() -> None:
    """List provider accounts (keys masked)."""
    from sqlalchemy import select

    from app.sending.models import ProviderAccount

    for account in db.session.scalars(select(ProviderAccount).order_by(ProviderAccount.id)):
        mark = "*" if account.is_default else " "
        lines = ",".join(account.sender_lines)
        click.echo(
            f"{mark} {account.id}\t{account.name}\t{account.kind}\t{lines}\t{account.masked_key()}"
        )


@providers_group.command("rotate-keys")
@with_appcontext
def providers_rotate_keys() -> None:
    """Encrypt every stored key again with the current encryption key.

    After changing VAFA_ENCRYPTION_KEY (or the secret key), list the old one in
    VAFA_ENCRYPTION_OLD_KEYS, run this, then remove it from that list.
    """
    from app.sending.accounts import rotate_keys

    rotated, unreadable = rotate_keys()
    db.session.commit()
    click.echo(f"Re-encrypted the keys of {rotated} account(s) with the current key.")
    if unreadable:
        names = ", ".join(repr(name) for name in unreadable)
        raise click.ClickException(
            f"No configured key decrypts the keys of {names}: list the old key in "
            "VAFA_ENCRYPTION_OLD_KEYS and run this again, or type those keys again in the panel."
        )


@click.group("rules", cls=AppGroup, invoke_without_command=True)
@with_appcontext
@click.pass_context
def rules_group(context) -> None:
    """The sending rules for marketing SMS (the panel's rules page); alone: show them."""
    if context.invoked_subcommand is None:
        _show_rules()


# Each rule as `vafa rules` shows it: its label, the policy fields it holds, its setting.
_RULES = (
    ("Sending window (Tehran)", ("window_start", "window_end"), "VAFA_SENDING_WINDOW"),
    ("Quiet days", ("quiet_weekdays", "quiet_dates"), "VAFA_QUIET_DAYS"),
    ("Marketing SMS per day (0 for no limit)", ("daily_cap",), "VAFA_DAILY_CAP"),
    ("Days between marketing SMS to one contact (0 for no limit)", ("frequency_cap_days",),
     "VAFA_FREQUENCY_CAP_DAYS"),
    ("Opt-out line added", ("optout_line",), "VAFA_OPTOUT_LINE"),
    ("Opt-out text", ("optout_text",), "VAFA_OPTOUT_TEXT"),
)  # fmt: skip


def _show_rules() -> None:
    """Print the rules in force, each with where it comes from."""
    from app.sending.policy import load_policy, quiet_days_text, saved_rules

    policy, saved = load_policy(), saved_rules()
    shown = {
        "window_start": f"{policy.window_start:%H:%M}-{policy.window_end:%H:%M}",
        "quiet_weekdays": quiet_days_text(policy) or "none",
        "daily_cap": str(policy.daily_cap),
        "frequency_cap_days": str(policy.frequency_cap_days),
        "optout_line": "on" if policy.optout_line else "off",
        "optout_text": policy.optout_text,
    }
    for label, names, setting in _RULES:
        if saved.intersection(names):
            origin = "saved by the owner"
        elif current_app.config.get(setting):
            origin = f"from {setting}"
        else:
            origin = "default"
        click.echo(f"{label}: {shown[names[0]]}\t({origin})")


@rules_group.command("set")
@click.option("--window", help="When marketing SMS may leave, Tehran time: 08:00-22:00.")
@click.option(
    "--quiet-days",
    help="Days with no marketing SMS: weekdays and Jalali dates, e.g. «جمعه,1405/01/01» "
    '("" for none).',
)
@click.option(
    "--daily-cap",
    type=click.IntRange(0, 10_000_000),
    help="At most this many marketing SMS per Tehran day for the whole shop (0: no cap).",
)
@click.option(
    "--frequency-cap-days",
    type=click.IntRange(0, 365),
    help="At most one marketing SMS per contact every this many days (0: no cap).",
)
@click.option("--optout-line/--no-optout-line", default=None, help="Add the opt-out line.")
@click.option("--optout-text", help="The opt-out line, e.g. «لغو۱۱».")
@with_appcontext
def rules_set(window, quiet_days, daily_cap, frequency_cap_days, optout_line, optout_text) -> None:
    """Change some rules (the others keep their values) and save them as the owner's."""
    from dataclasses import replace

    from app.auth.audit import record_audit, sending_rules
    from app.persian import normalize_text
    from app.sending.policy import (
        MAX_OPTOUT_TEXT,
        QuietDayError,
        load_policy,
        parse_quiet_days,
        parse_window,
        save_policy,
    )

    changes: dict = {}
    if window is not None:
        try:
            changes["window_start"], changes["window_end"] = parse_window(window)
        except ValueError:
            raise click.BadParameter("write it like 08:00-22:00", param_hint="--window") from None
    if quiet_days is not None:
        try:
            changes["quiet_weekdays"], changes["quiet_dates"] = parse_quiet_days(quiet_days)
        except QuietDayError as error:
            raise click.BadParameter(
                f"{error.reason()}; write them like «جمعه,1405/01/01»", param_hint="--quiet-days"
            ) from None
    if daily_cap is not None:
        changes["daily_cap"] = daily_cap
    if frequency_cap_days is not None:
        changes["frequency_cap_days"] = frequency_cap_days
    if optout_line is not None:
        changes["optout_line"] = optout_line
    if optout_text is not None:
        text = normalize_text(optout_text)
        if not text or len(text) > MAX_OPTOUT_TEXT:
            raise click.BadParameter(
                f"write 1 to {MAX_OPTOUT_TEXT} characters", param_hint="--optout-text"
            )
        changes["optout_text"] = text
    if not changes:
        raise click.UsageError("Give at least one rule to change (see --help).")
    rules = replace(load_policy(), **changes)
    save_policy(rules)
    record_audit("sending_rules.edit", detail=sending_rules(rules))
    db.session.commit()
    _show_rules()


@rules_group.command("reset")
@with_appcontext
def rules_reset() -> None:
    """Forget the owner's saved rules: the settings (VAFA_SENDING_WINDOW, …) apply again."""
    from app.auth.audit import record_audit, sending_rules
    from app.sending.policy import forget_policy, load_policy

    forget_policy()
    record_audit("sending_rules.edit", detail={"reset": True, **sending_rules(load_policy())})
    db.session.commit()
    _show_rules()


api_token_group = AppGroup("api-token", help="Tokens for the JSON API (/api/v1).")


@api_token_group.command("create")
@click.argument("name")
@with_appcontext
def api_token_create(name: str) -> None:
    """Make a token and print it; it is shown this once and never again."""
    from app.api.service import TokenError, create_token
    from app.auth.audit import record_audit

    try:
        token, secret = create_token(name)
    except TokenError as error:
        raise click.ClickException(str(error)) from None
    record_audit("api_token.create", token.name, {"id": token.id})
    db.session.commit()
    click.echo(f"Created API token {token.id} ({token.name}). Keep it now; it is not shown again:")
    click.echo(secret)


@api_token_group.command("list")
@with_appcontext
def api_token_list() -> None:
    """List tokens (their first characters only): id, name, prefix, created, last used."""
    from app.api.service import all_tokens

    def when(moment) -> str:
        return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "-"

    for token in all_tokens():
        state = f"revoked {when(token.revoked_at)}" if token.revoked_at else "active"
        click.echo(
            f"{token.id}\t{token.name}\t{token.prefix}…\tcreated {when(token.created_at)}"
            f"\tlast used {when(token.last_used_at)}\t{state}"
        )


@api_token_group.command("revoke")
@click.argument("token_id", type=int)
@with_appcontext
def api_token_revoke(token_id: int) -> None:
    """Revoke a token: requests made with it are refused from now on."""
    from app.api.service import revoke_token
    from app.auth.audit import record_audit

    token = revoke_token(token_id)
    if token is None:
        raise click.ClickException(f"No API token has id {token_id}.")
    record_audit("api_token.revoke", token.name, {"id": token.id})
    db.session.commit()
    click.echo(f"Revoked API token {token.id} ({token.name})")


contacts_group = AppGroup("contacts", help="Contacts: import files.")
purchases_group = AppGroup("purchases", help="Purchases: import files.")

_MAPPING_HELP = (
    "Each column's field, in order, separated by commas (guessed from the header when "
    "left out). Fields: {fields}; custom keeps a column under its header, custom:NAME "
    "under NAME."
)


def _mapping(value: str | None) -> list[str] | None:
    return [name.strip() for name in value.split(",")] if value else None


def _import(path: Path, kind: str, as_json: bool, **options) -> None:
    """Run the panel's importer here and now; print its counts (one JSON object with --json)."""
    from app.contacts.importing import MappingError, UnreadableFile, import_file, rejected_path

    try:
        job = import_file(path, kind, **options)
    except (UnreadableFile, MappingError) as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    rejected = rejected_path(job)
    result = {
        "job": job.id,
        "file": job.filename,
        "kind": job.kind,
        "status": job.status,
        "rows": job.rows,
        "created": job.created,
        "updated": job.updated,
        "duplicates": job.duplicates,
        "invalid": job.invalid,
        "rejected_file": str(rejected) if rejected.exists() else None,
        "error": job.error,
    }
    if kind == "contacts":
        # The list the numbers were put in (made if new): a script learns its id here.
        result["list_id"] = job.options.get("list_id")
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
    else:
        created = "new contacts" if kind == "contacts" else "purchases recorded"
        click.echo(
            f"{job.filename}: {job.rows:,} rows: {job.created:,} {created}, "
            f"{job.updated:,} updated, {job.duplicates:,} duplicates, {job.invalid:,} invalid"
        )
        if result["rejected_file"]:
            click.echo(f"Rejected rows, with the reason for each: {result['rejected_file']}")
    if job.status != "done":
        raise click.ClickException(f"The import stopped: {job.error}")


@contacts_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--list", "list_name", help="Put every number in the file in this list (made if new)."
)
@click.option(
    "--on-duplicate",
    type=click.Choice(["skip", "update"]),
    default="skip",
    show_default=True,
    help="Numbers already stored: leave them as they are, or fill in the file's values.",
)
@click.option(
    "--mapping",
    help=_MAPPING_HELP.format(
        fields="first_name, last_name, full_name, mobile, gender, birth_date, anniversary, "
        "city, tags, opted_out, custom, ignore"
    ),
)
@click.option("--header/--no-header", default=None, help="Does the first row name the columns?")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the counts.")
@with_appcontext
def contacts_import(file, list_name, on_duplicate, mapping, header, as_json) -> None:
    """Import contacts from a CSV or Excel file, as the panel does (for nightly syncs).

    Every row is counted once: rows = created + updated + duplicates + invalid. The
    rejected rows are written, with a reason each, to a CSV the panel also offers.
    """
    from app.contacts.service import find_or_create_list

    list_id = find_or_create_list(list_name).id if list_name and list_name.strip() else None
    _import(
        file,
        "contacts",
        as_json,
        mapping=_mapping(mapping),
        header=header,
        on_duplicate=on_duplicate,
        list_id=list_id,
    )


@purchases_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--toman", is_flag=True, default=None, help="Amounts are in Tomans (× 10).")
@click.option("--create-contacts", is_flag=True, help="Add unknown numbers as new contacts.")
@click.option(
    "--mapping",
    help=_MAPPING_HELP.format(fields="mobile, purchased_at, amount, reference, ignore"),
)
@click.option("--header/--no-header", default=None, help="Does the first row name the columns?")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the counts.")
@with_appcontext
def purchases_import(file, toman, create_contacts, mapping, header, as_json) -> None:
    """Import purchases (mobile, date, amount, invoice number) from a CSV or Excel file.

    Matched to contacts by mobile; an invoice number already recorded counts once.
    """
    _import(
        file,
        "purchases",
        as_json,
        mapping=_mapping(mapping),
        header=header,
        toman=toman,
        create_contacts=create_contacts,
    )


rfm_group = AppGroup("rfm", help="RFM scores: recency, frequency and monetary groups.")


@rfm_group.command("score")
@with_appcontext
def rfm_score() -> None:
    """Score every contact who has bought now (the scheduler also does it each night)."""
    import time

    from app.audience.rfm import group_counts, score_contacts
    from app.types import utcnow

    started = time.perf_counter()
    scored = score_contacts(utcnow())
    db.session.commit()
    click.echo(f"Scored {scored:,} contacts in {time.perf_counter() - started:.1f} s")
    for group in group_counts():
        click.echo(f"{group.key}\t{group.count}")


main = FlaskGroup(create_app=create_app, help="Vafa (وفا): SMS retention panel.")
for command in (
    run_command,
    worker_command,
    scheduler_command,
    create_user_command,
    set_password_command,
    tick_command,
    providers_group,
    rules_group,
    api_token_group,
    contacts_group,
    purchases_group,
    rfm_group,
):
    main.add_command(command)
