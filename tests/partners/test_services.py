from datetime import date

import pytest
from sqlalchemy import select

from crm.errors import DomainError, Duplicate
from crm.partners import services
from crm.partners.models import Country, Organisation, OrgKind, Position
from tests.conftest import STALE_FR, make_contact, make_org


def test_countries_come_from_iso_with_french_and_english_names(db):
    countries = {c.code: c for c in db.session.scalars(select(Country))}
    assert len(countries) == 249
    assert countries["CI"].name_fr == "Côte d’Ivoire" and countries["CI"].name_en == "Côte d’Ivoire"
    assert countries["DE"].name_fr == "Allemagne" and countries["DE"].name_en == "Germany"
    assert {c for c, row in countries.items() if row.is_aes} == {"ML", "BF", "NE"}


def test_country_choices_put_the_aes_first(db):
    codes = [code for code, _name in services.country_choices(db.session, "fr")]
    assert codes[:3] == ["BF", "ML", "NE"]


@pytest.mark.parametrize("typed", ["ORANGE MALI", " orange  mali ", "Orangé Mali"])
def test_duplicate_organisation_is_refused_with_the_existing_one(db, typed):
    existing = make_org("Orange Mali", "ML")
    with pytest.raises(Duplicate) as err:
        services.save_organisation(db.session, {"name": typed, "country_code": "ML", "kind": OrgKind.OPERATOR})
    assert err.value.existing.id == existing.id


def test_same_name_in_another_country_is_a_different_organisation(db):
    make_org("Ministère de la Communication", "ML")
    assert make_org("Ministère de la Communication", "NE").id


def test_organisation_cannot_be_its_own_ancestor(db):
    ministry = make_org("Ministère", "ML", kind=OrgKind.MINISTRY)
    agency = make_org("AGETIC", "ML", kind=OrgKind.AGENCY, parent_id=ministry.id)
    with pytest.raises(DomainError) as err:
        services.save_organisation(
            db.session, {"name": "Ministère", "country_code": "ML", "parent_id": agency.id}, ministry, ministry.version
        )
    assert err.value.field == "parent_id"


def test_unknown_country_or_parent_is_refused(db):
    with pytest.raises(DomainError, match=r"^Pays inconnu\.$"):
        services.save_organisation(db.session, {"name": "X", "country_code": "ZZ"})
    with pytest.raises(DomainError, match=r"^L’organisation de rattachement n’existe pas\.$"):
        services.save_organisation(db.session, {"name": "X", "country_code": "ML", "parent_id": 999})


def test_stale_version_is_refused(db):
    org = make_org()
    with pytest.raises(DomainError) as err:
        services.save_organisation(db.session, {"name": "Orange", "country_code": "ML"}, org, org.version - 1)
    assert err.value.status == 409 and err.value.message.startswith(STALE_FR)


def test_position_must_not_end_before_it_starts(db):
    org, person = make_org(), make_contact()
    with pytest.raises(DomainError) as err:
        services.save_position(
            db.session,
            person,
            {"organisation_id": org.id, "title": "DG", "start_date": date(2026, 1, 1), "end_date": date(2025, 1, 1)},
        )
    assert err.value.field == "end_date"


def test_new_director_general_ends_the_predecessors_position(db):
    orange = make_org()
    previous = make_contact("Konaté", "Seydou")
    new = make_contact()
    services.save_position(
        db.session,
        previous,
        {"organisation_id": orange.id, "title": "Directeur général", "start_date": date(2022, 3, 1)},
    )
    services.save_position(
        db.session,
        new,
        {"organisation_id": orange.id, "title": "directeur général", "start_date": date(2026, 1, 1)},
        succeeds_holder=True,
    )
    db.session.commit()
    ended = db.session.scalars(select(Position).where(Position.contact_id == previous.id)).one()
    assert ended.end_date == date(2025, 12, 31)
    reloaded = services.contact_detail(db.session, previous.id)
    assert services.title_on(reloaded, orange.id, date(2025, 6, 1)) == "Directeur général"
    assert services.title_on(reloaded, orange.id, date(2026, 1, 22)) == ""
    assert services.title_on(services.contact_detail(db.session, new.id), orange.id, date(2026, 1, 22))


