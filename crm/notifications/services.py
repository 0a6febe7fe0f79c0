"""Who is told what, and when: written to the outbox and the bell in the transaction of the change itself.

The domains below publish signals (meetings: minutes submitted or approved, a meeting saved, a participant
added; commitments: a new responsible officer); the receivers here run inside the same session, so a message
exists if and only if its cause was committed. Restricted and confidential records are never described in a
message: their reference and a link only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

from flask import current_app
from flask_babel import force_locale
from sqlalchemy import ScalarSelect, func, select, update
from sqlalchemy.exc import IntegrityError

from crm.auth.models import Role, User
from crm.commitments import services as commitments
from crm.commitments.models import Commitment
from crm.core.urls import absolute_url
from crm.db import DbSession, utcnow
from crm.i18n import gettext as _
from crm.meetings import services as meetings
from crm.meetings.models import (
    Meeting,
    MeetingStatus,
    MinutesApproval,
    MinutesRevision,
    MinutesStatus,
    Participant,
    Side,
)
from crm.notifications import compose
from crm.notifications.compose import Mail
from crm.notifications.models import (
    DigestFrequency,
    Kind,
    MeetingInvitation,
    Notification,
    NotificationMark,
    NotificationPreference,
    OutboxMessage,
    OutboxStatus,
)
from crm.partners.models import Contact
from crm.visits.models import Visit, VisitMember

APPROVERS = (Role.OFFICER, Role.ADMIN, Role.INSTALLATION_ADMIN)
# Kinds a user cannot turn off by e-mail (none: every e-mail to a user carries its unsubscribe link).
ALWAYS: frozenset[Kind] = frozenset()


# --- preferences -------------------------------------------------------------------------------


def preferences(session: DbSession, user_id: int) -> NotificationPreference:
    """The user's preferences; defaults (not saved) when they never changed them."""
    found = session.get(NotificationPreference, user_id)
    return found or NotificationPreference(
        user_id=user_id, muted="", digest=DigestFrequency.DAILY, digest_hour=7, digest_weekday=0
    )


def save_preferences(
    session: DbSession, user: User, *, kinds: Iterable[str], digest: str, hour: int, weekday: int
) -> NotificationPreference:
    wanted = {Kind(k) for k in kinds if k in set(Kind)}
    # The digest is turned on and off by its frequency, invitations always go: neither is a box to tick.
    muted = sorted(k.value for k in Kind if k not in wanted and k not in ALWAYS and k != Kind.DIGEST)
    prefs = session.get(NotificationPreference, user.id)
    if prefs is None:
        prefs = NotificationPreference(user_id=user.id)
        session.add(prefs)
    prefs.muted = ",".join(muted)
    prefs.digest = DigestFrequency(digest) if digest in set(DigestFrequency) else DigestFrequency.OFF
    prefs.digest_hour = min(max(int(hour), 0), 23)
    prefs.digest_weekday = min(max(int(weekday), 0), 6)
    session.flush()
    return prefs


def unsubscribe(session: DbSession, user_id: int, kind: str) -> bool:
    """The one-click link: that kind stops (a digest: the digest is turned off). False for a bad link."""
    if kind not in set(Kind) or kind in ALWAYS or session.get(User, user_id) is None:
        return False
    prefs = session.get(NotificationPreference, user_id)
    if prefs is None:
        prefs = preferences(session, user_id)
        session.add(prefs)
    if kind == Kind.DIGEST:
        prefs.digest = DigestFrequency.OFF
    prefs.muted = ",".join(sorted(prefs.muted_kinds() | {kind}))
    session.flush()
    return True


def _wants_mail(session: DbSession, user: User, kind: Kind) -> bool:
    if not user.active or not user.email or kind in ALWAYS:
        return user.active and bool(user.email)
    return kind.value not in preferences(session, user.id).muted_kinds()


# --- writing messages --------------------------------------------------------------------------


