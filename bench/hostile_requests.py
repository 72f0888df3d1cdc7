"""Benchmark: what hostile requests cost the app before they are refused.

    .venv/bin/python bench/hostile_requests.py

Builds a SQLite database in a temporary folder by the migrations, makes an API token and
an owner, then sends each hostile request of issue 7 through the Flask test client with
the default limits and prints its answer, the time it took and the growth of the
process's peak memory (ru_maxrss). The bodies are real bytes (50 MB of JSON is built and
sent), except the 300 MB upload, which is announced by its Content-Length only: the
point is that the app refuses it before reading.
"""

import json
import resource
import sys
import tempfile
import time
from pathlib import Path

from flask_migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.api.service import create_token  # noqa: E402
from app.auth.service import create_user  # noqa: E402
from app.contacts.models import Contact  # noqa: E402
from app.extensions import db  # noqa: E402

MB = 1024 * 1024


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="vafa-hostile-"))
    app = create_app(
        {
            "SECRET_KEY": "bench",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'vafa.db'}",
            "WTF_CSRF_ENABLED": False,
            "VAFA_IMPORT_FOLDER": str(folder / "imports"),
        }
    )
    with app.app_context():
        upgrade()
        _token, secret = create_token("bench")
        create_user("owner@example.com", "a good password", "owner")
        db.session.commit()
    api = {"Authorization": f"Bearer {secret}", "Accept-Language": "en"}
    client = app.test_client()
    client.post("/login", data={"email": "owner@example.com", "password": "a good password"})

    big = json.dumps({"contacts": [{"mobile": "09121234567", "city": "x" * (50 * MB)}]})
    deep = '{"contacts": ' + "[" * 100_000 + "]" * 100_000 + "}"
    fields = {f"f{i}": "1" for i in range(200_000)}
    many = json.dumps({"contacts": [{"mobile": "09121234567", "fields": fields}]})
    cases = [
        ("API: 50 MB JSON body", "post", "/api/v1/contacts", {"data": big}),
        ("API: JSON nested 100,000 deep", "post", "/api/v1/contacts", {"data": deep}),
        ("API: 200,000 own field names", "post", "/api/v1/contacts", {"data": many}),
        ("API: malformed JSON", "post", "/api/v1/contacts", {"data": '{"contacts": [}'}),
        ("API: 20-digit id in the URL", "get", "/api/v1/campaigns/99999999999999999999", {}),
        (
            "API: 20-digit list_id",
            "post",
            "/api/v1/contacts",
            {"data": '{"contacts": [{"mobile": "09121234567"}], "list_id": 99999999999999999999}'},
        ),
        ("Panel: 20-digit id in the URL", "get", "/contacts/99999999999999999999", {}),
        ("Panel: 20-digit ?before=", "get", "/contacts/?before=99999999999999999999", {}),
        (
            "Panel: 300 MB upload (announced)",
            "post",
            "/contacts/import",
            {
                "data": b"x",
                "content_type": "multipart/form-data; boundary=x",
                "environ_overrides": {"CONTENT_LENGTH": str(300 * MB)},
            },
        ),
        (
            "Panel: 3 MB contact form",
            "post",
            "/contacts/new",
            {"data": {"mobile": "09121234567", "first_name": "x" * (3 * MB)}},
        ),
    ]
    print(f"{'request':36} {'answer':>6} {'ms':>8} {'peak MB':>8}")
    for name, method, path, kwargs in cases:
        headers = api if path.startswith("/api/") else {}
        if path.startswith("/api/") and "data" in kwargs:
            kwargs = {**kwargs, "content_type": "application/json"}
        before = peak_mb()
        start = time.perf_counter()
        response = getattr(client, method)(path, headers=headers, **kwargs)
        took = (time.perf_counter() - start) * 1000
        print(f"{name:36} {response.status_code:>6} {took:>8.1f} {peak_mb() - before:>+8.1f}")
    with app.app_context():
        print("contacts stored:", db.session.query(Contact).count())


if __name__ == "__main__":
    main()
