"""The OpenAPI schema is a contract a client can trust.

It generates with no warning and validates; every operation has a unique, readable id and one
resource tag; path parameters are integers or slugs; every request and response body has a
type; the real responses of the endpoints match what the schema says of them, field for field;
and every error, whatever its status, is {"field": ["message", …]} with anything else under
"detail".
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.drainage import GENERATOR_STATS, reset_generator_stats
from drf_spectacular.generators import SchemaGenerator
from openapi_schema_validator import OAS30ReadValidator, oas30_format_checker
from openapi_spec_validator import validate as validate_spec
from rest_framework import exceptions
from rest_framework.test import APIClient

from prepapp.lib.errors import exception_handler
from prepapp.lib.schema import LOCAL_TIME_PATTERN
from prepapp.api.deliveries import ReminderCountsSerializer
from prepapp.reminders.models import DeliveryAttempt, InboxMessage, Reminder

from .factories import UserFactory, days_from_today
from .support.push_service import PushService

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[1]
HTTP_METHODS = {"get", "put", "patch", "post", "delete"}
RESOURCE_TAGS = {
    "auth", "patients", "cases", "protocols", "roster", "deliveries", "alerts", "me", "inbox", "push", "fhir",
    "following",
}
SLUG_PATTERN = "^[-a-zA-Z0-9_]+$"


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    """The schema as `manage.py spectacular --validate --fail-on-warn` writes it, in its own process."""
    out = tmp_path_factory.mktemp("schema") / "openapi.json"
    command = [sys.executable, "manage.py", "spectacular", "--validate", "--fail-on-warn",
               "--format", "openapi-json", "--file", str(out)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    problems = [line for line in result.stderr.splitlines() if re.search(r"\b(Warning|Error)\b", line)]
    assert result.returncode == 0 and problems == [], result.stderr
    return json.loads(out.read_text())


def operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


# --- The schema itself ------------------------------------------------------------------------


def test_the_schema_generates_without_warnings_and_is_valid_openapi(spec):
    validate_spec(spec)
    assert spec["openapi"].startswith("3.")


def test_operation_ids_are_unique_readable_and_unversioned(spec):
    ids = [operation["operationId"] for _, _, operation in operations(spec)]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert [i for i in ids if not re.fullmatch(r"[a-z][a-z0-9_]*", i) or i.startswith("v1")] == []
    by_route = {(path, method): operation["operationId"] for path, method, operation in operations(spec)}
    assert by_route[("/api/v1/cases/", "get")] == "cases_list"
    assert by_route[("/api/v1/cases/{id}/", "get")] == "cases_retrieve"
    assert by_route[("/api/v1/me/checklist/", "get")] == "me_checklist_retrieve"
    assert by_route[("/api/v1/me/push-subscriptions/{id}/", "delete")] == "me_push_subscriptions_destroy"
    assert by_route[("/api/v1/me/push-subscriptions/", "delete")] == "me_push_subscriptions_destroy_by_endpoint"


def test_every_operation_has_one_resource_tag(spec):
    untagged = {(path, method): operation.get("tags") for path, method, operation in operations(spec)
                if len(operation.get("tags", [])) != 1 or operation["tags"][0] not in RESOURCE_TAGS}
    assert untagged == {}
    assert {tag["name"] for tag in spec["tags"]} == RESOURCE_TAGS
    tag_of = {(path, method): operation["tags"][0] for path, method, operation in operations(spec)}
    assert tag_of[("/api/v1/me/inbox/", "get")] == "inbox"
    assert tag_of[("/api/v1/me/push-subscriptions/", "post")] == "push"
    assert tag_of[("/api/v1/patients/{id}/deliveries/", "get")] == "deliveries"
    assert tag_of[("/api/v1/me/tasks/{id}/", "get")] == "me"


def test_path_parameters_are_integers_or_slugs(spec):
    wrong = []
    for path, method, operation in operations(spec):
        declared = {p["name"]: p["schema"] for p in operation.get("parameters", []) if p["in"] == "path"}
        if set(declared) != set(re.findall(r"\{(\w+)\}", path)):
            wrong.append((path, method, "parameters do not match the path"))
        for name, schema in declared.items():
            if schema.get("type") != "integer" and schema != {"type": "string", "pattern": SLUG_PATTERN}:
                wrong.append((path, method, name, schema))
    assert wrong == []


def free_form_objects(node, where="") -> list[str]:
    """Places in a schema that say only "an object", with nothing about its fields."""
    found = []
    if isinstance(node, dict):
        says_nothing = node.get("additionalProperties") in (None, {}, True)
        if node.get("type") == "object" and "properties" not in node and says_nothing:
            found.append(where)
        for key, value in node.items():
            found += free_form_objects(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += free_form_objects(value, f"{where}/{i}")
    return found


def test_every_request_and_response_body_is_typed(spec):
    untyped = []
    for path, method, operation in operations(spec):
        bodies = [("request", operation.get("requestBody", {}).get("content", {}))]
        bodies += [(code, response.get("content", {})) for code, response in operation["responses"].items()]
        for code, content in bodies:
            for media_type, body in content.items():
                schema = body["schema"]
                # Files (a calendar, a CSV export, the visit sheet PDF) are of their own format, described in words.
                typed = "$ref" in schema or "$ref" in schema.get("items", {}) or media_type in ("text/calendar", "text/csv", "application/pdf")
                if not typed or free_form_objects(schema):
                    untyped.append((operation["operationId"], code, media_type, schema))
    assert untyped == []
    assert free_form_objects(spec["components"]["schemas"]) == []


def test_every_error_is_documented_with_the_one_error_shape(spec):
    error = spec["components"]["schemas"]["Error"]
    assert error["properties"]["detail"] == {
        "type": "array", "items": {"type": "string"}, "description": "Messages that are about no single field."
    }
    missing = []
    for path, method, operation in operations(spec):
        responses = operation["responses"]
        expected = set()
        if method in {"post", "put", "patch"}:
            expected.add("400")
        if {} not in operation.get("security", [{}]):  # signing in is required
            expected.add("401")
            if "WWW-Authenticate" not in responses.get("401", {}).get("headers", {}):
                missing.append((operation["operationId"], "401 without WWW-Authenticate"))
        if "{" in path:
            expected.add("404")
        missing += [(operation["operationId"], code) for code in sorted(expected - set(responses))]
        for code, response in responses.items():
            if path.startswith("/fhir/") and code.startswith("4"):
                # FHIR's endpoints answer every error with FHIR's own OperationOutcome.
                if response["content"] != {"application/fhir+json": {"schema": {
                        "$ref": "#/components/schemas/OperationOutcome"}}}:
                    missing.append((operation["operationId"], code, "not an OperationOutcome"))
                continue
            schema = response["content"]["application/json"]["schema"] if code.startswith("4") else None
            if schema is None or schema == {"$ref": "#/components/schemas/Error"}:
                continue
            # A refusal that carries more than messages (enrolment's possible duplicates) still
            # has the Error's "detail": a list of strings, always there.
            component = spec["components"]["schemas"].get(schema.get("$ref", "").rsplit("/", 1)[-1], {})
            detail = component.get("properties", {}).get("detail", {})
            if detail.get("items") != {"type": "string"} or "detail" not in component.get("required", []):
                missing.append((operation["operationId"], code, "not the Error shape"))
    assert missing == []


# --- Times of day -------------------------------------------------------------------------------

TIME_FIELDS = [
    ("Patient", "reminder_time"), ("Patient", "quiet_hours_start"), ("Patient", "quiet_hours_end"),
    ("PatientRequest", "reminder_time"), ("PatientProfile", "quiet_hours_end"),
    ("PatchedPatientProfileRequest", "reminder_time"), ("SurgeryCase", "surgery_time"),
    ("SurgeryCaseRequest", "surgery_time"), ("RescheduleRequest", "surgery_time"), ("CaseSummary", "surgery_time"),
]


def test_times_are_documented_as_the_local_wall_clock_times_returned(spec, as_pat, as_carol, pat_case):
    assert '"format": "time"' not in json.dumps(spec)  # that format promises a UTC offset
    for component, field in TIME_FIELDS:
        schema = spec["components"]["schemas"][component]["properties"][field]
        assert schema["type"] == "string" and schema["pattern"] == LOCAL_TIME_PATTERN, (component, field)
        assert "patient's time zone" in schema["description"] and "without a UTC offset" in schema["description"]

    profile = as_pat.patch("/api/v1/me/", {"reminder_time": "07:30"}, format="json").json()
    assert profile["reminder_time"] == "07:30:00"
    moved = as_carol.post(f"/api/v1/cases/{pat_case.pk}/reschedule/",
                          {"surgery_date": str(days_from_today(40)), "surgery_time": "08:15"}, format="json").json()
    assert moved["surgery_time"] == "08:15:00"
    for returned in (profile["reminder_time"], profile["quiet_hours_start"], moved["surgery_time"]):
        assert re.fullmatch(LOCAL_TIME_PATTERN, returned), returned
    assert not re.fullmatch(LOCAL_TIME_PATTERN, "08:15:00+02:00")
    assert not re.fullmatch(LOCAL_TIME_PATTERN, "08:15:00Z")


# --- Real responses match the schema, field for field -----------------------------------------


def closed(node):
    """The schema with every described object closed to undocumented fields.

    A nullable reference is written {"allOf": [{"$ref": …}], "nullable": true} in OpenAPI 3.0
    (drf-spectacular, like client generators, reads it as "the object or null"); the validator
    is told so explicitly.
    """
    if isinstance(node, dict):
        node = {key: closed(value) for key, value in node.items()}
        if "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        if node.get("nullable") and "allOf" in node and "type" not in node:
            node = {"anyOf": [{"allOf": node.pop("allOf")}, {"enum": [None], "nullable": True}], **node}
        return node
    if isinstance(node, list):
        return [closed(value) for value in node]
    return node


@pytest.fixture(scope="module")
def closed_components(spec):
    return closed(spec["components"])


@pytest.fixture
def check(spec, closed_components):
    """check(response, path template, method): the response's body is what the schema says of it."""

    def check_response(response, path, method):
        documented = spec["paths"][path][method]["responses"]
        code = str(response.status_code)
        assert code in documented, (path, method, code, response.content[:300])
        content = documented[code].get("content")
        if content is None:
            assert not response.content, (path, method, code)
            return
        schema = content["application/json"]["schema"]
        validator = OAS30ReadValidator({**schema, "components": closed_components}, format_checker=oas30_format_checker)
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(response.json())]
        assert errors == [], (path, method, code)

    return check_response


