"""Fill the French catalogue after `make translations`.

    .venv/bin/python scripts/po_fill.py --missing       list the msgids still untranslated (or fuzzy)
    .venv/bin/python scripts/po_fill.py < pairs.txt     fill them: blocks of "msgid line / msgstr line / blank"

Then `.venv/bin/pybabel compile -d translations`. Plural entries are edited in the .po file itself.
"""

import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

path = Path("translations/fr/LC_MESSAGES/messages.po")
with path.open("rb") as fh:
    catalog = read_po(fh, locale="fr")
if len(sys.argv) > 1 and sys.argv[1] == "--missing":
    for message in catalog:
        if message.id and (not message.string or message.fuzzy):
            print(repr(message.id))
    sys.exit()
filled = 0
for block in sys.stdin.read().strip().split("\n\n"):
    msgid, msgstr = block.split("\n")[:2]
    message = catalog.get(msgid)
    if message is None:
        print("NOT FOUND:", msgid)
        continue
    message.string = msgstr
    message.flags.discard("fuzzy")
    filled += 1
with path.open("wb") as fh:
    write_po(fh, catalog, width=0, omit_header=False, no_location=True)
print("filled", filled)
