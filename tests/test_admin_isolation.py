"""The admin keeps each organization's records to its own staff.

Every model registered in the admin is checked (the loop reads admin.site._registry, so a
model added later is covered too): a Riverside clinical lead (lee, as `lead_admin`) cannot
list, open, change, delete or act on an Elsewhere row, sees only Riverside's rows (and the
shipped protocols), and neither search, filters, related-record choices nor autocompletes
reveal Elsewhere's. Every name Elsewhere's rows carry contains "Elsewhere", so a page that
shows one of them, anywhere, gives it away. The operator (a superuser) sees everything.
"""

import io

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token, TokenProxy

from checklists.models import ProtocolVersion, Task
from checklists.publishing import protocol_version_draft_for_organization, protocol_version_publish
from prepapp.admin import OwnAccountUserAdmin
from prepapp.admin_scoping import (
    CLINICAL_LEAD_GROUP,
    OperatorOnlyAdmin,
    OrganizationScopedAdmin,
    clinical_lead_group,
)
from prepapp.audit import audit_record
from prepapp.fhir.models import HeldMatch, ProcedureMapping
from prepapp.fhir.services import fhir_source_add, integration_client_issue
from prepapp.models import AuditEntry, CaregiverLink, Patient, StaffMembership
from prepapp.reminders.models import (
    Alert,
    AlertEmail,
    Announcement,
    DeliveryAttempt,
    FamilyMessage,
    InboxMessage,
    PushSubscription,
    Reminder,
)
from prepapp.services import patient_enrol
from prepapp.workflows import case_book, checklist_assign

from .factories import StaffFactory, UserFactory, days_from_today
from .support.second_factor import give_second_factor

pytestmark = pytest.mark.django_db

User = get_user_model()
MARK = "Elsewhere"


@pytest.fixture
def elsewhere_lead(elsewhere):
    """Erin, Elsewhere's clinical lead, set up in the admin as lee is."""
    user = StaffFactory(
        user=UserFactory(username="erin.elsewhere"), organization=elsewhere, role=StaffMembership.Role.CLINICAL_LEAD
    ).user
    user.is_staff = True
    user.save()
    user.groups.add(clinical_lead_group())
    give_second_factor(user)
    return user


@pytest.fixture
def operator(db):
    user = UserFactory(username="operator", is_staff=True, is_superuser=True)
    give_second_factor(user)  # the admin asks everyone for a second factor
    return user


def reminder_rows_for(patient, coordinator):
    """A delivery attempt, an inbox message, a push subscription, an alert and its morning email
    next to the planned reminders (booking the surgery made an announcement)."""
    reminder = Reminder.objects.filter(patient=patient).first()
    assert reminder is not None, "assigning a checklist plans reminders"
    Reminder.objects.filter(pk=reminder.pk).update(status=Reminder.Status.FAILED, last_error=f"{patient} bounced")
    DeliveryAttempt.objects.create(
        reminder=reminder, patient=patient, channel=reminder.channel, outcome="failed", detail=f"{patient} bounced"
    )
    InboxMessage.objects.create(patient=patient, reminder=reminder, title=f"Note for {patient}", body="Protein")
    PushSubscription.objects.create(
        patient=patient, endpoint=f"https://push.example/{patient.pk}", p256dh="key", auth="auth",
        user_agent=str(patient),
    )
    task = Task.objects.filter(checklist__case__patient=patient).first()
    Alert.objects.create(organization=patient.organization, patient=patient, task=task, due_date=task.due_date,
                         days_overdue=2, note=f"{patient} did not answer")
    AlertEmail.objects.create(user=coordinator, organization=patient.organization, day=days_from_today(0), alerts=1,
                              last_error=f"{patient.organization} mail relay")
    # A caregiver following the patient, and what the family was told.
    follower = UserFactory(username=f"caregiver-{patient.pk}", email=f"carer{patient.pk}@example.org")
    link = CaregiverLink.objects.create(patient=patient, caregiver=follower, name=f"Carer of {patient}",
                                        relationship="son", email=follower.email)
    FamilyMessage.objects.create(caregiver=link, title=f"{patient.full_name}'s surgery is tomorrow", body="Arrive")
    assert Announcement.objects.filter(patient=patient).exists()


