"""The bench's database: a directory of partners and N meetings at a realistic density.

Density: three ministries (ML, BF, NE), each holding 30 meetings a week (six a working day, 08:00–16:30), the
"few dozen a week" a digital-affairs ministry's cooperation office actually holds. The reader (a viewer of the
Malian ministry) therefore sees about 30 meetings in a week and 130 in a month, whatever N is: N only moves the
history back in time (10k meetings ≈ 2 years, 100k ≈ 21 years, 1M ≈ 2 centuries — absurd as history, right as a
test that nothing reads the whole table). The last two weeks lie ahead (planned), the rest is past (held).
One partner contact sits at each meeting; one commitment comes out of each meeting (a quarter of them done);
one delegation visit per 20 meetings with three members and five programme lines; 5 % restricted.
The directory does not grow with N: 2,000 organisations and 8,000 contacts.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import insert

ORGS, CONTACTS = 2_000, 8_000
PER_WEEK = 30  # meetings a week per ministry
MINISTRIES = (
    ("ML", "Mali", "Africa/Bamako"),
    ("BF", "Burkina Faso", "Africa/Ouagadougou"),
    ("NE", "Niger", "Africa/Niamey"),
)
CHUNK = 20_000
PASSWORD = "bench pass phrase that nobody uses"


@dataclass
class Built:
    token: str  # the viewer's session token (its signed cookie is made by the bench)
    meetings: int
    meeting_id: int  # a past meeting of the reader's ministry, with participants, commitments and draft minutes
    approved_id: int  # a past meeting whose minutes were approved (PDF frozen)
    week: date  # a Monday of a full week
    month: str  # YYYY-MM of a full month


def _chunks(rows: Iterator[dict], size: int = CHUNK) -> Iterator[list[dict]]:
    batch: list[dict] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _put(session, model, rows: Iterator[dict]) -> None:
    for batch in _chunks(rows):
        session.execute(insert(model), batch)


def anchor() -> datetime:
    """The Monday two weeks ahead: the newest meetings are planned, everything before is history."""
    today = date.today()
    monday = today - timedelta(days=today.weekday()) + timedelta(weeks=2)
    return datetime(monday.year, monday.month, monday.day, 8, tzinfo=UTC)


def starts(i: int) -> tuple[int, datetime]:
    """Meeting i (0-based): its ministry (1..3) and its start, walking back in time from the anchor."""
    k = i // len(MINISTRIES)
    week, slot = divmod(k, PER_WEEK)
    day, hour = divmod(slot, 6)
    when = anchor() - timedelta(weeks=week + 1) + timedelta(days=day, minutes=90 * hour)
    return i % len(MINISTRIES) + 1, when


def build(app, size: int) -> Built:  # noqa: PLR0915 - one recipe, read top to bottom
    from flask_migrate import stamp

    from crm.auth import services as auth
    from crm.auth.models import Role, UserSession
    from crm.commitments.models import Commitment
    from crm.extensions import db
    from crm.meetings.models import Meeting, MeetingInstitution, MeetingOrganisation, Participant
    from crm.partners import services as partners
    from crm.partners.models import Contact, Institution, Organisation, Position
    from crm.visits.models import ProgrammeItem, Visit, VisitInstitution, VisitMember

    countries = ["ML", "BF", "NE", "GH", "SN", "CI", "FR", "CN"]
    with app.app_context():
        db.create_all()
        stamp()  # the schema of the models is the migrations' head: /healthz says so
        s = db.session
        partners.seed_countries(s)
        _put(
            s,
            Organisation,
            (
                {
                    "name": f"Ministère du Numérique ({MINISTRIES[i][1]})" if i < 3 else f"Organisation {i}",
                    "name_key": f"organisation {i:05d}",
                    "search": f"organisation {i:05d}",
                    "country_code": MINISTRIES[i][0] if i < 3 else countries[i % 8],
                    "kind": "ministry" if i < 3 else "operator",
                    "sectors": ",telecom,",
                    "version": 1,
                    **dict.fromkeys(("acronym", "email", "phone", "website", "address", "city", "notes"), ""),
                }
                for i in range(ORGS)
            ),
        )
        _put(
            s,
            Institution,
            (
                {"organisation_id": n + 1, "code": code, "short_name": f"MN-{code}", "timezone": tz, "version": 1}
                for n, (code, _, tz) in enumerate(MINISTRIES)
            ),
        )
        _put(
            s,
            Contact,
            (
                {
                    "family_name": f"Traoré {i}",
                    "given_name": "Awa",
                    "sort_key": f"traore {i:05d} awa",
                    "search": f"awa traore {i:05d}",
                    "version": 1,
                    **dict.fromkeys(("honorific", "native_name", "email", "phone", "languages", "notes"), ""),
                }
                for i in range(CONTACTS)
            ),
        )
        _put(
            s,
            Position,
            (
                {
                    "contact_id": i + 1,
                    "organisation_id": i % ORGS + 1,
                    "title": "Chargé de mission",
                    "start_date": date(2020, 1, 1),
                    "version": 1,
                    "notes": "",
                }
                for i in range(CONTACTS)
            ),
        )
        viewer = auth.create_user(
            s, email="viewer@bench.ml", name="Lecteur", role=Role.VIEWER, password=PASSWORD, institution_id=1
        )
        officer = auth.create_user(
            s, email="officer@bench.ml", name="Chargée", role=Role.ADMIN, password=PASSWORD, institution_id=1
        )
        now = datetime.now(UTC)

        def meeting_rows():
            for i in range(size):
                inst, when = starts(i)
                yield {
                    "reference": f"{MINISTRIES[inst - 1][0]}-AUD-{when.year}-{i:07d}",
                    "year": when.year,
                    "title": f"Réunion de travail {i} avec l’opérateur {i % ORGS}",
                    "kind": "working",
                    "starts_at": when,
                    "ends_at": when + timedelta(hours=1),
                    "timezone": MINISTRIES[inst - 1][2],
                    "place": "Salle de réunion du cabinet",
                    "confidentiality": "restricted" if i % 20 == 0 else "internal",
                    "status": "held" if when < now else "planned",
                    "notes": "",
                    "search": f"reunion de travail {i}",
                    "owner_institution_id": inst,
                    "sharing": "institution",
                    "version": 1,
                }

        _put(s, Meeting, meeting_rows())
        _put(
            s,
            MeetingOrganisation,
            ({"meeting_id": i + 1, "organisation_id": 3 + i % (ORGS - 3) + 1} for i in range(size)),
        )
        _put(s, MeetingInstitution, ({"meeting_id": i + 1, "institution_id": i % 3 + 1} for i in range(size)))
        _put(
            s,
            Participant,
            (
                {
                    "meeting_id": i + 1,
                    "side": "partner",
                    "contact_id": i % CONTACTS + 1,
                    "organisation_id": 3 + i % (ORGS - 3) + 1,
                    "role": "member",
                    "attendance": "present",
                    "version": 1,
                }
                for i in range(size)
            ),
        )

        def commitment_rows():
            for i in range(size):
                inst, when = starts(i)
                due = (when + timedelta(days=30)).date()
                yield {
                    "reference": f"{MINISTRIES[inst - 1][0]}-ENG-{i:07d}",
                    "title": f"Engagement {i}: transmettre la note technique",
                    "details": "",
                    "owed_by": "ours" if i % 2 else "partner",
                    "institution_id": inst if i % 2 else None,
                    "owner_institution_id": inst,
                    "sharing": "institution",
                    "responsible_id": viewer.id if inst == 1 else None,
                    "organisation_id": 3 + i % (ORGS - 3) + 1,
                    "due_date": due,
                    "due_key": due,
                    "priority": "normal",
                    "status": "done" if i % 4 == 0 else "open",
                    "closed": i % 4 == 0,
                    "limited": i % 20 == 0,
                    "outcome": "",
                    "origin_meeting_id": i + 1,
                    "search": f"engagement {i}",
                    "version": 1,
                }

        _put(s, Commitment, commitment_rows())
        visits = max(size // 20, 10)

        def visit_rows():
            for i in range(visits):
                inst, when = starts(i * 20)
                yield {
                    "reference": f"{MINISTRIES[inst - 1][0]}-MIS-{i:07d}",
                    "year": when.year,
                    "title": f"Mission {i}",
                    "direction": "outgoing" if i % 2 else "incoming",
                    "purpose": "",
                    "city": "Ouagadougou",
                    "country_code": "BF",
                    "timezone": "Africa/Ouagadougou",
                    "starts_on": when.date(),
                    "ends_on": when.date() + timedelta(days=2),
                    "status": "completed" if when < now else "planned",
                    "confidentiality": "restricted" if i % 20 == 0 else "internal",
                    "report": "",
                    "owner_institution_id": inst,
                    "sharing": "institution",
                    "version": 1,
                }

        _put(s, Visit, visit_rows())
        _put(s, VisitInstitution, ({"visit_id": i + 1, "institution_id": (i * 20) % 3 + 1} for i in range(visits)))
        _put(
            s,
            VisitMember,
            (
                {
                    "visit_id": i // 3 + 1,
                    "contact_id": i % CONTACTS + 1,
                    "role": "member",
                    "accommodation": "",
                    "version": 1,
                }
                for i in range(visits * 3)
            ),
        )
        _put(
            s,
            ProgrammeItem,
            (
                {
                    "visit_id": i // 5 + 1,
                    "day": starts(i // 5 * 20)[1].date(),
                    "position": i % 5 + 1,
                    "activity": f"Activité {i % 5 + 1}",
                    "place": "Ouagadougou",
                }
                for i in range(visits * 5)
            ),
        )
        from crm.search import services as search  # rows written in bulk: the search index is written after

        search.rebuild(s)
        token = secrets.token_urlsafe(32)
        s.add(UserSession(token_hash=auth._digest(token), user_id=viewer.id))
        s.commit()
        # Meeting ids of the reader's ministry (i % 3 == 0 → id 3k + 1), four and five weeks back, not restricted.
        meeting_id = 3 * (PER_WEEK * 4 + 1) + 1
        approved_id = meeting_id + 3
        _minutes(app, officer, meeting_id, approve=False)
        _minutes(app, officer, approved_id, approve=True)
        week = (anchor() - timedelta(weeks=3)).date()
        month_day = (anchor() - timedelta(weeks=10)).date()
        return Built(token, size, meeting_id, approved_id, week, f"{month_day:%Y-%m}")


def _minutes(app, officer_user, meeting_id: int, *, approve: bool) -> None:
    """Three pages of minutes: a summary and seven agenda items; approved (and frozen) or left as a draft."""
    from crm.auth.models import User
    from crm.documents import printing
    from crm.extensions import db
    from crm.meetings import services as meetings

    with app.test_request_context("/"):
        s = db.session
        officer = s.get(User, officer_user.id)
        assert officer is not None
        meeting = meetings.meeting_detail(s, meeting_id, officer)
        assert meeting is not None, f"the bench's data holds meeting {meeting_id}"
        revision = meetings.start_minutes(s, meeting)
        s.flush()
        text = "Le Ministre a rappelé les attentes de l’État vis-à-vis des acteurs du numérique. " * 6
        for n in range(7):
            item = meetings.add_item(s, revision, revision.version, f"Point {n + 1} de l’ordre du jour")
            s.flush()
            meetings.save_minutes(
                s,
                revision,
                text,
                {item.id: {"discussion": text, "decisions": "Décision A\nDécision B"}},
                revision.version,
            )
            s.flush()
        if approve:
            meetings.submit_minutes(s, revision, officer, revision.version)
            s.flush()
            printing.approve_and_freeze(s, revision, officer, revision.version)
        s.commit()