@pytest.fixture
def pat_reminder_history(pat, pat_checklist):
    """An in-app message and a failed delivery for pat."""
    task = pat_checklist.tasks.first()
    InboxMessage.objects.create(patient=pat, task=task, title="Reminder", body="Body")
    reminder = Reminder.objects.filter(patient=pat).first()
    DeliveryAttempt.objects.create(reminder=reminder, patient=pat, channel=reminder.channel, outcome="failed",
                                   detail="gave up")
    return reminder


def test_staff_responses_match_the_schema(check, as_carol, carol, pat, paul, pat_checklist, pat_reminder_history):
    case = pat_checklist.case
    check(as_carol.get("/api/v1/me/"), "/api/v1/me/", "get")
    check(as_carol.get("/api/v1/patients/"), "/api/v1/patients/", "get")
    check(as_carol.get(f"/api/v1/patients/{pat.pk}/"), "/api/v1/patients/{id}/", "get")
    check(as_carol.patch(f"/api/v1/patients/{pat.pk}/", {"weight_kg": "81.5"}, format="json"),
          "/api/v1/patients/{id}/", "patch")
    check(as_carol.post("/api/v1/patients/", {"full_name": "New Patient", "time_zone": "Europe/Madrid"}, format="json"),
          "/api/v1/patients/", "post")
    check(as_carol.get("/api/v1/cases/"), "/api/v1/cases/", "get")
    check(as_carol.get(f"/api/v1/cases/{case.pk}/"), "/api/v1/cases/{id}/", "get")
    check(as_carol.get(f"/api/v1/cases/{case.pk}/checklist/?lang=es"), "/api/v1/cases/{id}/checklist/", "get")
    check(as_carol.post(f"/api/v1/cases/{case.pk}/reschedule/", {"surgery_date": str(days_from_today(42))},
                        format="json"), "/api/v1/cases/{id}/reschedule/", "post")
    booked = as_carol.post("/api/v1/cases/", {"patient": paul.pk, "procedure": "Fusion",
                                              "surgery_date": str(days_from_today(20)), "surgery_time": "07:45"},
                           format="json")
    check(booked, "/api/v1/cases/", "post")
    assigned = as_carol.post(f"/api/v1/cases/{booked.json()['id']}/assign/", {"protocol": "mis-lumbar-fusion"},
                             format="json")
    check(assigned, "/api/v1/cases/{id}/assign/", "post")
    check(as_carol.post(f"/api/v1/cases/{booked.json()['id']}/cancel/"), "/api/v1/cases/{id}/cancel/", "post")
    check(as_carol.get("/api/v1/protocols/"), "/api/v1/protocols/", "get")
    check(as_carol.get("/api/v1/protocols/mis-lumbar-fusion/"), "/api/v1/protocols/{key}/", "get")
    check(as_carol.get("/api/v1/protocols/mis-lumbar-fusion/versions/1/"),
          "/api/v1/protocols/{key}/versions/{number}/", "get")
    check(as_carol.get("/api/v1/roster/?ordering=-overdue"), "/api/v1/roster/", "get")
    check(as_carol.get(f"/api/v1/patients/{pat.pk}/deliveries/"), "/api/v1/patients/{id}/deliveries/", "get")


