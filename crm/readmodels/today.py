"""The home page ("Aujourd'hui"): what a user has to do, and what moved around the partners they follow.

Every block is one statement, read through the usual visibility rules; their number does not grow with the
data (each is driven from the user's own rows or bounded by dates, and limited).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import joinedload

from crm.audit.models import AuditEvent
from crm.auth.models import Role, User
from crm.commitments import services as commitments
from crm.commitments.models import Commitment, CommitmentStatus, CommitmentUpdate, OwedBy
from crm.db import DbSession, utcnow
from crm.meetings import services as meetings
from crm.meetings.models import (
    Meeting,
    MeetingOrganisation,
    MeetingStatus,
    MinutesApproval,
    MinutesRevision,
    Participant,
)
from crm.partners.models import Organisation, PartnerFollow
from crm.partners.services import followed_ids
from crm.visits import services as visits
from crm.visits.models import Visit, VisitStatus

DUE_WITHIN_DAYS = 14
SHOWN = 8  # rows a block shows; one more is read to know whether "more" is needed
FOLLOWED_DAYS = 30
NO_MINUTES_DAYS = 180  # a meeting older than this without minutes no longer asks for them on the home page


@dataclass
class Block:
    rows: list[Any]
    more: bool = False

    @classmethod
    def of(cls, rows: list[Any]) -> Block:
        return cls(rows[:SHOWN], len(rows) > SHOWN)


@dataclass
class News:
    """Something that moved around a followed partner."""

    when: datetime
    kind: str  # meeting | commitment | directory
    organisation: Organisation
    subject: Any
    detail: str = ""


@dataclass
class Today:
    due: Block
    to_approve: Block  # (meeting, revision) pairs
    no_minutes: Block
    drafts: Block
    week_meetings: Block
    week_visits: Block
    followed: list[Organisation] = field(default_factory=list)
    news: list[News] = field(default_factory=list)


def week_bounds(today: date) -> tuple[date, date]:
    monday = today - timedelta(days=today.weekday())
    return monday, monday + timedelta(days=7)


def today_for(session: DbSession, user: User, today: date, tz: Any) -> Today:
    monday, next_monday = week_bounds(today)
    no_minutes, drafts = _minutes_to_write(session, user)
    followed = list(
        session.scalars(
            select(Organisation)
            .join(PartnerFollow, PartnerFollow.organisation_id == Organisation.id)
            .where(PartnerFollow.user_id == user.id)
            .order_by(Organisation.name_key)
        )
    )
    return Today(
        due=Block.of(_due(session, user, today)),
        to_approve=Block.of(_to_approve(session, user) if user.can(Role.OFFICER) else []),
        no_minutes=Block.of(no_minutes),
        drafts=Block.of(drafts),
        week_meetings=Block.of(_week_meetings(session, user, monday, next_monday, tz)),
        week_visits=Block.of(_week_visits(session, user, monday, next_monday)),
        followed=followed,
        news=_news(session, user, {o.id: o for o in followed}) if followed else [],
    )


def _due(session: DbSession, user: User, today: date) -> list[Commitment]:
    """Open commitments due within two weeks or overdue, ours and the partner's, that the user answers for,
    made, or that concern a partner they follow."""
    return list(
        session.scalars(
            commitments.with_people(select(Commitment))
            .where(
                commitments.visible_clause(user),
                Commitment.closed.is_(False),
                Commitment.due_key <= today + timedelta(days=DUE_WITHIN_DAYS),
                or_(
                    Commitment.responsible_id == user.id,
                    Commitment.created_by_id == user.id,
                    Commitment.organisation_id.in_(followed_ids(user.id)),
                ),
            )
            .order_by(Commitment.due_key, Commitment.id)
            .limit(SHOWN + 1)
        ).unique()
    )


def _to_approve(session: DbSession, user: User) -> list[tuple[Meeting, MinutesRevision]]:
    """Submitted minutes of meetings the officer's institution holds and has not approved yet."""
    ours_approved = exists(
        select(MinutesApproval.id).where(
            MinutesApproval.revision_id == MinutesRevision.id, MinutesApproval.institution_id == user.institution_id
        )
    )
    rows = session.execute(
        select(Meeting, MinutesRevision)
        .join(MinutesRevision, and_(MinutesRevision.meeting_id == Meeting.id, MinutesRevision.status == "submitted"))
        .where(
            Meeting.minutes_status == "submitted",
            meetings.visible_clause(user),
            meetings.co_owned_clause(user.institution_id, Meeting.id),
            ~ours_approved,
        )
        .order_by(MinutesRevision.submitted_at, Meeting.id)
        .limit(SHOWN + 1)
    )
    return [(meeting, revision) for meeting, revision in rows]


