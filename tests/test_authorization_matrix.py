"""Every route × every role × another organization's objects, generated from the URL resolver.

A new endpoint, coordinator page or admin model is covered here without anyone remembering:
the routes come from the resolver, and a route whose parameter this test cannot fill makes it
fail until the route is added to `object_for`. For each route and each caller who is not on
Elsewhere's care team (or is not Eve herself):

- nothing answers 5xx;
- a route naming one of Elsewhere's objects never succeeds (401, 403, 404, 405, or a redirect
  to a sign-in page or the admin index);
- no answer, lists included, contains Eve's name, email address or notes;
- afterwards Eve's record is exactly as it was.
"""

from __future__ import annotations

import re
import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from checklists.models import Protocol, ProtocolVersion, Task
from prepapp.audit import audit_record
from prepapp.caregivers import caregiver_invite, caregiver_revoke
from prepapp.models import AuditEntry, Patient, StaffMembership, SurgeryCase
from prepapp.reminders.models import Alert, DeliveryAttempt, FamilyMessage, InboxMessage, PushSubscription, Reminder
from prepapp.services import patient_enrol
from prepapp.workflows import case_book, checklist_assign

from .factories import StaffFactory, UserFactory, days_from_today
from .support.second_factor import give_second_factor

EVE_MARKERS = ("Eve Elsewhere", "eve@elsewhere.example", "EVE-SECRET-NOTE", "EVE-INBOX-TITLE")
METHODS = ("get", "post", "put", "patch", "delete")
REFUSED = {401, 403, 404, 405}
# Routes that serve no one's data whatever the caller (sign-in pages, static shells, the schema).
# The patient app's own screens (/join/<code>/, /tasks/<id>/, /signin/ …) are one static
# shell for everyone: the data behind them comes from the API, which is checked here.
PUBLIC_SHELLS = re.compile(
    r"^(api/schema/|api/docs/|api/redoc/|jsi18n/|sw\.js|manifest\.webmanifest|app-i18n/|healthz"
    r"|join/|tasks/|signin/|inbox/|settings/|access/|about/)"
)


def walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern)


def route_templates() -> list[str]:
    """Every route as a template with <name> placeholders (format-suffix variants left out)."""
    templates = set()
    for route in walk(get_resolver().url_patterns):
        if "format" in route or route.endswith("(?P<url>.*)$"):
            continue
        route = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"<\1>", route)
        route = re.sub(r"<(?:\w+:)?(\w+)>", r"<\1>", route)
        templates.add("/" + route.replace("^", "").replace("$", "").replace("\\", ""))
    return sorted(templates)


