"""Operator commands: check-deploy, backup, restore."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask
from flask.cli import with_appcontext

from crm.extensions import db, real_app
from crm.ops import backup as backups
from crm.ops import checks


@click.command("check-deploy")
@with_appcontext
def check_deploy() -> None:
    """Refuse a production configuration that is unsafe or fragile; each problem comes with its fix."""
    findings = checks.run_checks(real_app())
    for finding in findings:
        click.echo(f"{finding.level:8} {finding.message}")
        if finding.fix:
            click.echo(f"{'':8} fix: {finding.fix}")
    errors = sum(f.level == checks.ERROR for f in findings)
    warnings = sum(f.level == checks.WARNING for f in findings)
    click.echo(f"\n{errors} error(s), {warnings} warning(s).")
    if errors:
        raise click.ClickException("this configuration is not ready for production.")


@click.command("backup")
@with_appcontext
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def backup(file: Path) -> None:
    """Write one archive (database, files, checksum manifest) while the app keeps running."""
    try:
        manifest = backups.create_backup(real_app(), file, db.engine.url)
    except backups.BackupError as exc:
        raise click.ClickException(exc.message) from None
    count = len(manifest["members"]) - 1
    click.echo(
        f"Backup written to {file}: {manifest['engine']} database at revision {manifest['alembic_revision'] or '-'}, "
        f"{count} file(s)."
    )


@click.command("restore")
@with_appcontext
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--verify-only", is_flag=True, help="Check the archive's checksums and change nothing.")
def restore(file: Path, verify_only: bool) -> None:
    """Restore an archive into an empty database and instance. A damaged archive is refused whole."""
    app = real_app()
    try:
        manifest = backups.restore_backup(app, file, db.engine.url, verify_only=verify_only)
    except backups.BackupError as exc:
        raise click.ClickException(exc.message) from None
    finally:
        db.session.remove()
        db.engine.dispose()  # no pooled connection may keep the database file replaced underneath it
    revision = manifest["alembic_revision"] or "-"
    what = f"{manifest['engine']} database at revision {revision}, made {manifest['created_at']}"
    if verify_only:
        click.echo(f"The archive is intact: {what}, {len(manifest['members']) - 1} file(s).")
        return
    click.echo(f"Restored {what}.")
    click.echo("Next: flask --app app db upgrade (if this version is newer), then start the app.")


def init_app(app: Flask) -> None:
    for command in (check_deploy, backup, restore):
        app.cli.add_command(command)
