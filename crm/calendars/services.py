"""Calendar data: the week view, the personal feed, one meeting's .ics, a contact's vCard."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import vobject
from icalendar import Calendar, Event
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from crm.auth.models import User
from crm.calendars.models import CalendarFeed
from crm.commitments import services as commitments
from crm.commitments.models import Commitment
from crm.db import DbSession, utcnow
from crm.meetings import services as meetings
from crm.meetings.models import Meeting, MeetingOrganisation, MeetingStatus
from crm.partners.models import Contact, Position
from crm.visits import services as visits
from crm.visits.models import Visit

FEED_PAST_DAYS = 180
FEED_LIMIT = 2000
PRODID = "-//AES Partnerships//CRM//FR"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- feeds -------------------------------------------------------------------------------------


def new_feed(session: DbSession, user: User) -> str:
    """A fresh private token for the user's feed; any earlier one stops working. Returns the token."""
    revoke_feeds(session, user)
    token = secrets.token_urlsafe(32)
    session.add(CalendarFeed(user_id=user.id, token_hash=_digest(token)))
    session.flush()
    return token


def revoke_feeds(session: DbSession, user: User) -> int:
    feeds = session.scalars(
        select(CalendarFeed).where(CalendarFeed.user_id == user.id, CalendarFeed.revoked_at.is_(None))
    ).all()
    for feed in feeds:
        feed.revoked_at = utcnow()
    session.flush()
    return len(feeds)


def active_feed(session: DbSession, user: User) -> CalendarFeed | None:
    return session.scalars(
        select(CalendarFeed).where(CalendarFeed.user_id == user.id, CalendarFeed.revoked_at.is_(None))
    ).first()


def feed_owner(session: DbSession, token: str) -> User | None:
    """The active user behind a live token; None for anything else (unknown, revoked, inactive)."""
    if not token or len(token) > 100:
        return None
    row = session.execute(
        select(CalendarFeed, User)
        .join(User, User.id == CalendarFeed.user_id)
        .where(CalendarFeed.token_hash == _digest(token), CalendarFeed.revoked_at.is_(None))
    ).first()
    if row is None or not row.User.active:
        return None
    return row.User


# --- iCalendar ---------------------------------------------------------------------------------


def _calendar(name: str) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", name)
    return cal


def _meeting_event(meeting: Meeting, base_url: str) -> Event:
    zone = ZoneInfo(meeting.timezone)
    event = Event()
    event.add("uid", f"meeting-{meeting.id}@{_host(base_url)}")
    event.add("dtstamp", meeting.updated_at or utcnow())
    event.add("dtstart", meeting.starts_at.astimezone(zone))
    event.add("dtend", meeting.ends_at.astimezone(zone))
    event.add("summary", f"{meeting.reference} — {meeting.title}")
    if meeting.place:
        event.add("location", meeting.place)
    partners = ", ".join(link.organisation.name for link in meeting.organisations)
    description = "\n".join(part for part in (meeting.kind.label, partners, meeting.notes) if part)
    if description:
        event.add("description", description)
    event.add("url", f"{base_url}/meetings/{meeting.id}")
    event.add("status", "CANCELLED" if meeting.status == MeetingStatus.CANCELLED else "CONFIRMED")
    event.add("class", "CONFIDENTIAL" if meeting.is_limited else "PRIVATE")
    return event


def _due_event(commitment: Commitment, base_url: str, label: str) -> Event:
    assert commitment.due_date is not None  # only dated commitments are in calendars
    event = Event()
    event.add("uid", f"commitment-{commitment.id}@{_host(base_url)}")
    event.add("dtstamp", commitment.updated_at or utcnow())
    event.add("dtstart", commitment.due_date)
    event.add("dtend", commitment.due_date + timedelta(days=1))
    event.add("summary", f"{label} {commitment.reference} — {commitment.title}")
    event.add("url", f"{base_url}/commitments/{commitment.id}")
    event.add("transp", "TRANSPARENT")
    return event


def _visit_event(visit: Visit, base_url: str) -> Event:
    event = Event()
    event.add("uid", f"visit-{visit.id}@{_host(base_url)}")
    event.add("dtstamp", visit.updated_at or utcnow())
    event.add("dtstart", visit.starts_on)
    event.add("dtend", visit.ends_on + timedelta(days=1))
    event.add("summary", f"{visit.reference} — {visit.title}")
    event.add("location", visit.city)
    if visit.purpose:
        event.add("description", visit.purpose)
    event.add("url", f"{base_url}/visits/{visit.id}")
    return event


def _host(base_url: str) -> str:
    return base_url.split("//", 1)[-1].split("/", 1)[0] or "crm"


