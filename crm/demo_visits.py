"""Demo events and delegation visits: the 20th Semaine du Numérique in Ouagadougou (18 November 2025) and
the 3rd Semaine du Numérique au Mali at the CICB in Bamako (29–31 January 2026), from ../shared/context.

Programme times, logistics and the follow-up commitment are illustrative; the records' notes say so.
"""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import select

from crm.auth.models import User
from crm.commitments import services as commitments
from crm.db import DbSession, search_key
from crm.meetings import services as meetings
from crm.meetings.models import MeetingStatus
from crm.partners.models import Contact, Organisation
from crm.visits import services as visits
from crm.visits.models import Event

NOTE = (
    "Données de démonstration : horaires, logistique et engagements illustratifs ; faits tirés des articles de presse."
)


def _contact(session: DbSession, family: str, given: str) -> Contact | None:
    return session.scalars(select(Contact).where(Contact.sort_key == search_key(f"{family} {given}"))).first()


def load(session: DbSession, orgs: dict[str, Organisation]) -> None:
    officer = session.scalar(select(User).where(User.email == "awa.traore@mcenma.example"))
    staff = session.scalar(select(User).where(User.email == "ibrahim.maiga@mcenma.example"))
    if officer is None or staff is None or session.scalar(select(Event.id).limit(1)) is not None:
        return
    ouaga = visits.save_event(
        session,
        {
            "name": "Semaine du Numérique",
            "edition": "20e édition",
            "venue": "",
            "city": "Ouagadougou",
            "country_code": "BF",
            "starts_on": date(2025, 11, 18),
            "ends_on": date(2025, 11, 20),
            "organiser_id": orgs["mtdpce"].id,
            "theme": "Le numérique, l’innovation et l’intelligence artificielle, leviers de transformation des "
            "économies sahéliennes",
            "notes": "Ouverture le mardi 18 novembre 2025, présidée par le Chef de l’État burkinabè. Le Mali invité "
            "spécial, aux côtés du Niger ; le Ghana pays invité d’honneur. Date de clôture non précisée.",
        },
    )
    bamako = visits.save_event(
        session,
        {
            "name": "Semaine du Numérique au Mali",
            "edition": "3e édition",
            "venue": "Centre International de Conférences de Bamako (CICB)",
            "city": "Bamako",
            "country_code": "ML",
            "starts_on": date(2026, 1, 29),
            "ends_on": date(2026, 1, 31),
            "organiser_id": orgs["mcenma"].id,
            "theme": "E-gouvernement à l’ère de l’intelligence artificielle : opportunités et défis pour la culture",
            "notes": "Annoncée le 6 janvier 2026 ; lancement le 29 janvier 2026 dans la salle des banquets du CICB, "
            "sous le haut parrainage du ministre de la Culture. Burkina Faso et Niger invités d’honneur.",
        },
    )
    session.flush()

    minister = _contact(session, "Ag Ilyène", "Alhamdou")
    outgoing = visits.save_visit(
        session,
        {
            "title": "Délégation malienne à la 20e Semaine du Numérique",
            "direction": "outgoing",
            "purpose": "Porter la vision commune du numérique de l’AES et intensifier les échanges technologiques. "
            + NOTE,
            "event_id": ouaga.id,
            "city": "Ouagadougou",
            "country_code": "BF",
            "starts_on": date(2025, 11, 17),
            "ends_on": date(2025, 11, 20),
            "status": "completed",
            "confidentiality": "internal",
        },
        officer,
    )
    if minister is not None:
        visits.add_member(session, outgoing, contact_id=minister.id, role="head")
    visits.add_member(session, outgoing, user_id=staff.id, role="protocol")
    outgoing = visits.visit_detail(session, outgoing.id, officer) or outgoing
    for day, start, end, place, activity, meet in [
        (date(2025, 11, 17), time(16, 0), None, "Aéroport de Ouagadougou", "Arrivée de la délégation", False),
        (
            date(2025, 11, 18),
            time(9, 0),
            time(12, 0),
            "Ouagadougou",
            "Cérémonie d’ouverture de la 20e Semaine du Numérique",
            False,
        ),
        (
            date(2025, 11, 18),
            time(15, 0),
            time(16, 30),
            "Ministère de la Transition digitale",
            "Séance de travail avec la ministre de la Transition digitale du Burkina Faso",
            True,
        ),
        (
            date(2025, 11, 19),
            time(10, 0),
            time(12, 0),
            "Espace d’exposition",
            "Visite des stands et des start-ups",
            False,
        ),
        (date(2025, 11, 20), time(11, 0), None, "Aéroport de Ouagadougou", "Retour à Bamako", False),
    ]:
        item = visits.add_item(
            session, outgoing, {"day": day, "starts_at": start, "ends_at": end, "place": place, "activity": activity}
        )
        if meet:
            visits.meeting_from_item(session, outgoing, item, officer)
    visits.save_report(
        session,
        outgoing,
        (
            "La délégation a pris part à l’ouverture de la 20e Semaine du Numérique, où le Mali était invité spécial. "
            "Les échanges ont porté sur la souveraineté technologique et l’intelligence artificielle comme leviers de "
            "transformation des économies sahéliennes.\n" + NOTE
        ),
        outgoing.version,
    )
    commitments.create_commitment(
        session,
        {
            "title": "Proposer aux pays de l’AES un cadre d’échanges réguliers sur la souveraineté numérique",
            "owed_by": "ours",
            "priority": "high",
            "responsible_id": officer.id,
            "organisation_id": orgs["mtdpce"].id,
            "due_date": date(2026, 1, 29),
            "origin_visit_id": outgoing.id,
        },
        officer,
    )

    incoming = visits.save_visit(
        session,
        {
            "title": "Délégations du Burkina Faso et du Niger à la 3e Semaine du Numérique au Mali",
            "direction": "incoming",
            "purpose": "Accueillir les ministres de l’AES, invités d’honneur, et tenir une réunion tripartite. " + NOTE,
            "event_id": bamako.id,
            "city": "Bamako",
            "country_code": "ML",
            "starts_on": date(2026, 1, 28),
            "ends_on": date(2026, 2, 1),
            "status": "completed",
            "confidentiality": "internal",
        },
        officer,
    )
    for family, given, role in [("Zerbo Sabané", "Aminata", "head"), ("Sidi Raliou", "Mohamed", "member")]:
        guest = _contact(session, family, given)
        if guest is not None:
            member = visits.add_member(session, incoming, contact_id=guest.id, role=role)
            visits.update_member(
                session,
                incoming,
                member,
                {
                    "role": role,
                    "arrival_at": datetime(2026, 1, 28, 18, 0),
                    "departure_at": datetime(2026, 2, 1, 10, 0),
                    "accommodation": "Hôtel à Bamako (à préciser)",
                },
                member.version,
            )
    visits.add_member(session, incoming, user_id=staff.id, role="protocol")
    for email in ("aicha.kabore@mtdpce.example", "abdoulaye.issoufou@mcpen.example"):
        colleague = session.scalar(select(User).where(User.email == email))
        if colleague is not None:  # each delegation's own staff travel too: their ministries hold the visit
            visits.add_member(session, incoming, user_id=colleague.id, role="member")
    incoming = visits.visit_detail(session, incoming.id, officer) or incoming
    for day, start, end, place, activity, meet in [
        (date(2026, 1, 28), time(18, 0), None, "Aéroport de Bamako-Sénou", "Accueil des délégations", False),
        (
            date(2026, 1, 29),
            time(10, 0),
            time(12, 0),
            "CICB, salle des banquets",
            "Lancement officiel de la 3e Semaine du Numérique",
            False,
        ),
        (
            date(2026, 1, 29),
            time(15, 0),
            time(17, 0),
            "CICB",
            "Réunion tripartite des ministres du numérique de l’AES",
            True,
        ),
        (date(2026, 1, 30), time(9, 30), time(12, 0), "CICB", "Compétition de start-ups et panels", False),
        (date(2026, 2, 1), time(10, 0), None, "Aéroport de Bamako-Sénou", "Départ des délégations", False),
    ]:
        item = visits.add_item(
            session, incoming, {"day": day, "starts_at": start, "ends_at": end, "place": place, "activity": activity}
        )
        if meet:
            tripartite = visits.meeting_from_item(session, incoming, item, officer)
            _tripartite_minutes(session, tripartite, orgs, officer)
    session.flush()


