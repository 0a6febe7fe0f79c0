"""Writing and reading the audit trail.

Every flush that touches a model marked ``__audit__ = True`` appends one event per row, with the
changed fields (old → new), from a single session listener: services never have to remember it.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from functools import cache
from typing import Any

from flask import has_request_context, request
from flask_login import current_user
from sqlalchemy import Select, bindparam, event, insert, inspect, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import NO_VALUE

from crm.audit.models import AuditEvent
from crm.db import Base, DbSession, utcnow

SKIPPED_FIELDS = frozenset({"id", "version", "created_at", "updated_at"})


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def client_ip() -> str:
    return (request.remote_addr or "")[:64] if has_request_context() else ""


def _actor() -> tuple[int | None, str]:
    if has_request_context():
        user = current_user._get_current_object() if current_user else None
        if user is not None and getattr(user, "is_authenticated", False):
            return user.id, user.audit_label
    return None, ""  # shown as "system", translated, in the history


def _changes(obj: Any, created: bool) -> dict[str, list[Any]]:
    state = inspect(obj)
    excluded = SKIPPED_FIELDS | getattr(obj, "__audit_exclude__", frozenset())
    changes: dict[str, list[Any]] = {}
    for attr in state.mapper.column_attrs:
        if attr.key in excluded:
            continue
        hist = state.attrs[attr.key].history
        if created:
            value = getattr(obj, attr.key)
            if value not in (None, ""):
                changes[attr.key] = [None, _jsonable(value)]
        elif hist.has_changes():
            old = hist.deleted[0] if hist.deleted else None
            new = hist.added[0] if hist.added else None
            if old is NO_VALUE:
                old = None
            if _jsonable(old) != _jsonable(new):
                changes[attr.key] = [_jsonable(old), _jsonable(new)]
    return changes


def _owner(obj: Any) -> tuple[str, int | None]:
    owner = getattr(obj, "audit_owner", None)
    return owner if owner else (obj.__tablename__, obj.id)


def _after_flush(session: DbSession, flush_context: Any) -> None:
    rows = []
    actor_id, actor_label = _actor()
    now = utcnow()
    groups = (("create", session.new), ("update", session.dirty), ("delete", session.deleted))
    for action, objects in groups:
        for obj in objects:
            if not getattr(obj, "__audit__", False):
                continue
            if action == "update" and not session.is_modified(obj, include_collections=False):
                continue
            changes = {} if action == "delete" else _changes(obj, created=action == "create")
            if action == "update":
                action_name = getattr(obj, "audit_action", None) or "update"
                if not changes:
                    continue
            else:
                action_name = action
            owner_type, owner_id = _owner(obj)
            rows.append(
                {
                    "created_at": now,
                    "actor_id": actor_id,
                    "actor_label": actor_label[:300],
                    "action": action_name,
                    "entity_type": obj.__tablename__,
                    "entity_id": obj.id,
                    "owner_type": owner_type,
                    "owner_id": owner_id,
                    "label": str(getattr(obj, "audit_label", ""))[:300],
                    "changes": changes,
                    "subject": "",
                    "ip": client_ip(),
                }
            )
    if rows:
        _name_references(session, rows)
        session.connection().execute(insert(AuditEvent), rows)


def install_listener(session_class: type[Session]) -> None:
    if not event.contains(session_class, "after_flush", _after_flush):
        event.listen(session_class, "after_flush", _after_flush)


def record(
    session: DbSession,
    action: str,
    *,
    subject: str = "",
    label: str = "",
    entity_type: str = "",
    entity_id: int | None = None,
    actor_id: int | None = None,
    actor_label: str | None = None,
    changes: dict[str, Any] | None = None,
    ip: str | None = None,
) -> None:
    """Append an event that is not a row change: sign-ins, refused access, reads of confidential records."""
    if actor_label is None:
        actor_id, actor_label = _actor()
    session.add(
        AuditEvent(
            actor_id=actor_id,
            actor_label=actor_label[:300],
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            owner_type=entity_type,
            owner_id=entity_id,
            label=label[:300],
            changes=changes or {},
            subject=subject[:254],
            ip=(ip if ip is not None else client_ip())[:64],
        )
    )


# Changes of a field that holds another record's id, shown with that record's name (meetings and visits by their
# reference only: their title may be confidential).
REFERENCED_TABLE = {
    "user_id": "user_account",
    "responsible_id": "user_account",
    "uploaded_by_id": "user_account",
    "submitted_by_id": "user_account",
    "approved_by_id": "user_account",
    "organisation_id": "organisation",
    "parent_id": "organisation",
    "organiser_id": "organisation",
    "contact_id": "contact",
    "institution_id": "institution",
    "owner_institution_id": "institution",
    "meeting_id": "meeting",
    "origin_meeting_id": "meeting",
    "visit_id": "visit",
    "origin_visit_id": "visit",
    "event_id": "event",
}
NAME_COLUMNS = {
    "user_account": ("name",),
    "organisation": ("name",),
    "contact": ("given_name", "family_name"),
    "institution": ("short_name",),
    "meeting": ("reference",),
    "visit": ("reference",),
    "event": ("name",),
}


def _name_references(session: DbSession, rows: list[dict[str, Any]]) -> None:
    """Changes of a field that points to another record keep that record's name beside its id, as it was named at
    the time (``[old id, new id, old name, new name]``): the history shows "Orange Mali → Huawei Technologies", not
    "3 → 1". One statement per kind of record named, in the flush's own transaction."""
    references = [
        (REFERENCED_TABLE[field], pair)
        for row in rows
        if row["action"] != "create"  # a creation's values are not shown
        for field, pair in row["changes"].items()
        if field in REFERENCED_TABLE
    ]
    wanted: dict[str, set[int]] = {}
    for table_name, pair in references:
        wanted.setdefault(table_name, set()).update(v for v in pair if type(v) is int)
    named: dict[tuple[str, int], str] = {}
    for table_name, ids in wanted.items():
        if ids:
            table = Base.metadata.tables[table_name]
            columns = [table.c[name] for name in NAME_COLUMNS[table_name]]
            statement = select(table.c.id, *columns).where(table.c.id.in_(sorted(ids)))
            for found in session.connection().execute(statement):
                named[(table_name, found[0])] = " ".join(part for part in found[1:] if part)
    if named:
        for table_name, pair in references:
            pair.extend(named.get((table_name, v), "") if type(v) is int else "" for v in pair[:2])


def history(session: DbSession, owner_type: str, owner_id: int) -> list[AuditEvent]:
    """The newest events shown on a record's page (through a statement built once: the record a parameter)."""
    return list(session.scalars(_history_statement(), {"owner_type": owner_type, "owner_id": owner_id}))


@cache
def _history_statement() -> Select[tuple[AuditEvent]]:
    return (
        select(AuditEvent)
        .where(AuditEvent.owner_type == bindparam("owner_type"), AuditEvent.owner_id == bindparam("owner_id"))
        .order_by(AuditEvent.id.desc())
        .limit(50)
    )