def _finish(cal: Calendar) -> bytes:
    cal.add_missing_timezones()
    return cal.to_ical()


def meeting_ics(meeting: Meeting, base_url: str, name: str) -> bytes:
    cal = _calendar(name)
    cal.add("method", "PUBLISH")
    cal.add_component(_meeting_event(meeting, base_url))
    return _finish(cal)


def personal_feed(session: DbSession, user: User, base_url: str, name: str, due_label: str) -> bytes:
    """The visits and meetings the user takes part in, and the due dates of the commitments they follow.

    Built with the user's own visibility rules: what they may not see is not there.
    """
    since = utcnow() - timedelta(days=FEED_PAST_DAYS)
    rows = session.scalars(
        select(Meeting)
        .options(selectinload(Meeting.organisations).joinedload(MeetingOrganisation.organisation))
        .where(
            meetings.visible_clause(user),
            meetings.is_participant_clause(user.id, Meeting.id),
            Meeting.ends_at >= since,
        )
        .order_by(Meeting.starts_at)
        .limit(FEED_LIMIT)
    ).all()
    due = session.scalars(
        select(Commitment)
        .where(
            commitments.visible_clause(user),
            Commitment.responsible_id == user.id,
            Commitment.closed.is_(False),
            Commitment.due_date.is_not(None),
        )
        .order_by(Commitment.due_key)
        .limit(FEED_LIMIT)
    ).all()
    trips = session.scalars(
        select(Visit)
        .where(
            visits.visible_clause(user),
            visits.is_member_clause(user.id, Visit.id),
            Visit.ends_on >= since.date(),
            Visit.status != "cancelled",
        )
        .order_by(Visit.starts_on)
        .limit(FEED_LIMIT)
    ).all()
    cal = _calendar(name)
    for visit in trips:
        cal.add_component(_visit_event(visit, base_url))
    for meeting in rows:
        cal.add_component(_meeting_event(meeting, base_url))
    for commitment in due:
        cal.add_component(_due_event(commitment, base_url, due_label))
    return _finish(cal)


# --- vCard -------------------------------------------------------------------------------------


def contact_vcard(contact: Contact, today: date) -> bytes:
    card = vobject.vCard()
    card.add("fn").value = contact.display_name
    card.add("n").value = vobject.vcard.Name(
        family=contact.family_name, given=contact.given_name, prefix=contact.honorific
    )
    current = [p for p in contact.positions if p.held_on(today)]
    if current:
        card.add("org").value = [current[0].organisation.name]
        card.add("title").value = current[0].title
    if contact.email:
        email = card.add("email")
        email.value = contact.email
        email.type_param = "WORK"
    if contact.phone:
        tel = card.add("tel")
        tel.value = contact.phone
        tel.type_param = "WORK"
    if contact.native_name:
        card.add("nickname").value = contact.native_name
    return card.serialize().encode("utf-8")


def contact_with_positions(session: DbSession, contact_id: int) -> Contact | None:
    return session.scalars(
        select(Contact)
        .options(selectinload(Contact.positions).joinedload(Position.organisation))
        .where(Contact.id == contact_id)
    ).first()


# --- week view ---------------------------------------------------------------------------------


@dataclass
class WeekDay:
    day: date
    meetings: list[Meeting]
    due: list[Commitment]
    visits: list[Visit]


def week(session: DbSession, user: User, monday: date, tz_name: str) -> list[WeekDay]:
    """Seven days from ``monday``: visible meetings by local day, and the due dates of open commitments."""
    zone = ZoneInfo(tz_name)
    start = datetime.combine(monday, datetime.min.time(), zone).astimezone(UTC)
    end = start + timedelta(days=7)
    rows = session.scalars(
        select(Meeting)
        .where(meetings.visible_clause(user), Meeting.starts_at >= start, Meeting.starts_at < end)
        .order_by(Meeting.starts_at, Meeting.id)
        .limit(500)
    ).all()
    due = commitments.due_between(session, user, monday, monday + timedelta(days=7))
    days = [WeekDay(monday + timedelta(days=i), [], [], []) for i in range(7)]
    for visit in visits.visits_between(session, user, monday, monday + timedelta(days=7)):
        for day in days:
            if visit.starts_on <= day.day <= visit.ends_on:
                day.visits.append(visit)
    for meeting in rows:
        index = (meeting.starts_at.astimezone(zone).date() - monday).days
        if 0 <= index < 7:
            days[index].meetings.append(meeting)
    for commitment in due:
        if commitment.due_date is not None:
            days[(commitment.due_date - monday).days].due.append(commitment)
    return days
