"""The msgids are English: the English catalogue says them as they are, so it is complete by construction."""

from pathlib import Path

from babel.messages.pofile import read_po, write_po

path = Path(__file__).resolve().parent.parent / "translations" / "en" / "LC_MESSAGES" / "messages.po"
with path.open("rb") as fh:
    catalog = read_po(fh, locale="en")
for message in catalog:
    if message.id:
        message.string = message.id if isinstance(message.id, str) else tuple(message.id)
        message.flags.discard("fuzzy")
with path.open("wb") as fh:
    write_po(fh, catalog, width=0, omit_header=False, no_location=True)
