"""The ``vafa`` command: Flask's CLI group with Vafa's own commands.

``vafa --help`` lists them all; ``vafa db upgrade`` (Flask-Migrate) brings any database
to the current schema.
"""

import sys

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from app import create_app
from app.extensions import db


@click.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
@click.option("--no-scheduler", is_flag=True, help="Serve pages only; jobs run elsewhere.")
@with_appcontext
def run_command(host: str, port: int, threads: int, no_scheduler: bool) -> None:
    """Run the panel, scheduler and dispatcher in one process."""
    import logging

    from waitress import serve

    from app.jobs import start_scheduler

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Every tick of every job is noise; failures are still logged by app.jobs.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    app = current_app._get_current_object()
    if not no_scheduler:
        start_scheduler(app)
    click.echo(f"Vafa is running on http://{host}:{port}/ (Ctrl+C to stop)")
    serve(app, host=host, port=port, threads=threads, _quiet=True)


@click.command("create-user")
@click.argument("email")
@click.option("--role", default="owner", show_default=True, type=click.Choice(["owner", "staff"]))
@click.option(
    "--password-file",
    type=click.File("r"),
    help="Read the password from this file's first line (default: standard input).",
)
@with_appcontext
def create_user_command(email: str, role: str, password_file) -> None:
    """Create a user who can log into the panel."""
    from app.auth.service import UserError, create_user

    if password_file is not None:
        password = password_file.readline().rstrip("\n")
    elif sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\n")
    try:
        user = create_user(email, password, role)
    except UserError as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"Created {user.role} {user.email}")


@click.command("tick")
@with_appcontext
def tick_command() -> None:
    """Run every scheduled job once (start due campaigns, dispatch, poll delivery)."""
    from app.jobs import run_all_once

    run_all_once(current_app._get_current_object())


main = FlaskGroup(create_app=create_app, help="Vafa (وفا): SMS retention panel.")
for command in (run_command, create_user_command, tick_command):
    main.add_command(command)