def test_patient_responses_match_the_schema(check, as_pat, pat, pat_checklist, pat_reminder_history, settings):
    task = pat_checklist.tasks.get(definition__key="surgeon-questions")
    check(as_pat.get("/api/v1/me/"), "/api/v1/me/", "get")
    check(as_pat.patch("/api/v1/me/", {"quiet_hours_start": "22:00", "language": "es"}, format="json"),
          "/api/v1/me/", "patch")
    check(as_pat.get("/api/v1/me/case/"), "/api/v1/me/case/", "get")
    check(as_pat.get("/api/v1/me/checklist/"), "/api/v1/me/checklist/", "get")
    check(as_pat.get(f"/api/v1/me/tasks/{task.pk}/"), "/api/v1/me/tasks/{id}/", "get")
    question = task.definition.sub_items[0]["key"]
    check(as_pat.patch(f"/api/v1/me/tasks/{task.pk}/", {"answers": {question: "How long?"}, "note": "n"},
                       format="json"), "/api/v1/me/tasks/{id}/", "patch")
    check(as_pat.post(f"/api/v1/me/tasks/{task.pk}/complete/"), "/api/v1/me/tasks/{id}/complete/", "post")
    check(as_pat.post(f"/api/v1/me/tasks/{task.pk}/reopen/"), "/api/v1/me/tasks/{id}/reopen/", "post")
    check(as_pat.get("/api/v1/me/inbox/"), "/api/v1/me/inbox/", "get")
    check(as_pat.get("/api/v1/me/inbox/unread-count/"), "/api/v1/me/inbox/unread-count/", "get")
    message = InboxMessage.objects.get(patient=pat)
    check(as_pat.post(f"/api/v1/me/inbox/{message.pk}/read/"), "/api/v1/me/inbox/{id}/read/", "post")
    check(as_pat.post("/api/v1/me/inbox/read-all/"), "/api/v1/me/inbox/read-all/", "post")
    settings.VAPID_PUBLIC_KEY, settings.VAPID_PRIVATE_KEY = "BPUBLIC", "private"
    check(as_pat.get("/api/v1/me/push/public-key/"), "/api/v1/me/push/public-key/", "get")
    settings.VAPID_PUBLIC_KEY = settings.VAPID_PRIVATE_KEY = ""
    check(as_pat.get("/api/v1/me/push/public-key/"), "/api/v1/me/push/public-key/", "get")

    settings.WEBPUSH_ALLOW_HTTP, settings.WEBPUSH_ENDPOINT_HOSTS = True, ["127.0.0.1"]
    push = PushService()  # not started: only a fake browser's keys are needed
    try:
        body = push.browser().subscription_json()
    finally:
        push.server.server_close()
    created = as_pat.post("/api/v1/me/push-subscriptions/", body, format="json")
    check(created, "/api/v1/me/push-subscriptions/", "post")
    check(as_pat.post("/api/v1/me/push-subscriptions/", body, format="json"), "/api/v1/me/push-subscriptions/", "post")
    check(as_pat.get("/api/v1/me/push-subscriptions/"), "/api/v1/me/push-subscriptions/", "get")
    check(as_pat.get(f"/api/v1/me/push-subscriptions/{created.json()['id']}/"),
          "/api/v1/me/push-subscriptions/{id}/", "get")
    check(as_pat.delete("/api/v1/me/push-subscriptions/", {"endpoint": body["endpoint"]}, format="json"),
          "/api/v1/me/push-subscriptions/", "delete")


