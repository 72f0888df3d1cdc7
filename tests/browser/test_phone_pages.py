"""Every page of the panel on a 360 px phone, in Persian and in English, with a shop's data.

The pages are found by walking the app's URL map, so a new page is measured (or named
here as not being one) the day it is added. On each page:

- the page never scrolls sideways: a wide table scrolls inside its own box, forms and
  buttons wrap, long Latin tokens (keys, addresses, emails) break;
- a Persian page shows no Latin digit, and an English page no Persian one, outside the
  islands that show the owner's own text as it was typed (the `as_typed` filter: a cell
  of an imported file, an email, a key, a URL, a message); fields typed in digits
  included, and the pages that refuse what was typed;
- the page names its icon, and the browser never asks for one that is not there.

A second test reads where the pieces of numbers and Latin tokens are drawn (the +98 of a
mobile at the left of its digits on a right-to-left page) and opens the folded menu.
"""

import itertools
import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from app.api.service import create_token
from app.audience.service import create_segment, ensure_builtin_segments
from app.auth.audit import record_audit
from app.auth.service import create_user
from app.contacts.importing.jobs import import_file, save_upload
from app.contacts.models import Contact
from app.contacts.service import (
    PurchaseInput,
    add_to_list,
    find_or_create_list,
    find_or_create_tags,
    record_purchases,
    tag_contacts,
)
from app.extensions import db
from app.messaging.audience import AudienceChoice
from app.messaging.library import create_template
from app.messaging.service import confirm_campaign, create_campaign
from app.occasions.automations import AutomationFields, save_automation
from app.persian import jalali_month_day, to_tehran
from app.sending import accounts

pytestmark = pytest.mark.browser

EMAIL = "owner.of.the.central.branch@example-shop-with-a-long-name.ir"
PASSWORD = "a good password"
PHONE = 360

# GET endpoints that are not pages a person reads: files, JSON, the API, redirects.
NOT_PAGES = {
    "static",
    "favicon",  # a redirect to the icon, for pages that name none
    "contacts.export_csv",
    "contacts.export_status",  # reached by contacts.export_xlsx, over the background limit
    "contacts.export_file",
    "contacts.import_rejected",
    "contacts.import_status",
    "messaging.progress",
    "reports.messages_csv",
    "reports.messages_xlsx",
    "reports.retention_xlsx",
    "reports.cohorts_xlsx",
    "reports.export_status",  # reached by reports.messages_xlsx, over the background limit
    "reports.export_file",
    "coupons.export_csv",
    "coupons.export_xlsx",
    "auth.login",  # a signed-in owner is sent on; measured before signing in
    "auth.setup",  # only before the first user exists
}

REJECTED_CSV = (
    "نام و نام خانوادگی,تلفن همراه,تاریخ تولد,شهر\n"
    "علیرضا حسین‌زاده اصفهانی,+98 912 123 4567,1370/05/12,اصفهان\n"
    "Christopher Montgomery-Featherstonehaugh,0935 111 2233,,London\n"
    "تلفن ثابت فروشگاه,+98 21 8877 6655,,تهران\n"
    "روز ناموجود,09011112233,1403/07/31,شیراز\n"
    "علیرضا دوباره,00989121234567,,اصفهان\n"
)