@pytest.fixture
def elsewhere_world(elsewhere, protocol_version):
    """Eve, a patient of Elsewhere, with a record touching every kind of object; and Elsewhere's team."""
    eve = patient_enrol(organization=elsewhere, full_name="Eve Elsewhere", contact_email="eve@elsewhere.example",
                        time_zone="Europe/Madrid")
    case = case_book(patient=eve, procedure="Minimally invasive lumbar fusion", surgery_date=days_from_today(30))
    olga_lead = StaffFactory(user=UserFactory(username="elsa"), organization=elsewhere,
                             role=StaffMembership.Role.CLINICAL_LEAD).user
    checklist = checklist_assign(case=case, protocol_version=protocol_version, assigned_by=olga_lead)
    task = checklist.tasks.first()
    Task.objects.filter(pk=task.pk).update(note="EVE-SECRET-NOTE")
    reminder = Reminder.objects.filter(patient=eve).first()
    message = InboxMessage.objects.create(patient=eve, reminder=reminder, task=task, title="EVE-INBOX-TITLE", body="b")
    subscription = PushSubscription.objects.create(
        patient=eve, endpoint="https://fcm.googleapis.com/fcm/send/eve", p256dh="k", auth="a"
    )
    attempt = DeliveryAttempt.objects.create(reminder=reminder, patient=eve, channel=reminder.channel,
                                             outcome=DeliveryAttempt.Outcome.SENT, detail="")
    audit_record(actor=olga_lead, patients=[eve], action="read", path="/")
    own_protocol = Protocol.objects.create(key="elsewhere-only", name="Elsewhere's own", procedure="Fusion",
                                           organization=elsewhere)
    own_version = ProtocolVersion.objects.create(protocol=own_protocol, number=1, published_at=timezone.now())
    alert = Alert.objects.create(organization=elsewhere, patient=eve, task=task, due_date=task.due_date, days_overdue=3)
    # Eve's own caregiver, who may tick off her steps: no one else may use her link.
    eve_caregiver = caregiver_invite(patient=eve, invited_by=eve.user, name="Evan", relationship="son",
                                     email="evan@elsewhere.example", access="see_and_tick")
    # What Evan was told about Eve, in his own inbox.
    family_message = FamilyMessage.objects.create(caregiver=eve_caregiver, title="Eve Elsewhere's surgery is tomorrow",
                                                  body="EVE-SECRET-NOTE")
    return {
        "caregiver": eve_caregiver,
        "family_message": family_message,
        "alert": alert,
        "patient": eve, "case": case, "checklist": checklist, "task": task, "reminder": reminder,
        "message": message, "subscription": subscription, "attempt": attempt, "protocol": own_protocol,
        "version": own_version, "audit": AuditEntry.objects.filter(patient=eve).first(),
        "definition": task.definition, "organization": elsewhere,
        "membership": StaffMembership.objects.get(user=olga_lead), "user": eve.user,
        "device": give_second_factor(olga_lead),
    }


def object_for(template: str, name: str, world: dict) -> str | None:
    """The value of one route parameter: always one of Elsewhere's objects."""
    if template.startswith("/admin/r/"):  # "view on site": /admin/r/<content_type_id>/<object_id>/
        return str(ContentType.objects.get_for_model(Patient).pk if name == "content_type_id" else world["patient"].pk)
    if name == "object_id":  # the admin: /admin/<app>/<model>/<object_id>/...
        app_label, model_name = template.strip("/").split("/")[1:3]
        model = apps.get_model(app_label, model_name)
        for candidate in world.values():
            if isinstance(candidate, model):
                return str(candidate.pk)
        return None  # nothing of Elsewhere's in this model (e.g. the users of the auth admin)
    by_route = [
        ("patients/<pk>", world["patient"].pk), ("cases/<pk>", world["case"].pk), ("me/tasks/<pk>", world["task"].pk),
        ("me/inbox/<pk>", world["message"].pk), ("me/push-subscriptions/<pk>", world["subscription"].pk),
        ("coordinator/patients/<pk>", world["patient"].pk), ("tasks/<task_id>", world["task"].pk),
        ("alerts/<pk>", world["alert"].pk), ("alerts/<alert_id>", world["alert"].pk),
        ("totpdevice/<pk>", world["device"].pk), ("team/<membership_id>", world["membership"].pk),
        # FHIR ids are the records' own: a Patient, an Appointment (the case), a CarePlan (the
        # checklist), a Task, a CommunicationRequest or Communication (a reminder), a PlanDefinition.
        ("R4/Patient/<pk>", world["patient"].pk), ("R4/Appointment/<pk>", world["case"].pk),
        ("R4/CarePlan/<pk>", world["checklist"].pk), ("R4/Task/<pk>", world["task"].pk),
        ("R4/CommunicationRequest/<pk>", world["reminder"].pk), ("R4/Communication/<pk>", world["reminder"].pk),
        ("R4/PlanDefinition/<pk>", world["version"].pk),
        ("me/caregivers/<pk>", world["caregiver"].pk), ("following/inbox/<pk>", world["family_message"].pk),
        ("following/<pk>", world["caregiver"].pk),
        ("checklist-texts/<version_id>", world["version"].pk),
    ]
    for fragment, value in by_route:
        if fragment in template and f"<{name}>" in fragment:
            return str(value)
    if name == "id" and template.startswith("/admin/auth/user/"):
        return str(world["user"].pk)
    if name == "key":
        return world["protocol"].key
    if name == "number":
        return str(world["version"].number)
    if name == "code":
        return "ELSEWHERE"
    if name in ("lang", "language"):
        return "en"
    if name == "app_label":
        return "prepapp"
    if name == "token":
        return "not-a-real-token"
    raise AssertionError(f"{template}: no object for <{name}>; add this route to object_for()")