def enqueue(
    session: DbSession,
    *,
    kind: Kind,
    recipient: str,
    mail: Mail,
    locale: str,
    user: User | None = None,
    recipient_name: str = "",
    ics: str | None = None,
    ics_method: str = "",
    due: datetime | None = None,
) -> OutboxMessage:
    """One e-mail in the outbox (called inside force_locale(locale)); the sender delivers it after commit."""
    unsubscribe = compose.unsubscribe_url(user.id, kind.value) if user is not None and kind not in ALWAYS else ""
    text, html = compose.bodies(mail, unsubscribe, locale)
    message = OutboxMessage(
        kind=kind,
        user_id=user.id if user else None,
        recipient=recipient,
        recipient_name=recipient_name[:200],
        locale=locale,
        subject=mail.subject[:300],
        body_text=text,
        body_html=html,
        ics=ics,
        ics_method=ics_method,
        unsubscribe_url=unsubscribe,
        message_id=compose.new_message_id(),
        status=OutboxStatus.QUEUED,
        next_attempt_at=due or utcnow(),
        last_error="",
    )
    session.add(message)
    return message


def in_every_language(say: Callable[[str], str]) -> dict[str, str]:
    """A bell's line in each language of the app: shown in the reader's language of the day."""
    texts = {}
    for locale in current_app.config["CRM_LANGUAGES"]:
        with force_locale(locale):
            texts[locale] = say(locale)[:500]
    return texts


def tell(
    session: DbSession,
    user: User,
    kind: Kind,
    build: Callable[[str], Mail],
    path: str,
    *,
    mail_too: bool = True,
    due: datetime | None = None,
) -> None:
    """The bell and (unless the user turned the kind off) an e-mail, both in the user's language."""
    locale = compose.locale_of(user)
    with force_locale(locale):
        mail = build(locale)
        texts = in_every_language(lambda other: mail.subject if other == locale else build(other).subject)
        session.add(Notification(user_id=user.id, kind=kind, texts=texts, path=path))
        if mail_too and _wants_mail(session, user, kind):
            enqueue(
                session,
                kind=kind,
                recipient=user.email,
                recipient_name=user.name,
                mail=mail,
                locale=locale,
                user=user,
                due=due,
            )


def _users(session: DbSession, ids: Iterable[int | None]) -> list[User]:
    wanted = {i for i in ids if i}
    if not wanted:
        return []
    return list(session.scalars(select(User).where(User.id.in_(wanted), User.active.is_(True)).order_by(User.id)))


def _sees_meeting(session: DbSession, meeting_id: int, user: User) -> bool:
    return session.scalar(select(Meeting.id).where(Meeting.id == meeting_id, meetings.visible_clause(user))) is not None


def _sees_commitment(session: DbSession, commitment_id: int, user: User) -> bool:
    return (
        session.scalar(select(Commitment.id).where(Commitment.id == commitment_id, commitments.visible_clause(user)))
        is not None
    )


def meeting_name(meeting: Meeting) -> str:
    """How a message names a meeting: a restricted or confidential one by its reference only."""
    return meeting.reference if meeting.is_limited else f"{meeting.reference} — {meeting.title}"


def commitment_name(commitment: Commitment) -> str:
    return commitment.reference if commitment.limited else f"{commitment.reference} — {commitment.title}"


def _meeting_path(meeting_id: int) -> str:
    return f"/meetings/{meeting_id}"


def _commitment_path(commitment_id: int) -> str:
    return f"/commitments/{commitment_id}"


# --- events ------------------------------------------------------------------------------------


def approvers(session: DbSession, meeting: Meeting) -> list[User]:
    """Officers of the institutions holding the meeting whose institution has not approved yet, who can see it."""
    holders = meetings.co_owners(session, meeting.id)
    revision_ids = select(MinutesRevision.id).where(
        MinutesRevision.meeting_id == meeting.id, MinutesRevision.status == MinutesStatus.SUBMITTED
    )
    done = set(
        session.scalars(select(MinutesApproval.institution_id).where(MinutesApproval.revision_id.in_(revision_ids)))
    )
    candidates = session.scalars(
        select(User)
        .where(User.institution_id.in_(set(holders) - done), User.role.in_(APPROVERS), User.active.is_(True))
        .order_by(User.id)
    )
    return [u for u in candidates if _sees_meeting(session, meeting.id, u)]


