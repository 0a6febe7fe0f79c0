"""Flask commands: users, seed-demo, search rebuild."""

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
from crm.partners import institutions

users = AppGroup("users", help="Manage accounts.")


@users.command("create")
@click.argument("email")
@click.option("--name", required=True, help="Full name.")
@click.option("--role", type=click.Choice([r.value for r in Role]), default=Role.STAFF.value, show_default=True)
@click.option("--unit", default="", help="Department or unit.")
@click.option("--locale", type=click.Choice(["", "fr", "en"]), default="", help="Empty: the browser's language.")
@click.option("--institution", default="", help="Institution code (ML, BF, NE…); default: the first institution.")
def users_create(email: str, name: str, role: str, unit: str, locale: str, institution: str) -> None:
    """Create an account; the password comes from CRM_PASSWORD or is asked for."""
    institution_id = None
    if institution:
        found = institutions.by_code(db.session, institution)
        if found is None:
            known = ", ".join(i.code for i in institutions.all_institutions(db.session)) or "-"
            raise click.BadParameter(f"no institution with the code {institution!r} (known: {known}).")
        institution_id = found.id
    password = os.environ.get("CRM_PASSWORD") or click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = auth_services.create_user(
            db.session,
            email=email,
            name=name,
            role=Role(role),
            unit=unit,
            locale=locale,
            password=password,
            institution_id=institution_id,
        )
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    db.session.commit()
    click.echo(f"Created {user.email} ({user.role}, {user.institution.code}).")


@users.command("list")
def users_list() -> None:
    for user in db.session.scalars(select(User).order_by(User.email)):
        state = "active" if user.active else "inactive"
        click.echo(f"{user.email}\t{user.role}\t{user.institution.code}\t{state}\t{user.name}")


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


search = AppGroup("search", help="The search index.")


@search.command("rebuild")
def search_rebuild() -> None:
    """Write the search index again from every record (after a bulk load or an upgrade)."""
    from crm.search import services as search_services

    counts = search_services.rebuild(db.session, echo=lambda kind, n: click.echo(f"{kind}: {n}"))
    db.session.commit()
    click.echo(f"Search index rebuilt: {sum(counts.values())} records.")


def init_app(app: Flask) -> None:
    from crm.notifications.cli import group as notifications

    app.cli.add_command(notifications)
    app.cli.add_command(users)
    app.cli.add_command(search)
    app.cli.add_command(seed_demo)
