"""The floor: a minimal Flask app running the same SQL as the app, through the raw driver, on the same database,
rendering a bare Jinja table of the rows; and WeasyPrint alone on the same minutes HTML as the app.

$CRM_BENCH_PLAN is a pickle written by the bench: the database (driver and DSN) and, per page, the SELECT
statements and parameters the app ran for it (captured at the DBAPI level, so they are byte for byte the same).
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

from flask import Flask, Response, render_template
from jinja2 import DictLoader

PLAN = pickle.loads(Path(os.environ["CRM_BENCH_PLAN"]).read_bytes())
TABLE = """<!doctype html><html><head><meta charset="utf-8"><title>{{ label }}</title></head><body>
<table>{% for rows in results %}{% for row in rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}{% endfor %}</table></body></html>"""

app = Flask(__name__)
# A template as a minimal Flask app has one, compiled once and kept (render_template_string compiled its source on
# every request: ~0.7 ms, four times the rendering itself, which made the floor slower than a minimal app).
app.jinja_loader = DictLoader({"table.html": TABLE})
_conn: list = []


def connection():
    if not _conn:
        if PLAN["driver"] == "sqlite":
            import sqlite3

            _conn.append(sqlite3.connect(PLAN["dsn"], check_same_thread=False))
        else:
            import psycopg

            _conn.append(psycopg.connect(PLAN["dsn"], autocommit=True))
    return _conn[0]


@app.get("/page/<label>")
def page(label: str):
    conn = connection()
    results = []
    cursor = conn.cursor()
    for statement, parameters in PLAN["pages"][label]:
        cursor.execute(statement, parameters)
        results.append(cursor.fetchall())
    if PLAN["driver"] == "sqlite":
        conn.rollback()
    return render_template("table.html", label=label, results=results)


_pdf: dict = {}


@app.get("/pdf")
def pdf():
    """The app's minutes HTML through WeasyPrint, fonts and stylesheet kept warm as the app's renderer does."""
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    from crm.documents.pdf import STATIC_PREFIX, LocalOnlyFetcher

    if not _pdf:
        static = Path(__file__).resolve().parents[2] / "static"
        fonts = FontConfiguration()
        fetcher = LocalOnlyFetcher(static)
        css_text = (Path(__file__).resolve().parents[2] / "templates" / "pdf" / "print.css").read_text("utf-8")
        _pdf.update(
            fonts=fonts,
            static=static,
            css=CSS(string=css_text, base_url=STATIC_PREFIX, url_fetcher=fetcher, font_config=fonts),
            html=Path(PLAN["html"]).read_text("utf-8"),
        )
    fetcher = LocalOnlyFetcher(_pdf["static"])
    data = HTML(string=_pdf["html"], base_url=STATIC_PREFIX, url_fetcher=fetcher).write_pdf(
        stylesheets=[_pdf["css"]],
        font_config=_pdf["fonts"],
        pdf_tags=True,  # a draft is a tagged PDF, as the app's
    )
    return Response(data, content_type="application/pdf")
