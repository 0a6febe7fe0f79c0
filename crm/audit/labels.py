"""Words shown in the history of a record."""

from flask_babel import lazy_gettext as _l

ACTIONS = {
    "create": _l("created the record"),
    "update": _l("changed"),
    "delete": _l("deleted"),
    "login": _l("signed in"),
    "login_failed": _l("failed to sign in"),
    "login_throttled": _l("was refused sign-in (too many attempts)"),
    "logout": _l("signed out"),
    "password_changed": _l("changed the password"),
    "access_denied": _l("was refused access"),
}

ENTITIES = {
    "organisation": _l("organisation"),
    "contact": _l("contact"),
    "position": _l("position"),
    "user_account": _l("account"),
}

FIELDS = {
    "name": _l("Name"),
    "acronym": _l("Acronym"),
    "kind": _l("Kind"),
    "country_code": _l("Country"),
    "parent_id": _l("Belongs to"),
    "sectors": _l("Sectors"),
    "email": _l("Email"),
    "phone": _l("Phone"),
    "website": _l("Website"),
    "address": _l("Address"),
    "city": _l("City"),
    "notes": _l("Notes"),
    "archived_at": _l("Archived"),
    "honorific": _l("Honorific"),
    "given_name": _l("Given names"),
    "family_name": _l("Family name"),
    "native_name": _l("Name in its own script"),
    "languages": _l("Languages"),
    "title": _l("Title"),
    "start_date": _l("Start"),
    "end_date": _l("End"),
    "organisation_id": _l("Organisation"),
    "contact_id": _l("Contact"),
    "role": _l("Role"),
    "active": _l("Active account"),
    "unit": _l("Unit"),
    "locale": _l("Language"),
    "timezone": _l("Time zone"),
}


def action(code: str) -> str:
    return str(ACTIONS.get(code, code))


def entity(code: str) -> str:
    return str(ENTITIES.get(code, code))


def field(code: str) -> str:
    return str(FIELDS.get(code, code))
