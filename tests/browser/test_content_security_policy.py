"""The panel under its Content-Security-Policy, in a real browser.

Every main page is visited with a `securitypolicyviolation` listener installed before
any of the page's own scripts run; no page may report one, and the features driven by
vafa.js (the compose page's live counter and preview, the import and campaign progress
bars, confirmations) must still work. A last test shows the listener and the policy
are live: an inline script and style injected into a page are refused and reported.
"""

import re

import pytest
from playwright.sync_api import Page, expect

from app.persian import persian_digits

pytestmark = pytest.mark.browser

EMAIL = "owner@example.com"
PASSWORD = "a good password"
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(
    `${event.effectiveDirective} blocked ${event.blockedURI}` +
      ` at ${event.sourceFile}:${event.lineNumber}`
  );
});
"""


def fa(value) -> str:
    return persian_digits(str(value))


@pytest.fixture
def csp_page(page: Page):
    """The browser page, recording policy violations and the console's reports of them."""
    reports: list[str] = []
    page.context.add_init_script(RECORD_VIOLATIONS)
    page.on(
        "console",
        lambda message: (
            reports.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.csp_reports = reports
    return page


def assert_no_violations(page: Page) -> None:
    assert page.evaluate("window.__violations") == []
    assert page.csp_reports == []


def visit(page: Page, path: str) -> None:
    response = page.goto(path)
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert_no_violations(page)


def submit(page: Page, form: str = "main form") -> None:
    with page.expect_navigation():
        page.locator(form).locator("button.primary").click()


def bar_width(page: Page, scope: str) -> float:
    """How far a progress bar is filled, as a fraction of its track."""
    return (
        page.locator(scope)
        .locator(".progressbar")
        .evaluate(
            "(bar) => bar.querySelector('.progressbar-fill').getBoundingClientRect().width"
            " / bar.getBoundingClientRect().width"
        )
    )


def test_the_main_pages_run_under_the_policy(csp_page: Page, live_server, shot, tmp_path):
    page = csp_page
    visit(page, "/setup")
    page.locator("#email").fill(EMAIL)
    page.locator("#password").fill(PASSWORD)
    page.locator("#confirm").fill(PASSWORD)
    submit(page)
    assert_no_violations(page)

    # Log out (and in again) through the forms.
    with page.expect_navigation():
        page.locator('form[action$="/logout"] button').click()
    visit(page, "/login")
    page.locator("#email").fill(EMAIL)
    page.locator("#password").fill(PASSWORD)
    submit(page)
    assert_no_violations(page)

    # Import: upload, columns, and the progress page with its bar.
    visit(page, "/contacts/import")
    csv_file = tmp_path / "customers.csv"
    csv_file.write_text("name,mobile\nسارا,09121234567\nعلی,09351112233\n", encoding="utf-8")
    page.locator("#file").set_input_files(csv_file)
    submit(page)
    assert_no_violations(page)
    page.locator("#new_list").fill("مشتریان")
    submit(page, "#mapping")
    expect(page.locator("#import-progress")).to_have_attribute("data-finished", "true")
    expect(page.locator('[data-stat="created"]')).to_have_text(fa(2))
    assert_no_violations(page)

    visit(page, "/contacts/")
    expect(page.locator("main table tbody tr")).to_have_count(2)
    visit(page, "/contacts/lists")

    # Compose: the live counter and the server-rendered preview (vafa.js, fetch + CSRF).
    visit(page, "/campaigns/")
    visit(page, "/campaigns/new")
    page.locator("#name").fill("آزمایش")
    page.locator('input[name="audience"][value="chosen"]').check()
    page.locator("#audience-lists li", has_text="مشتریان").locator("input").check()
    page.locator("#body").press_sequentially("سلام {نام}")
    counter = page.locator("#counter")
    expect(counter).to_have_attribute("data-parts", "1")
    expect(counter).to_contain_text(fa(counter.get_attribute("data-characters")))
    expect(page.locator("#preview-text")).to_contain_text("سلام سارا")
    page.locator('input[name="when"][value="later"]').check()
    expect(page.locator("#schedule")).to_be_visible()
    page.locator('input[name="when"][value="now"]').check()
    expect(page.locator("#schedule")).to_be_hidden()
    assert_no_violations(page)

    # Send: the campaign page's bar follows the progress that vafa.js polls for.
    submit(page, "#compose")
    submit(page, "#estimate form")
    progress = page.locator("#progress")
    expect(progress.locator('[role="progressbar"]')).to_have_attribute(
        "aria-valuenow", "100", timeout=20_000
    )
    expect(progress.locator('[data-status="delivered"] strong')).to_have_text(fa(2), timeout=20_000)
    assert bar_width(page, "#progress") == pytest.approx(1, abs=0.02)
    page.reload()
    assert bar_width(page, "#progress") == pytest.approx(1, abs=0.02)
    assert_no_violations(page)

    # The account page, on a 360 px phone without sideways scrolling.
    with page.expect_navigation():
        page.locator("#account-link").click()
    page.set_viewport_size({"width": 360, "height": 740})
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    shot("account-phone")
    page.set_viewport_size({"width": 1280, "height": 800})
    # A confirmation (data-confirm, wired by vafa.js): dismissed, nothing happens.
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.locator("#end-sessions").click()
    expect(page).to_have_url(re.compile(r"/account$"))
    expect(page.locator(".flash-success")).to_have_count(0)
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.locator("#end-sessions").click()
    expect(page.locator(".flash-success")).to_be_visible()

    for path in ("/reports/messages", "/settings/providers", "/settings/sending"):
        visit(page, path)
    visit(page, "/settings/api-tokens")
    assert_no_violations(page)


def test_an_injected_inline_script_or_style_is_refused(browser, live_server):
    context = browser.new_context(base_url=live_server.url)
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    try:
        page.goto("/setup")
        page.evaluate(
            """() => {
                const script = document.createElement("script");
                script.textContent = "window.__injected = true";
                document.body.append(script);
                const box = document.createElement("div");
                box.innerHTML = '<p id="styled" style="color: rgb(255, 0, 0)">x</p>';
                document.body.append(box);
            }"""
        )
        page.wait_for_function("window.__violations.length >= 2")
        violations = page.evaluate("window.__violations")
        assert any(v.startswith("script-src-elem") for v in violations), violations
        assert any(v.startswith("style-src-attr") for v in violations), violations
        assert page.evaluate("window.__injected") is None
        assert page.locator("#styled").evaluate("(p) => getComputedStyle(p).color") != (
            "rgb(255, 0, 0)"
        )
    finally:
        context.close()