def seed_shop(app, tmp_path) -> dict[str, int | str]:
    """A shop a few weeks in: contacts with long names, lists, tags, purchases, a sent
    campaign and a draft, providers, a token, imports (one with rejected rows), users and
    an audit trail. Returns the ids the pages need."""
    with app.app_context():
        owner = create_user(EMAIL, PASSWORD, "owner")
        staff = create_user(
            "cashier.saturday.evenings@example-shop-with-a-long-name.ir", PASSWORD, "staff"
        )
        kavenegar = accounts.save_account(
            None,
            name="کاوه‌نگار فروشگاه مرکزی (خط تبلیغاتی اصلی)",
            kind="kavenegar",
            api_key="4A6B7C8D9E0F1A2B3C4D5E6F7A8B9C0D4A6B7C8D9E0F1A2B3C4D",
            senders="10004346\n300012345678\n2000500050005",
        )
        console = accounts.save_account(
            None, name="آزمایشی", kind="console", senders="3000123456", is_default=True
        )
        create_token("سایت فروشگاه اینترنتی و اپلیکیشن اندروید شعبهٔ مرکزی")
        customers = find_or_create_list("مشتریان وفادار شعبهٔ مرکزی اصفهان — خرید بالای ده میلیون")
        [tag] = find_or_create_tags(["خریدار عمده پوشاک زمستانی"])
        people = [
            Contact(
                mobile=f"+98912{index:07d}",
                first_name="محمدحسین" if index % 2 else "Alexandra-Josephine",
                last_name="حسین‌زاده اصفهانی نژاد" if index % 2 else "Montgomery-Featherstonehaugh",
                city="اصفهان",
                fields={"کد اشتراک": f"VIP-{index:06d}-ISFAHAN-CENTRAL"},
            )
            for index in range(1, 13)
        ]
        nameless = Contact(mobile="+989351112233")
        db.session.add_all([*people, nameless])
        db.session.flush()
        ids = [person.id for person in people]
        add_to_list(customers.id, ids)
        tag_contacts(ids[:6], [tag.id])
        now = datetime.now(UTC)
        record_purchases(
            [
                PurchaseInput(
                    ids[0], now - timedelta(days=days), 125_000_000 + days, f"INV-1405-{days:08d}"
                )
                for days in (3, 40, 200)
            ]
        )
        db.session.commit()

        path = tmp_path / "مشتریان قدیمی شعبه مرکزی.csv"
        path.write_text(REJECTED_CSV, encoding="utf-8")
        imported = import_file(path, user_id=owner.id)
        waiting = save_upload(path, path.name, "contacts", owner.id)
        db.session.commit()

        sent, draft = (
            create_campaign(
                name=name,
                body=body,
                list_id=customers.id,
                provider_id=account.id,
                sender=sender,
                scheduled_at=when,
                created_by_id=owner.id,
            )
            for name, body, account, sender, when in (
                (
                    "حراج پایان فصل زمستان — همهٔ شعبه‌ها",
                    "{نام} عزیز، تا ۵۰٪ تخفیف پایان فصل فقط تا جمعه. کد: WINTER1405",
                    console,
                    "3000123456",
                    None,
                ),
                (
                    "تبریک نوروز ۱۴۰۵",
                    "نوروزتان پیروز، {نام}!",
                    kavenegar,
                    "300012345678",
                    now + timedelta(days=30),
                ),
            )
        )
        confirm_campaign(sent)
        for action, target, detail in (
            ("provider.add", kavenegar.name, {"host": "api.kavenegar.com"}),
            ("api_token.create", "سایت فروشگاه", {"id": 1}),
            ("user.add", staff.email, {"role": "staff"}),
            ("sending_rules.edit", "", {"window": "08:00–22:00", "frequency_cap_days": 3}),
        ):
            record_audit(action, target, detail, actor=owner)
        db.session.commit()
        ensure_builtin_segments()
        regulars = create_segment(
            "مشتریان وفادار شعبهٔ مرکزی تهران با خریدهای زیاد",
            "کسانی که بیش از یک بار خرید کرده‌اند و در تهران زندگی می‌کنند",
            {
                "match": "all",
                "rules": [
                    {"field": "city", "op": "eq", "value": "تهران"},
                    {"field": "purchase_count", "op": "gte", "value": 2},
                ],
            },
        )
        # A template of the owner's with a long name and text, beside the built-ins.
        greeting = create_template(
            "تبریک تولد مشتریان وفادار شعبهٔ مرکزی با کد تخفیف ویژه",
            "{عنوان} {نام|دوست} عزیز، تولدت مبارک! کد تخفیف شما: {کد تخفیف}",
        )
        # An automatic birthday greeting, and a customer whose birthday is in 5 days (the
        # plan page lists her), with a long name and audience.
        people[1].birth_jmonth, people[1].birth_jday = jalali_month_day(
            to_tehran(now).date() + timedelta(days=5)
        )
        birthdays = save_automation(
            AutomationFields(
                name="تبریک تولد مشتریان وفادار شعبهٔ مرکزی اصفهان با کد تخفیف ویژه",
                kind="birthday",
                body="{نام|دوست} عزیز، تولدت مبارک! هدیهٔ تولدت در شعبهٔ مرکزی منتظرت است.",
                audience=AudienceChoice(lists=(customers.id,), exclude_segments=(regulars.id,)),
                active=True,
            )
        )
        db.session.commit()
        return {
            "automation_id": birthdays.id,
            "template_id": greeting.id,
            "segment_id": regulars.id,
            "contact_id": ids[0],
            "nameless_id": nameless.id,
            "tag_id": tag.id,
            "list_id": customers.id,
            "job_id": imported.id,
            "mapping_job_id": waiting.id,
            "campaign_id": sent.id,
            "draft_id": draft.id,
            "account_id": kavenegar.id,
            "user_id": staff.id,
        }