def _minutes_to_write(session: DbSession, user: User) -> tuple[list[Meeting], list[Meeting]]:
    """Meetings the user took part in (or made) that are over with no minutes yet, and minutes left in draft."""
    now = utcnow()
    mine = or_(
        Meeting.id.in_(select(Participant.meeting_id).where(Participant.user_id == user.id)),
        Meeting.created_by_id == user.id,
    )
    rows = session.scalars(
        select(Meeting)
        .where(
            mine,
            meetings.visible_clause(user),
            or_(
                and_(
                    Meeting.minutes_status.is_(None),
                    Meeting.status != MeetingStatus.CANCELLED,
                    Meeting.ends_at < now,
                    Meeting.starts_at >= now - timedelta(days=NO_MINUTES_DAYS),
                ),
                Meeting.minutes_status == "draft",
            ),
        )
        .order_by(Meeting.starts_at.desc(), Meeting.id.desc())
        .limit(2 * (SHOWN + 1))
    ).all()
    return [m for m in rows if m.minutes_status is None], [m for m in rows if m.minutes_status is not None]


def _week_meetings(
    session: DbSession, user: User, monday: date, next_monday: date, tz: Any
) -> list[tuple[Meeting, bool]]:
    """This week's meetings of the user's institution (and those shared with it), each with whether the user
    takes part."""
    start = datetime.combine(monday, time.min, tz).astimezone(UTC)
    end = datetime.combine(next_monday, time.min, tz).astimezone(UTC)
    return [
        (meeting, bool(mine))
        for meeting, mine in session.execute(
            select(Meeting, meetings.is_participant_clause(user.id, Meeting.id))
            .where(
                Meeting.starts_at >= start,
                Meeting.starts_at < end,
                Meeting.status != MeetingStatus.CANCELLED,
                meetings.visible_clause(user),
            )
            .order_by(Meeting.starts_at, Meeting.id)
            .limit(SHOWN + 1)
        )
    ]


def _week_visits(session: DbSession, user: User, monday: date, next_monday: date) -> list[tuple[Visit, bool]]:
    return [
        (visit, bool(mine))
        for visit, mine in session.execute(
            select(Visit, visits.is_member_clause(user.id, Visit.id))
            .where(
                Visit.starts_on < next_monday,
                Visit.ends_on >= monday,
                Visit.status != VisitStatus.CANCELLED,
                visits.visible_clause(user),
            )
            .order_by(Visit.starts_on, Visit.id)
            .limit(SHOWN + 1)
        )
    ]


