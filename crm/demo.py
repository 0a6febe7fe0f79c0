"""Demo data drawn from the news articles in shared/context (people, titles, organisations, dates).

Where the articles are silent (a predecessor's name, a start date), the record says so in its notes:
demo data must never pass for a fact.
"""

from __future__ import annotations

import os
import secrets
from datetime import date
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from crm import demo_meetings, demo_visits
from crm.auth import services as auth_services
from crm.auth.models import Role, User
from crm.db import DbSession, search_key
from crm.partners import services as partners
from crm.partners.models import Contact, Organisation, OrgKind, Position

ACCOUNTS = [
    ("admin@mcenma.example", "Moussa Coulibaly", Role.ADMIN, "Cellule informatique", "fr"),
    ("awa.traore@mcenma.example", "Awa Traoré", Role.OFFICER, "Direction de la coopération", "fr"),
    ("ibrahim.maiga@mcenma.example", "Ibrahim Maïga", Role.STAFF, "Secrétariat général", "fr"),
    ("kadiatou.sidibe@mcenma.example", "Kadiatou Sidibé", Role.VIEWER, "Cabinet du ministre", "en"),
]

ORGANISATIONS: list[dict[str, Any]] = [
    {
        "key": "mcenma",
        "name": "Ministère de la Communication, de l’Économie numérique et de la Modernisation de l’Administration",
        "acronym": "MCENMA",
        "kind": OrgKind.MINISTRY,
        "country_code": "ML",
        "city": "Bamako",
        "sectors": ["digital_economy", "egov", "media"],
        "notes": "Organise la Semaine du Numérique au Mali (3e édition, CICB, 29–31 janvier 2026).",
    },
    {
        "key": "mtdpce",
        "name": "Ministère de la Transition digitale, des Postes et des Communications électroniques",
        "acronym": "MTDPCE",
        "kind": OrgKind.MINISTRY,
        "country_code": "BF",
        "city": "Ouagadougou",
        "sectors": ["digital_economy", "postal", "telecom"],
        "notes": "Organise la Semaine du Numérique du Burkina Faso (20e édition ouverte le 18 novembre 2025).",
    },
    {
        "key": "mcpen",
        "name": "Ministère de la Communication, des Postes et de l’Économie numérique",
        "acronym": "MCPEN",
        "kind": OrgKind.MINISTRY,
        "country_code": "NE",
        "city": "Niamey",
        "sectors": ["digital_economy", "postal", "media"],
    },
    {
        "key": "culture",
        "name": "Ministère de la Culture",
        "acronym": "",
        "kind": OrgKind.MINISTRY,
        "country_code": "ML",
        "city": "Bamako",
        "sectors": ["culture"],
        "notes": "Haut parrain de la 3e Semaine du Numérique (thème : e-gouvernement et IA, défis pour la culture).",
    },
    {
        "key": "agetic",
        "parent": "mcenma",
        "name": "Agence des Technologies de l’Information et de la Communication",
        "acronym": "AGETIC",
        "kind": OrgKind.AGENCY,
        "country_code": "ML",
        "city": "Bamako",
        "sectors": ["egov", "startups", "training"],
        "notes": "Assure le coaching et l’incubation des candidats présélectionnés de la Semaine du Numérique.",
    },
    {
        "key": "cicb",
        "name": "Centre International de Conférences de Bamako",
        "acronym": "CICB",
        "kind": OrgKind.OTHER,
        "country_code": "ML",
        "city": "Bamako",
        "sectors": ["events"],
    },
    {
        "key": "orange",
        "name": "Orange Mali",
        "acronym": "",
        "kind": OrgKind.OPERATOR,
        "country_code": "ML",
        "city": "Bamako",
        "sectors": ["telecom", "infrastructure", "digital_economy"],
    },
    {
        "key": "huawei",
        "name": "Huawei Technologies Mali",
        "acronym": "Huawei Mali",
        "kind": OrgKind.VENDOR,
        "country_code": "ML",
        "city": "Bamako",
        "sectors": ["telecom", "training", "cybersecurity"],
    },
]

UNKNOWN_START = "Date de prise de fonction non indiquée par les sources : à compléter."
FICTIONAL = "Personne fictive (données de démonstration) : les sources ne nomment pas le prédécesseur."

