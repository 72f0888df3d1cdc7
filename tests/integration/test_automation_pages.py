"""The automation pages as the owner uses them: the list and its starting points, the
editor (each kind's own fields, errors at their field, the text kept), the on/off switch,
the plan of who would receive what, and the sends made so far."""

import re
from datetime import UTC, datetime

import pytest
from integration_support import in_locale, log_in, page_text
from sqlalchemy import func, insert, select

from app.audience.models import Segment
from app.audience.service import ensure_builtin_segments
from app.contacts.models import Contact, ContactList
from app.extensions import db
from app.messaging.audience import AudienceChoice
from app.messaging.library import BUILTIN_TEMPLATES, all_templates
from app.messaging.models import Campaign
from app.occasions.automations import AutomationFields, save_automation
from app.occasions.models import Automation
from app.sending.service import default_account

# 1 December 2026, 11:30 in Tehran (1405/09/10): Yalda 1405 is on 21 December.
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def now(time_machine):
    time_machine.move_to(NOW, tick=False)


def editor_form(**changes) -> dict:
    """The editor as a browser submits it, for a birthday greeting to everyone."""
    data = {
        "name": "تبریک تولد",
        "kind": "birthday",
        "send_time": "۰۹:۳۰",
        "days_before": "۲",
        "days_after": "60",
        "delay": "0",
        "delay_unit": "minutes",
        "counts_from": "first_purchase",
        "occasion_key": "yalda",
        "audience": "all",
        "body": "{نام|دوست} عزیز، تولدت مبارک!",
        "coupon_prefix": "",
        "coupon_length": "6",
        "route": "",
        "active": "y",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def automation(name="تبریک تولد") -> Automation:
    db.session.expire_all()
    return db.session.scalar(select(Automation).where(Automation.name == name))


def birthday(**changes) -> Automation:
    fields = AutomationFields(
        name="تبریک تولد", kind="birthday", body="{نام} عزیز، تولدت مبارک!", active=True
    )
    for name, value in changes.items():
        setattr(fields, name, value)
    saved = save_automation(fields)
    db.session.commit()
    return saved


def field_html(response, name: str) -> str:
    """The markup of the editor's part that holds field ``name``."""
    match = re.search(
        rf'<div class="field-wrap"[^>]*>\s*<div class="field[^"]*">\s*<label for="{name}".*?</div>',
        response.text,
        re.S,
    )
    assert match, f"no field {name}"
    return match.group(0)


def wrapper_hidden(response, name: str) -> bool:
    return " hidden>" in field_html(response, name).split("\n", 1)[0]


# The list ---------------------------------------------------------------------------------


def test_the_menu_leads_to_the_automatic_messages(logged_in):
    response = logged_in.get("/occasions/automations/")
    assert response.status_code == 200
    assert 'data-menu="automations"' in response.text
    assert "پیام‌های خودکار" in page_text(response)


def test_an_empty_list_explains_and_offers_starting_points(logged_in):
    text = page_text(logged_in.get("/occasions/automations/"))
    assert "خودبه‌خود" in text  # what an automatic message is
    for key in ("birthday", "yalda", "winback", "welcome", "survey"):
        assert f'href="/occasions/automations/new?start={key}"' in (
            logged_in.get("/occasions/automations/").text
        )
    assert "یلدا" in text and "۶۰ روز" in text


def test_a_starting_point_fills_the_editor_from_the_template_library(logged_in):
    response = logged_in.get("/occasions/automations/new?start=yalda")
    assert response.status_code == 200
    yalda_text = BUILTIN_TEMPLATES["yalda"][1]
    assert yalda_text in response.text.replace("&#34;", '"')
    assert re.search(
        r'<option selected value="occasion">|<option value="occasion" selected', response.text
    )
    assert re.search(r'<option (selected )?value="yalda"( selected)?>', response.text)
    assert not wrapper_hidden(response, "occasion_key")
    assert wrapper_hidden(response, "days_after")
    # «Good customers»: the built-in segment of those who bought in the last 90 days.
    active = db.session.scalar(select(Segment.id).where(Segment.key == "active"))
    boxes = re.findall(r'<input[^>]*name="segments"[^>]*>', response.text)
    assert [box for box in boxes if "checked" in box] == [
        box for box in boxes if f'value="{active}"' in box
    ]
    winback = logged_in.get("/occasions/automations/new?start=winback")
    assert 'value="60"' in winback.text or 'value="۶۰"' in winback.text
    library = logged_in.get("/campaigns/templates?automation=new")
    assert "برای شروع یک کمپین یا پیام خودکار" in page_text(library)


def test_the_list_says_when_each_sends_to_whom_and_next(logged_in, make_contact, now):
    make_contact("09120000001", first_name="سارا", birth_jmonth=9, birth_jday=30)
    birthday(days_before=0)
    group = ContactList(name="مشتریان وفادار")
    db.session.add(group)
    db.session.commit()
    save_automation(
        AutomationFields(
            name="یلدا",
            kind="occasion",
            occasion_key="yalda",
            body="یلدا مبارک",
            audience=AudienceChoice(lists=(group.id,)),
        )
    )
    db.session.commit()
    response = logged_in.get("/occasions/automations/")
    text = page_text(response)
    assert "روز تولد هر مشتری، ساعت ۱۰:۰۰" in text
    assert "شب یلدا، ساعت ۱۰:۰۰" in text
    assert "گروه مشتریان وفادار" in text and "همهٔ مخاطبان" in text
    # Sara's birthday, 30 Azar (21 December), 10:00 Tehran; the Yalda one is off.
    assert "۱۴۰۵/۰۹/۳۰ ۱۰:۰۰" in text
    assert "خاموش" in text


# The editor ---------------------------------------------------------------------------------


def test_a_birthday_automation_is_made_in_the_editor(logged_in, now):
    response = logged_in.post("/occasions/automations/new", data=editor_form())
    assert response.status_code == 302, page_text(response)
    saved = automation()
    assert (saved.kind, saved.days_before, saved.active) == ("birthday", 2, True)
    assert f"{saved.send_time:%H:%M}" == "09:30"
    assert saved.audience == {} and saved.provider_id is None
    page = logged_in.get(response.headers["Location"])
    assert "۲ روز پیش از تولد هر مشتری، ساعت ۰۹:۳۰" in page_text(page)


def test_each_kind_shows_its_own_fields(logged_in):
    response = logged_in.get("/occasions/automations/new?kind=winback")
    assert not wrapper_hidden(response, "days_after")
    assert not wrapper_hidden(response, "send_time")
    assert wrapper_hidden(response, "days_before")
    assert wrapper_hidden(response, "occasion_key")
    welcome = logged_in.get("/occasions/automations/new?kind=welcome")
    assert wrapper_hidden(welcome, "send_time")
    assert re.search(r'<div class="row"\s+data-kinds="welcome">', welcome.text)
    assert "زمان افزوده‌شدن مشتری" in page_text(welcome)
    # What each kind leaves out, said where it is set.
    assert "بیش از این تعداد روز است خرید نکرده‌اند" in page_text(response)
    assert "مشتریانی که از فایل وارد شده‌اند پیام خوشامد" in page_text(welcome)


def test_without_a_script_the_kind_is_changed_by_asking_the_server(logged_in):
    response = logged_in.post(
        "/occasions/automations/new", data=editor_form(kind="welcome", show_kind="1")
    )
    assert response.status_code == 200
    assert automation() is None  # nothing saved
    assert wrapper_hidden(response, "days_before")
    assert re.search(r'<div class="row"\s+data-kinds="welcome">', response.text)
    assert "تولدت مبارک" in response.text  # what was typed stays
    assert "has-error" not in response.text  # not checked yet


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"days_before": "۶۱"}, "days_before", "۶۰"),
        ({"send_time": "۲۵:۰۰"}, "send_time", "ساعت باید بین ۰۰:۰۰ و ۲۳:۵۹ باشد، مثل ۱۰:۰۰."),
        ({"send_time": "ده صبح"}, "send_time", "۱۰:۰۰"),
        ({"kind": "winback", "days_after": "0"}, "days_after", "یک روز"),
        ({"kind": "followup", "days_after": "۹۹۹"}, "days_after", "۷۳۰"),
        ({"kind": "welcome", "delay": "15", "delay_unit": "days"}, "delay", "۱۴ روز"),
        ({"body": "سلام {نام"}, "body", "{"),
        ({"name": ""}, "name", ""),
    ],
)
def test_a_mistake_is_shown_at_its_field_and_the_text_survives(logged_in, changes, field, words):
    response = logged_in.post("/occasions/automations/new", data=editor_form(**changes))
    assert response.status_code == 200
    assert automation() is None
    part = re.search(
        rf'<div class="field has-error">\s*<label for="{field}".*?</div>', response.text, re.S
    )
    assert part, f"no error at {field}: {page_text(response)}"
    assert words in page_text(type("R", (), {"text": part.group(0)}))
    body = editor_form(**changes)["body"]
    assert body.replace("{", "") in response.text.replace("&#123;", "{").replace("{", "")


