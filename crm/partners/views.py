from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from crm.audit import services as audit
from crm.auth.models import Role
from crm.auth.permissions import role_required
from crm.errors import DomainError
from crm.extensions import db, htmx
from crm.forms import form_data
from crm.partners import services
from crm.partners.forms import ArchiveForm, ContactForm, OrganisationForm, PositionForm
from crm.partners.models import ORG_KIND_LABELS, SECTOR_LABELS, Contact, Organisation, Position
from crm.views import form_refusal, int_arg, redirect_to, render

bp = Blueprint("partners", __name__)


def _countries() -> list[tuple[str, str]]:
    return services.country_choices(db.session, str(get_locale() or "fr"))


# --- organisations -----------------------------------------------------------------------------


@bp.get("/")
@bp.get("/organisations")
@role_required(Role.VIEWER)
def organisations():
    args = request.args
    filters = services.OrgFilters(
        q=args.get("q", "")[:200],
        kind=args.get("kind", "") if args.get("kind", "") in {k.value for k in ORG_KIND_LABELS} else "",
        country=args.get("country", "")[:3],
        sector=args.get("sector", "") if args.get("sector", "") in SECTOR_LABELS else "",
        archived=args.get("archived") == "1",
        sort=args.get("sort", "name"),
    )
    page = services.list_organisations(
        db.session, filters, cursor=args.get("after"), size=current_app.config["CRM_PAGE_SIZE"]
    )
    return render(
        "partners/organisations.html",
        page=page,
        filters=filters,
        countries=[] if htmx else _countries(),
        kinds=ORG_KIND_LABELS,
        sectors=SECTOR_LABELS,
    )


def _organisation_form(form: OrganisationForm, exclude_id: int | None = None) -> OrganisationForm:
    form.country_code.choices = _countries()
    form.parent_id.choices = [(None, "—"), *services.organisation_choices(db.session, exclude_id)]
    return form


@bp.route("/organisations/new", methods=["GET", "POST"])
@role_required(Role.STAFF)
def organisation_new():
    form = _organisation_form(OrganisationForm())
    if request.method == "GET":
        form.country_code.data = form.country_code.data or "ML"
        if request.args.get("parent"):
            form.parent_id.data = int_arg("parent")
    if form.validate_on_submit():
        try:
            org = services.save_organisation(db.session, form_data(form))
        except DomainError as exc:
            db.session.rollback()
            return render(
                "partners/organisation_form.html",
                form=form,
                error=form_refusal(form, exc),
                duplicate=getattr(exc, "existing", None),
                status=exc.status,
            )
        db.session.commit()
        flash(_("Organisation “%(name)s” created.", name=org.name), "success")
        return redirect_to(url_for("partners.organisation", org_id=org.id))
    status = 422 if request.method == "POST" else 200
    return render("partners/organisation_form.html", form=form, status=status)


@bp.get("/organisations/<int:org_id>")
@role_required(Role.VIEWER)
def organisation(org_id: int):
    org = services.organisation_detail(db.session, org_id) or abort(404)
    return render(
        "partners/organisation.html",
        org=org,
        people=services.organisation_people(db.session, org_id),
        units=services.organisation_units(db.session, org_id),
        history=db.session.scalars(audit.history_for("organisation", org_id)).all(),
        archive_form=ArchiveForm(obj=org),
        sectors=SECTOR_LABELS,
    )


@bp.route("/organisations/<int:org_id>/edit", methods=["GET", "POST"])
@role_required(Role.STAFF)
def organisation_edit(org_id: int):
    org = db.get_or_404(Organisation, org_id)
    form = _organisation_form(OrganisationForm(obj=org), exclude_id=org.id)
    if request.method == "GET":
        form.sectors.data = org.sector_list
    if form.validate_on_submit():
        try:
            services.save_organisation(db.session, form_data(form), org, form.version.data)
        except DomainError as exc:
            db.session.rollback()
            return render(
                "partners/organisation_form.html",
                form=form,
                org=org,
                error=form_refusal(form, exc, org),
                duplicate=getattr(exc, "existing", None),
                status=exc.status,
            )
        db.session.commit()
        flash(_("Organisation saved."), "success")
        return redirect_to(url_for("partners.organisation", org_id=org.id))
    status = 422 if request.method == "POST" else 200
    return render("partners/organisation_form.html", form=form, org=org, status=status)


@bp.post("/organisations/<int:org_id>/archive")
@role_required(Role.OFFICER)
def organisation_archive(org_id: int):
    return _archive(db.get_or_404(Organisation, org_id), True, url_for("partners.organisation", org_id=org_id))


@bp.post("/organisations/<int:org_id>/restore")
@role_required(Role.OFFICER)
def organisation_restore(org_id: int):
    return _archive(db.get_or_404(Organisation, org_id), False, url_for("partners.organisation", org_id=org_id))


def _archive(obj: Organisation | Contact, archived: bool, back: str):
    form = ArchiveForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.set_archived(db.session, obj, archived, form.version.data)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect_to(back)
    db.session.commit()
    flash(_("Archived: it no longer appears in lists, and can be restored.") if archived else _("Restored."), "success")
    return redirect_to(back)


# --- contacts --------------------------------------------------------------------------------