def pages_of(app, ids: dict) -> list[str]:
    """Every GET page of the panel, with the seeded ids in its URL."""
    values = {
        "contact_id": ids["contact_id"],
        "tag_id": ids["tag_id"],
        "list_id": ids["list_id"],
        "job_id": ids["job_id"],
        "campaign_id": ids["campaign_id"],
        "account_id": ids["account_id"],
        "user_id": ids["user_id"],
        "segment_id": ids["segment_id"],
        "template_id": ids["template_id"],
        "automation_id": ids["automation_id"],
    }
    paths = set()
    for rule in app.url_map.iter_rules():
        if (
            "GET" not in rule.methods
            or rule.endpoint in NOT_PAGES
            or rule.endpoint.startswith("api.")
        ):
            continue
        paths.add(app.url_map.bind("").build(rule.endpoint, {k: values[k] for k in rule.arguments}))
    return sorted(
        paths
        | {
            f"/contacts/import/{ids['mapping_job_id']}",
            f"/campaigns/{ids['draft_id']}",
            "/contacts/bulk?action=tag&list=0",
            "/contacts/bulk?action=delete",
            # The delivery log filtered every way, and a date it cannot read.
            f"/reports/messages?campaign={ids['campaign_id']}&status=delivered&mobile=0912"
            "&from=1404/01/01&to=1406/12/29",
            "/reports/messages?from=2026/04/04&to=1403/07/31",
        }
    )


def log_in(page: Page) -> None:
    page.goto("/login")
    page.locator("#email").fill(EMAIL)
    page.locator("#password").fill(PASSWORD)
    with page.expect_navigation():
        page.locator("main form button.primary").click()


def visits(page: Page, paths: list[str]):
    for path in paths:
        page.goto(path)
        yield path


def refusals(page: Page):
    """Pages that refuse what was typed, in Persian digits (a number typed in Persian is
    read as well): each is checked as the pages are."""
    page.goto("/account")
    page.locator("#current").fill(PASSWORD)
    page.locator("#password").fill("کوتاه")
    page.locator("#confirm").fill("کوتاه")
    with page.expect_navigation():
        page.locator("#change-password button.primary").click()
    expect(page.locator(".flash-error")).to_contain_text("۱۰")
    yield "/account, a short password"
    page.goto("/settings/sending")
    page.locator("#window_start").fill("۰۸:۰۰")
    page.locator("#window_end").fill("22:00")
    page.locator("#frequency_cap_days").fill("۴۰۰")
    with page.expect_navigation():
        page.locator("main form button.primary").click()
    expect(page.locator(".error")).to_have_text("عدد باید بین ۰ و ۳۶۵ باشد.")
    expect(page.locator("#window_end")).to_have_value("۲۲:۰۰")
    yield "/settings/sending, a limit out of range"
    page.locator("#frequency_cap_days").fill("۳")
    with page.expect_navigation():
        page.locator("main form button.primary").click()
    expect(page.locator(".flash-success")).to_be_visible()
    expect(page.locator("#frequency_cap_days")).to_have_value("۳")
    expect(page.locator("#window_start")).to_have_value("۰۸:۰۰")
    yield "/settings/sending, saved"


def overflow(page: Page) -> int:
    return page.evaluate("document.documentElement.scrollWidth") - PHONE


# The innermost elements that stick out of the phone's width, to name in a failure.
STICKING_OUT = """(width) => {
  const out = (e) => { const r = e.getBoundingClientRect();
    return r.width && (r.left < 0 || r.right > width); };
  return [...document.body.querySelectorAll("*")]
    .filter((e) => out(e) && ![...e.children].some(out)).slice(0, 3)
    .map((e) => `${e.tagName.toLowerCase()}.${e.className}: ${e.textContent.trim().slice(0, 40)}`);
}"""