def test_a_name_already_taken_is_refused_at_the_name(logged_in):
    birthday()
    response = logged_in.post("/occasions/automations/new", data=editor_form())
    assert response.status_code == 200
    part = re.search(
        r'<div class="field has-error">\s*<label for="name".*?</div>', response.text, re.S
    )
    assert part and "تبریک تولد" in part.group(0)
    assert db.session.scalar(select(func.count()).select_from(Automation)) == 1


def test_an_automation_is_edited(logged_in):
    saved = birthday(days_before=3)
    page = logged_in.get(f"/occasions/automations/{saved.id}/edit")
    assert re.search(r'name="days_before"[^>]*value="۳"', page.text)
    response = logged_in.post(
        f"/occasions/automations/{saved.id}/edit",
        data=editor_form(name="بازگشت", kind="winback", days_after="۴۵", active=None),
    )
    assert response.status_code == 302, page_text(response)
    edited = automation("بازگشت")
    assert (edited.id, edited.kind, edited.days_after, edited.active) == (
        saved.id,
        "winback",
        45,
        False,
    )


def test_a_list_deleted_since_is_left_out_of_the_editor(logged_in):
    kept, gone = ContactList(name="مشتریان"), ContactList(name="قدیمی")
    db.session.add_all([kept, gone])
    db.session.commit()
    saved = birthday(audience=AudienceChoice(lists=(kept.id, gone.id)), active=False)
    db.session.delete(gone)
    db.session.commit()
    page = logged_in.get(f"/occasions/automations/{saved.id}")
    assert "گروه‌های مشتریان و (حذف‌شده)" in page_text(page)
    edit = logged_in.get(f"/occasions/automations/{saved.id}/edit")
    boxes = re.findall(r'<input[^>]*name="lists"[^>]*>', edit.text)
    assert [box for box in boxes if "checked" in box] == [
        box for box in boxes if f'value="{kept.id}"' in box
    ]
    response = logged_in.post(
        f"/occasions/automations/{saved.id}/edit",
        data=editor_form(audience="chosen", lists=kept.id),
    )
    assert response.status_code == 302, page_text(response)
    assert automation().audience == {"lists": [kept.id]}


