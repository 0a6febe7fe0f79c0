"""Translations looked up once per request for what pages translate many times (template strings, labels).

flask_babel's ``gettext`` finds its request state three times a call (domain, locale, catalogue): a list page
translates a hundred strings and labels, so that lookup cost more than the translating. Here the catalogue is
kept beside flask_babel's own state, keyed by its locale object, so ``force_locale`` (e-mails and PDFs in their
reader's language) and ``refresh`` still switch language as they do for flask_babel's functions.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from datetime import tzinfo
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.support import NullTranslations
from flask import g
from flask.globals import _cv_app
from flask.templating import Environment as FlaskEnvironment
from flask_babel import get_locale, get_timezone, get_translations
from flask_babel.speaklater import LazyString
from jinja2 import Environment, Template, nodes, pass_context
from jinja2.runtime import Context
from jinja2.visitor import NodeTransformer
from markupsafe import Markup

_UNTRANSLATED = NullTranslations()  # outside an application context, as flask_babel (one object: a cache key)


def _state() -> Any:
    """flask_babel's per-request state (locale, zone), or None outside an application context.

    Read from the application context itself (what ``g`` stands for) rather than through the ``g`` proxy: a list
    page asks a few hundred times (every label, date and translated string)."""
    context = _cv_app.get(None)
    return getattr(context.g, "_flask_babel", None) if context is not None else None


def locale() -> Locale | None:
    """As flask_babel's ``get_locale``, without its lookups once the locale is chosen."""
    return getattr(_state(), "babel_locale", None) or get_locale()


def timezone() -> tzinfo:
    """The zone flask_babel chose (``get_timezone``), as a ``ZoneInfo``: a list converts a moment on every row, and
    ``astimezone`` took ~1.9 µs with flask_babel's pytz zone, 0.26 µs with the same zone from ``zoneinfo``."""
    return _zone(str(getattr(_state(), "babel_tzinfo", None) or get_timezone()))


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def translations() -> NullTranslations:
    """The catalogue of the current locale (flask_babel's, found once per request and locale)."""
    state = _state()
    locale = getattr(state, "babel_locale", None)
    if locale is None:  # the locale not chosen yet (flask_babel chooses it now), or no application context
        return get_translations() if g else _UNTRANSLATED
    cached = getattr(state, "crm_translations", None)
    if cached is None or cached[0] is not locale:
        cached = (locale, get_translations())
        state.crm_translations = cached
    return cached[1]


KEPT = 10_000  # translations kept at most (the catalogues hold ~1,500 strings; a computed msgid is not kept forever)
_TEXT: dict[tuple[NullTranslations, str], str] = {}  # labels (enums, form fields) as last translated


def gettext(string: str, **variables: Any) -> str:
    catalogue = translations()
    if variables:
        return catalogue.ugettext(string) % variables
    text = _TEXT.get((catalogue, string))
    if text is None:
        text = catalogue.ugettext(string)
        if len(_TEXT) < KEPT:
            _TEXT[(catalogue, string)] = text
    return text


def ngettext(singular: str, plural: str, num: int, **variables: Any) -> str:
    variables.setdefault("num", num)
    return translations().ungettext(singular, plural, num) % variables


def lazy_gettext(string: str, **variables: Any) -> LazyString:
    """As flask_babel's: translated when shown, in the language of that moment."""
    return LazyString(gettext, string, **variables)


@pass_context
def _template_gettext(context: Context, string: str, **variables: Any) -> str:
    """Jinja's newstyle ``gettext`` in one call instead of three: escaped unless the template is plain text, and
    always formatted (so "%%" reads "%" whether or not the string has variables), as Jinja's own. Templates' fixed
    strings are translated when they are compiled (``TranslatedEnvironment``): what comes here has variables."""
    text = translations().ugettext(string)
    if context.eval_ctx.autoescape:
        text = Markup(text)
    return text % variables


def install(jinja_env: Environment) -> None:
    """Templates' ``_``, ``gettext`` and ``ngettext`` through the per-request catalogue (newstyle, as
    flask_babel installs them: the same escaping and formatting)."""
    jinja_env.install_gettext_callables(  # type: ignore[attr-defined]  # added by jinja2.ext.i18n
        gettext=lambda s: translations().ugettext(s),
        ngettext=lambda s, p, n: translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: translations().unpgettext(c, s, p, n),
    )
    jinja_env.globals.update(_=_template_gettext, gettext=_template_gettext)  # the one a page calls 100 times


# --- templates compiled once per language, their fixed strings already translated ---------------------------------

TEMPLATE_GETTEXT = frozenset({"_", "gettext"})


class TranslatedEnvironment(FlaskEnvironment):
    """Flask's template environment, with each template compiled once per catalogue (language) and every
    ``_("fixed text")`` of it replaced by its translation at compile time.

    A page calls ``_`` some sixty to a hundred times with a fixed string: each was a call through Jinja's context
    and a catalogue look-up on every render. Translated at compile time, the text is part of the template's own
    static output, as if written in the template. What varies is untouched: ``_("… %(n)s", n=…)``, ``ngettext``, a
    template that names a variable ``_``. Jinja's own template cache is keyed by name only, hence ours, keyed by
    name and catalogue (``force_locale`` renders e-mails and PDFs in their reader's language).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.translated: dict[tuple[str, NullTranslations], Template] = {}

    def _load_template(self, name: str, globals: MutableMapping[str, Any] | None) -> Template:
        if self.loader is None:
            raise TypeError("no loader for this environment specified")
        key = (name, translations())
        template = self.translated.get(key)
        if template is not None and (not self.auto_reload or template.is_up_to_date):
            if globals:
                template.globals.update(globals)
            return template
        template = self.loader.load(self, name, self.make_globals(globals))
        self.translated[key] = template
        return template

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        shadowed = {node.name for node in tree.find_all(nodes.Name) if node.ctx in ("store", "param")}
        if TEMPLATE_GETTEXT & shadowed:
            return tree
        return _FixedStrings(translations()).visit(tree)


class _FixedStrings(NodeTransformer):
    """``_("text")`` → the translation, marked safe where the template escapes (as ``_template_gettext`` returns
    it) and formatted without variables ("%%" reads "%"), as ``_template_gettext`` does."""

    def __init__(self, catalogue: NullTranslations) -> None:
        self.catalogue = catalogue

    def visit_Call(self, node: nodes.Call) -> nodes.Node:  # noqa: N802 (Jinja's visitor naming)
        called, args = node.node, node.args
        string = args[0].value if len(args) == 1 and isinstance(args[0], nodes.Const) else None
        fixed = (
            isinstance(called, nodes.Name)
            and called.name in TEMPLATE_GETTEXT
            and not node.kwargs
            and node.dyn_args is None
            and node.dyn_kwargs is None
        )
        if not fixed or not isinstance(string, str):
            return self.generic_visit(node)
        try:
            text = self.catalogue.ugettext(string) % {}
        except (TypeError, ValueError, KeyError):  # a "%" the template would fail on too: left to fail there
            return node
        return nodes.MarkSafeIfAutoescape(nodes.Const(text, lineno=node.lineno), lineno=node.lineno)
