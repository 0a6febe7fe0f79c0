"""The AES view: partners the institutions meet in common, side by side, as far as the reader may see.

A partner is counted with its group (a company and its national subsidiaries: Huawei Technologies and
Huawei Mali, Burkina, Niger), so that "is Huawei keeping the same promise in Bamako, Ouagadougou and
Niamey?" has an answer. Everything is read through the usual visibility rules: what an institution keeps
to itself is not counted for the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from crm.auth.models import User
from crm.commitments import services as commitments
from crm.commitments.models import Commitment, OwedBy
from crm.db import DbSession
from crm.meetings import services as meetings
from crm.meetings.models import Meeting, MeetingInstitution, MeetingOrganisation
from crm.partners.models import Institution, Organisation

MIN_INSTITUTIONS = 2


@dataclass
class Side:
    """One institution's dealings with a partner group."""

    meetings: int = 0
    last_meeting: Meeting | None = None
    open_ours: int = 0
    open_theirs: int = 0
    overdue_theirs: int = 0
    promises: list[Commitment] = field(default_factory=list)


@dataclass
class Partner:
    group: Organisation
    sides: dict[int, Side]

    @property
    def institutions(self) -> int:
        return sum(1 for side in self.sides.values() if side.meetings or side.promises)


def _group(organisation_column):
    """A partner's group: its parent company or ministry, or itself."""
    return func.coalesce(Organisation.parent_id, organisation_column)


def partners_in_common(session: DbSession, user: User, since: date | None) -> list[Partner]:
    """Partners met by at least two institutions since ``since``, each with its side per institution."""
    ours = select(Institution.organisation_id)
    group = _group(Organisation.id).label("grp")
    held = (
        select(
            group, MeetingInstitution.institution_id, func.count(func.distinct(Meeting.id)), func.max(Meeting.starts_at)
        )
        .select_from(Meeting)
        .join(MeetingOrganisation, MeetingOrganisation.meeting_id == Meeting.id)
        .join(Organisation, Organisation.id == MeetingOrganisation.organisation_id)
        .join(MeetingInstitution, MeetingInstitution.meeting_id == Meeting.id)
        .where(meetings.visible_clause(user), Organisation.id.not_in(ours))
        .group_by(group, MeetingInstitution.institution_id)
    )
    if since is not None:
        held = held.where(Meeting.starts_at >= datetime.combine(since, datetime.min.time(), UTC))
    counts: dict[int, dict[int, tuple[int, datetime]]] = {}
    for group_id, institution_id, count, last in session.execute(held):
        counts.setdefault(group_id, {})[institution_id] = (count, last)
    common = {g: sides for g, sides in counts.items() if len(sides) >= MIN_INSTITUTIONS}
    if not common:
        return []
    groups = {o.id: o for o in session.scalars(select(Organisation).where(Organisation.id.in_(list(common))))}
    result = {
        g: Partner(groups[g], {i: Side(meetings=n) for i, (n, _last) in sides.items()}) for g, sides in common.items()
    }
    _last_meetings(
        session, user, result, {(g, i): last for g, sides in common.items() for i, (_n, last) in sides.items()}
    )
    _open_commitments(session, user, result)
    return sorted(result.values(), key=lambda p: (-len(p.sides), p.group.name_key))


def _last_meetings(session: DbSession, user: User, result: dict[int, Partner], lasts: dict) -> None:
    """The latest meeting of each institution with each group: one query for them all."""
    group = _group(Organisation.id)
    rows = session.execute(
        select(group, MeetingInstitution.institution_id, Meeting)
        .join(MeetingOrganisation, MeetingOrganisation.meeting_id == Meeting.id)
        .join(Organisation, Organisation.id == MeetingOrganisation.organisation_id)
        .join(MeetingInstitution, MeetingInstitution.meeting_id == Meeting.id)
        .where(
            meetings.visible_clause(user),
            group.in_(list(result)),
            Meeting.starts_at.in_({last for last in lasts.values()}),
        )
    )
    for group_id, institution_id, meeting in rows:
        if lasts.get((group_id, institution_id)) == meeting.starts_at:
            result[group_id].sides[institution_id].last_meeting = meeting


def _open_commitments(session: DbSession, user: User, result: dict[int, Partner]) -> None:
    partner_org = aliased(Organisation)
    group = func.coalesce(partner_org.parent_id, partner_org.id)
    today = date.today()
    rows = session.execute(
        select(Commitment, group)
        .join(partner_org, partner_org.id == Commitment.organisation_id)
        .where(commitments.visible_clause(user), Commitment.closed.is_(False), group.in_(list(result)))
        .order_by(Commitment.due_key, Commitment.id)
    )
    for commitment, group_id in rows:
        if commitment.owed_by == OwedBy.OURS:
            institution_id = commitment.institution_id
        else:
            institution_id = commitment.owner_institution_id
        side = result[group_id].sides.setdefault(institution_id, Side())
        if commitment.owed_by == OwedBy.OURS:
            side.open_ours += 1
        else:
            side.open_theirs += 1
            side.overdue_theirs += int(commitment.is_overdue(today))
            side.promises.append(commitment)


def promises_to_several(partners: list[Partner]) -> list[Partner]:
    """Of the partners in common, those with open promises to two institutions or more."""
    return [p for p in partners if sum(1 for side in p.sides.values() if side.promises) >= MIN_INSTITUTIONS]
