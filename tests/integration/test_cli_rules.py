"""`vafa rules`: the sending rules shown and set from the command line, defaulted from the
deployment's settings (VAFA_SENDING_WINDOW, …), with what the owner saved winning."""

from contextlib import contextmanager
from datetime import date, time
from pathlib import Path

import pytest
from sqlalchemy import select

from app import create_app
from app.auth.models import AuditEntry
from app.cli import main as vafa
from app.contacts.importing.files import imports_folder
from app.extensions import db
from app.sending.policy import SendingPolicy, load_policy


def run(app, *args: str):
    result = app.test_cli_runner().invoke(vafa, ["rules", *args])
    db.session.rollback()
    return result


@contextmanager
def deployed(app, monkeypatch, **environment: str):
    """Another app on the same database, configured by the environment as a server is."""
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    other = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test",
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        }
    )
    with other.app_context():
        try:
            yield other
        finally:
            db.session.remove()
            db.engine.dispose()


def shown(result) -> dict[str, str]:
    """`vafa rules` output as {label: "value\t(origin)"}."""
    assert result.exit_code == 0, result.output
    return dict(line.split(": ", 1) for line in result.output.splitlines())


WINDOW = "Sending window (Tehran)"
CAP = "Days between marketing SMS to one contact (0 for no limit)"
QUIET = "Quiet days"
DAILY = "Marketing SMS per day (0 for no limit)"


def test_the_rules_are_shown_with_where_each_comes_from(app):
    assert shown(run(app)) == {
        WINDOW: "08:00-22:00\t(default)",
        QUIET: "none\t(default)",
        DAILY: "0\t(default)",
        CAP: "0\t(default)",
        "Opt-out line added": "on\t(default)",
        "Opt-out text": "لغو۱۱\t(default)",
    }


def test_set_changes_only_the_rules_given_and_is_audited(app):
    result = run(app, "set", "--window", "۰۹:۰۰–۲۰:۳۰", "--frequency-cap-days", "3")

    rules = shown(result)
    assert rules[WINDOW] == "09:00-20:30\t(saved by the owner)"
    assert rules[CAP] == "3\t(saved by the owner)"
    assert load_policy() == SendingPolicy(
        window_start=time(9), window_end=time(20, 30), frequency_cap_days=3
    )
    entry = db.session.scalars(select(AuditEntry)).one()
    assert (entry.action, entry.detail["window"]) == ("sending_rules.edit", "09:00–20:30")


def test_quiet_days_and_the_daily_cap_are_set_shown_and_reset(app):
    result = run(app, "set", "--quiet-days", "جمعه، ۱۴۰۵/۰۱/۰۱,سه شنبه", "--daily-cap", "۵۰۰")

    rules = shown(result)
    assert rules[QUIET] == "سه‌شنبه,جمعه,1405/01/01\t(saved by the owner)"
    assert rules[DAILY] == "500\t(saved by the owner)"
    policy = load_policy()
    assert policy.quiet_weekdays == (1, 4)  # Tuesday, Friday
    assert policy.quiet_dates == (date(2026, 3, 21),)
    assert policy.daily_cap == 500
    entry = db.session.scalars(select(AuditEntry)).one()
    assert entry.detail["quiet_days"] == "سه‌شنبه,جمعه,1405/01/01"
    assert entry.detail["daily_cap"] == 500

    assert shown(run(app, "set", "--quiet-days", ""))[QUIET] == "none\t(saved by the owner)"
    assert load_policy().quiet_weekdays == ()
    assert shown(run(app, "reset"))[DAILY] == "0\t(default)"