@pytest.mark.parametrize("typed", ["n'diaye", "N’Diaye", "NDIAYE", "leyti n", "Ndiaye"])
def test_contact_search_ignores_case_accents_and_apostrophes(db, typed):
    make_contact("N’Diaye", "Leyti")
    make_contact("Zerbo Sabané", "Aminata")
    page = services.list_contacts(db.session, services.ContactFilters(q=typed), cursor=None, size=25)
    assert [c.family_name for c in page.rows] == ["N’Diaye"]


@pytest.mark.parametrize("typed", ["ߝߊߕߎߡߊߕߊ", "مريم", "ⵉⴱⵔⴰⵀⵉⵎ"])
def test_contact_search_finds_names_in_nko_arabic_and_tifinagh(db, typed):
    make_contact("Keïta", "Fatoumata", native_name="ߝߊߕߎߡߊߕߊ ߞߋߕߊ")
    make_contact("Ould Ahmed", "Mariam", native_name="مريم ولد أحمد")
    make_contact("Ag Mohamed", "Ibrahim", native_name="ⵉⴱⵔⴰⵀⵉⵎ ⴰⴳ ⵎⵓⵃⴰⵎⵎⴰⴷ")
    page = services.list_contacts(db.session, services.ContactFilters(q=typed), cursor=None, size=25)
    assert len(page.rows) == 1 and typed in page.rows[0].native_name


def test_search_treats_percent_and_underscore_literally(db):
    make_org("Orange Mali")
    page = services.list_organisations(db.session, services.OrgFilters(q="%"), cursor=None, size=25)
    assert page.rows == []


def test_filters_by_kind_country_aes_and_sector(db):
    make_org("Orange Mali", "ML", kind=OrgKind.OPERATOR, sectors=["telecom"])
    make_org("MTDPCE", "BF", kind=OrgKind.MINISTRY, sectors=["postal"])
    make_org("Ghana ministry", "GH", kind=OrgKind.MINISTRY)

    def names(**kw):
        page = services.list_organisations(db.session, services.OrgFilters(**kw), cursor=None, size=25)
        return sorted(o.name for o in page.rows)

    assert names(country="AES") == ["MTDPCE", "Orange Mali"]
    assert names(country="GH") == ["Ghana ministry"]
    assert names(kind="ministry") == ["Ghana ministry", "MTDPCE"]
    assert names(sector="telecom") == ["Orange Mali"]
    assert names(kind="ministry", country="AES") == ["MTDPCE"]


def test_archived_organisations_leave_the_list_and_come_back(db):
    org = make_org()
    services.set_archived(db.session, org, True, org.version)
    db.session.commit()
    assert services.list_organisations(db.session, services.OrgFilters(), cursor=None, size=25).rows == []
    assert services.list_organisations(db.session, services.OrgFilters(archived=True), cursor=None, size=25).rows
    services.set_archived(db.session, org, False, org.version)
    assert services.list_organisations(db.session, services.OrgFilters(), cursor=None, size=25).rows


@pytest.mark.parametrize("sort", ["name", "-name", "country", "recent"])
def test_keyset_pages_cover_every_row_once_in_order(db, sort):
    for i in range(23):
        db.session.add(
            Organisation(
                name=f"Org {i:02d}",
                country_code=["ML", "BF", "NE"][i % 3],
                kind="other",
                name_key=f"org {i:02d}",
                search=f"org {i:02d}",
                sectors="",
            )
        )
    db.session.commit()
    seen, cursor = [], None
    while True:
        page = services.list_organisations(db.session, services.OrgFilters(sort=sort), cursor=cursor, size=5)
        seen.extend(page.rows)
        cursor = page.next_cursor
        if not cursor:
            break
    assert len(seen) == 23 and len({o.id for o in seen}) == 23
    expected = {
        "name": sorted(seen, key=lambda o: o.name_key),
        "-name": sorted(seen, key=lambda o: o.name_key, reverse=True),
        "country": sorted(seen, key=lambda o: (o.country_code, o.name_key)),
        "recent": sorted(seen, key=lambda o: o.id, reverse=True),
    }[sort]
    assert [o.id for o in seen] == [o.id for o in expected]