def test_a_segment_chosen_and_left_out_is_refused_at_the_audience(logged_in):
    ensure_builtin_segments()
    db.session.commit()
    segment_id = db.session.scalar(select(Segment.id).where(Segment.key == "active"))
    response = logged_in.post(
        "/occasions/automations/new",
        data=editor_form(audience="chosen", segments=segment_id, exclude_segments=segment_id),
    )
    assert response.status_code == 200
    assert 'fieldset class="field audience has-error"' in response.text
    assert automation() is None


def test_the_template_library_hands_its_text_to_the_editor(logged_in):
    saved = birthday()
    library = logged_in.get(f"/campaigns/templates?automation={saved.id}")
    template_id = all_templates()[0].id
    link = f"/occasions/automations/{saved.id}/edit?template={template_id}"
    assert f'href="{link}"' in library.text
    page = logged_in.get(link)
    assert BUILTIN_TEMPLATES["welcome"][1].split("!")[0] in page.text
    assert 'value="تبریک تولد"' in page.text  # the rest stays the automation's
    new = logged_in.get("/campaigns/templates?automation=new")
    assert f'href="/occasions/automations/new?template={template_id}"' in new.text
    plain = logged_in.get("/campaigns/templates")
    assert f'href="/campaigns/new?template={template_id}"' in plain.text