def test_the_calendar_is_served_as_documented(spec, as_pat, as_paul, pat_checklist):
    documented = spec["paths"]["/api/v1/me/calendar.ics"]["get"]["responses"]
    assert set(documented["200"]["content"]) == {"text/calendar"}
    for accept in ("*/*", "text/calendar"):
        response = as_pat.get("/api/v1/me/calendar.ics", HTTP_ACCEPT=accept)
        assert response.status_code == 200 and response["Content-Type"].startswith("text/calendar")
        assert response.content.startswith(b"BEGIN:VCALENDAR")
    # An error stays JSON, in the one shape, even for a client that asked for a calendar.
    missing = as_paul.get("/api/v1/me/calendar.ics", HTTP_ACCEPT="text/calendar")
    assert missing.status_code == 404 and missing["Content-Type"] == "application/json"
    assert json.loads(missing.content) == {"detail": ["No checklist has been assigned to you yet."]}


def test_the_me_endpoint_answers_with_one_of_its_documented_kinds(spec, check, db):
    assert set(spec["components"]["schemas"]["Me"]["discriminator"]["mapping"]) == {
        "patient", "caregiver", "staff", "other",
    }
    client = APIClient()
    client.force_authenticate(UserFactory(username="nobody-here"))
    response = client.get("/api/v1/me/")
    assert response.json() == {"kind": "other", "username": "nobody-here", "memberships": []}
    check(response, "/api/v1/me/", "get")


