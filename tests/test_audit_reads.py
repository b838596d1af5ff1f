"""Every read on the record: booking, the admin's history, autocomplete, user search and deletion pages.

And the audit coverage test: every GET route of the resolver, asked by staff, either writes an
audit entry for the patient it shows, or is on a reasoned list of routes that show no patient
(checked: the patient's name, email and login are not in the answer).
"""

from __future__ import annotations

import re

import pytest
from django.apps import apps
from django.urls import reverse
from django.utils import timezone

from prepapp.fhir.models import HeldMatch
from prepapp.caregivers import caregiver_invite
from prepapp.models import AuditEntry
from prepapp.reminders.models import Alert, DeliveryAttempt, FamilyMessage, InboxMessage, PushSubscription, Reminder

from .factories import UserFactory, days_from_today
from .support.second_factor import VerifiedClient, give_second_factor
from .test_authorization_matrix import route_templates

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(db):
    user = UserFactory(username="operator", is_staff=True, is_superuser=True)
    give_second_factor(user)  # the admin asks the operator for a second factor
    return user


def entries(patient, action):
    return AuditEntry.objects.filter(patient=patient, action=action)


def test_booking_is_audited_with_its_address_and_named_to_the_patient(as_carol, as_pat, carol, pat):
    booked = as_carol.post("/api/v1/cases/", {"patient": pat.pk, "procedure": "Lumbar fusion",
                                              "surgery_date": days_from_today(40).isoformat()},
                           format="json", REMOTE_ADDR="198.51.100.40")
    assert booked.status_code == 201, booked.json()
    entry = entries(pat, "book").get()
    assert (entry.actor, entry.ip_address, entry.path) == (carol, "198.51.100.40", "/api/v1/cases/")
    [shown] = as_pat.get("/api/v1/me/access-log/").json()["results"]
    assert (shown["action"], shown["what"]) == ("book", "Booked your surgery")


def test_the_admins_history_of_a_patient_is_an_audited_read(client, lead_admin, pat, paul):
    client.force_login(lead_admin)
    page = client.get(reverse("admin:prepapp_patient_history", args=[pat.pk]), REMOTE_ADDR="198.51.100.41")
    assert page.status_code == 200 and b"Pat Example" in page.content
    entry = entries(pat, "admin-history").get()
    assert (entry.actor, entry.ip_address) == (lead_admin, "198.51.100.41")
    assert not AuditEntry.objects.filter(patient=paul).exists()


def test_the_admin_autocomplete_is_an_audited_read_of_the_patients_it_offers(client, lead_admin, pat, paul):
    client.force_login(lead_admin)
    offered = client.get(reverse("admin:autocomplete"), {
        "app_label": "prepapp", "model_name": "surgerycase", "field_name": "patient", "term": "Pat",
    })
    assert offered.status_code == 200
    assert [row["text"] for row in offered.json()["results"]] == ["Pat Example"]
    assert list(AuditEntry.objects.filter(action="admin-search").values_list("patient", "actor")) == [
        (pat.pk, lead_admin.pk)
    ]


def test_the_operators_user_search_is_an_audited_read_of_the_patients_logins_shown(client, operator, pat, paul, carol):
    client.force_login(operator)
    found = client.get(reverse("admin:auth_user_changelist"), {"q": "pat@example.org"})
    assert found.status_code == 200 and b"pat@example.org" in found.content
    assert list(AuditEntry.objects.filter(action="admin-list").values_list("patient", flat=True)) == [pat.pk]
    client.get(reverse("admin:auth_user_change", args=[pat.user_id]))
    client.get(reverse("admin:auth_user_password_change", args=[pat.user_id]))
    assert entries(pat, "admin-read").count() == 2
    offered = client.get(reverse("admin:autocomplete"), {
        "app_label": "prepapp", "model_name": "patient", "field_name": "user", "term": "patient-",
    })
    assert offered.status_code == 200 and len(offered.json()["results"]) == 2
    assert set(AuditEntry.objects.filter(action="admin-search").values_list("patient", flat=True)) == {pat.pk, paul.pk}


