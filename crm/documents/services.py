"""Attachments: checked from their content, stored under a generated name, never trusted by their name."""

from __future__ import annotations

import hashlib
import os
import secrets
import unicodedata
from pathlib import Path
from typing import IO

import filetype
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from crm.auth.models import User
from crm.documents.models import Attachment
from crm.errors import DomainError
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


def clean_name(name: str) -> str:
    """The original name for display and download: no path, no control characters, not empty."""
    name = unicodedata.normalize("NFC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip(" .")
    return name[:200] or "document"


def write_private(folder: Path, name: str, data: bytes) -> None:
    """Write a new file readable by the app only; an existing name is an error, never overwritten."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def store(
    session: Session,
    owner: Meeting | Visit,
    stream: IO[bytes],
    filename: str,
    description: str,
    actor: User,
    *,
    folder: str,
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
    stored = secrets.token_hex(16) + "." + kind.extension
    write_private(Path(folder), stored, data)
    attachment = Attachment(
        meeting_id=owner.id if isinstance(owner, Meeting) else None,
        visit_id=owner.id if isinstance(owner, Visit) else None,
        original_name=clean_name(filename),
        stored_name=stored,
        content_type=ALLOWED[kind.extension],
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        description=(description or "").strip()[:300],
        uploaded_by_id=actor.id,
    )
    session.add(attachment)
    session.flush()
    return attachment


def attach_upload(session: Session, owner: Meeting | Visit, upload, description: str, actor: User) -> Attachment:
    """A file sent from a form (meeting or visit), with the installation's folder and size limit."""
    if upload is None or not upload.filename:
        raise DomainError(_("Choose a file to attach."), field="file")
    return store(
        session,
        owner,
        upload.stream,
        upload.filename,
        description,
        actor,
        folder=current_app.config["CRM_ATTACHMENTS_DIR"],
        max_bytes=current_app.config["CRM_MAX_ATTACHMENT_BYTES"],
    )


def for_visit(session: Session, visit_id: int) -> list[Attachment]:
    return list(
        session.scalars(
            select(Attachment)
            .options(joinedload(Attachment.uploaded_by))
            .where(Attachment.visit_id == visit_id)
            .order_by(Attachment.id)
        )
    )


def for_meeting(session: Session, meeting_id: int) -> list[Attachment]:
    return list(
        session.scalars(
            select(Attachment)
            .options(joinedload(Attachment.uploaded_by))
            .where(Attachment.meeting_id == meeting_id)
            .order_by(Attachment.id)
        )
    )


def path_of(attachment: Attachment, folder: str) -> Path:
    return Path(folder) / attachment.stored_name
