"""Demo meetings: the minister's audiences of 22 January 2026 with the new directors general of
Orange Mali and Huawei Mali (Malikunafoni, 22 January 2026), their minutes and the commitments made.

What was discussed follows the article; the wording of the decisions, the commitments and their due
dates are illustrative, and the meetings' notes say so.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from crm.auth.models import User
from crm.commitments import services as commitments
from crm.db import DbSession, search_key
from crm.meetings import services as meetings
from crm.meetings.models import Meeting
from crm.partners.models import Contact, Organisation

NOTE = (
    "Données de démonstration : les sujets abordés suivent l’article « Télécoms et numérique : Bamako relance "
    "le dialogue avec ses partenaires stratégiques » (Malikunafoni, 22 janvier 2026). La formulation des "
    "décisions, les engagements et leurs échéances sont illustratifs."
)

AUDIENCES: list[dict[str, Any]] = [
    {
        "partner": "orange",
        "head": ("N’Diaye", "Leyti"),
        "title": "Audience du Ministre avec le nouveau Directeur général d’Orange Mali",
        "starts": datetime(2026, 1, 22, 10, 0),
        "summary": (
            "Le Ministre de la Communication, de l’Économie numérique et de la Modernisation de l’Administration, "
            "M. Alhamdou Ag Ilyène, a reçu en audience M. Leyti N’Diaye, nouveau Directeur général d’Orange Mali, "
            "fraîchement installé dans ses fonctions.\n"
            "Le Ministre a rappelé que « le numérique est aujourd’hui un pilier de la souveraineté et du "
            "développement du Mali » et que la connectivité ne peut plus être limitée aux grands centres urbains : "
            "elle doit devenir un outil d’équité territoriale."
        ),
        "items": [
            (
                "Présentation du nouveau Directeur général",
                "M. N’Diaye a présenté ses priorités et assuré le Ministre de l’engagement d’Orange Mali à "
                "travailler dans un esprit de partenariat équilibré, en phase avec les priorités nationales.",
                "",
            ),
            (
                "Couverture des zones rurales et qualité des réseaux",
                "La qualité des réseaux, leur extension et leur adaptation aux nouveaux usages ont été évoquées "
                "comme des priorités immédiates, afin de rapprocher les zones rurales des services essentiels.",
                "Orange Mali transmettra son plan d’extension de la couverture rurale pour 2026\n"
                "Le Ministère réunira Orange Mali et l’AGETIC en séance technique sur la qualité de service",
            ),
            (
                "Services numériques à un coût accessible",
                "Le Ministre a insisté sur la nécessité de proposer des services numériques à des coûts "
                "compatibles avec le pouvoir d’achat des populations.",
                "Orange Mali proposera une offre de services numériques à coût réduit pour les ménages modestes",
            ),
        ],
        "commitments": [
            # decision index, owed by, due, status, kept on
            (0, "partner", date(2026, 3, 31), "done", date(2026, 3, 20), "Plan reçu le 20 mars 2026."),
            (1, "ours", date(2026, 2, 28), "done", date(2026, 3, 10), "Séance tenue le 10 mars 2026 à l’AGETIC."),
            (2, "partner", date(2026, 6, 30), "open", None, ""),
        ],
        "approve": True,
    },
    {
        "partner": "huawei",
        "head": ("Wei", "Jean Sun"),
        "title": "Audience du Ministre avec le nouveau Directeur général de Huawei Mali",
        "starts": datetime(2026, 1, 22, 11, 30),
        "summary": (
            "Le Ministre a reçu M. Jean Sun Wei, nouveau Directeur général de Huawei au Mali. L’échange a mis "
            "l’accent sur la dimension stratégique de la technologie et sur le transfert de savoir-faire, "
            "condition essentielle d’une souveraineté numérique durable."
        ),
        "items": [
            (
                "Formation des jeunes et compétences locales",
                "La formation des jeunes et le renforcement des compétences locales ont été identifiés comme "
                "des axes majeurs de coopération.",
                "Huawei Mali proposera un programme de formation des jeunes aux métiers du numérique",
            ),
            (
                "Cybersécurité",
                "Les deux parties ont souligné l’importance de la cybersécurité pour l’administration et les "
                "grands projets publics.",
                "Le Ministère désignera ses points focaux cybersécurité, avec l’AGETIC",
            ),
            (
                "Transfert de savoir-faire et accompagnement des grands projets publics",
                "Le Ministre a insisté sur le transfert de savoir-faire vers les ingénieurs maliens.",
                "Huawei Mali présentera un plan de transfert de compétences vers les ingénieurs maliens",
            ),
        ],
        "commitments": [
            (
                0,
                "partner",
                date(2026, 4, 30),
                "in_progress",
                None,
                "Programme en préparation, première cohorte annoncée.",
            ),
            (1, "ours", date(2026, 2, 15), "done", date(2026, 2, 10), "Points focaux désignés par note de service."),
            (2, "partner", date(2026, 12, 31), "open", None, ""),
        ],
        "approve": False,
    },
]


def _by_key(session: DbSession, model, key: str):
    return session.scalars(select(model).where(model.sort_key == key)).first()


def load(session: DbSession, orgs: dict[str, Organisation]) -> int:
    """Create the demo meetings once; returns how many were added."""
    officer = session.scalar(select(User).where(User.email == "awa.traore@mcenma.example"))
    note_taker = session.scalar(select(User).where(User.email == "ibrahim.maiga@mcenma.example"))
    minister = _by_key(session, Contact, search_key("Ag Ilyène Alhamdou"))
    if officer is None or note_taker is None:
        return 0
    added = 0
    for spec in AUDIENCES:
        if session.scalar(select(Meeting.id).where(Meeting.title == spec["title"])) is not None:
            continue
        partner = orgs[spec["partner"]]
        starts = spec["starts"]
        meeting = meetings.save_meeting(
            session,
            {
                "title": spec["title"],
                "kind": "audience",
                "starts_at": starts,
                "ends_at": starts.replace(hour=starts.hour + 1),
                "timezone": "Africa/Bamako",
                "place": "Cabinet du Ministre, Bamako",
                "confidentiality": "internal",
                # Huawei's promises are followed across the AES: Mali shares this audience with the others.
                "sharing": "aes" if spec["partner"] == "huawei" else "institution",
                "status": "held",
                "notes": NOTE,
                "organisation_ids": [partner.id],
            },
            officer,
        )
        if minister is not None:
            meetings.add_participant(
                session,
                meeting,
                contact_id=minister.id,
                organisation_id=orgs["mcenma"].id,
                role="chair",
                attendance="present",
            )
        meetings.add_participant(session, meeting, user_id=note_taker.id, role="note_taker", attendance="present")
        if spec["partner"] == "orange":  # advisers whose names are also written in Tifinagh and N'Ko
            for family, given, org_key in (("Ag Mohamed", "Ibrahim", "mcenma"), ("Keïta", "Fatoumata", "agetic")):
                adviser = _by_key(session, Contact, search_key(f"{family} {given}"))
                if adviser is not None:
                    meetings.add_participant(
                        session,
                        meeting,
                        contact_id=adviser.id,
                        organisation_id=orgs[org_key].id,
                        attendance="present",
                    )
        head = _by_key(session, Contact, search_key(" ".join(spec["head"])))
        if head is not None:
            meetings.add_participant(
                session, meeting, contact_id=head.id, organisation_id=partner.id, role="chair", attendance="present"
            )
        revision = meetings.start_minutes(session, meeting)
        items = []
        for title, discussion, decisions in spec["items"]:
            item = meetings.add_item(session, revision, revision.version, title)
            items.append(item)
            meetings.save_minutes(
                session,
                revision,
                spec["summary"],
                {item.id: {"discussion": discussion, "decisions": decisions}},
                revision.version,
            )
        decisions = [(item, d) for item in items for d in item.decision_list]
        for index, owed_by, due, status, kept_on, note in spec["commitments"]:
            item, text = decisions[index]
            commitment = commitments.create_commitment(
                session,
                {
                    "title": text,
                    "owed_by": owed_by,
                    "priority": "normal",
                    "responsible_id": officer.id,
                    "organisation_id": partner.id,
                    "contact_id": head.id if head is not None and owed_by == "partner" else None,
                    "due_date": due,
                    "origin_meeting_id": meeting.id,
                    "origin_item_id": item.id,
                    "origin_decision": text,
                },
                officer,
            )
            if status != "open":
                commitments.change_status(session, commitment, status, note, officer, commitment.version, today=kept_on)
        meetings.submit_minutes(session, revision, note_taker, revision.version)
        if spec["approve"]:
            meetings.approve_minutes(session, revision, officer, revision.version)
        added += 1
    _follow_up(session, orgs, officer)
    _huawei_across_aes(session, orgs)
    return added


def _follow_up(session: DbSession, orgs: dict[str, Organisation], officer: User) -> None:
    """A planned follow-up with Orange Mali: it opens with the commitments still open."""
    title = "Séance de travail de suivi avec Orange Mali"
    if session.scalar(select(Meeting.id).where(Meeting.title == title)) is not None:
        return
    meetings.save_meeting(
        session,
        {
            "title": title,
            "kind": "working",
            "starts_at": datetime(2026, 12, 3, 10, 0),
            "ends_at": datetime(2026, 12, 3, 12, 0),
            "timezone": "Africa/Bamako",
            "place": "Direction de la coopération, Bamako",
            "confidentiality": "internal",
            "status": "planned",
            "notes": "Revue des engagements pris lors de l’audience du 22 janvier 2026.",
            "organisation_ids": [orgs["orange"].id],
        },
        officer,
    )


HUAWEI_NOTE = (
    "Données de démonstration : rencontre illustrative (Huawei rencontré par les trois ministères de l’AES), "
    "pour montrer la vue AES ; elle ne rapporte pas un fait des articles."
)

# Each AES ministry meets Huawei's national subsidiary and obtains the same kind of promise: youth training.
HUAWEI_ELSEWHERE = [
    (
        "salif.ouedraogo@mtdpce.example",
        "huawei_bf",
        "Africa/Ouagadougou",
        "Ouagadougou",
        datetime(2026, 2, 12, 10, 0),
        "Huawei Burkina Faso proposera un programme de formation des jeunes aux métiers du numérique",
        date(2026, 5, 31),
    ),
    (
        "hadiza.moussa@mcpen.example",
        "huawei_ne",
        "Africa/Niamey",
        "Niamey",
        datetime(2026, 2, 19, 10, 0),
        "Huawei Niger proposera un programme de formation des jeunes aux métiers du numérique",
        date(2026, 3, 31),
    ),
]


def _huawei_across_aes(session: DbSession, orgs: dict[str, Organisation]) -> None:
    """Huawei met in Ouagadougou and Niamey too, shared with the AES: the AES view puts the three side by side."""
    for email, org_key, tz, city, starts, promise, due in HUAWEI_ELSEWHERE:
        officer = session.scalar(select(User).where(User.email == email))
        partner = orgs.get(org_key)
        title = f"Audience avec la direction de {partner.name}" if partner else ""
        if officer is None or partner is None or session.scalar(select(Meeting.id).where(Meeting.title == title)):
            continue
        meeting = meetings.save_meeting(
            session,
            {
                "title": title,
                "kind": "audience",
                "starts_at": starts,
                "ends_at": starts.replace(hour=starts.hour + 1),
                "timezone": tz,
                "place": f"Cabinet du Ministre, {city}",
                "confidentiality": "internal",
                "sharing": "aes",
                "status": "held",
                "notes": HUAWEI_NOTE,
                "organisation_ids": [partner.id],
            },
            officer,
        )
        commitments.create_commitment(
            session,
            {
                "title": promise,
                "owed_by": "partner",
                "priority": "normal",
                "responsible_id": officer.id,
                "organisation_id": partner.id,
                "due_date": due,
                "origin_meeting_id": meeting.id,
            },
            officer,
        )
