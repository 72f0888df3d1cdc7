"""WSGI entry point: ``gunicorn wsgi:app`` (run ``vafa worker``/``vafa run`` for sending)."""

from app import create_app

app = create_app()
