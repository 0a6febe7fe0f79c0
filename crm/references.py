"""Human references numbered per year (AUD-2026-0007, ENG-2026-0012), safe when two people save at once."""

from __future__ import annotations

from sqlalchemy import Integer, String, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import Base, DbSession


class ReferenceCounter(Base):
    __tablename__ = "reference_counter"

    prefix: Mapped[str] = mapped_column(String(8), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


def next_reference(session: DbSession, prefix: str, year: int) -> str:
    """The next free number for this prefix and year, taken with one atomic UPDATE."""
    key = (ReferenceCounter.prefix == prefix) & (ReferenceCounter.year == year)
    for _attempt in range(3):
        number = session.scalar(
            update(ReferenceCounter).where(key).values(last=ReferenceCounter.last + 1).returning(ReferenceCounter.last)
        )
        if number is not None:
            return f"{prefix}-{year}-{number:04d}"
        try:
            with session.begin_nested():
                session.execute(insert(ReferenceCounter).values(prefix=prefix, year=year, last=1))
            return f"{prefix}-{year}-0001"
        except IntegrityError:
            continue  # someone created the counter at the same moment: take the UPDATE path
    raise RuntimeError("could not allocate a reference")  # pragma: no cover
