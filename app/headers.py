"""Security headers on every answer: pages, files, the API, errors.

The panel's pages load their script and style from /static only (app/static/vafa.js,
vafa.css): no inline <script>, style="…" or on…= handlers, so the policy can refuse
all of them, and an injected one does not run. `<script type="application/json">`
data blocks are not scripts and are allowed. frame-ancestors (and X-Frame-Options for
older browsers) keep the panel out of other sites' frames, against clickjacking.
"""

from flask import Response

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "base-uri 'none'",
        "object-src 'none'",
    )
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def add_security_headers(response: Response) -> Response:
    """An after_request hook; a view that sets one of these headers itself keeps it."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def add_strict_transport_security(response: Response) -> Response:
    """HSTS for a panel served over HTTPS (VAFA_SECURE_COOKIES): a year, this host only."""
    response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response