def fill(template: str, world: dict) -> str | None:
    url = template
    for name in re.findall(r"<(\w+)>", template):
        value = object_for(template, name, world)
        if value is None:
            return None
        url = url.replace(f"<{name}>", value, 1)
    return url


@pytest.fixture
def callers(pat, carol, lee, olga, django_user_model):
    """Everyone who must not reach Eve's record, signed in with a session.

    Among them two caregivers: Ana follows Pat (a Riverside patient) and may tick off her
    steps; Rita followed Pat until Pat revoked her, and gets nothing at all.
    """
    lee.is_staff = True  # the admin is open to clinical leads
    lee.save()
    stray = django_user_model.objects.create_user("stray", password="x-not-used-2026", is_staff=True)
    ana = caregiver_invite(patient=pat, invited_by=pat.user, name="Ana", relationship="daughter",
                           email="ana@example.org", access="see_and_tick").caregiver
    rita_link = caregiver_invite(patient=pat, invited_by=pat.user, name="Rita", relationship="neighbour",
                                 email="rita@example.org", access="see_and_tick")
    caregiver_revoke(link=rita_link, revoked_by=pat.user)
    people = {"anonymous": None, "pat (patient)": pat.user, "carol (coordinator)": carol,
              "lee (clinical lead)": lee, "stray (staff, no organization)": stray,
              "ana (caregiver of pat)": ana, "rita (revoked caregiver of pat)": rita_link.caregiver}
    clients = {}
    for label, user in people.items():
        client = Client(HTTP_ORIGIN="http://testserver")
        if user is not None:
            client.force_login(user)
        clients[label] = client
    return clients


def snapshot(world: dict) -> dict:
    eve = world["patient"]
    return {
        "patient": Patient.objects.filter(pk=eve.pk).values().first(),
        "user": get_user_model().objects.filter(pk=eve.user_id).values("username", "is_active").first(),
        "cases": list(SurgeryCase.objects.filter(patient=eve).values("id", "status", "surgery_date")),
        "tasks": list(Task.objects.filter(checklist__case__patient=eve).values("id", "status", "note", "due_date")),
        "reminders": list(Reminder.objects.filter(patient=eve).values("id", "status", "send_at")),
        "inbox": list(InboxMessage.objects.filter(patient=eve).values("id", "read_at")),
        "subscriptions": list(PushSubscription.objects.filter(patient=eve).values("id", "endpoint")),
        "family inbox": list(FamilyMessage.objects.filter(caregiver__patient=eve).values("id", "read_at")),
        "protocol": list(ProtocolVersion.objects.filter(protocol=world["protocol"]).values("id", "published_at")),
        "second factor": list(TOTPDevice.objects.filter(pk=world["device"].pk).values("id", "key", "confirmed")),
    }