@bp.get("/contacts")
@role_required(Role.VIEWER)
def contacts():
    args = request.args
    filters = services.ContactFilters(
        q=args.get("q", "")[:200],
        country=args.get("country", "")[:3],
        organisation_id=int_arg("organisation"),
        archived=args.get("archived") == "1",
        sort=args.get("sort", "name"),
    )
    page = services.list_contacts(
        db.session, filters, cursor=args.get("after"), size=current_app.config["CRM_PAGE_SIZE"]
    )
    return render(
        "partners/contacts.html",
        page=page,
        filters=filters,
        countries=[] if htmx else _countries(),
        current_positions=services.current_positions,
    )


@bp.route("/contacts/new", methods=["GET", "POST"])
@role_required(Role.STAFF)
def contact_new():
    form = ContactForm()
    if form.validate_on_submit():
        contact = services.save_contact(db.session, form_data(form))
        db.session.commit()
        flash(_("Contact “%(name)s” created. Add their position below.", name=contact.full_name), "success")
        return redirect_to(url_for("partners.contact", contact_id=contact.id))
    status = 422 if request.method == "POST" else 200
    return render("partners/contact_form.html", form=form, status=status)


@bp.get("/contacts/<int:contact_id>")
@role_required(Role.VIEWER)
def contact(contact_id: int):
    person = services.contact_detail(db.session, contact_id) or abort(404)
    return render(
        "partners/contact.html",
        contact=person,
        current=services.current_positions(person),
        history=db.session.scalars(audit.history_for("contact", contact_id)).all(),
        archive_form=ArchiveForm(obj=person),
    )


@bp.route("/contacts/<int:contact_id>/edit", methods=["GET", "POST"])
@role_required(Role.STAFF)
def contact_edit(contact_id: int):
    person = db.get_or_404(Contact, contact_id)
    form = ContactForm(obj=person)
    if request.method == "GET":
        form.languages.data = person.language_list
    if form.validate_on_submit():
        try:
            services.save_contact(db.session, form_data(form), person, form.version.data)
        except DomainError as exc:
            db.session.rollback()
            return render(
                "partners/contact_form.html",
                form=form,
                contact=person,
                error=form_refusal(form, exc, person),
                status=exc.status,
            )
        db.session.commit()
        flash(_("Contact saved."), "success")
        return redirect_to(url_for("partners.contact", contact_id=person.id))
    status = 422 if request.method == "POST" else 200
    return render("partners/contact_form.html", form=form, contact=person, status=status)


@bp.post("/contacts/<int:contact_id>/archive")
@role_required(Role.OFFICER)
def contact_archive(contact_id: int):
    return _archive(db.get_or_404(Contact, contact_id), True, url_for("partners.contact", contact_id=contact_id))


@bp.post("/contacts/<int:contact_id>/restore")
@role_required(Role.OFFICER)
def contact_restore(contact_id: int):
    return _archive(db.get_or_404(Contact, contact_id), False, url_for("partners.contact", contact_id=contact_id))


# --- positions (edited inline on the contact page) ---------------------------------------------


def _position_data(form: PositionForm) -> dict:
    return {name: form[name].data for name in services.POSITION_FIELDS}


@bp.route("/contacts/<int:contact_id>/positions/new", methods=["GET", "POST"])
@role_required(Role.STAFF)
def position_new(contact_id: int):
    person = db.get_or_404(Contact, contact_id)
    form = PositionForm()
    form.organisation_id.choices = services.organisation_choices(db.session)
    if request.method == "GET" and request.args.get("organisation"):
        form.organisation_id.data = int_arg("organisation")
    if form.validate_on_submit():
        try:
            services.save_position(db.session, person, _position_data(form), succeeds_holder=form.succeeds_holder.data)
        except DomainError as exc:
            db.session.rollback()
            return render(
                "partners/position_form.html",
                form=form,
                contact=person,
                error=form_refusal(form, exc),
                status=exc.status,
            )
        db.session.commit()
        flash(_("Position added."), "success")
        return redirect_to(url_for("partners.contact", contact_id=person.id))
    status = 422 if request.method == "POST" else 200
    return render("partners/position_form.html", form=form, contact=person, status=status)


@bp.route("/positions/<int:position_id>/edit", methods=["GET", "POST"])
@role_required(Role.STAFF)
def position_edit(position_id: int):
    position = db.get_or_404(Position, position_id)
    person = db.session.get(Contact, position.contact_id)
    form = PositionForm(obj=position)
    form.organisation_id.choices = services.organisation_choices(db.session)
    if form.validate_on_submit():
        try:
            services.save_position(
                db.session,
                person,
                _position_data(form),
                position,
                form.version.data,
                succeeds_holder=form.succeeds_holder.data,
            )
        except DomainError as exc:
            db.session.rollback()
            return render(
                "partners/position_form.html",
                form=form,
                contact=person,
                position=position,
                error=form_refusal(form, exc, position),
                status=exc.status,
            )
        db.session.commit()
        flash(_("Position saved."), "success")
        return redirect_to(url_for("partners.contact", contact_id=person.id))
    status = 422 if request.method == "POST" else 200
    return render("partners/position_form.html", form=form, contact=person, position=position, status=status)


@bp.post("/positions/<int:position_id>/delete")
@role_required(Role.OFFICER)
def position_delete(position_id: int):
    position = db.get_or_404(Position, position_id)
    contact_id = position.contact_id
    form = ArchiveForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.delete_position(db.session, position, form.version.data)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash(_("Position deleted."), "success")
    return redirect_to(url_for("partners.contact", contact_id=contact_id))
