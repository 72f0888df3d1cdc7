"""Browser fixtures: the real app on a loopback port, driven by headless Chromium.

The server is the whole product as `vafa run` starts it — web pages plus the in-process
scheduler that starts campaigns, dispatches the outbox and polls delivery — on the same
test database as the other tests (SQLite, or PostgreSQL when VAFA_TEST_DATABASE_URL is
set). CSRF protection stays on: the browser submits the real forms.

Chromium is Debian's (/usr/bin/chromium, or VAFA_CHROMIUM); Playwright never downloads a
browser here. Set VAFA_BROWSER_SHOTS=<folder> to keep a screenshot of every step.
"""

import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path

import pytest
from flask import Flask, got_request_exception
from werkzeug.serving import BaseWSGIServer, make_server

from app import create_app
from app.extensions import db
from app.jobs import Worker, start_scheduler
from app.sending.policy import SendingPolicy, save_policy
from tests.database import empty_database

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    return os.environ.get("VAFA_CHROMIUM") or shutil.which("chromium") or None


def launch_chromium(playwright):
    """Debian's Chromium, headless, with no network of its own."""
    return playwright.chromium.launch(
        executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True
    )


@dataclass
class LiveServer:
    app: Flask
    url: str
    errors: list[BaseException] = field(default_factory=list)


class ServerThread(threading.Thread):
    """A threaded WSGI server on a free loopback port, stoppable from the test."""

    def __init__(self, app: Flask) -> None:
        super().__init__(name="vafa-live-server", daemon=True)
        self.server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def run(self) -> None:
        self.server.serve_forever(poll_interval=0.1)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.join(timeout=10)


@pytest.fixture
def live_server(_schema, tmp_path) -> Iterator[LiveServer]:
    """The app with CSRF on and its scheduler ticking every second, on 127.0.0.1:<free>."""
    app = create_app(
        {
            "SECRET_KEY": "browser-test",
            "SQLALCHEMY_DATABASE_URI": _schema,
            "WTF_CSRF_ENABLED": True,
            "VAFA_TICK_SECONDS": 1,
            "VAFA_POLL_AFTER": 0,
            "VAFA_IMPORT_FOLDER": str(tmp_path / "imports"),
            "VAFA_EXPORTS_FOLDER": str(tmp_path / "exports"),
        }
    )
    errors: list[BaseException] = []

    def record(_sender, exception, **_extra):
        errors.append(exception)

    got_request_exception.connect(record, app)
    with app.app_context():
        empty_database()  # the first visit must find no user, as on a new install
        # Any hour of the day: the test must not wait for the marketing window.
        save_policy(SendingPolicy(window_start=time(0), window_end=time(0)))
        db.session.commit()
    scheduler = start_scheduler(app)
    worker = Worker(app)
    worker_thread = worker.start_thread()
    server = ServerThread(app)
    server.start()
    try:
        yield LiveServer(app=app, url=server.url, errors=errors)
    finally:
        server.stop()
        scheduler.shutdown(wait=True)
        worker.stop.set()
        worker_thread.join(timeout=10)
        got_request_exception.disconnect(record, app)
        with app.app_context():
            empty_database()
            db.session.remove()
            db.engine.dispose()


@pytest.fixture(scope="session")
def browser():
    executable = chromium_path()
    if executable is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server, tmp_path):
    """A fresh browser context (no cookies) whose page fails the test on any script error."""
    context = browser.new_context(
        base_url=live_server.url,
        viewport={"width": 1280, "height": 800},
        accept_downloads=True,
        locale="fa-IR",
        timezone_id="Asia/Tehran",
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    problems: list[str] = []

    def on_console(message) -> None:
        # A failed load is reported below with its URL.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            problems.append(f"console error: {message.text}")

    def on_response(response) -> None:
        if response.status >= 400:
            problems.append(f"HTTP {response.status}: {response.request.method} {response.url}")

    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.on("console", on_console)
    page.on("response", on_response)
    yield page
    context.close()
    assert not problems, problems
    assert not live_server.errors, live_server.errors


@pytest.fixture
def shot(page):
    """shot("name"): keep a full-page screenshot when VAFA_BROWSER_SHOTS names a folder."""
    folder = os.environ.get("VAFA_BROWSER_SHOTS")
    counter = iter(range(1, 1000))

    def take(name: str) -> None:
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=f"{folder}/{next(counter):02d}-{name}.png", full_page=True)

    return take


@pytest.fixture
def owner_page(page):
    """The page after the first-run setup: the owner is signed in, in Persian."""
    page.goto("/")
    page.locator("#email").fill("owner@example.com")
    page.locator("#password").fill("a good password")
    page.locator("#confirm").fill("a good password")
    with page.expect_navigation():
        page.locator("main form button.primary").click()
    return page