def _news(session: DbSession, user: User, organisations: dict[int, Organisation]) -> list[News]:
    """The last month around the followed partners: their meetings (past and coming), changes to commitments
    that concern them, and changes to their record in the directory; newest first."""
    since = utcnow() - timedelta(days=FOLLOWED_DAYS)
    organisation_ids = list(organisations)
    news: list[News] = []
    for meeting, organisation_id in session.execute(
        select(Meeting, MeetingOrganisation.organisation_id)
        .join(MeetingOrganisation, MeetingOrganisation.meeting_id == Meeting.id)
        .where(
            MeetingOrganisation.organisation_id.in_(organisation_ids),
            Meeting.starts_at >= since,
            Meeting.starts_at < utcnow() + timedelta(days=FOLLOWED_DAYS),
            meetings.visible_clause(user),
        )
        .order_by(Meeting.starts_at.desc())
        .limit(SHOWN)
    ):
        news.append(News(meeting.starts_at, "meeting", organisations[organisation_id], meeting))
    for update in session.scalars(
        select(CommitmentUpdate)
        .join(Commitment, Commitment.id == CommitmentUpdate.commitment_id)
        .options(joinedload(CommitmentUpdate.commitment))
        .where(
            Commitment.organisation_id.in_(organisation_ids),
            CommitmentUpdate.created_at >= since,
            commitments.visible_clause(user),
        )
        .order_by(CommitmentUpdate.created_at.desc())
        .limit(SHOWN)
    ):
        if any(n.subject is update.commitment for n in news):
            continue  # the latest change of a commitment says where it stands
        organisation = organisations[update.commitment.organisation_id or 0]  # filtered on it: never None
        news.append(News(update.created_at, "commitment", organisation, update.commitment, update.note))
    for event in session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.owner_type == "organisation",
            AuditEvent.owner_id.in_(organisation_ids),
            AuditEvent.created_at >= since,
        )
        .order_by(AuditEvent.id.desc())
        .limit(SHOWN)
    ):
        news.append(News(event.created_at, "directory", organisations[event.owner_id or 0], event))
    news.sort(key=lambda n: n.when, reverse=True)
    return news[:SHOWN]


# --- figures ---------------------------------------------------------------------------------------


@dataclass
class Quarter:
    label: str
    first: date
    due: dict[str, int] = field(default_factory=lambda: {OwedBy.OURS.value: 0, OwedBy.PARTNER.value: 0})
    kept: dict[str, int] = field(default_factory=lambda: {OwedBy.OURS.value: 0, OwedBy.PARTNER.value: 0})

    def rate(self, side: str) -> int | None:
        return round(100 * self.kept[side] / self.due[side]) if self.due[side] else None


def quarters(today: date, count: int = 4) -> list[Quarter]:
    """The last ``count`` quarters, the current one last."""
    first = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    found = []
    for _ in range(count):
        found.append(Quarter(f"T{(first.month - 1) // 3 + 1} {first.year}", first))
        first = date(first.year - 1, 10, 1) if first.month == 1 else date(first.year, first.month - 3, 1)
    return list(reversed(found))


def promises_kept(session: DbSession, user: User, today: date) -> list[Quarter]:
    """Per quarter of the due date: commitments falling due (cancelled ones aside), and those kept on time,
    ours and the partners'. One grouped statement over the last year."""
    periods = quarters(today)
    bounds = [q.first for q in periods] + [
        date(periods[-1].first.year + (periods[-1].first.month + 2) // 12, (periods[-1].first.month + 2) % 12 + 1, 1)
    ]
    which = case(*[(Commitment.due_date < bounds[i + 1], i) for i in range(len(periods))], else_=-1)
    on_time = and_(
        Commitment.status == CommitmentStatus.DONE,
        Commitment.completed_on.is_not(None),
        Commitment.completed_on <= Commitment.due_date,
    )
    rows = session.execute(
        select(which.label("q"), Commitment.owed_by, func.count(), func.sum(case((on_time, 1), else_=0)))
        .where(
            Commitment.due_date >= bounds[0],
            Commitment.due_date < bounds[-1],
            Commitment.status != CommitmentStatus.CANCELLED,
            commitments.visible_clause(user),
        )
        .group_by("q", Commitment.owed_by)
    )
    for index, side, due, kept in rows:
        if 0 <= index < len(periods):
            periods[index].due[str(side)] += due
            periods[index].kept[str(side)] += kept or 0
    return periods


def most_overdue(session: DbSession, user: User, today: date, limit: int = 5) -> list[tuple[Organisation, int]]:
    """The partners with the most overdue open commitments (either side owing) that the user may see."""
    count = func.count(Commitment.id)
    rows = session.execute(
        select(Organisation, count)
        .join(Commitment, Commitment.organisation_id == Organisation.id)
        .where(Commitment.closed.is_(False), Commitment.due_key < today, commitments.visible_clause(user))
        .group_by(Organisation.id)
        .order_by(count.desc(), Organisation.name_key)
        .limit(limit)
    )
    return [(organisation, n) for organisation, n in rows]
