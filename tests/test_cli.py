from datetime import date

from sqlalchemy import func, select

from crm.auth.models import Role, User
from crm.partners.models import Contact, Organisation, Position
from crm.partners.services import contact_detail, title_on


def test_users_create_reads_the_password_from_the_environment(app, db, monkeypatch):
    monkeypatch.setenv("CRM_PASSWORD", "une phrase de passe solide")
    result = app.test_cli_runner().invoke(
        args=["users", "create", "Admin@MCENMA.example", "--name", "Moussa Coulibaly", "--role", "admin"]
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalars(select(User)).one()
    assert user.email == "admin@mcenma.example" and user.role == Role.ADMIN
    again = app.test_cli_runner().invoke(args=["users", "create", "admin@mcenma.example", "--name", "X"])
    assert again.exit_code != 0 and "existe déjà" in again.output


def test_users_create_refuses_a_common_password(app, db, monkeypatch):
    monkeypatch.setenv("CRM_PASSWORD", "password")
    result = app.test_cli_runner().invoke(args=["users", "create", "a@b.ml", "--name", "A", "--role", "staff"])
    assert result.exit_code != 0 and db.session.scalar(select(func.count()).select_from(User)) == 0


def test_seed_demo_loads_the_articles_people_once(app, db):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    assert "admin@mcenma.example" in first.output  # credentials are printed
    counts = [db.session.scalar(select(func.count()).select_from(m)) for m in (Organisation, Contact, Position, User)]
    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0
    assert [
        db.session.scalar(select(func.count()).select_from(m)) for m in (Organisation, Contact, Position, User)
    ] == counts

    names = set(db.session.scalars(select(Organisation.name)))
    assert {"Orange Mali", "Huawei Technologies Mali", "Centre International de Conférences de Bamako"} <= names
    orange = db.session.scalars(select(Organisation).where(Organisation.name == "Orange Mali")).one()

    holders = {
        c.full_name: title_on(contact_detail(db.session, c.id), orange.id, date(2026, 1, 22))
        for c in db.session.scalars(select(Contact))
    }
    assert holders["Leyti N’Diaye"] == "Directeur général"
    assert holders["Seydou Konaté"] == ""  # the predecessor's position ended
    minister = db.session.scalars(select(Contact).where(Contact.family_name == "Ag Ilyène")).one()
    assert minister.honorific == "S.E."


def test_seed_demo_if_empty_leaves_a_used_database_alone(app, db):
    runner = app.test_cli_runner()
    runner.invoke(args=["seed-demo"])
    result = runner.invoke(args=["seed-demo", "--if-empty"])
    assert "not loaded" in result.output
