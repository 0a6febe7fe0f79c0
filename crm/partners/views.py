from __future__ import annotations

from flask import Blueprint, abort, current_app, request, url_for
from flask_babel import get_locale
from flask_login import current_user
from markupsafe import Markup, escape

from crm.audit import services as audit
from crm.auth.models import Role
from crm.auth.permissions import role_required
from crm.extensions import db, htmx
from crm.forms import DeleteForm, choices, form_data
from crm.i18n import gettext as _
from crm.partners import institutions as institution_services
from crm.partners import services
from crm.partners.forms import (
    ArchiveForm,
    ContactForm,
    FollowForm,
    InstitutionForm,
    OrganisationForm,
    PositionForm,
    contact_filters,
    organisation_filters,
)
from crm.partners.models import Contact, Institution, Organisation, OrgKind, Position, Sector
from crm.views import back_to, form_cycle, int_arg, redirect_to, render, saved

bp = Blueprint("partners", __name__)


def _countries():
    return services.country_choices(db.session, str(get_locale() or "fr"))


def _country_options(selected: str) -> Markup:
    """The country filter's options (249 of them, on every directory page): written once per language, the
    chosen one marked in that text, instead of a template loop on every request."""
    every = _country_options_html(str(get_locale() or "fr"))
    if not selected:
        return every
    mark = f'<option value="{escape(selected)}" >'
    return Markup(str(every).replace(mark, mark[:-1] + "selected>", 1))  # on the text: Markup's would escape


_options_by_locale: dict[str, Markup] = {}


def _country_options_html(locale: str) -> Markup:
    if locale not in _options_by_locale:
        _options_by_locale[locale] = Markup(
            "".join(
                f'<option value="{escape(code)}" >{escape(name)}</option>'
                for code, name in services.country_choices(db.session, locale)
            )
        )
    return _options_by_locale[locale]


# --- organisations -----------------------------------------------------------------------------


@bp.get("/organisations")
@role_required(Role.VIEWER)
def organisations():
    args = request.args
    filters = organisation_filters(args)
    page = services.list_organisations(
        db.session, filters, cursor=args.get("after"), size=current_app.config["CRM_PAGE_SIZE"]
    )
    return render(
        "partners/organisations.html",
        page=page,
        filters=filters,
        country_options=Markup() if htmx else _country_options(filters.country),
        kinds=OrgKind,
        sectors=Sector,
    )


def _organisation_form(form: OrganisationForm, exclude_id: int | None = None) -> OrganisationForm:
    form.country_code.choices = choices(_countries())
    form.parent_id.choices = choices(services.organisation_choices(db.session, exclude_id), empty="—")
    return form


@bp.route("/organisations/new", methods=["GET", "POST"])
@role_required(Role.STAFF)
def organisation_new():
    form = _organisation_form(OrganisationForm())
    if request.method == "GET":
        form.country_code.data = form.country_code.data or "ML"
        form.parent_id.data = int_arg("parent")
    return form_cycle(
        form,
        lambda: services.save_organisation(db.session, form_data(form)),
        done=lambda org: saved(
            url_for("partners.organisation", org_id=org.id), _("Organisation “%(name)s” created.", name=org.name)
        ),
        page=lambda **kw: render("partners/organisation_form.html", form=form, **kw),
    )


@bp.get("/organisations/<int:org_id>")
@role_required(Role.VIEWER)
def organisation(org_id: int):
    org = services.organisation_detail(db.session, org_id) or abort(404)
    return render(
        "partners/organisation.html",
        org=org,
        people=services.organisation_people(db.session, org_id),
        units=services.organisation_units(db.session, org_id),
        history=audit.history(db.session, "organisation", org_id),
        archive_form=ArchiveForm(obj=org),
        following=services.follows(db.session, current_user.id, org_id),
        follow_form=FollowForm(formdata=None),
    )


@bp.post("/organisations/<int:org_id>/follow")
@role_required(Role.VIEWER)
def organisation_follow(org_id: int):
    """One click: follow a partner (its news comes to the home page), or stop."""
    org = db.get_or_404(Organisation, org_id)
    form = FollowForm()
    if not form.validate_on_submit():
        abort(400)
    following = services.set_follow(db.session, current_user.id, org.id, follow=form.follow.data == "1")
    if htmx:
        return render("partners/_follow.html", org=org, following=following, follow_form=FollowForm(formdata=None))
    return redirect_to(url_for("partners.organisation", org_id=org.id))


