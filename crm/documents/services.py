"""Stored files and attachments: checked from their content, kept in the database, served by id."""

from __future__ import annotations

import hashlib
import unicodedata
from functools import cache
from typing import IO

import filetype
from flask import current_app
from sqlalchemy import Select, bindparam, delete, select
from sqlalchemy.orm import joinedload

from crm.auth.models import User
from crm.db import DbSession
from crm.documents.models import Attachment, StoredFile
from crm.errors import DomainError
from crm.i18n import gettext as _
from crm.meetings.models import Meeting
from crm.visits.models import Visit

# What ministries exchange: signed scans, presentations, draft agreements. Detected from the bytes.
ALLOWED = {
    "pdf": "application/pdf",
    "png": "image/png",
    "jpg": "image/jpeg",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "odp": "application/vnd.oasis.opendocument.presentation",
}


class TooLarge(DomainError):
    status = 413


# --- stored files ------------------------------------------------------------------------------


def store_bytes(session: DbSession, data: bytes, content_type: str) -> StoredFile:
    """Keep bytes in the database; they are committed with the row that points to them, or not at all."""
    stored = StoredFile(sha256=hashlib.sha256(data).hexdigest(), size=len(data), content_type=content_type, data=data)
    session.add(stored)
    session.flush()
    return stored


def file_bytes(session: DbSession, file_id: int | None) -> bytes | None:
    """The bytes of a stored file, read on their own (the row's other columns are not needed to serve it)."""
    if file_id is None:
        return None
    return session.scalar(select(StoredFile.data).where(StoredFile.id == file_id))


def forget_file(session: DbSession, file_id: int | None) -> None:
    if file_id is not None:
        session.execute(delete(StoredFile).where(StoredFile.id == file_id))


# --- attachments -------------------------------------------------------------------------------


def clean_name(name: str) -> str:
    """The original name for display and download: no path, no control characters, not empty."""
    name = unicodedata.normalize("NFC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip(" .")
    return name[:200] or "document"


def store(
    session: DbSession,
    owner: Meeting | Visit,
    stream: IO[bytes],
    filename: str,
    description: str,
    actor: User,
    *,
    max_bytes: int,
) -> Attachment:
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise TooLarge(_("The file is too large (%(mb)s MB at most).", mb=max_bytes // (1024 * 1024)), field="file")
    if not data:
        raise DomainError(_("The file is empty."), field="file")
    kind = filetype.guess(data)
    if kind is None or kind.extension not in ALLOWED:
        raise DomainError(
            _("This kind of file is not accepted. Send a PDF, an image (PNG, JPEG), or an office document."),
            field="file",
        )
    stored = store_bytes(session, data, ALLOWED[kind.extension])
    attachment = Attachment(
        meeting_id=owner.id if isinstance(owner, Meeting) else None,
        visit_id=owner.id if isinstance(owner, Visit) else None,
        original_name=clean_name(filename),
        file_id=stored.id,
        content_type=stored.content_type,
        size=stored.size,
        sha256=stored.sha256,
        description=(description or "").strip()[:300],
        uploaded_by_id=actor.id,
    )
    session.add(attachment)
    session.flush()
    return attachment


def attach_upload(session: DbSession, owner: Meeting | Visit, upload, description: str, actor: User) -> Attachment:
    """A file sent from a form (meeting or visit), with the installation's size limit."""
    if upload is None or not upload.filename:
        raise DomainError(_("Choose a file to attach."), field="file")
    return store(
        session,
        owner,
        upload.stream,
        upload.filename,
        description,
        actor,
        max_bytes=current_app.config["CRM_MAX_ATTACHMENT_BYTES"],
    )


def delete_attachment(session: DbSession, attachment: Attachment) -> None:
    """The row and its bytes go together, in the request's transaction."""
    file_id = attachment.file_id
    session.delete(attachment)
    session.flush()
    forget_file(session, file_id)


def for_visit(session: DbSession, visit_id: int) -> list[Attachment]:
    return list(
        session.scalars(
            select(Attachment)
            .options(joinedload(Attachment.uploaded_by))
            .where(Attachment.visit_id == visit_id)
            .order_by(Attachment.id)
        )
    )


def for_meeting(session: DbSession, meeting_id: int) -> list[Attachment]:
    return list(session.scalars(_for_meeting_statement(), {"meeting_id": meeting_id}))


@cache
def _for_meeting_statement() -> Select[tuple[Attachment]]:
    """Built once (the meeting a parameter): the meeting page asks on every view."""
    return (
        select(Attachment)
        .options(joinedload(Attachment.uploaded_by))
        .where(Attachment.meeting_id == bindparam("meeting_id"))
        .order_by(Attachment.id)
    )
