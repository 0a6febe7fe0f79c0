"""Templates are compiled once per language with their fixed strings already translated (crm.i18n): pages must
still come in the reader's language, whatever the language of the page drawn before in the same process."""

from __future__ import annotations

from flask import render_template_string
from flask_babel import force_locale


def test_french_and_english_pages_alternate_in_one_process(client, db, login_as):
    login_as("officer")
    for language, meetings, skip, other in [
        ("fr", "Rencontres", "Aller au contenu", "Skip to content"),
        ("en", "Meetings", "Skip to content", "Aller au contenu"),
        ("fr", "Rencontres", "Aller au contenu", "Skip to content"),
    ]:
        page = client.get("/meetings", headers={"Accept-Language": language})
        assert page.status_code == 200
        assert f'<html lang="{language}">' in page.text
        assert f"<h1>{meetings}</h1>" in page.text
        assert skip in page.text and other not in page.text


def test_the_fixed_strings_are_in_the_compiled_template(app):
    environment = app.jinja_env
    source = "<a>{{ _('Skip to content') }}</a>{{ _('Back to the meetings') }}"
    with app.test_request_context(), force_locale("fr"):
        code = environment.compile(source, raw=True)
        assert "Aller au contenu" in code  # a literal of the template: no call, no look-up at render time
        assert "_template_gettext" not in code and "'_'" not in code
        assert render_template_string(source) == "<a>Aller au contenu</a>Retour aux rencontres"
    with app.test_request_context(), force_locale("en"):
        assert render_template_string(source) == "<a>Skip to content</a>Back to the meetings"


def test_what_varies_is_still_translated_when_drawn(app):
    with app.test_request_context(), force_locale("fr"):
        assert render_template_string("{{ _('Error %(status)s', status=404) }}") == "Erreur 404"
        # A template that names a variable "_" keeps its own meaning of it.
        assert render_template_string("{% set _ = 'mine' %}{{ _ }}") == "mine"
        # The values put into a translation are escaped, as always.
        assert render_template_string("{{ _('Error %(status)s', status='<b>') }}") == "Erreur &lt;b&gt;"