def test_a_deletions_confirmation_page_is_an_audited_read_of_every_patient_it_lists(client, operator, pat, paul):
    client.force_login(operator)
    # Deleting a login would take its patient's record with it: the page lists the patient.
    page = client.get(reverse("admin:auth_user_delete", args=[pat.user_id]))
    assert page.status_code == 200 and b"Pat Example" in page.content
    assert list(AuditEntry.objects.filter(action="admin-read").values_list("patient", flat=True)) == [pat.pk]


# --- The coverage test ------------------------------------------------------------------------

# GET routes that show no patient, and why. Each is asked all the same, and its answer must
# not hold the patient's name, email address or login.
SHOW_NO_PATIENT = {
    "/": "the patient app's shell, the same for everyone; its data comes from the API",
    "/api/schema/": "the OpenAPI schema", "/api/docs/": "the API's documentation page",
    "/api/redoc/": "the API's documentation page", "/healthz": "the health check", "/jsi18n/": "translations",
    "/sw.js": "the service worker", "/manifest.webmanifest": "the app's manifest",
    "/app-i18n/<lang>.js": "the app's translations",
    "/api/v1/": "the API's index of its endpoints", "/api/v1/me/": "the caller's own profile (staff: their own)",
    "/api/v1/protocols/": "protocols are templates, nobody's record",
    "/api/v1/protocols/<key>/": "a protocol", "/api/v1/protocols/<key>/versions/<number>/": "a protocol version",
    "/api/v1/me/push/public-key/": "the server's public key",
    "/coordinator/enrol/": "the empty enrolment form", "/coordinator/login/": "the sign-in form",
    "/admin/": "the index: models and the signed-in person's own recent changes, each audited when made",
    "/admin/<app_label>/": "an app's list of models", "/admin/login/": "the sign-in form",
    "/admin/logout/": "signing out", "/admin/password_change/": "the signed-in person's own password",
    "/admin/password_change/done/": "a confirmation", "/admin/jsi18n/": "translations",
    "/admin/autocomplete/": "without its parameters it offers nothing (its rows are audited: tested above)",
    "/admin/r/<content_type_id>/<object_id>/": "a redirect to the site, nothing shown",
    "/fhir/R4/metadata": "the FHIR server's CapabilityStatement",
    "/fhir/R4/PlanDefinition": "protocols as FHIR definitions: templates, nobody's record",
    "/fhir/R4/PlanDefinition/<pk>": "a protocol version as a FHIR definition",
}
# An admin form to add a record: empty; the choices it offers that name patients are audited as a list.
ADD_FORM = re.compile(r"^/admin/\w+/\w+/add/$")
# The patient app's screens: one static shell; the patient reading their own record is no staff read.
PATIENT_SCREENS = re.compile(
    r"^/(join/|signin/|tasks/|inbox/|settings/|access/|health-check/|when-to-call/|check-in/|about/|r/)"
)
# Admin pages of records that are no patient's: protocols, organizations and their staff,
# accounts of staff, sign-in records (axes), tokens, groups, alert emails to staff.
ADMIN_OF_NO_PATIENT = re.compile(
    r"^/admin/(checklists/(protocol|protocolversion|taskdefinition)/|prepapp/(organization|staffmembership)/"
    r"|auth/group/|axes/|authtoken/|reminders/alertemail/|django_celery_beat/"
    # staff's second-factor devices; the FHIR connection's clients, the servers it polls (their state and
    # last error name the hospital's resource ids, never a patient) and its procedure-code mapping
    r"|otp_totp/|otp_static/|fhir/(integrationclient|fhirsource|proceduremapping)/)"
)


def markers(patient) -> list[bytes]:
    return [patient.full_name.encode(), patient.contact_email.encode(), patient.user.username.encode()]


