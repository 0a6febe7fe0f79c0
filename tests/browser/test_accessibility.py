"""Every main page, in French and in English, on a phone (360 px) and a desktop (1280 px):

- axe-core (pinned in tests/tools, injected by Playwright) finds no WCAG 2.1 A/AA violation, nor a touch target
  under 24 × 24 px (its target-size rule);
- nothing runs off the side of the screen: the page never scrolls sideways.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from crm.auth.models import User
from crm.extensions import db
from tests import pages
from tests.browser.conftest import shot, sign_in
from tests.conftest import _make_app

AXE = Path(__file__).resolve().parents[1] / "tools" / "node_modules" / "axe-core" / "axe.min.js"
RULES = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "rules": {"target-size": {"enabled": True}},
}
WIDTHS = (360, 1280)


@pytest.fixture
def demo_server(tmp_path):
    app = _make_app(f"sqlite:///{tmp_path / 'a11y.sqlite3'}")
    with app.app_context():
        db.create_all()
        email = pages.load(db.session)
        paths = pages.main_pages(db.session)
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{server.server_port}", "app": app, "email": email, "paths": paths}
    server.shutdown()
    thread.join()


def _set_locale(server, lang: str) -> None:
    with server["app"].app_context():
        db.session.scalars(select(User).where(User.email == server["email"])).one().locale = lang
        db.session.commit()
        db.session.remove()


def _violations(page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("options => axe.run(document, options)", RULES)
    found = []
    for v in result["violations"]:
        for node in v["nodes"]:
            found.append(f"{v['id']}: {' '.join(node['target'])} — {node['failureSummary'].splitlines()[-1].strip()}")
    return found


SIDEWAYS = """() => {
  const width = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth <= width) return "";
  // The innermost elements running past the right edge: what to fix.
  const out = [...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > width + 0.5);
  const leaves = out.filter(e => !out.some(o => o !== e && e.contains(o)));
  return leaves.slice(0, 4).map(e => e.tagName.toLowerCase() + (e.className ? "." + e.className : "")
    + " (" + Math.round(e.getBoundingClientRect().right) + "px)").join(", ");
}"""


def _sideways(page) -> str:
    return page.evaluate(SIDEWAYS)


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_main_pages_pass_axe_and_fit_a_phone(demo_server, browser, lang):
    if not AXE.exists():
        pytest.fail("axe-core is not installed: run scripts/setup.sh --test")
    _set_locale(demo_server, lang)
    base = demo_server["url"]
    problems = []
    for width in WIDTHS:
        context = browser.new_context(locale=lang, viewport={"width": width, "height": 800}, bypass_csp=True)
        page = context.new_page()
        page.goto(f"{base}/login")
        problems += [f"{lang} {width}px login: {v}" for v in _violations(page)]
        problems += [f"{lang} {width}px login: runs off the screen: {n}" for n in [_sideways(page)] if n]
        shot(page, f"a11y-login-{lang}-{width}")
        sign_in(page, base, demo_server["email"])
        for name, path in demo_server["paths"].items():
            response = page.goto(base + path)
            assert response is not None and response.ok, (path, response and response.status)
            problems += [f"{lang} {width}px {name}: {v}" for v in _violations(page)]
            problems += [f"{lang} {width}px {name}: runs off the screen: {n}" for n in [_sideways(page)] if n]
            shot(page, f"a11y-{name}-{lang}-{width}")
        context.close()
    assert problems == [], f"{len(problems)} problems:\n" + "\n".join(problems)


def test_picking_partners_on_a_phone_leaves_buttons_big_enough_to_touch(demo_server, browser):
    _set_locale(demo_server, "fr")
    base = demo_server["url"]
    context = browser.new_context(locale="fr-FR", viewport={"width": 360, "height": 800}, bypass_csp=True)
    page = context.new_page()
    sign_in(page, base, demo_server["email"])
    page.goto(f"{base}/meetings/new")
    page.fill("#org-search", "Hua")
    options = page.locator("[data-pick]")
    options.first.wait_for()
    assert _violations(page) == []  # the list of matches

    options.first.click()
    options.first.click()

    remove = page.get_by_role("button", name="Retirer")
    assert remove.count() == 2
    for box in (remove.nth(i).bounding_box() for i in range(2)):
        assert box is not None and box["width"] >= 24 and box["height"] >= 24, box
    assert _violations(page) == []
    assert _sideways(page) == ""
    shot(page, "a11y-picked-partners-fr-360")
    context.close()