@pytest.fixture
def two_clinics(riverside, elsewhere, lead_admin, carol, olga, elsewhere_lead, pat_checklist, protocol_version):
    """Both organizations with a row of every kind: patients, cases, checklists, reminders, protocols, audit entries."""
    reminder_rows_for(pat_checklist.case.patient, carol)
    audit_record(actor=carol, patients=[pat_checklist.case.patient], action="read")

    # Riverside's draft of its own copy of the shipped protocol; Elsewhere's published copy and a draft of it.
    protocol_version_draft_for_organization(version=protocol_version, organization=riverside)
    own = protocol_version_publish(
        version=protocol_version_draft_for_organization(version=protocol_version, organization=elsewhere)
    )
    assert MARK in own.protocol.name
    protocol_version_draft_for_organization(version=protocol_version, organization=elsewhere)

    eve = patient_enrol(organization=elsewhere, full_name="Eve Elsewhere", contact_email="eve@elsewhere.example")
    case = case_book(patient=eve, procedure="Elsewhere knee", surgery_date=days_from_today(30))
    checklist_assign(case=case, protocol_version=own, assigned_by=olga)
    reminder_rows_for(eve, olga)
    audit_record(actor=elsewhere_lead, patients=[eve], action="read")
    Token.objects.create(user=olga)
    # The FHIR connection's rows: a client, a polled source, a procedure mapping and a held match in each clinic.
    for organization, patient in ((riverside, pat_checklist.case.patient), (elsewhere, eve)):
        integration_client_issue(organization=organization, name=f"{organization.name} EHR")
        fhir_source_add(organization=organization, name=f"{organization.name} FHIR server",
                        base_url=f"https://fhir.{organization.slug}.example/R4", token=f"{organization.slug}-token")
        ProcedureMapping.objects.create(organization=organization, code=f"{organization.slug}-fusion",
                                        protocol=own.protocol if organization == elsewhere else protocol_version.protocol)
        HeldMatch.objects.create(organization=organization, candidate=patient, system="urn:mrn", value=str(patient.pk),
                                 full_name=patient.full_name, received_at=timezone.now())
    return {"eve": eve, "pat": pat_checklist.case.patient}


def url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def scoped_admins():
    return [(m, a) for m, a in admin.site._registry.items() if isinstance(a, OrganizationScopedAdmin)]


def rows_of(model_admin, organization):
    return model_admin.model._default_manager.filter(**{model_admin.organization_path: organization.pk})


def ours_or_shared(model_admin, organization) -> Q:
    path = model_admin.organization_path
    return Q(**{path: organization.pk}) | Q(**{f"{path}__isnull": True}) if model_admin.shared_when_unowned else Q(
        **{path: organization.pk}
    )


def snapshot(obj):
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def test_every_admin_is_scoped_or_the_operators():
    """A model registered without a scope would show every organization's rows: none is."""
    unscoped = [
        model._meta.label
        for model, model_admin in admin.site._registry.items()
        if not isinstance(model_admin, (OrganizationScopedAdmin, OperatorOnlyAdmin, OwnAccountUserAdmin))
    ]
    assert unscoped == []


def test_the_lead_is_staff_not_superuser(lead_admin):
    assert lead_admin.is_staff and not lead_admin.is_superuser
    assert lead_admin.groups.filter(name=CLINICAL_LEAD_GROUP).exists()


def test_the_demo_lead_is_not_a_superuser(db):
    call_command("seed_demo", stdout=io.StringIO())
    lead = User.objects.get(username="lead")
    assert lead.is_staff and not lead.is_superuser
    assert lead.has_perm("prepapp.change_patient") and lead.has_perm("prepapp.view_auditentry")
    assert not lead.has_perm("prepapp.change_auditentry") and not lead.has_perm("auth.change_user")
    assert not User.objects.filter(is_superuser=True).exists()


