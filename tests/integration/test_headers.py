"""Security headers on every answer, and templates the Content-Security-Policy lets run."""

import re
from pathlib import Path

import pytest

# Headers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/login", "/contacts/", "/static/vafa.css", "/api/v1/contacts", "/no-such-page"]
)
def test_every_answer_carries_the_security_headers(logged_in, path):
    headers = logged_in.get(path).headers
    policy = headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy
    assert "frame-ancestors 'none'" in policy
    assert "'unsafe-inline'" not in policy
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Frame-Options"] == "DENY"
    # Not over plain HTTP unless the owner says the panel is served over HTTPS.
    assert "Strict-Transport-Security" not in headers


TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


@pytest.mark.parametrize(
    "template", sorted(p.relative_to(TEMPLATES).as_posix() for p in TEMPLATES.rglob("*.html"))
)
def test_no_template_has_inline_script_style_or_handler(template):
    """What the policy would refuse in a browser (tests/browser/test_csp.py shows it)."""
    html = (TEMPLATES / template).read_text()
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert "<style" not in html
    assert not re.search(r"\sstyle=", html)
    assert not re.search(r"\son[a-z]+=", html)
    assert "javascript:" not in html


def test_pages_name_their_own_icon(client):
    """Without one, every page made the browser ask for /favicon.ico: a 404 in the console
    of every page (found walking the panel)."""
    page = client.get("/login", follow_redirects=True).text
    icon = re.search(r'<link rel="icon" href="([^"]+)"', page)
    assert icon is not None
    served = client.get(icon.group(1))
    assert served.status_code == 200
    assert served.mimetype == "image/svg+xml"
    # A browser that asks where icons used to be is sent to it, signed in or not.
    fallback = client.get("/favicon.ico")
    assert fallback.status_code == 301 and fallback.location == icon.group(1)