@pytest.mark.django_db
def test_no_one_outside_elsewhere_reaches_its_records(elsewhere_world, callers):
    before = snapshot(elsewhere_world)
    templates = route_templates()
    assert any("/admin/prepapp/patient/<object_id>/change/" == t for t in templates)
    problems, checked = [], 0
    for template in templates:
        if PUBLIC_SHELLS.match(template.lstrip("/")):
            continue
        url = fill(template, elsewhere_world)
        if url is None:
            continue
        names_elsewhere_object = bool(re.search(r"<\w+>", template))
        for label, client in callers.items():
            # Every caller's refusal must come from who they are, not from an address limit
            # the callers before them used up (they all share the test client's address).
            cache.clear()
            for method in METHODS:
                if template.startswith("/admin/") and method not in ("get", "post"):
                    continue
                response = getattr(client, method)(url, {} if method == "get" else "{}",
                                                   **({} if method == "get" else {"content_type": "application/json"}))
                checked += 1
                status = response.status_code
                body = b"" if getattr(response, "streaming", False) else response.content
                if status >= 500:
                    problems.append(f"{label} {method.upper()} {url}: {status}")
                leaked = [m for m in EVE_MARKERS if m.encode() in body]
                if leaked:
                    problems.append(f"{label} {method.upper()} {url}: {status} shows {leaked}")
                if names_elsewhere_object and status not in REFUSED:
                    location = response.get("Location", "")
                    # A sign-in page, the admin index, or the admin's old-style object URL sending
                    # on to its change page (which is itself one of the routes checked here).
                    harmless_redirect = status == 302 and (
                        "/login/" in location or location.rstrip("/") in ("/admin", "") or "next=" in location
                        or (location == f"{url}change/" and url.startswith("/admin/"))
                    )
                    if not harmless_redirect:
                        problems.append(f"{label} {method.upper()} {url}: {status} (expected refusal)")
    assert checked > 500, checked
    assert problems == []
    assert snapshot(elsewhere_world) == before


@pytest.mark.django_db
def test_elsewheres_own_team_does_reach_it(elsewhere_world, olga):
    """The other side of the matrix: the refusals above are about organizations, not broken routes."""
    client = Client()
    client.force_login(olga)
    eve = elsewhere_world["patient"]
    assert client.get(f"/api/v1/patients/{eve.pk}/").status_code == 200
    assert client.get(f"/coordinator/patients/{eve.pk}/").status_code == 200
    assert b"Eve Elsewhere" in client.get("/api/v1/roster/").content


@pytest.mark.django_db
def test_a_revoked_caregiver_gets_nothing_even_of_the_patient_she_followed(pat, pat_checklist):
    link = caregiver_invite(patient=pat, invited_by=pat.user, name="Rita", relationship="neighbour",
                            email="rita@example.org", access="see_and_tick")
    client = Client(HTTP_ORIGIN="http://testserver")
    client.force_login(link.caregiver)
    assert client.get(f"/api/v1/following/{link.pk}/checklist/").status_code == 200
    message = FamilyMessage.objects.create(caregiver=link, title="Pat Example's surgery is tomorrow", body="b")
    caregiver_revoke(link=link, revoked_by=pat.user)
    task = pat_checklist.tasks.first()
    for method, url in (("get", "/api/v1/following/"), ("get", f"/api/v1/following/{link.pk}/checklist/"),
                        ("get", f"/api/v1/following/{link.pk}/safety/"),
                        ("post", f"/api/v1/following/{link.pk}/tasks/{task.pk}/complete/"),
                        ("get", "/api/v1/following/settings/"), ("patch", "/api/v1/following/settings/"),
                        ("get", "/api/v1/following/inbox/"), ("post", f"/api/v1/following/inbox/{message.pk}/read/"),
                        ("post", "/api/v1/following/push/"),
                        ("get", "/api/v1/me/checklist/")):
        response = getattr(client, method)(url)
        assert response.status_code in (401, 403), (url, response.status_code)
        assert b"Pat Example" not in response.content
    # The session itself ended: signing in again is the only way back, and the links are spent.
    assert "_auth_user_id" not in client.session


def test_the_route_list_is_complete_enough():
    templates = route_templates()
    for expected in ("/api/v1/patients/<pk>/", "/api/v1/me/tasks/<pk>/complete/", "/coordinator/patients/<pk>/",
                     "/api/v1/cases/<pk>/reschedule/", "/admin/reminders/reminder/<object_id>/change/",
                     "/api/v1/following/<pk>/tasks/<task_id>/complete/", "/api/v1/me/caregivers/<pk>/",
                     "/api/v1/patients/<pk>/caregivers/", "/api/v1/following/inbox/<pk>/read/",
                     "/api/v1/following/settings/"):
        assert expected in templates