@meetings.minutes_submitted.connect
def _minutes_submitted(revision: MinutesRevision, session: DbSession, actor: User, **_extra: Any) -> None:
    meeting = session.get(Meeting, revision.meeting_id)
    assert meeting is not None

    def build(locale: str) -> Mail:
        return Mail(
            subject=_("Minutes to approve: %(meeting)s", meeting=meeting_name(meeting)),
            intro=_("%(name)s submitted the minutes of this meeting for approval:", name=actor.name),
            lines=[meeting_name(meeting)],
            link=absolute_url("meetings.meeting", meeting_id=meeting.id),
            link_label=_("Open the minutes"),
        )

    for user in approvers(session, meeting):
        if user.id != actor.id:
            tell(session, user, Kind.MINUTES_SUBMITTED, build, _meeting_path(meeting.id))


@meetings.minutes_approved.connect
def _minutes_approved(revision: MinutesRevision, session: DbSession, actor: User, **_extra: Any) -> None:
    meeting = session.get(Meeting, revision.meeting_id)
    assert meeting is not None
    participants = session.scalars(
        select(Participant.user_id).where(Participant.meeting_id == meeting.id, Participant.user_id.is_not(None))
    )

    def build(locale: str) -> Mail:
        return Mail(
            subject=_("Minutes approved: %(meeting)s", meeting=meeting_name(meeting)),
            intro=_("The minutes of this meeting are approved:"),
            lines=[meeting_name(meeting)],
            link=absolute_url("meetings.meeting", meeting_id=meeting.id),
            link_label=_("Open the minutes"),
        )

    for user in _users(session, [revision.submitted_by_id, *participants]):
        if user.id != actor.id and _sees_meeting(session, meeting.id, user):
            tell(session, user, Kind.MINUTES_APPROVED, build, _meeting_path(meeting.id))


@commitments.responsible_changed.connect
def _responsible_changed(commitment: Commitment, session: DbSession, actor: User, **_extra: Any) -> None:
    user = session.get(User, commitment.responsible_id) if commitment.responsible_id else None
    if user is None or user.id == actor.id or not user.active:
        return

    def build(locale: str) -> Mail:
        lines = [commitment_name(commitment)]
        if commitment.due_date:
            lines.append(_("Due on %(date)s", date=compose.day(commitment.due_date, locale)))
        return Mail(
            subject=_("A commitment is yours: %(commitment)s", commitment=commitment_name(commitment)),
            intro=_("%(name)s made you responsible for this commitment:", name=actor.name),
            lines=lines,
            link=absolute_url("commitments.commitment", commitment_id=commitment.id),
            link_label=_("Open the commitment"),
        )

    tell(session, user, Kind.COMMITMENT_ASSIGNED, build, _commitment_path(commitment.id))


# --- invitations (iTIP) ------------------------------------------------------------------------


def _fingerprint(meeting: Meeting) -> str:
    import hashlib

    parts = [meeting.title, meeting.place, meeting.timezone, meeting.starts_at.isoformat(), meeting.ends_at.isoformat()]
    parts.append(str(meeting.is_limited))
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


@dataclass
class Invitee:
    email: str
    name: str
    user: User | None


def invitees(session: DbSession, meeting: Meeting, invitation: MeetingInvitation) -> list[Invitee]:
    """Participants who are users (the organiser aside), and partner contacts with an address when asked."""
    found: list[Invitee] = []
    rows = session.execute(
        select(Participant.user_id, Participant.contact_id, Participant.side).where(
            Participant.meeting_id == meeting.id
        )
    ).all()
    for user in _users(session, [r.user_id for r in rows]):
        if user.id != meeting.created_by_id and user.email:
            found.append(Invitee(user.email, user.name, user))
    if invitation.invite_contacts:
        contact_ids = [r.contact_id for r in rows if r.contact_id and r.side == Side.PARTNER]
        if contact_ids:
            for contact in session.scalars(select(Contact).where(Contact.id.in_(contact_ids)).order_by(Contact.id)):
                if contact.email:
                    found.append(Invitee(contact.email, contact.full_name, None))
    return found