def test_the_reminder_counts_name_every_status():
    assert list(ReminderCountsSerializer().fields) == list(Reminder.Status.values)


# --- Errors -------------------------------------------------------------------------------------


def test_anonymous_callers_get_401_with_the_token_scheme(check, pat_checklist):
    client = APIClient()
    for path in ["/api/v1/patients/", "/api/v1/me/", "/api/v1/me/checklist/", "/api/v1/roster/"]:
        response = client.get(path)
        assert response.status_code == 401, path
        assert response["WWW-Authenticate"] == "Token"
        assert response.json() == {"detail": ["Authentication credentials were not provided."]}
        check(response, path, "get")
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = client.get("/api/v1/patients/")
    assert response.status_code == 401 and response.json() == {"detail": ["Invalid token."]}


def test_session_writes_without_csrf_are_403_in_the_error_shape(pat_checklist):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(pat_checklist.case.patient.user)
    task = pat_checklist.tasks.first()
    response = client.post(f"/api/v1/me/tasks/{task.pk}/complete/")
    assert response.status_code == 403
    assert list(response.json()) == ["detail"] and response.json()["detail"][0].startswith("CSRF Failed")


def test_error_bodies_are_lists_under_field_names_or_detail(check, as_carol, as_pat, as_paul, pat, pat_checklist):
    field = as_carol.post("/api/v1/patients/", {"full_name": "A", "time_zone": "Mars/Olympus_Mons"}, format="json")
    assert field.status_code == 400 and set(field.json()) == {"time_zone"}
    assert isinstance(field.json()["time_zone"], list)
    check(field, "/api/v1/patients/", "post")

    # A refusal from a service that names a field, raised as a plain string, is still a list.
    cancelled = as_carol.post(f"/api/v1/cases/{pat_checklist.case_id}/cancel/")
    assert cancelled.status_code == 200
    refused = as_carol.post(f"/api/v1/cases/{pat_checklist.case_id}/reschedule/",
                            {"surgery_date": str(days_from_today(50))}, format="json")
    assert refused.status_code == 400 and all(isinstance(v, list) for v in refused.json().values())
    check(refused, "/api/v1/cases/{id}/reschedule/", "post")

    # Nested fields' errors nest in the same shape.
    nested = as_pat.post("/api/v1/me/push-subscriptions/",
                         {"endpoint": "https://push.example/x", "keys": {"p256dh": "bad", "auth": "bad"}},
                         format="json")
    assert nested.status_code == 400 and isinstance(nested.json()["keys"]["auth"], list)
    check(nested, "/api/v1/me/push-subscriptions/", "post")

    not_found = as_carol.get("/api/v1/patients/999999/")
    assert not_found.status_code == 404 and list(not_found.json()) == ["detail"]
    assert isinstance(not_found.json()["detail"], list)
    check(not_found, "/api/v1/patients/{id}/", "get")
    assert as_paul.get("/api/v1/me/case/").json() == {"detail": ["No surgery has been booked for you yet."]}
    check(as_paul.get("/api/v1/me/case/"), "/api/v1/me/case/", "get")
    check(as_paul.get("/api/v1/me/checklist/"), "/api/v1/me/checklist/", "get")

    forbidden = as_pat.get("/api/v1/patients/")
    assert forbidden.status_code == 403 and forbidden.json() == {"detail": ["Only care-team members may do this."]}
    check(forbidden, "/api/v1/patients/", "get")

    no_endpoint = as_pat.delete("/api/v1/me/push-subscriptions/", {}, format="json")
    assert no_endpoint.status_code == 400 and no_endpoint.json() == {"endpoint": ["This field is required."]}
    check(no_endpoint, "/api/v1/me/push-subscriptions/", "delete")

    bad_ordering = as_carol.get("/api/v1/roster/?ordering=shoe-size")
    assert bad_ordering.status_code == 400 and isinstance(bad_ordering.json()["ordering"], list)
    check(bad_ordering, "/api/v1/roster/", "get")

    not_allowed = as_carol.delete("/api/v1/roster/")
    assert not_allowed.status_code == 405 and isinstance(not_allowed.json()["detail"], list)
    unsupported = as_carol.generic("POST", "/api/v1/patients/", "full_name=A", content_type="text/plain")
    assert unsupported.status_code == 415 and isinstance(unsupported.json()["detail"], list)
    malformed = as_carol.generic("POST", "/api/v1/patients/", '{"full_name": "A",', content_type="application/json")
    assert malformed.status_code == 400 and isinstance(malformed.json()["body"], list)