def value_for(template: str, name: str, world: dict) -> str | None:
    if template.startswith("/admin/r/"):
        return str(world["patient"].pk) if name == "object_id" else "1"
    if name == "object_id":
        app_label, model_name = template.strip("/").split("/")[1:3]
        model = apps.get_model(app_label, model_name)
        found = [o for o in world.values() if isinstance(o, model)]
        return str(found[0].pk) if found else None
    for fragment, key in [("patients/<pk>", "patient"), ("cases/<pk>", "case"), ("me/tasks/<pk>", "task"),
                          ("me/inbox/<pk>", "message"), ("alerts/<pk>", "alert"), ("alerts/<alert_id>", "alert"),
                          ("push-subscriptions/<pk>", "subscription"), ("tasks/<task_id>", "task"),
                          ("R4/Patient/<pk>", "patient"), ("R4/Appointment/<pk>", "case"),
                          ("R4/CarePlan/<pk>", "checklist"), ("R4/Task/<pk>", "task"),
                          ("R4/CommunicationRequest/<pk>", "reminder"), ("R4/Communication/<pk>", "sent")]:
        if fragment in template and f"<{name}>" in fragment:
            return str(world[key].pk)
    if name == "id" and "/auth/user/" in template:
        return str(world["user"].pk)
    return {"key": "mis-lumbar-fusion", "number": "1", "lang": "en", "app_label": "prepapp", "code": "NOCODE",
            "token": "not-a-token", "content_type_id": "1"}.get(name, "")


@pytest.fixture
def world(pat_checklist, riverside):
    pat = pat_checklist.case.patient
    task = pat_checklist.tasks.order_by("pk").first()
    reminder = Reminder.objects.filter(patient=pat).first()
    # One reminder sent, so that FHIR's Communication (a message sent) has one to show.
    sent = Reminder.objects.filter(patient=pat).exclude(pk=reminder.pk).first()
    Reminder.objects.filter(pk=sent.pk).update(status=Reminder.Status.SENT, sent_at=timezone.now())
    caregiver = caregiver_invite(patient=pat, invited_by=pat.user, name="Ana", relationship="daughter",
                                 email="ana@example.org")
    return {
        "sent": sent,
        # A bundle's patient held as maybe Pat: the held matches' page shows her.
        "held": HeldMatch.objects.create(organization=riverside, candidate=pat, system="urn:mrn", value="MRN-1",
                                         full_name=pat.full_name, received_at=timezone.now()),
        "patient": pat, "case": pat_checklist.case, "checklist": pat_checklist, "task": task, "reminder": reminder,
        "user": pat.user, "alert": Alert.objects.create(organization=riverside, patient=pat, task=task,
                                                        due_date=task.due_date, days_overdue=3),
        "message": InboxMessage.objects.create(patient=pat, reminder=reminder, task=task, title="t", body="b"),
        "attempt": DeliveryAttempt.objects.create(reminder=reminder, patient=pat, channel=reminder.channel,
                                                  outcome=DeliveryAttempt.Outcome.SENT, detail=""),
        "subscription": PushSubscription.objects.create(patient=pat, endpoint="https://fcm.googleapis.com/x",
                                                        p256dh="k", auth="a"),
        "caregiver": caregiver,
        "family_message": FamilyMessage.objects.create(caregiver=caregiver, title="t", body="b"),
    }


def test_every_route_that_shows_a_patient_writes_an_audit_entry(world, carol, lead_admin, operator):
    pat = world["patient"]
    staff = VerifiedClient()
    staff.force_login(carol)
    admin_client = VerifiedClient()
    admin_client.force_login(operator)  # every admin page, accounts included
    unaudited, listed_but_shown, asked = [], [], 0
    for template in route_templates():
        if PATIENT_SCREENS.match(template):
            continue
        url = template
        for name in re.findall(r"<(\w+)>", template):
            value = value_for(template, name, world)
            url = None if value is None else url.replace(f"<{name}>", value, 1)
            if url is None:
                break
        if url is None:
            continue  # no such object in this world (another model's admin page)
        client = admin_client if template.startswith("/admin/") else staff
        before = AuditEntry.objects.filter(patient=pat).count()
        response = client.get(url)
        asked += 1
        body = b"" if getattr(response, "streaming", False) else response.content
        shown = any(marker in body for marker in markers(pat))
        audited = AuditEntry.objects.filter(patient=pat).count() > before
        if template in SHOW_NO_PATIENT or ADMIN_OF_NO_PATIENT.match(template) or ADD_FORM.match(template):
            if shown and not audited:
                listed_but_shown.append(template)
        elif response.status_code == 200 and not audited:
            unaudited.append(f"{template} ({'shows the patient' if shown else 'not on the list of routes showing no patient'})")
        elif shown and not audited:
            unaudited.append(f"{template} (answered {response.status_code} with the patient in it)")
    assert asked > 60
    assert unaudited == [], '\n'.join(unaudited)
    assert listed_but_shown == []