def _invitation_ics(
    meeting: Meeting, invitation: MeetingInvitation, organiser: User | None, who: Invitee, method: str
) -> str:
    from zoneinfo import ZoneInfo

    from icalendar import Calendar, Event, vCalAddress, vText

    zone = ZoneInfo(meeting.timezone)
    cal = Calendar()
    cal.add("prodid", "-//AES Partnerships//CRM//FR")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", method)
    event = Event()
    event.add("uid", invitation.uid)
    event.add("sequence", invitation.sequence)
    event.add("dtstamp", utcnow())
    event.add("dtstart", meeting.starts_at.astimezone(zone))
    event.add("dtend", meeting.ends_at.astimezone(zone))
    event.add("summary", meeting_name(meeting))
    if meeting.place and not meeting.is_limited:
        event.add("location", meeting.place)
    event.add("url", absolute_url("meetings.meeting", meeting_id=meeting.id))
    event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    event.add("class", "CONFIDENTIAL" if meeting.is_limited else "PRIVATE")
    if organiser is not None:
        org = vCalAddress(f"mailto:{organiser.email}")
        org.params["cn"] = vText(organiser.name)
        event.add("organizer", org)
    attendee = vCalAddress(f"mailto:{who.email}")
    attendee.params["cn"] = vText(who.name)
    attendee.params["role"] = vText("REQ-PARTICIPANT")
    attendee.params["partstat"] = vText("NEEDS-ACTION")
    attendee.params["rsvp"] = vText("TRUE")
    event.add("attendee", attendee)
    cal.add_component(event)
    cal.add_missing_timezones()
    return cal.to_ical().decode()


def _invitation_words(invitation: MeetingInvitation, method: str, meeting: Meeting) -> tuple[str, str]:
    """The subject and first sentence of an invitation (inside force_locale)."""
    if method == "CANCEL":
        return _("Cancelled: %(meeting)s", meeting=meeting_name(meeting)), _("This meeting is cancelled:")
    if invitation.sequence:
        return _("Updated invitation: %(meeting)s", meeting=meeting_name(meeting)), _("This meeting has changed:")
    return _("Invitation: %(meeting)s", meeting=meeting_name(meeting)), _("You are invited to this meeting:")


def _invite(
    session: DbSession, meeting: Meeting, invitation: MeetingInvitation, people: list[Invitee], method: str
) -> None:
    organiser = session.get(User, meeting.created_by_id) if meeting.created_by_id else None
    for who in people:
        locale = compose.locale_of(who.user)
        with force_locale(locale):
            when = compose.when(meeting.starts_at, who.user, locale)
            subject, intro = _invitation_words(invitation, method, meeting)
            lines = [meeting_name(meeting), when]
            if meeting.place and not meeting.is_limited:
                lines.append(meeting.place)
            mail = Mail(
                subject=subject,
                intro=intro,
                lines=lines,
                link=absolute_url("meetings.meeting", meeting_id=meeting.id) if who.user else "",
                link_label=_("Open the meeting"),
            )
            if who.user is not None:
                session.add(
                    Notification(
                        user_id=who.user.id,
                        kind=Kind.INVITATION,
                        texts=in_every_language(lambda _locale: _invitation_words(invitation, method, meeting)[0]),
                        path=_meeting_path(meeting.id),
                    )
                )
            if who.user is not None and not _wants_mail(session, who.user, Kind.INVITATION):
                continue
            enqueue(
                session,
                kind=Kind.INVITATION,
                recipient=who.email,
                recipient_name=who.name,
                mail=mail,
                locale=locale,
                user=who.user,
                ics=_invitation_ics(meeting, invitation, organiser, who, method),
                ics_method=method,
            )


def _invitation(session: DbSession, meeting: Meeting) -> MeetingInvitation | None:
    return session.get(MeetingInvitation, meeting.id)