@pytest.mark.parametrize(
    "exc, status, body",
    [
        (exceptions.Throttled(wait=30), 429, {"detail": ["Request was throttled. Expected available in 30 seconds."]}),
        (exceptions.ValidationError("Not like this."), 400, {"detail": ["Not like this."]}),
        (exceptions.ValidationError({"organization": "Use the admin."}), 400, {"organization": ["Use the admin."]}),
        (DjangoValidationError("Refused."), 400, {"detail": ["Refused."]}),
        (DjangoValidationError({"__all__": ["Both at once."], "task": ["Done already."]}), 400,
         {"detail": ["Both at once."], "task": ["Done already."]}),
        (exceptions.NotFound(), 404, {"detail": ["Not found."]}),
    ],
)
def test_the_exception_handler_gives_the_one_shape(exc, status, body):
    response = exception_handler(exc, {})
    assert response.status_code == status
    assert json.loads(json.dumps(response.data)) == body
    if status == 429:
        assert response["Retry-After"] == "30"


# --- The schema endpoint --------------------------------------------------------------------------


def test_fetching_the_schema_anonymously_raises_nothing(client, capsys, caplog):
    """drf-spectacular reports a view it could not read (e.g. a serializer that needs a signed-in
    user) on stderr and in its counters, then documents that view without bodies."""
    reset_generator_stats()
    response = client.get("/api/schema/")
    assert response.status_code == 200
    reported = capsys.readouterr().err + caplog.text
    assert "exception raised while getting serializer" not in reported
    assert not GENERATOR_STATS, reported
    assert b"/api/v1/cases/{id}/reschedule/" in response.content


def test_every_ref_resolves_however_many_times_the_schema_is_made():
    """The schema made a second time (the docs pages fetch it again) has no dangling $ref."""
    for _ in range(2):
        schema = SchemaGenerator().get_schema(request=None, public=True)
    text = json.dumps(schema)
    refs = set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', text))
    assert refs and refs <= set(schema["components"]["schemas"]), refs - set(schema["components"]["schemas"])