@pytest.mark.parametrize("model", [m for m, _ in scoped_admins()], ids=lambda m: m._meta.label)
def test_a_lead_sees_and_reaches_only_her_organizations_rows(
    client, lead_admin, two_clinics, riverside, elsewhere, model
):
    model_admin = admin.site._registry[model]
    theirs = list(rows_of(model_admin, elsewhere))
    assert theirs, f"the fixture makes no Elsewhere {model._meta.label}: add one to two_clinics"
    client.force_login(lead_admin)

    listing = client.get(url(model, "changelist"))
    assert listing.status_code == 200
    shown = [obj.pk for obj in listing.context["cl"].result_list]
    assert not model._default_manager.filter(pk__in=shown).exclude(ours_or_shared(model_admin, riverside)).exists()
    assert shown, "Riverside's rows are listed"
    # Not in the rows, the filters, the search box or the date drill-down.
    assert MARK not in listing.content.decode()
    if model_admin.search_fields:
        # A shorter term than the mark, so that the page repeating the term does not count as a leak.
        searched = client.get(url(model, "changelist"), {"q": MARK[:-2]})
        assert searched.status_code == 200 and MARK not in searched.content.decode()
        assert searched.context["cl"].result_count == 0

    for obj in theirs:
        before = snapshot(obj)
        for view in ("change", "delete", "history"):
            response = client.get(url(model, view, obj.pk))
            assert response.status_code in (302, 403, 404), (view, response.status_code)
            assert MARK not in response.content.decode()
        assert client.post(url(model, "change", obj.pk), {}).status_code in (302, 403, 404)
        assert client.post(url(model, "delete", obj.pk), {"post": "yes"}).status_code in (302, 403, 404)
        for action in model_admin.get_actions(listing.wsgi_request):
            client.post(url(model, "changelist"), {"action": action, "_selected_action": [obj.pk], "post": "yes"})
        obj = model._default_manager.get(pk=obj.pk)
        assert snapshot(obj) == before


@pytest.mark.parametrize("model", [m for m, _ in scoped_admins()], ids=lambda m: m._meta.label)
def test_related_record_choices_hold_only_her_organizations_rows(client, lead_admin, two_clinics, riverside, model):
    """Select boxes, raw ids and autocompletes validate against these querysets."""
    model_admin = admin.site._registry[model]
    client.force_login(lead_admin)
    ours = rows_of(model_admin, riverside).first()
    assert ours is not None
    page = client.get(url(model, "change", ours.pk))
    assert page.status_code == 200
    assert MARK not in page.content.decode()
    for name, field in page.context["adminform"].form.fields.items():
        queryset = getattr(field, "queryset", None)
        related_admin = admin.site._registry.get(getattr(queryset, "model", None))
        if isinstance(related_admin, OrganizationScopedAdmin):
            assert not queryset.exclude(ours_or_shared(related_admin, riverside)).exists(), name


def test_a_case_cannot_be_moved_to_another_organizations_patient(client, lead_admin, two_clinics):
    client.force_login(lead_admin)
    case = two_clinics["pat"].cases.get()
    page = client.get(url(case.__class__, "change", case.pk))
    form = page.context["adminform"].form
    assert two_clinics["eve"] not in form.fields["patient"].queryset
    data = {name: ("" if form[name].value() is None else form[name].value()) for name in form.fields}
    data.update(patient=two_clinics["eve"].pk)
    response = client.post(url(case.__class__, "change", case.pk), data)
    assert response.status_code == 200 and "patient" in response.context["adminform"].form.errors
    case.refresh_from_db()
    assert case.patient == two_clinics["pat"]


def test_autocomplete_and_filters_do_not_reach_another_organization(client, lead_admin, two_clinics, elsewhere):
    client.force_login(lead_admin)
    found = client.get(
        "/admin/autocomplete/",
        {"app_label": "prepapp", "model_name": "surgerycase", "field_name": "patient", "term": "Eve"},
    )
    assert found.status_code == 200 and found.json()["results"] == []
    everyone = client.get(
        "/admin/autocomplete/", {"app_label": "prepapp", "model_name": "surgerycase", "field_name": "patient"}
    ).json()["results"]
    assert [r["text"] for r in everyone] == ["Pat Example"]
    organizations = client.get(
        "/admin/autocomplete/", {"app_label": "prepapp", "model_name": "patient", "field_name": "organization"}
    ).json()["results"]
    assert [r["text"] for r in organizations] == ["Riverside Spine Center"]

    # A filter value typed into the address finds nothing of theirs either (with one
    # organization to choose from, the admin even ignores it).
    for model, lookup in [(Patient, "organization__id__exact"), (Reminder, "patient__organization__id__exact")]:
        response = client.get(url(model, "changelist"), {lookup: elsewhere.pk})
        assert MARK not in response.content.decode()
        if response.status_code == 200:
            shown = [obj.pk for obj in response.context["cl"].result_list]
            assert not rows_of(admin.site._registry[model], elsewhere).filter(pk__in=shown).exists()


