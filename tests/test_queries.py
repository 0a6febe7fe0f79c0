"""The number of SQL statements of each list and detail page does not grow with the data."""

from datetime import date

import pytest

from crm.auth.models import Role
from crm.partners.models import Contact, Organisation, Position


def _fill(db, n: int, tag: str) -> tuple[int, int]:
    orgs = [
        Organisation(
            name=f"Organisation {tag}{i}",
            name_key=f"organisation {tag}{i}",
            search=f"organisation {tag}{i}",
            country_code=["ML", "BF", "NE", "GH"][i % 4],
            kind="operator",
            sectors=",telecom,",
        )
        for i in range(n)
    ]
    db.session.add_all(orgs)
    db.session.flush()
    for org in orgs[1:]:
        org.parent_id = orgs[0].id
    contacts = [
        Contact(family_name=f"Nom {i}", given_name="Awa", sort_key=f"nom {i} awa", search=f"awa nom {i}")
        for i in range(n)
    ]
    db.session.add_all(contacts)
    db.session.flush()
    db.session.add_all(
        Position(
            contact_id=c.id, organisation_id=orgs[i % n].id, title="Chargé de mission", start_date=date(2024, 1, 1)
        )
        for i, c in enumerate(contacts)
    )
    db.session.commit()
    return orgs[0].id, contacts[0].id


PAGES = [
    "/organisations",
    "/organisations?country=AES&sector=telecom",
    "/organisations?sort=-name",
    "/contacts",
    "/contacts?country=ML",
    "/organisations/{org}",
    "/contacts/{contact}",
]


@pytest.mark.parametrize("page", PAGES)
def test_statement_count_is_the_same_at_10_and_1000_rows(app, client, db, login_as, count_queries, page):
    login_as(Role.VIEWER)
    counts = []
    for n in (10, 1000):
        org_id, contact_id = _fill(db, n, tag=str(n))
        url = page.format(org=org_id, contact=contact_id)
        client.get(url)  # warm: the session's last-seen touch happens at most once a minute
        with count_queries() as statements:
            response = client.get(url)
        assert response.status_code == 200
        counts.append(statements())
    assert counts[0] == counts[1], counts
    limit = 4 if "/organisations/" in page or "/contacts/" in page else 3
    assert counts[0] <= limit + 2, counts  # + the session lookup, + the country list of the filter form