@bp.route("/organisations/<int:org_id>/edit", methods=["GET", "POST"])
@role_required(Role.STAFF)
def organisation_edit(org_id: int):
    org = db.get_or_404(Organisation, org_id)
    form = _organisation_form(OrganisationForm(obj=org), exclude_id=org.id)
    del form.submission  # an edit is guarded by the version, not by a one-time token
    if request.method == "GET":
        form.sectors.data = org.sector_list
    return form_cycle(
        form,
        lambda: services.save_organisation(db.session, form_data(form), org, form.version.data),
        done=lambda _org: saved(url_for("partners.organisation", org_id=org_id), _("Organisation saved.")),
        page=lambda **kw: render("partners/organisation_form.html", form=form, org=org, **kw),
        record=org,
    )


def _archive(obj: Organisation | Contact, archived: bool, back: str):
    form = ArchiveForm()
    message = _("Archived: it no longer appears in lists, and can be restored.") if archived else _("Restored.")
    return form_cycle(
        form,
        lambda: services.set_archived(db.session, obj, archived, form.version.data),
        done=lambda _none: saved(back, message),
        page=back_to(back),
        invalid_status=400,
    )


@bp.post("/organisations/<int:org_id>/archive")
@role_required(Role.OFFICER)
def organisation_archive(org_id: int):
    return _archive(db.get_or_404(Organisation, org_id), True, url_for("partners.organisation", org_id=org_id))


@bp.post("/organisations/<int:org_id>/restore")
@role_required(Role.OFFICER)
def organisation_restore(org_id: int):
    return _archive(db.get_or_404(Organisation, org_id), False, url_for("partners.organisation", org_id=org_id))


# --- contacts --------------------------------------------------------------------------------


@bp.get("/contacts")
@role_required(Role.VIEWER)
def contacts():
    args = request.args
    filters = contact_filters(args)
    page = services.list_contacts(
        db.session, filters, cursor=args.get("after"), size=current_app.config["CRM_PAGE_SIZE"], list_rows=True
    )
    return render(
        "partners/contacts.html",
        page=page,
        filters=filters,
        country_options=Markup() if htmx else _country_options(filters.country),
        posts=services.current_posts(db.session, [c.id for c in page.rows]),
    )


@bp.route("/contacts/new", methods=["GET", "POST"])
@role_required(Role.STAFF)
def contact_new():
    form = ContactForm()
    return form_cycle(
        form,
        lambda: services.save_contact(db.session, form_data(form)),
        done=lambda contact: saved(
            url_for("partners.contact", contact_id=contact.id),
            _("Contact “%(name)s” created. Add their position below.", name=contact.full_name),
        ),
        page=lambda **kw: render("partners/contact_form.html", form=form, **kw),
    )


@bp.get("/contacts/<int:contact_id>")
@role_required(Role.VIEWER)
def contact(contact_id: int):
    person = services.contact_detail(db.session, contact_id) or abort(404)
    return render(
        "partners/contact.html",
        contact=person,
        current=services.current_positions(person),
        history=audit.history(db.session, "contact", contact_id),
        archive_form=ArchiveForm(obj=person),
    )


@bp.route("/contacts/<int:contact_id>/edit", methods=["GET", "POST"])
@role_required(Role.STAFF)
def contact_edit(contact_id: int):
    person = db.get_or_404(Contact, contact_id)
    form = ContactForm(obj=person)
    del form.submission
    if request.method == "GET":
        form.languages.data = person.language_list
    return form_cycle(
        form,
        lambda: services.save_contact(db.session, form_data(form), person, form.version.data),
        done=lambda _c: saved(url_for("partners.contact", contact_id=contact_id), _("Contact saved.")),
        page=lambda **kw: render("partners/contact_form.html", form=form, contact=person, **kw),
        record=person,
    )


