"""Make docs/screenshot.png: the compose page in Persian, with a few sample contacts.

A plain script, not a test (pytest collects only test_*.py):

    .venv/bin/python tests/browser/make_screenshot.py [--page compose|campaign] [--out PATH]

It builds a throwaway SQLite database from the migrations, seeds an owner, a list of
sample customers and one delivered campaign, serves the app on a free loopback port,
logs in through the real form with Debian's Chromium and saves a 1280×800 screenshot.
"""

import argparse
import logging
import sys
import tempfile
import time
from datetime import time as clock
from pathlib import Path

from flask_migrate import upgrade
from playwright.sync_api import expect, sync_playwright

from app import create_app
from app.extensions import db
from app.jobs import run_all_once

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the browser tests' helpers, imported as tests.*
from tests.browser.conftest import ServerThread, launch_chromium  # noqa: E402

EMAIL = "owner@example.com"
PASSWORD = "a good password"
LIST_NAME = "مشتریان وفادار"
SAMPLE_CSV = """نام,موبایل,تاریخ تولد
سارا احمدی,0912 123 4567,۱۳۷۰/۰۵/۱۲
علی رضایی,۰۹۱۹۸۷۶۵۴۳۲,1365/12/29
مریم کریمی,+98 935 111 2233,1372/01/05
نیما صادقی,09301234567,
زهرا محمدی,0901 765 4321,1368/09/30
حسین نوری,00989121112233,
"""
BODY = "سلام {نام|دوست عزیز}، شب یلدا مبارک! تا پایان آذر ۲۰٪ تخفیف همهٔ خریدها برای شماست. کافه وفا"


def seed(app) -> None:
    from app.auth.service import create_user
    from app.contacts.importing import import_file
    from app.contacts.service import find_or_create_list
    from app.messaging.service import confirm_campaign, create_campaign
    from app.sending.policy import SendingPolicy, save_policy
    from app.sending.service import default_account

    with app.app_context():
        upgrade()
        owner = create_user(EMAIL, PASSWORD, "owner")
        contact_list = find_or_create_list(LIST_NAME)
        db.session.commit()
        sample = Path(app.config["VAFA_IMPORT_FOLDER"]).parent / "sample.csv"
        sample.write_text(SAMPLE_CSV, encoding="utf-8")
        import_file(sample, list_id=contact_list.id)
        campaign = create_campaign(
            name="خوش‌آمد مشتریان تازه",
            body="{نام|دوست عزیز} جان، به باشگاه مشتریان کافه وفا خوش آمدید!",
            list_id=contact_list.id,
            provider_id=default_account().id,
            sender="10000000",
            scheduled_at=None,
            created_by_id=owner.id,
        )
        confirm_campaign(campaign)
        save_policy(SendingPolicy(window_start=clock(0), window_end=clock(0)))  # any hour
        db.session.commit()
        campaign_id = campaign.id
        for _ in range(3):  # start, dispatch, poll delivery, finish
            run_all_once(app)
        app.config["SAMPLE_CAMPAIGN_ID"] = campaign_id


def capture(base_url: str, which: str, out: Path, campaign_id: int) -> None:
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(
            base_url=base_url,
            viewport={"width": 1280, "height": 800},
            locale="fa-IR",
            timezone_id="Asia/Tehran",
        )
        page.goto("/login")
        page.locator("#email").fill(EMAIL)
        page.locator("#password").fill(PASSWORD)
        with page.expect_navigation():
            page.locator("main form button.primary").click()
        if which == "compose":
            page.goto("/campaigns/new")
            page.locator("#name").fill("یلدا ۱۴۰۴")
            page.locator('input[name="audience"][value="chosen"]').check()
            page.locator("#audience-lists li", has_text=LIST_NAME).locator("input").check()
            page.locator("#body").fill(BODY)
            expect(page.locator("#preview-text")).to_contain_text("سارا")
        else:
            page.goto(f"/campaigns/{campaign_id}")
            expect(page.locator('#progress [data-status="delivered"]')).to_be_visible()
        page.mouse.move(0, 0)
        page.evaluate("window.scrollTo(0, 0)")  # the menu and the page's title in view
        time.sleep(0.3)  # let the caret and fonts settle
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out))
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--page", choices=("compose", "campaign"), default="compose")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot.png")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vafa-screenshot-") as folder:
        app = create_app(
            {
                "SECRET_KEY": "screenshot",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/vafa.db",
                "VAFA_POLL_AFTER": 0,
                "VAFA_IMPORT_FOLDER": f"{folder}/imports",
            }
        )
        seed(app)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        server = ServerThread(app)
        server.start()
        try:
            capture(server.url, args.page, args.out, app.config["SAMPLE_CAMPAIGN_ID"])
        finally:
            server.stop()
            with app.app_context():
                db.engine.dispose()
    print(f"Saved {args.out}")


if __name__ == "__main__":
    main()
