"""A partner's timeline: its meetings, commitments and visits, newest first, as the reader may see them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload

from crm.auth.models import User
from crm.commitments import services as commitments
from crm.commitments.models import Commitment
from crm.db import DbSession
from crm.meetings import services as meetings
from crm.meetings.models import Meeting, MeetingOrganisation
from crm.partners.models import Position
from crm.visits import services as visits
from crm.visits.models import Event, Visit, VisitMember


@dataclass
class TimelineEntry:
    day: date
    kind: str  # meeting | commitment | visit
    record: Any


def partner_timeline(
    session: DbSession, organisation_id: int, user: User, tz_name: str, limit: int = 40
) -> list[TimelineEntry]:
    """Meetings, commitments and visits of one partner, newest first."""
    meeting_rows = session.scalars(
        select(Meeting)
        .join(MeetingOrganisation, MeetingOrganisation.meeting_id == Meeting.id)
        .where(MeetingOrganisation.organisation_id == organisation_id, meetings.visible_clause(user))
        .order_by(Meeting.starts_at.desc())
        .limit(limit)
    ).all()
    commitment_rows = session.scalars(
        commitments.with_people(select(Commitment))
        .options(joinedload(Commitment.origin_meeting))
        .where(Commitment.organisation_id == organisation_id, commitments.visible_clause(user))
        .order_by(Commitment.id.desc())
        .limit(limit)
    ).all()
    zone = meetings.zone(tz_name)
    entries = [TimelineEntry(m.starts_at.astimezone(zone).date(), "meeting", m) for m in meeting_rows]
    entries += [
        TimelineEntry(
            (c.origin_meeting.starts_at if c.origin_meeting else c.created_at).astimezone(zone).date(), "commitment", c
        )
        for c in commitment_rows
    ]
    # Visits touch a partner through their event's organiser or a delegation member who holds a post there.
    through_members = (
        select(VisitMember.visit_id)
        .join(Position, Position.contact_id == VisitMember.contact_id)
        .where(Position.organisation_id == organisation_id)
    )
    through_events = select(Event.id).where(Event.organiser_id == organisation_id)
    trips = session.scalars(
        select(Visit)
        .where(visits.visible_clause(user), or_(Visit.id.in_(through_members), Visit.event_id.in_(through_events)))
        .order_by(Visit.starts_on.desc())
        .limit(limit)
    ).all()
    entries += [TimelineEntry(v.starts_on, "visit", v) for v in trips]
    entries.sort(key=lambda e: (e.day, e.kind != "commitment"), reverse=True)
    return entries[:limit]