@meetings.meeting_saved.connect
def _meeting_saved(meeting: Meeting, session: DbSession, invite_contacts: bool = False, **_extra: Any) -> None:
    if meeting.ends_at <= utcnow():
        return  # a meeting already over (typed afterwards, or its record corrected): nobody is invited to it
    invitation = _invitation(session, meeting)
    if invitation is None:
        if meeting.status != MeetingStatus.PLANNED:
            return
        host = current_app.config["CRM_BASE_URL"].split("//", 1)[-1].split("/", 1)[0] or "crm"
        invitation = MeetingInvitation(
            meeting_id=meeting.id,
            uid=f"meeting-{meeting.id}@{host}",  # the calendar feeds' UID: one event in the reader's calendar
            sequence=0,
            fingerprint=_fingerprint(meeting),
            invite_contacts=invite_contacts,
            cancelled=False,
        )
        session.add(invitation)
        session.flush()
        _invite(session, meeting, invitation, invitees(session, meeting, invitation), "REQUEST")
        return
    contacts_added = invite_contacts and not invitation.invite_contacts
    if invite_contacts:
        invitation.invite_contacts = True
    if meeting.status == MeetingStatus.CANCELLED:
        if not invitation.cancelled:
            invitation.cancelled = True
            invitation.sequence += 1
            _invite(session, meeting, invitation, invitees(session, meeting, invitation), "CANCEL")
        return
    if meeting.status != MeetingStatus.PLANNED:
        return
    fingerprint = _fingerprint(meeting)
    if invitation.cancelled or fingerprint != invitation.fingerprint:
        invitation.cancelled = False
        invitation.sequence += 1
        invitation.fingerprint = fingerprint
        _invite(session, meeting, invitation, invitees(session, meeting, invitation), "REQUEST")
    elif contacts_added:
        everyone = invitees(session, meeting, invitation)
        _invite(session, meeting, invitation, [i for i in everyone if i.user is None], "REQUEST")


@meetings.participant_added.connect
def _participant_added(participant: Participant, session: DbSession, meeting: Meeting, **_extra: Any) -> None:
    _invite_one(session, meeting, participant, "REQUEST")


@meetings.participant_removing.connect
def _participant_removing(participant: Participant, session: DbSession, meeting: Meeting, **_extra: Any) -> None:
    """Someone taken off a planned meeting they were invited to receives a cancellation for themselves."""
    _invite_one(session, meeting, participant, "CANCEL")


def _invite_one(session: DbSession, meeting: Meeting, participant: Participant, method: str) -> None:
    """One participant added to (or taken off) a planned meeting whose invitation went out is told alone."""
    invitation = _invitation(session, meeting)
    if (
        invitation is None
        or invitation.cancelled
        or meeting.status != MeetingStatus.PLANNED
        or meeting.ends_at <= utcnow()
    ):
        return
    people = [i for i in invitees(session, meeting, invitation) if _is(i, participant, session)]
    _invite(session, meeting, invitation, people, method)


def _is(invitee: Invitee, participant: Participant, session: DbSession) -> bool:
    if participant.user_id is not None:
        return invitee.user is not None and invitee.user.id == participant.user_id
    contact = session.get(Contact, participant.contact_id)
    return invitee.user is None and contact is not None and invitee.email == contact.email


# --- the bell ----------------------------------------------------------------------------------


def unread_count_of(user_id: Any) -> ScalarSelect[int]:
    """The bell's count as a subquery on ``user_id`` (a column): read with the session, in the same statement."""
    return (
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .scalar_subquery()
    )


def unread_count(session: DbSession, user_id: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        )
        or 0
    )


def recent(session: DbSession, user_id: int, limit: int = 50) -> list[Notification]:
    return list(
        session.scalars(
            select(Notification).where(Notification.user_id == user_id).order_by(Notification.id.desc()).limit(limit)
        )
    )