def test_the_occasions_are_offered_with_their_next_date(logged_in, now):
    response = logged_in.get("/occasions/automations/new?kind=occasion")
    assert re.search(
        r'<option[^>]*value="yalda"[^>]*>شب یلدا \(۱۴۰۵/۰۹/۳۰\)</option>', response.text
    )


# Switching on and off --------------------------------------------------------------------------


def test_the_switch_turns_an_automation_on_and_off(logged_in):
    saved = birthday()
    response = logged_in.post(f"/occasions/automations/{saved.id}/active", data={"active": "0"})
    assert response.status_code == 302
    assert automation().active is False
    page = logged_in.get("/occasions/automations/")
    assert "خاموش است" in page_text(page)
    logged_in.post(
        f"/occasions/automations/{saved.id}/active", data={"active": "1", "back": "automation"}
    )
    assert automation().active is True


def test_the_switch_needs_the_csrf_token(app, logged_in):
    saved = birthday()
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = logged_in.post(f"/occasions/automations/{saved.id}/active", data={"active": "0"})
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert response.status_code == 400
    assert automation().active is True


# The plan and the runs ------------------------------------------------------------------------


def test_the_plan_shows_who_receives_what_and_when(logged_in, make_contact, now):
    make_contact("09120000001", first_name="سارا", last_name="احمدی", birth_jmonth=9, birth_jday=30)
    make_contact("09120000002", first_name="علی", birth_jmonth=9, birth_jday=20)
    make_contact("09120000003", first_name="مینا", birth_jmonth=2, birth_jday=1)
    saved = birthday(active=False)
    response = logged_in.get(f"/occasions/automations/{saved.id}/plan")
    assert response.status_code == 200
    text = page_text(response)
    assert 'data-count="2"' in response.text
    assert "سارا احمدی" in text and "علی" in text and "مینا" not in text
    assert "۰۹۱۲ ۰۰۰ ۰۰۰۱" in text
    assert "سارا عزیز، تولدت مبارک!" in text
    assert text.index("۱۴۰۵/۰۹/۲۰ ۱۰:۰۰") < text.index("۱۴۰۵/۰۹/۳۰ ۱۰:۰۰")  # by time
    # A chosen range: only the 30 Azar birthday.
    chosen = logged_in.get(f"/occasions/automations/{saved.id}/plan?from=۱۴۰۵/۰۹/۲۵&to=۱۴۰۵/۰۹/۳۰")
    assert 'data-count="1"' in chosen.text and "علی عزیز" not in page_text(chosen)


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("from=1405/13/01", "۱۴۰۵/۰۹/۳۰"),
        ("from=1405/09/30&to=1405/09/01", "پیش از"),
        ("from=1405/01/01&to=1406/12/01", "۳۶۶"),
    ],
)
def test_a_range_that_cannot_be_read_is_said_so(logged_in, now, query, words):
    saved = birthday()
    response = logged_in.get(f"/occasions/automations/{saved.id}/plan?{query}")
    assert response.status_code == 200
    problem = re.search(r'<p class="error" id="plan-problem">(.*?)</p>', response.text, re.S)
    assert problem and words in problem.group(1)