def test_shipped_protocols_are_read_only_to_leads_and_their_copies_stay_home(
    client, lead_admin, two_clinics, protocol_version
):
    client.force_login(lead_admin)
    shipped = protocol_version.protocol
    assert client.get(url(shipped.__class__, "change", shipped.pk)).status_code == 200
    response = client.post(url(shipped.__class__, "change", shipped.pk), {"name": "Mine now", "key": shipped.key})
    assert response.status_code == 403
    # Publishing a draft of the shipped protocol is the operator's; a lead's copy goes to Riverside's own protocol.
    response = client.post(
        url(ProtocolVersion, "changelist"), {"action": "copy_as_draft", "_selected_action": [protocol_version.pk]}
    )
    assert response.status_code == 302
    drafts = ProtocolVersion.objects.filter(published_at__isnull=True, protocol__organization__slug="riverside")
    assert drafts.count() == 2 and drafts.filter(protocol=shipped).count() == 0
    assert shipped.versions.count() == 1
    # Nor can she publish a draft of the shipped protocol the operator left there.
    operators_draft = ProtocolVersion.objects.create(protocol=shipped, number=9)
    client.post(url(ProtocolVersion, "changelist"), {"action": "publish", "_selected_action": [operators_draft.pk]})
    operators_draft.refresh_from_db()
    assert operators_draft.is_draft


def test_the_user_admin_is_only_her_own_account(client, lead_admin, two_clinics, olga):
    client.force_login(lead_admin)
    listing = client.get(url(User, "changelist"))
    assert [u.pk for u in listing.context["cl"].result_list] == [lead_admin.pk]
    assert client.get(url(User, "change", olga.pk)).status_code in (302, 403, 404)
    assert client.post(url(User, "change", olga.pk), {"username": "mine"}).status_code in (302, 403, 404)
    assert client.get(url(User, "add")).status_code == 403
    assert client.get(url(User, "password_change", olga.pk)).status_code in (302, 403, 404)

    own = client.get(url(User, "change", lead_admin.pk))
    assert own.status_code == 200
    form = own.context["adminform"].form
    data = {name: ("" if form[name].value() is None else form[name].value()) for name in form.fields}
    data.update(is_superuser="on", first_name="Lee", groups=[Group.objects.create(name="Anything").pk])
    saved = client.post(url(User, "change", lead_admin.pk), data)
    assert saved.status_code == 302, saved.context["adminform"].form.errors
    lead_admin.refresh_from_db()
    assert lead_admin.first_name == "Lee"
    assert not lead_admin.is_superuser
    assert list(lead_admin.groups.values_list("name", flat=True)) == [CLINICAL_LEAD_GROUP]

    # Groups, API tokens and sign-in records belong to no organization: the operator's alone.
    for model, model_admin in admin.site._registry.items():
        if isinstance(model_admin, OperatorOnlyAdmin):
            assert client.get(url(model, "changelist")).status_code == 403, model._meta.label
    assert client.get(url(TokenProxy, "change", olga.auth_token.pk)).status_code == 403


def test_the_operator_sees_every_organization(client, operator, two_clinics, elsewhere):
    client.force_login(operator)
    for model, model_admin in scoped_admins():
        listing = client.get(url(model, "changelist"))
        assert listing.status_code == 200
        shown = set(listing.context["cl"].queryset.values_list("pk", flat=True))  # every page
        theirs = set(rows_of(model_admin, elsewhere).values_list("pk", flat=True))
        assert theirs and theirs <= shown, model._meta.label
    assert client.get(url(Patient, "change", two_clinics["eve"].pk)).status_code == 200
    assert client.get(url(Group, "changelist")).status_code == 200


def test_a_lead_retries_her_organizations_failed_reminders_only(client, lead_admin, two_clinics):
    ours = Reminder.objects.get(patient=two_clinics["pat"], status=Reminder.Status.FAILED)
    theirs = Reminder.objects.get(patient=two_clinics["eve"], status=Reminder.Status.FAILED)
    client.force_login(lead_admin)
    response = client.post(
        url(Reminder, "changelist"), {"action": "retry_now", "_selected_action": [ours.pk, theirs.pk]}
    )
    assert response.status_code == 302
    ours.refresh_from_db()
    theirs.refresh_from_db()
    assert (ours.status, theirs.status) == (Reminder.Status.PENDING, Reminder.Status.FAILED)
    # Acting on a patient's reminders is a change of their record, and is in the trail.
    assert AuditEntry.objects.filter(action="admin-change", patient=two_clinics["pat"], actor=lead_admin).exists()
    assert not AuditEntry.objects.filter(patient=two_clinics["eve"], actor=lead_admin).exists()


@pytest.mark.django_db
def test_the_operator_creates_the_clinical_lead_group_with_one_command():
    out = io.StringIO()
    call_command("ensure_staff_groups", stdout=out)
    group = Group.objects.get(name="Clinical lead")
    assert group.permissions.filter(codename="view_patient").exists()
    assert "permissions" in out.getvalue()