def mark_read(session: DbSession, user_id: int, notification_id: int | None = None) -> int:
    stmt = update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None))
    if notification_id is not None:
        stmt = stmt.where(Notification.id == notification_id)
    result = session.execute(stmt.values(read_at=utcnow()).execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# --- scheduled: digests and escalations --------------------------------------------------------


def _mark(session: DbSession, key: str) -> bool:
    """Claim a scheduled message's key; False when another pass (or an earlier one) already did."""
    try:
        with session.begin_nested():
            session.add(NotificationMark(key=key))
            session.flush()
    except IntegrityError:
        return False
    return True


def _marked(session: DbSession, key: str) -> bool:
    return session.scalar(select(NotificationMark.id).where(NotificationMark.key == key)) is not None


DIGEST_WINDOW_HOURS = 3  # a sender down at the chosen hour still sends the digest up to three hours later


def digest_key(user: User, prefs: NotificationPreference, now: datetime) -> str | None:
    """The period whose digest is due now for this user, in their time zone; None when none is due."""
    local = now.astimezone(compose.zone_of(user))
    if prefs.digest == DigestFrequency.OFF or Kind.DIGEST.value in prefs.muted_kinds():
        return None
    if not prefs.digest_hour <= local.hour < prefs.digest_hour + DIGEST_WINDOW_HOURS:
        return None
    if prefs.digest == DigestFrequency.WEEKLY:
        if local.weekday() != prefs.digest_weekday:
            return None
        year, week, _day = local.isocalendar()
        return f"digest:{user.id}:{year}-W{week:02d}"
    return f"digest:{user.id}:{local.date().isoformat()}"


def digest_content(session: DbSession, user: User, today: date, locale: str) -> list[tuple[str, list[str]]]:
    """The digest's sections (empty ones left out); called inside force_locale."""
    horizon = today + timedelta(days=current_app.config["CRM_DIGEST_DUE_DAYS"])
    mine = list(
        session.scalars(
            select(Commitment)
            .where(
                Commitment.responsible_id == user.id,
                Commitment.closed.is_(False),
                Commitment.due_date.is_not(None),
                Commitment.due_date <= horizon,
                commitments.visible_clause(user),
            )
            .order_by(Commitment.due_date, Commitment.id)
            .limit(100)
        )
    )
    sections: list[tuple[str, list[str]]] = []
    overdue = [c for c in mine if c.due_date and c.due_date < today]
    due = [c for c in mine if c.due_date and c.due_date >= today]
    if overdue:
        sections.append(
            (
                _("Overdue commitments"),
                [f"{commitment_name(c)} ({compose.day(c.due_date, locale)})" for c in overdue if c.due_date],
            )
        )
    if due:
        sections.append(
            (
                _("Commitments due soon"),
                [f"{commitment_name(c)} ({compose.day(c.due_date, locale)})" for c in due if c.due_date],
            )
        )
    if user.can(Role.OFFICER):
        waiting = session.scalars(
            select(Meeting)
            .where(
                Meeting.minutes_status == MinutesStatus.SUBMITTED,
                meetings.co_owned_clause(user.institution_id, Meeting.id),
                meetings.visible_clause(user),
                ~select(MinutesApproval.id)
                .join(MinutesRevision, MinutesRevision.id == MinutesApproval.revision_id)
                .where(
                    MinutesRevision.meeting_id == Meeting.id,
                    MinutesRevision.status == MinutesStatus.SUBMITTED,
                    MinutesApproval.institution_id == user.institution_id,
                )
                .exists(),
            )
            .order_by(Meeting.starts_at)
            .limit(50)
        ).all()
        if waiting:
            sections.append((_("Minutes awaiting your approval"), [meeting_name(m) for m in waiting]))
    zone = compose.zone_of(user)
    tomorrow = today + timedelta(days=1)
    start = datetime.combine(tomorrow, datetime.min.time(), zone).astimezone(UTC)
    end = start + timedelta(days=1)
    tomorrow_meetings = session.scalars(
        select(Meeting)
        .where(
            Meeting.starts_at >= start,
            Meeting.starts_at < end,
            Meeting.status != MeetingStatus.CANCELLED,
            meetings.is_participant_clause(user.id, Meeting.id),
        )
        .order_by(Meeting.starts_at)
        .limit(50)
    ).all()
    tomorrow_visits = session.scalars(
        select(Visit)
        .join(VisitMember, VisitMember.visit_id == Visit.id)
        .where(VisitMember.user_id == user.id, Visit.starts_on <= tomorrow, Visit.ends_on >= tomorrow)
        .order_by(Visit.starts_on)
        .limit(20)
    ).all()
    agenda = [f"{compose.when(m.starts_at, user, locale)} — {meeting_name(m)}" for m in tomorrow_meetings]
    agenda += [v.reference if v.is_limited else f"{v.reference} — {v.title}" for v in tomorrow_visits]
    if agenda:
        sections.append((_("Tomorrow"), agenda))
    return sections


def enqueue_digests(session: DbSession, now: datetime) -> int:
    """Every digest due at this instant (each user's chosen hour in their own zone), once per period."""
    sent = 0
    users = session.scalars(select(User).where(User.active.is_(True)).order_by(User.id)).all()
    saved = {p.user_id: p for p in session.scalars(select(NotificationPreference))}
    for user in users:
        prefs = saved.get(user.id) or preferences(session, user.id)
        key = digest_key(user, prefs, now)
        if key is None or _marked(session, key):
            continue
        today = now.astimezone(compose.zone_of(user)).date()
        locale = compose.locale_of(user)
        with force_locale(locale):
            sections = digest_content(session, user, today, locale)
            if not _mark(session, key):
                continue
            if not sections or not user.email:
                continue  # nothing to say: nothing is sent
            mail = Mail(
                subject=_("Your follow-ups for %(date)s", date=compose.day(today, locale)),
                intro=_("Here is what needs your attention."),
                sections=sections,
                link=absolute_url("home.home"),
                link_label=_("Open the CRM"),
            )
            enqueue(
                session,
                kind=Kind.DIGEST,
                recipient=user.email,
                recipient_name=user.name,
                mail=mail,
                locale=locale,
                user=user,
                due=now,
            )
            sent += 1
    return sent


def escalation_steps(priority: str) -> tuple[int, ...]:
    return tuple(current_app.config["CRM_ESCALATION_DAYS"].get(priority, (7, 30)))


def enqueue_escalations(session: DbSession, today: date, now: datetime | None = None) -> int:
    """Overdue commitments owed by us: first step to the responsible officer, later ones to their institution's
    officers too; each step once (a key per commitment and step)."""
    first = min(min(steps) for steps in current_app.config["CRM_ESCALATION_DAYS"].values())
    rows = session.execute(
        select(Commitment.id, Commitment.due_date, Commitment.priority)
        .where(
            Commitment.closed.is_(False),
            Commitment.due_key <= today - timedelta(days=first),  # on the list index (closed, due_key, id)
            Commitment.responsible_id.is_not(None),
        )
        .order_by(Commitment.id)
    ).all()
    due: dict[str, tuple[int, int, int]] = {}  # key → (commitment id, step, days late)
    for row in rows:
        late = (today - row.due_date).days
        reached = [i for i, days in enumerate(escalation_steps(row.priority.value)) if late >= days]
        if reached:
            due[f"escalation:{row.id}:{reached[-1]}"] = (row.id, reached[-1], late)
    keys = list(due)
    done: set[str] = set()
    for start in range(0, len(keys), 500):  # what earlier passes did, in one query per 500
        done.update(
            session.scalars(select(NotificationMark.key).where(NotificationMark.key.in_(keys[start : start + 500])))
        )
    told = 0
    for key in (k for k in keys if k not in done):
        commitment_id, step, late = due[key]
        if not _mark(session, key):
            continue
        commitment = session.get(Commitment, commitment_id)
        assert commitment is not None and commitment.due_date is not None
        for earlier in range(step):  # a step skipped (the sender was down) is not sent late after a later one
            _mark(session, f"escalation:{commitment.id}:{earlier}")
        responsible = session.get(User, commitment.responsible_id)
        if responsible is None:
            continue
        people = [responsible]
        if step > 0:
            officers = session.scalars(
                select(User)
                .where(
                    User.institution_id == responsible.institution_id,
                    User.role.in_(APPROVERS),
                    User.active.is_(True),
                    User.id != responsible.id,
                )
                .order_by(User.id)
            ).all()
            people += [o for o in officers if _sees_commitment(session, commitment.id, o)]
        for user in people:
            build = partial(_escalation_mail, commitment, responsible, user, late)
            tell(session, user, Kind.ESCALATION, build, _commitment_path(commitment.id), due=now)
            told += 1
    return told


def _escalation_mail(commitment: Commitment, responsible: User, user: User, late: int, locale: str) -> Mail:
    assert commitment.due_date is not None
    intro = (
        _("This commitment you are responsible for is %(days)s days overdue:", days=late)
        if user.id == responsible.id
        else _("This commitment of %(name)s is %(days)s days overdue:", name=responsible.name, days=late)
    )
    return Mail(
        subject=_("Overdue by %(days)s days: %(commitment)s", days=late, commitment=commitment_name(commitment)),
        intro=intro,
        lines=[commitment_name(commitment), _("Due on %(date)s", date=compose.day(commitment.due_date, locale))],
        link=absolute_url("commitments.commitment", commitment_id=commitment.id),
        link_label=_("Open the commitment"),
    )


def enqueue_scheduled(session: DbSession, now: datetime | None = None) -> tuple[int, int]:
    now = now or datetime.now(UTC)
    digests = enqueue_digests(session, now)
    escalations = enqueue_escalations(session, now.astimezone(compose.zone_of(None)).date(), now)
    return digests, escalations