def test_the_opt_out_line_can_be_turned_off_and_its_text_changed(app):
    assert run(app, "set", "--no-optout-line", "--optout-text", "لغو ۱۱").exit_code == 0
    policy = load_policy()
    assert (policy.optout_line, policy.optout_text) == (False, "لغو ۱۱")
    assert policy.with_optout("سلام") == "سلام"


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--window", "8 تا 22"], "--window"),
        (["--window", "08:00-25:00"], "--window"),
        (["--frequency-cap-days", "400"], "--frequency-cap-days"),
        (["--optout-text", "x" * 31], "--optout-text"),
        (["--quiet-days", "جمعه,آدینه"], "'آدینه' is neither a weekday nor a Jalali date"),
        (["--quiet-days", "1405/07/31"], "--quiet-days"),  # Mehr has 30 days
        (["--quiet-days", "شنبه,یکشنبه,دوشنبه,سه شنبه,چهارشنبه,پنجشنبه,جمعه"], "seven"),
        (["--daily-cap", "-5"], "--daily-cap"),
        ([], "at least one rule"),
    ],
)
def test_a_rule_that_cannot_be_read_is_refused_and_nothing_saved(app, args, option):
    result = run(app, "set", *args)
    assert result.exit_code == 2
    assert option in result.output
    assert load_policy() == SendingPolicy()


def test_the_settings_are_the_defaults_and_the_owners_saved_rules_win(app, monkeypatch):
    with deployed(
        app,
        monkeypatch,
        VAFA_SENDING_WINDOW="08:00-21:00",
        VAFA_FREQUENCY_CAP_DAYS="7",
        VAFA_OPTOUT_TEXT="لغو۱۲",
        VAFA_QUIET_DAYS="Friday, 1405/01/02",
        VAFA_DAILY_CAP="2000",
    ) as server:
        assert load_policy() == SendingPolicy(
            window_end=time(21),
            frequency_cap_days=7,
            optout_text="لغو۱۲",
            quiet_weekdays=(4,),
            quiet_dates=(date(2026, 3, 22),),
            daily_cap=2000,
        )
        rules = shown(run(server))
        assert rules[WINDOW] == "08:00-21:00\t(from VAFA_SENDING_WINDOW)"
        assert rules[QUIET] == "جمعه,1405/01/02\t(from VAFA_QUIET_DAYS)"
        assert rules[DAILY] == "2000\t(from VAFA_DAILY_CAP)"
        assert rules["Opt-out line added"] == "on\t(default)"

        assert run(server, "set", "--window", "10:00-18:00").exit_code == 0
        assert (load_policy().window_start, load_policy().window_end) == (time(10), time(18))
        assert load_policy().frequency_cap_days == 7  # kept, now saved as the owner's

        assert run(server, "reset").exit_code == 0
        assert load_policy().window_end == time(21)


def test_a_setting_that_cannot_be_read_stops_the_app_at_start(app, monkeypatch):
    monkeypatch.setenv("VAFA_SENDING_WINDOW", "8 to 9")
    with pytest.raises(ValueError, match="VAFA_SENDING_WINDOW='8 to 9' cannot be read"):
        create_app({"TESTING": True, "SECRET_KEY": "test"})


@pytest.mark.parametrize(
    ("setting", "value"),
    [("VAFA_QUIET_DAYS", "جمعه,فردا"), ("VAFA_DAILY_CAP", "-1"), ("VAFA_DAILY_CAP", "many")],
)
def test_quiet_days_or_a_daily_cap_that_cannot_be_read_stop_the_app(
    app, monkeypatch, setting, value
):
    monkeypatch.setenv(setting, value)
    with pytest.raises(ValueError, match=f"{setting}=.* cannot be read"):
        create_app({"TESTING": True, "SECRET_KEY": "test"})


def test_the_import_folder_comes_from_the_environment(app, monkeypatch, tmp_path):
    folder = tmp_path / "shared-imports"
    with deployed(app, monkeypatch, VAFA_IMPORT_FOLDER=str(folder)) as server:
        assert server.config["VAFA_IMPORT_FOLDER"] == str(folder)
        assert imports_folder() == folder and folder.is_dir()


def test_without_the_setting_imports_wait_in_the_instance_folder(app, monkeypatch):
    monkeypatch.delenv("VAFA_IMPORT_FOLDER", raising=False)
    with deployed(app, monkeypatch) as server:
        assert imports_folder() == Path(server.instance_path) / "imports"