# The import page's hint shows on purpose that dates may be typed in either digits.
DIGIT_EXAMPLES = ("1370/05/12", "1991-08-03", "۱۳۷۰-۰۵-۱۲")
# Digits a page of each language does not write: Latin in Persian, Persian in English.
OTHER_DIGITS = {"fa": "[0-9]", "en": "[۰-۹٠-٩]"}

# An import's reasons are written in the language it was started in (the seeded one: fa);
# the language button names «فارسی» in Persian.
SKIP_DIGITS = {"fa": "[lang=en]", "en": "[lang=fa], #rejected td.reason"}

# Visible text with the other language's digits, outside the islands that show the owner's
# own typing as it was typed.
FOREIGN_DIGITS = """([pattern, skip]) => {
  const other = new RegExp(pattern);
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const found = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!other.test(node.data) || parent.closest(`.as-typed, script, ${skip}`)) continue;
    if (!parent.checkVisibility()) continue;
    found.push(node.data.trim());
  }
  // The fields typed in digits: a time, a limit, a price, sender lines.
  const fields = "input[inputmode=numeric], input[inputmode=decimal], textarea[dir=ltr]";
  for (const field of document.querySelectorAll(fields)) {
    if (other.test(field.value)) {
      found.push(`${field.name}=${field.value}`);
    }
  }
  return found;
}"""


# Where each piece of one text starts on screen: the first text in the element(s) that has
# them all.
LEFTS = """([selector, pieces]) => {
  for (const element of document.querySelectorAll(selector)) {
    const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (!pieces.every((piece) => node.data.includes(piece))) continue;
      let from = 0;
      return pieces.map((piece) => {
        const at = node.data.indexOf(piece, from);
        from = at + piece.length;
        const range = document.createRange();
        range.setStart(node, at);
        range.setEnd(node, from);
        const box = range.getBoundingClientRect();
        return [box.left, box.top];
      });
    }
  }
  return null;
}"""


def reads_left_to_right(page: Page, selector: str, *pieces: str) -> None:
    """The pieces of one text, in this order, stand from left to right on the page."""
    boxes = page.evaluate(LEFTS, [selector, list(pieces)])
    assert boxes is not None, (selector, pieces)
    lefts, tops = [left for left, _ in boxes], {top for _, top in boxes}
    assert len(tops) == 1, f"{selector}: {pieces} broken across lines"
    assert lefts == sorted(lefts), f"{selector}: {pieces} drawn at {lefts}"


