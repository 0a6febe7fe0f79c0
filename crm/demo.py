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
from crm.partners import institutions
from crm.partners import services as partners
from crm.partners.models import Contact, Organisation, OrgKind, Position

# The three ministries served by this installation, with their letterheads (mottos as their constitutions
# state them).
INSTITUTIONS = [
    {
        "org": "mcenma",
        "code": "ML",
        "short_name": "MCENMA",
        "timezone": "Africa/Bamako",
        "country": "République du Mali",
        "motto": "Un Peuple – Un But – Une Foi",
        "unit": "Secrétariat général",
        "city": "Bamako",
    },
    {
        "org": "mtdpce",
        "code": "BF",
        "short_name": "MTDPCE",
        "timezone": "Africa/Ouagadougou",
        "country": "Burkina Faso",
        "motto": "La Patrie ou la Mort, nous Vaincrons",
        "unit": "Secrétariat général",
        "city": "Ouagadougou",
    },
    {
        "org": "mcpen",
        "code": "NE",
        "short_name": "MCPEN",
        "timezone": "Africa/Niamey",
        "country": "République du Niger",
        "motto": "Fraternité – Travail – Progrès",
        "unit": "Secrétariat général",
        "city": "Niamey",
    },
]

# Staff of each ministry (fictional people: the articles name only the ministers). Mali's administrator also
# administers the installation.
ACCOUNTS = [
    ("ML", "admin@mcenma.example", "Moussa Coulibaly", Role.INSTALLATION_ADMIN, "Cellule informatique", "fr"),
    ("ML", "awa.traore@mcenma.example", "Awa Traoré", Role.OFFICER, "Direction de la coopération", "fr"),
    ("ML", "ibrahim.maiga@mcenma.example", "Ibrahim Maïga", Role.STAFF, "Secrétariat général", "fr"),
    ("ML", "kadiatou.sidibe@mcenma.example", "Kadiatou Sidibé", Role.VIEWER, "Cabinet du ministre", "en"),
    ("BF", "admin@mtdpce.example", "Issa Compaoré", Role.ADMIN, "Direction des systèmes d’information", "fr"),
    ("BF", "salif.ouedraogo@mtdpce.example", "Salif Ouédraogo", Role.OFFICER, "Direction de la coopération", "fr"),
    ("BF", "aicha.kabore@mtdpce.example", "Aïcha Kaboré", Role.STAFF, "Secrétariat général", "fr"),
    ("BF", "rasmane.sawadogo@mtdpce.example", "Rasmané Sawadogo", Role.VIEWER, "Cabinet de la ministre", "fr"),
    ("NE", "admin@mcpen.example", "Ousmane Garba", Role.ADMIN, "Cellule informatique", "fr"),
    ("NE", "hadiza.moussa@mcpen.example", "Hadiza Moussa", Role.OFFICER, "Direction de la coopération", "fr"),
    ("NE", "abdoulaye.issoufou@mcpen.example", "Abdoulaye Issoufou", Role.STAFF, "Secrétariat général", "fr"),
    ("NE", "mariama.hama@mcpen.example", "Mariama Hama", Role.VIEWER, "Cabinet du ministre", "fr"),
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
        "key": "huawei_group",
        "name": "Huawei Technologies Co., Ltd.",
        "acronym": "Huawei",
        "kind": OrgKind.VENDOR,
        "country_code": "CN",
        "city": "Shenzhen",
        "sectors": ["telecom", "training", "cybersecurity"],
        "notes": "Maison mère des filiales nationales : la vue AES regroupe leurs engagements.",
    },
    {
        "key": "huawei",
        "parent": "huawei_group",
        "name": "Huawei Technologies Mali",
        "acronym": "Huawei Mali",
        "kind": OrgKind.VENDOR,
        "country_code": "ML",
        "city": "Bamako",
        "sectors": ["telecom", "training", "cybersecurity"],
    },
    {
        "key": "huawei_bf",
        "parent": "huawei_group",
        "name": "Huawei Technologies Burkina Faso",
        "acronym": "Huawei Burkina",
        "kind": OrgKind.VENDOR,
        "country_code": "BF",
        "city": "Ouagadougou",
        "sectors": ["telecom", "training"],
        "notes": "Filiale illustrative (données de démonstration).",
    },
    {
        "key": "huawei_ne",
        "parent": "huawei_group",
        "name": "Huawei Technologies Niger",
        "acronym": "Huawei Niger",
        "kind": OrgKind.VENDOR,
        "country_code": "NE",
        "city": "Niamey",
        "sectors": ["telecom", "training"],
        "notes": "Filiale illustrative (données de démonstration).",
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


def _institutions(session: DbSession, orgs: dict[str, Organisation]) -> dict[str, int]:
    """The three ministries as institutions (an institution made earlier for Mali is kept and completed)."""
    codes = {}
    for spec in INSTITUTIONS:
        existing = institutions.by_code(session, spec["code"])
        if existing is None:
            org = orgs[spec["org"]]
            existing = institutions.save_institution(
                session, {**spec, "organisation_id": org.id, "authority": org.name}
            )
        codes[spec["code"]] = existing.id
    return codes


def _accounts(session: DbSession, codes: dict[str, int]) -> list[str]:
    lines = []
    for code, email, name, role, unit, locale in ACCOUNTS:
        if session.scalar(select(User.id).where(User.email == email)) is not None:
            continue
        password = "-".join(secrets.token_urlsafe(4) for _ in range(3))
        auth_services.create_user(
            session,
            email=email,
            name=name,
            role=role,
            unit=unit,
            locale=locale,
            password=password,
            institution_id=codes[code],
        )
        lines.append(f"{code:3} {role.value:18} {email:34} {password}")
    return lines


# Who follows which partner: their news comes to these users' home pages.
FOLLOWS = {
    "awa.traore@mcenma.example": ("orange", "huawei"),
    "ibrahim.maiga@mcenma.example": ("orange",),
    "salif.ouedraogo@mtdpce.example": ("huawei_bf",),
    "hadiza.moussa@mcpen.example": ("huawei_ne",),
}


def _follows(session: DbSession, orgs: dict[str, Organisation]) -> None:
    for email, keys in FOLLOWS.items():
        user_id = session.scalar(select(User.id).where(User.email == email))
        if user_id is not None:
            for key in keys:
                partners.set_follow(session, user_id, orgs[key].id, follow=True)


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

    codes = _institutions(session, orgs)
    new_lines = _accounts(session, codes)
    session.flush()
    demo_meetings.load(session, orgs)
    demo_visits.load(session, orgs)
    _follows(session, orgs)
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
        "Demo accounts (institution, role, email, password) — also kept in instance/demo-accounts.txt:\n" + saved
    )