def test_a_long_plan_shows_its_first_rows_and_the_whole_count(logged_in, now):
    db.session.execute(
        insert(Contact),
        [
            {
                "mobile": f"+98912{number:07d}",
                "first_name": "مشتری",
                "birth_jmonth": 9,
                "birth_jday": 15,
            }
            for number in range(205)
        ],
    )
    db.session.commit()
    saved = birthday()
    response = logged_in.get(f"/occasions/automations/{saved.id}/plan")
    assert 'data-count="205"' in response.text
    assert response.text.count('class="card plan-row"') == 200
    assert "۲۰۰" in page_text(response) and 'id="plan-more"' in response.text


def test_its_page_lists_the_sends_it_made_each_linking_to_its_campaign(logged_in):
    saved = birthday()
    account = default_account()
    run = Campaign(
        name="تبریک تولد · ۱۴۰۵/۰۹/۳۰",
        body=saved.body,
        provider_id=account.id,
        sender=account.sender_lines[0],
        status="done",
        automation_id=saved.id,
        occurrence="2026-12-21",
    )
    db.session.add(run)
    db.session.commit()
    response = logged_in.get(f"/occasions/automations/{saved.id}")
    assert f'href="/campaigns/{run.id}"' in response.text
    assert "۱۴۰۵/۰۹/۳۰" in page_text(response) and "ارسال‌شده" in page_text(response)
    assert 'id="no-runs"' not in response.text
    # Its whole delivery log, every send together.
    assert f'href="/reports/messages?automation={saved.id}"' in response.text
    campaign_page = logged_in.get(f"/campaigns/{run.id}")
    assert f'href="/occasions/automations/{saved.id}"' in campaign_page.text
    assert "تبریک تولد" in page_text(campaign_page)


def test_a_line_of_a_chosen_account_is_kept(logged_in):
    account = default_account()
    account.senders = "10004346\n3000123456"
    db.session.commit()
    page = logged_in.get("/occasions/automations/new")
    assert f'value="{account.id}:3000123456"' in page.text
    response = logged_in.post(
        "/occasions/automations/new", data=editor_form(route=f"{account.id}:3000123456")
    )
    assert response.status_code == 302, page_text(response)
    assert (automation().provider_id, automation().sender) == (account.id, "3000123456")
    edit = logged_in.get(f"/occasions/automations/{automation().id}/edit")
    assert re.search(rf'<option selected value="{account.id}:3000123456"', edit.text)
    # A line the account does not have (a forged form) is refused at the route.
    response = logged_in.post(
        f"/occasions/automations/{automation().id}/edit",
        data=editor_form(route=f"{account.id}:99999"),
    )
    assert response.status_code == 200
    assert re.search(r'<div class="field has-error">\s*<label for="route"', response.text)


def test_an_automation_is_deleted_and_its_sends_stay(logged_in):
    saved = birthday()
    number = saved.id
    account = default_account()
    runs = [
        Campaign(
            name=f"تبریک تولد · {count}",
            body=saved.body,
            provider_id=account.id,
            sender=account.sender_lines[0],
            status=status,
            automation_id=saved.id,
            occurrence=occurrence,
        )
        for count, status, occurrence in (
            ("۱", "done", "2026-12-21"),
            ("۲", "preparing", "2026-12-22"),
        )
    ]
    db.session.add_all(runs)
    db.session.commit()
    page = logged_in.get(f"/occasions/automations/{saved.id}")
    assert 'id="delete-automation"' in page.text
    assert "روز ارسال" in page_text(page)
    assert "data-confirm=" in page.text and 'name="csrf_token"' in page.text
    assert logged_in.get(f"/occasions/automations/{saved.id}/delete").status_code == 405
    response = logged_in.post(f"/occasions/automations/{saved.id}/delete", follow_redirects=True)
    assert "پیام خودکار «تبریک تولد» حذف شد" in page_text(response)
    assert automation() is None
    kept = db.session.execute(
        select(Campaign.name, Campaign.automation_id, Campaign.status).order_by(Campaign.id)
    ).all()
    # The half-written run goes out as far as it got.
    assert kept == [("تبریک تولد · ۱", None, "done"), ("تبریک تولد · ۲", None, "sending")]
    assert logged_in.post(f"/occasions/automations/{number}/delete").status_code == 404


