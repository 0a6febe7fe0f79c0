"""Flask commands: users, seed-demo."""

from __future__ import annotations

import os

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from crm.auth import services as auth_services
from crm.auth.models import Role, User
from crm.errors import DomainError
from crm.extensions import db

users = AppGroup("users", help="Manage accounts.")


@users.command("create")
@click.argument("email")
@click.option("--name", required=True, help="Full name.")
@click.option("--role", type=click.Choice([r.value for r in Role]), default=Role.STAFF.value, show_default=True)
@click.option("--unit", default="", help="Department or unit.")
@click.option("--locale", type=click.Choice(["", "fr", "en"]), default="", help="Empty: the browser's language.")
def users_create(email: str, name: str, role: str, unit: str, locale: str) -> None:
    """Create an account; the password comes from CRM_PASSWORD or is asked for."""
    password = os.environ.get("CRM_PASSWORD") or click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = auth_services.create_user(
            db.session, email=email, name=name, role=Role(role), unit=unit, locale=locale, password=password
        )
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    db.session.commit()
    click.echo(f"Created {user.email} ({user.role}).")


@users.command("list")
def users_list() -> None:
    for user in db.session.scalars(select(User).order_by(User.email)):
        click.echo(f"{user.email}\t{user.role}\t{'active' if user.active else 'inactive'}\t{user.name}")


@click.command("seed-demo")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already has accounts.")
def seed_demo(if_empty: bool) -> None:
    """Load the demo data from the news articles (idempotent) and print the demo accounts."""
    from crm.demo import load_demo

    if if_empty and db.session.scalar(select(User.id).limit(1)) is not None:
        click.echo("The database already has accounts: demo data not loaded.")
        return
    report = load_demo(db.session)
    db.session.commit()
    click.echo(report)


def init_app(app: Flask) -> None:
    app.cli.add_command(users)
    app.cli.add_command(seed_demo)