CONTACTS: list[dict[str, Any]] = [
    {
        "honorific": "S.E.",
        "given_name": "Alhamdou",
        "family_name": "Ag Ilyène",
        "languages": ["fr", "tmh"],
        "positions": [
            (
                "mcenma",
                "Ministre de la Communication, de l’Économie numérique et de la Modernisation de l’Administration",
                None,
                None,
                UNKNOWN_START,
            )
        ],
    },
    {
        "honorific": "S.E.",
        "given_name": "Aminata",
        "family_name": "Zerbo Sabané",
        "languages": ["fr"],
        "positions": [
            (
                "mtdpce",
                "Ministre de la Transition digitale, des Postes et des Communications électroniques",
                None,
                None,
                UNKNOWN_START,
            )
        ],
    },
    {
        "honorific": "S.E.",
        "given_name": "Mohamed",
        "family_name": "Sidi Raliou",
        "languages": ["fr", "ar"],
        "positions": [
            ("mcpen", "Ministre de la Communication, des Postes et de l’Économie numérique", None, None, UNKNOWN_START)
        ],
    },
    {
        "honorific": "S.E.",
        "given_name": "Mamou",
        "family_name": "Daffé",
        "languages": ["fr", "bm"],
        "positions": [("culture", "Ministre de la Culture", None, None, UNKNOWN_START)],
    },
    {
        "honorific": "M.",
        "given_name": "Leyti",
        "family_name": "N’Diaye",
        "languages": ["fr", "wo"],
        "notes": "Reçu en audience par le ministre le 22 janvier 2026, fraîchement installé.",
        "positions": [
            ("orange", "Directeur général", date(2026, 1, 1), None, "Nommé début 2026 ; date exacte à confirmer.")
        ],
    },
    {
        "honorific": "M.",
        "given_name": "Seydou",
        "family_name": "Konaté",
        "languages": ["fr", "bm"],
        "notes": FICTIONAL,
        "positions": [("orange", "Directeur général", date(2022, 3, 1), date(2025, 12, 31), FICTIONAL)],
    },
    {
        "honorific": "M.",
        "given_name": "Jean Sun",
        "family_name": "Wei",
        "languages": ["zh", "fr", "en"],
        "notes": "Reçu en audience par le ministre le 22 janvier 2026, fraîchement installé.",
        "positions": [
            ("huawei", "Directeur général", date(2026, 1, 1), None, "Nommé début 2026 ; date exacte à confirmer.")
        ],
    },
    {
        "honorific": "M.",
        "given_name": "Li",
        "family_name": "Hong",
        "languages": ["zh", "en", "fr"],
        "notes": FICTIONAL,
        "positions": [("huawei", "Directeur général", date(2021, 9, 1), date(2025, 12, 31), FICTIONAL)],
    },
    {
        "honorific": "Mme",
        "given_name": "Fatoumata",
        "family_name": "Keïta",
        "native_name": "ߝߊߕߎߡߊߕߊ ߞߋߕߊ",
        "languages": ["bm", "fr"],
        "notes": "Personne fictive : nom écrit aussi en N’Ko.",
        "positions": [("agetic", "Cheffe du centre d’incubation", date(2024, 2, 1), None, "")],
    },
    {
        "honorific": "M.",
        "given_name": "Ibrahim",
        "family_name": "Ag Mohamed",
        "native_name": "ⵉⴱⵔⴰⵀⵉⵎ ⴰⴳ ⵎⵓⵃⴰⵎⵎⴰⴷ",
        "languages": ["tmh", "fr", "ar"],
        "notes": "Personne fictive : nom écrit aussi en tifinagh.",
        "positions": [("mcenma", "Conseiller technique chargé de la coopération", date(2025, 5, 1), None, "")],
    },
    {
        "honorific": "Dr",
        "given_name": "Mariam",
        "family_name": "Ould Ahmed",
        "native_name": "مريم ولد أحمد",
        "languages": ["ar", "fr"],
        "notes": "Personne fictive : nom écrit aussi en arabe.",
        "positions": [("mcpen", "Directrice de l’économie numérique", date(2024, 6, 1), None, "")],
    },
]


def _credentials_file() -> Path:
    return Path(current_app.instance_path) / "demo-accounts.txt"


def _accounts(session: DbSession) -> list[str]:
    lines = []
    for email, name, role, unit, locale in ACCOUNTS:
        if session.scalar(select(User.id).where(User.email == email)) is not None:
            continue
        password = "-".join(secrets.token_urlsafe(4) for _ in range(3))
        auth_services.create_user(
            session, email=email, name=name, role=role, unit=unit, locale=locale, password=password
        )
        lines.append(f"{role.value:8} {email:34} {password}")
    return lines


def load_demo(session: DbSession) -> str:
    """Load everything; running it twice changes nothing. Returns what to print."""
    partners.seed_countries(session)
    orgs: dict[str, Organisation] = {}
    for entry in ORGANISATIONS:
        spec = dict(entry)
        key, parent = spec.pop("key"), spec.pop("parent", None)
        existing = session.scalars(
            select(Organisation).where(
                Organisation.name_key == search_key(spec["name"]), Organisation.country_code == spec["country_code"]
            )
        ).first()
        if existing is None:
            spec["parent_id"] = orgs[parent].id if parent else None
            existing = partners.save_organisation(session, spec)
        orgs[key] = existing
    for entry in CONTACTS:
        spec = dict(entry)
        positions = spec.pop("positions")
        key = search_key(f"{spec['family_name']} {spec['given_name']}")
        if session.scalar(select(Contact.id).where(Contact.sort_key == key)) is not None:
            continue
        contact = partners.save_contact(session, spec)
        for org_key, title, start, end, notes in positions:
            session.add(
                Position(
                    contact_id=contact.id,
                    organisation_id=orgs[org_key].id,
                    title=title,
                    start_date=start,
                    end_date=end,
                    notes=notes,
                )
            )
    session.flush()

    new_lines = _accounts(session)
    session.flush()
    demo_meetings.load(session, orgs)
    demo_visits.load(session, orgs)
    path = _credentials_file()
    if new_lines:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a") as fh:
            fh.write("\n".join(new_lines) + "\n")
    saved = path.read_text() if path.exists() else ""
    return (
        "Demo data loaded: "
        f"{len(orgs)} organisations, {session.scalar(select(func.count()).select_from(Position))} positions.\n"
        "Demo accounts (role, email, password) — also kept in instance/demo-accounts.txt:\n" + saved
    )
