"""The main pages of the app on demo data: what the validators (HTML checker, axe-core) go through."""

from __future__ import annotations

from sqlalchemy import func, select

from crm.auth.models import User
from crm.commitments.models import Commitment
from crm.demo import load_demo
from crm.meetings.models import Meeting, MinutesRevision, MinutesStatus, Participant
from crm.partners.models import Contact, Organisation, Position
from crm.visits.models import Event, Visit, VisitMember
from tests.conftest import PASSWORD, _password_hash

# The Malian installation admin sees every menu entry (the longest menu a phone has to hold).
EMAIL = "admin@mcenma.example"


def load(session) -> str:
    """Demo data, and the account the tests sign in with given the tests' password. Returns its email."""
    load_demo(session)
    user = session.scalars(select(User).where(User.email == EMAIL)).one()
    user.password_hash = _password_hash(PASSWORD)
    session.commit()
    return EMAIL


def main_pages(session) -> dict[str, str]:
    """Name → path of every main page, each showing a record that has the most to show."""

    def busiest(model, child_fk):
        return session.scalar(
            select(model.id)
            .outerjoin(child_fk.parent.class_, child_fk == model.id)
            .group_by(model.id)
            .order_by(func.count().desc(), model.id)
            .limit(1)
        )

    org = busiest(Organisation, Position.organisation_id)
    contact = busiest(Contact, Position.contact_id)
    meeting = busiest(Meeting, Participant.meeting_id)
    visit = busiest(Visit, VisitMember.visit_id)
    minutes = (
        session.scalar(select(MinutesRevision.meeting_id).where(MinutesRevision.status == MinutesStatus.DRAFT).limit(1))
        or meeting
    )
    commitment = session.scalar(select(Commitment.id).order_by(Commitment.id).limit(1))
    event = session.scalar(select(Event.id).order_by(Event.id).limit(1))
    return {
        "home": "/",
        "organisations": "/organisations",
        "organisation": f"/organisations/{org}",
        "contacts": "/contacts",
        "contact": f"/contacts/{contact}",
        "meetings": "/meetings",
        "meeting": f"/meetings/{meeting}",
        "meeting-new": "/meetings/new",
        "minutes-edit": f"/meetings/{minutes}/minutes",
        "commitments": "/commitments",
        "commitment": f"/commitments/{commitment}",
        "visits": "/visits",
        "visit": f"/visits/{visit}",
        "events": "/events",
        "event": f"/events/{event}",
        "week": "/calendar/week",
        "month": "/meetings/month",
        "account": "/account",
        # The rest of the menu: the AES view, a partner's record, and an administrator's pages.
        "aes": "/aes",
        "partner-record": f"/organisations/{org}/record",
        "users": "/admin/users",
        "institutions": "/admin/institutions",
        "letterhead": "/admin/letterhead",
    }