def test_numbers_and_latin_tokens_read_the_right_way_round(page: Page, live_server, shot, tmp_path):
    """In a right-to-left page a number keeps its order: the +98 of a mobile stands at the
    left of its digits, a mobile's groups read 0912 123 4567, an address is not turned."""
    ids = seed_shop(live_server.app, tmp_path)
    page.set_viewport_size({"width": PHONE, "height": 740})
    log_in(page)
    page.goto(f"/contacts/import/{ids['mapping_job_id']}")
    reads_left_to_right(page, "#preview td", "+98", "912", "123", "4567")
    reads_left_to_right(page, "#preview td", "1370", "05", "12")
    page.goto(f"/contacts/import/{ids['job_id']}")
    reads_left_to_right(page, "#rejected td:not(.reason)", "+98", "21", "8877", "6655")
    reads_left_to_right(page, "#rejected td.reason", "+98", "21", "8877", "6655")
    page.goto("/contacts/")
    reads_left_to_right(page, "main table", "۰۹۱۲", "۰۰۰", "۰۰۰۱")
    page.goto(f"/contacts/{ids['nameless_id']}/delete")
    reads_left_to_right(page, "main h1", "۰۹۳۵", "۱۱۱", "۲۲۳۳")
    page.goto("/settings/providers")
    page.goto("/settings/api-tokens")
    reads_left_to_right(page, "main .hint", "Authorization:", "Bearer", "vafa_")
    # The API's address under the token form breaks inside its card, not over its edge.
    card, link = page.evaluate(
        """() => [document.querySelector('main section.card').getBoundingClientRect().toJSON(),
                  document.querySelector('main .hint a').getBoundingClientRect().toJSON()]"""
    )
    assert card["left"] <= link["left"] and link["right"] <= card["right"]
    page.goto("/users")
    reads_left_to_right(page, "#users", "cashier.saturday", "@example-shop")

    # The menu is folded on a phone and opens with no script of the page's.
    expect(page.locator("#menu a").first).to_be_hidden()
    page.locator(".menu > summary").click()
    expect(page.locator('#menu a[data-menu="users"]')).to_be_visible()
    shot("menu-open")
    assert overflow(page) <= 0
    # On a wide screen the menu is one row of group names, and each opens its links.
    page.locator(".menu > summary").click()
    page.set_viewport_size({"width": 1280, "height": 800})
    expect(page.locator(".menu > summary")).to_be_hidden()
    summaries = page.locator("#menu .menu-group > summary")
    tops = summaries.evaluate_all("all => all.map(s => Math.round(s.getBoundingClientRect().top))")
    assert len(tops) == 4 and len(set(tops)) == 1, tops
    users = page.locator('#menu a[data-menu="users"]')
    expect(users).to_be_hidden()
    page.locator('#menu [data-group="settings"] > summary').click()
    expect(users).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth - innerWidth") <= 0
    # One group at a time; a click elsewhere or Escape closes it.
    page.locator('#menu [data-group="customers"] > summary').click()
    expect(page.locator('#menu a[data-menu="lists"]')).to_be_visible()
    expect(users).to_be_hidden()
    page.mouse.click(5, 700)
    expect(page.locator("#menu .menu-group[open]")).to_have_count(0)
    page.locator('#menu [data-group="reports"] > summary').click()
    expect(page.locator('#menu a[data-menu="retention"]')).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#menu .menu-group[open]")).to_have_count(0)
    # Tabbing past a group's last link closes it: nothing stays open over the page.
    page.locator('#menu [data-group="reports"] > summary').click()
    page.locator('#menu a[data-menu="retention"]').focus()
    page.keyboard.press("Tab")
    expect(page.locator('#menu [data-group="settings"] > summary')).to_be_focused()
    expect(page.locator("#menu .menu-group[open]")).to_have_count(0)
    page.locator('#menu [data-group="settings"] > summary').click()
    with page.expect_navigation():
        users.click()
    expect(page).to_have_url(re.compile(r"/users$"))


def test_every_page_fits_a_phone_in_both_languages(page: Page, live_server, shot, tmp_path):
    app = live_server.app
    app.config["VAFA_EXPORT_BACKGROUND_OVER"] = 1  # the export's waiting page is a page too
    page.set_viewport_size({"width": PHONE, "height": 740})
    page.goto("/setup")  # a new install's first page
    assert overflow(page) <= 0, f"/setup is {overflow(page)}px wider than the phone"
    ids = seed_shop(app, tmp_path)
    paths = pages_of(app, ids)
    icons = []
    page.on(
        "request", lambda request: icons.append(request.url) if "favicon" in request.url else None
    )

    page.goto("/login")
    assert overflow(page) <= 0, f"/login is {overflow(page)}px wider than the phone"
    log_in(page)
    # The sent campaign's messages are in the delivery log before it is measured.
    page.goto(f"/campaigns/{ids['campaign_id']}")
    expect(page.locator("#progress")).to_have_attribute("data-status", "done", timeout=15_000)

    wide, foreign = [], []
    for language in ("fa", "en"):
        if language == "en":
            with page.expect_navigation():
                page.locator("button[name=lang]").click()
        for path in itertools.chain(
            visits(page, paths), refusals(page) if language == "fa" else ()
        ):
            assert page.locator('link[rel="icon"]').count() == 1, path
            if overflow(page) > 0:
                sticking_out = page.evaluate(STICKING_OUT, PHONE)
                wide.append(f"{language} {path}: {overflow(page)}px {sticking_out}")
            skip = SKIP_DIGITS[language]
            for text in page.evaluate(FOREIGN_DIGITS, [OTHER_DIGITS[language], skip]):
                for example in DIGIT_EXAMPLES:
                    text = text.replace(example, "")
                if re.search(OTHER_DIGITS[language], text):
                    foreign.append(f"{language} {path}: {text}")
            shot(f"{language}-{path.strip('/').replace('/', '-') or 'home'}")
    assert not wide, "pages wider than a phone:\n" + "\n".join(wide)
    assert not foreign, "the other language's digits:\n" + "\n".join(foreign)
    assert icons and all(url.endswith("/static/favicon.svg") for url in icons), icons