@bp.post("/contacts/<int:contact_id>/archive")
@role_required(Role.OFFICER)
def contact_archive(contact_id: int):
    return _archive(db.get_or_404(Contact, contact_id), True, url_for("partners.contact", contact_id=contact_id))


@bp.post("/contacts/<int:contact_id>/restore")
@role_required(Role.OFFICER)
def contact_restore(contact_id: int):
    return _archive(db.get_or_404(Contact, contact_id), False, url_for("partners.contact", contact_id=contact_id))


# --- positions (edited inline on the contact page) ---------------------------------------------


def _position_form(form: PositionForm) -> PositionForm:
    form.organisation_id.choices = choices(services.organisation_choices(db.session))
    return form


@bp.route("/contacts/<int:contact_id>/positions/new", methods=["GET", "POST"])
@role_required(Role.STAFF)
def position_new(contact_id: int):
    person = db.get_or_404(Contact, contact_id)
    form = _position_form(PositionForm())
    if request.method == "GET":
        form.organisation_id.data = int_arg("organisation")
    return form_cycle(
        form,
        lambda: services.save_position(db.session, person, form_data(form), succeeds_holder=form.succeeds_holder.data),
        done=lambda _p: saved(url_for("partners.contact", contact_id=contact_id), _("Position added.")),
        page=lambda **kw: render("partners/position_form.html", form=form, contact=person, **kw),
    )


@bp.route("/positions/<int:position_id>/edit", methods=["GET", "POST"])
@role_required(Role.STAFF)
def position_edit(position_id: int):
    position = db.get_or_404(Position, position_id)
    person = db.get_or_404(Contact, position.contact_id)
    form = _position_form(PositionForm(obj=position))
    del form.submission
    return form_cycle(
        form,
        lambda: services.save_position(
            db.session,
            person,
            form_data(form),
            position,
            form.version.data,
            succeeds_holder=form.succeeds_holder.data,
        ),
        done=lambda _p: saved(url_for("partners.contact", contact_id=person.id), _("Position saved.")),
        page=lambda **kw: render("partners/position_form.html", form=form, contact=person, position=position, **kw),
        record=position,
    )


@bp.post("/positions/<int:position_id>/delete")
@role_required(Role.OFFICER)
def position_delete(position_id: int):
    position = db.get_or_404(Position, position_id)
    back = url_for("partners.contact", contact_id=position.contact_id)
    form = ArchiveForm()
    return form_cycle(
        form,
        lambda: services.delete_position(db.session, position, form.version.data),
        done=lambda _none: saved(back, _("Position deleted.")),
        page=back_to(back),
        invalid_status=400,
    )


# --- institutions (installation administrators) -------------------------------------------------


@bp.get("/admin/institutions")
@role_required(Role.INSTALLATION_ADMIN)
def institutions_list():
    return render("partners/institutions.html", institutions=institution_services.all_institutions(db.session))


def _institution_form(form: InstitutionForm) -> InstitutionForm:
    form.organisation_id.choices = choices(services.organisation_choices(db.session))
    return form


@bp.route("/admin/institutions/new", methods=["GET", "POST"])
@bp.route("/admin/institutions/<int:institution_id>", methods=["GET", "POST"])
@role_required(Role.INSTALLATION_ADMIN)
def institution_form(institution_id: int | None = None):
    record = db.get_or_404(Institution, institution_id) if institution_id else None
    form = _institution_form(InstitutionForm(obj=record))
    return form_cycle(
        form,
        lambda: institution_services.save_institution(db.session, form_data(form), record, form.version.data),
        done=lambda saved_one: saved(
            url_for("partners.institutions_list"), _("Institution %(name)s saved.", name=saved_one.short_name)
        ),
        page=lambda **kw: render("partners/institution_form.html", form=form, institution=record, **kw),
        record=record,
    )


@bp.post("/admin/institutions/<int:institution_id>/delete")
@role_required(Role.INSTALLATION_ADMIN)
def institution_delete(institution_id: int):
    record = db.get_or_404(Institution, institution_id)
    back = url_for("partners.institutions_list")
    return form_cycle(
        DeleteForm(),
        lambda: institution_services.delete_institution(db.session, record),
        done=lambda _none: saved(back, _("Institution deleted.")),
        page=back_to(back),
        invalid_status=400,
    )