TRIPARTITE_NOTE = (
    "Données de démonstration : la réunion et ses thèmes suivent l’article de Malijet (29 janvier 2026) ; "
    "la formulation des décisions, les engagements et leurs échéances sont illustratifs."
)


def _tripartite_minutes(session: DbSession, meeting, orgs: dict[str, Organisation], officer: User) -> None:
    """The three ministers around the table, minutes written in Bamako, each ministry approving its side."""
    host_minister = _contact(session, "Ag Ilyène", "Alhamdou")
    if host_minister is not None:
        meetings.add_participant(
            session, meeting, contact_id=host_minister.id, organisation_id=orgs["mcenma"].id, role="chair"
        )
    niger_minister = _contact(session, "Sidi Raliou", "Mohamed")
    detail = meetings.meeting_detail(session, meeting.id, officer)
    for participant in detail.participants if detail else []:
        if niger_minister is not None and participant.contact_id == niger_minister.id:
            meetings.update_participant(session, participant, "chair", "present")  # chairs Niger's side
        elif participant.attendance != "present":
            meetings.update_participant(session, participant, participant.role, "present")
    meeting.status = MeetingStatus.HELD
    meeting.notes = TRIPARTITE_NOTE
    revision = meetings.start_minutes(session, meeting)
    item = meetings.add_item(session, revision, revision.version, "Une réponse commune aux défis régionaux")
    meetings.save_minutes(
        session,
        revision,
        "Réunis à Bamako en marge de la 3e Semaine du Numérique au Mali, les ministres en charge du numérique du "
        "Mali, du Burkina Faso et du Niger ont constaté que leurs défis sont partagés : sécurité, protection des "
        "données, lutte contre la désinformation ; leurs réponses doivent donc être coordonnées.",
        {
            item.id: {
                "discussion": "La ministre burkinabè a souligné que le numérique est devenu un instrument de "
                "souveraineté et un outil de continuité de l’État. Le ministre nigérien a salué la vitalité de la "
                "coopération au sein de l’AES.",
                "decisions": "Chaque ministère désignera un point focal pour la coordination numérique de l’AES\n"
                "Le Mali proposera un projet de cadre d’échanges sur la protection des données\n"
                "Le Burkina Faso partagera son expérience de la continuité numérique de l’État",
            }
        },
        revision.version,
    )
    owing = {
        "ML": session.scalar(select(User).where(User.email == "awa.traore@mcenma.example")),
        "BF": session.scalar(select(User).where(User.email == "salif.ouedraogo@mtdpce.example")),
        "NE": session.scalar(select(User).where(User.email == "hadiza.moussa@mcpen.example")),
    }
    decided = item.decision_list
    for code, title, due, decision in [
        ("ML", "Désigner le point focal du Mali pour la coordination numérique de l’AES", date(2026, 3, 15), 0),
        ("BF", "Désigner le point focal du Burkina Faso pour la coordination numérique de l’AES", date(2026, 3, 15), 0),
        ("NE", "Désigner le point focal du Niger pour la coordination numérique de l’AES", date(2026, 3, 15), 0),
        ("ML", "Proposer un projet de cadre d’échanges sur la protection des données", date(2026, 6, 30), 1),
        ("BF", "Partager l’expérience burkinabè de la continuité numérique de l’État", date(2026, 5, 31), 2),
    ]:
        author = owing[code]
        if author is None:
            continue
        commitments.create_commitment(
            session,
            {
                "title": title,
                "owed_by": "ours",
                "institution_id": author.institution_id,
                "priority": "normal",
                "responsible_id": author.id,
                "due_date": due,
                "origin_meeting_id": meeting.id,
                "origin_item_id": item.id,
                "origin_decision": decided[decision],
            },
            author,
        )
    meetings.submit_minutes(session, revision, officer, revision.version)
    for approver in owing.values():  # each ministry approves its side; the last approval locks the minutes
        if approver is not None:
            meetings.approve_minutes(session, revision, approver, revision.version)