# Roles -------------------------------------------------------------------------------------------


def test_staff_manage_automations_as_they_manage_campaigns(app, staff_client):
    page = staff_client.get("/occasions/automations/")
    assert page.status_code == 200 and 'data-menu="automations"' in page.text
    response = staff_client.post("/occasions/automations/new", data=editor_form())
    assert response.status_code == 302
    saved = automation()
    assert staff_client.get(f"/occasions/automations/{saved.id}/plan").status_code == 200
    staff_client.post(f"/occasions/automations/{saved.id}/active", data={"active": "0"})
    assert automation().active is False
    staff_client.post(f"/occasions/automations/{saved.id}/delete")
    assert automation() is None


def test_the_pages_need_a_session(client, owner):
    response = client.get("/occasions/automations/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_pages_read_in_english_too(app, client, owner):
    log_in(client)
    client.post("/language", data={"lang": "en"})
    birthday()
    text = page_text(client.get("/occasions/automations/"))
    assert "On each customer's birthday, at 10:00" in text


@pytest.mark.parametrize(
    ("changes", "persian", "english"),
    [
        (
            {"days_before": 3},
            "۳ روز پیش از تولد هر مشتری، ساعت ۱۰:۰۰",
            "3 days before each customer's birthday, at 10:00",
        ),
        (
            {"kind": "anniversary", "counts_from": "signup"},
            "سالگرد عضویت هر مشتری، ساعت ۱۰:۰۰",
            "On each anniversary of joining, at 10:00",
        ),
        (
            {"kind": "occasion", "occasion_key": "nowruz", "days_before": 1},
            "۱ روز پیش از نوروز، ساعت ۱۰:۰۰",
            "1 day before Nowruz, at 10:00",
        ),
        (
            {"kind": "winback", "days_after": 60},
            "۶۰ روز پس از آخرین خرید مشتری، ساعت ۱۰:۰۰ (در هر دورهٔ بی‌خریدی یک بار)",
            "60 days after a customer's last purchase, at 10:00 (once per quiet spell)",
        ),
        (
            {"kind": "followup", "days_after": 1},
            "۱ روز پس از هر خرید، ساعت ۱۰:۰۰",
            "1 day after each purchase, at 10:00",
        ),
        (
            {"kind": "welcome", "counts_from": "signup", "delay_minutes": 120},
            "۲ ساعت پس از ثبت مشتری",
            "2 hours after a customer is added",
        ),
        (
            {"kind": "welcome", "counts_from": "first_purchase"},
            "بلافاصله پس از اولین خرید مشتری",
            "As soon as their first purchase",
        ),
    ],
)
def test_when_it_sends_is_said_in_the_owners_words(app, changes, persian, english):
    from app.occasions.automation_views import when_words

    saved = birthday(**changes)
    assert in_locale("fa", lambda: when_words(saved)) == persian
    assert in_locale("en", lambda: when_words(saved)) == english


def test_an_automation_whose_segment_needs_fixing_is_not_switched_on(logged_in):
    group = ContactList(name="الف")
    db.session.add(group)
    db.session.commit()
    segment = Segment(
        name="در گروه الف",
        rules={"match": "all", "rules": [{"field": "list", "op": "member", "value": group.id}]},
    )
    db.session.add(segment)
    db.session.commit()
    saved = birthday(audience=AudienceChoice(segments=(segment.id,)), active=False)
    db.session.delete(group)  # the segment's rule now names a list that is gone
    db.session.commit()
    response = logged_in.post(
        f"/occasions/automations/{saved.id}/active",
        data={"active": "1", "back": "automation"},
        follow_redirects=True,
    )
    assert automation().active is False
    error = re.search(r'<div class="flash flash-error"[^>]*>(.*?)</div>', response.text, re.S)
    assert error and "در گروه الف" in error.group(1)
