"""The checklist's validator moves with every write to what pat's plan shows, whoever makes it.

The validator is built from pat's plan revision, which database triggers move. Each test below
makes one kind of write the way the service makes it (pat's phone and carol's calls to the API,
the admin's change form, a workflow, a bulk UPDATE that no Python code sees) and checks that the
ETag pat's phone holds is no longer current, and that the new answer shows the change. The last
tests check the triggers themselves: every table the checklist answer is read from has them.
"""

import re
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from checklists.models import Checklist, Protocol, Task, TaskDefinition
from checklists.payloads import checklist_payload, clear_payload_caches
from prepapp.authentication import SESSION_USER_BACKEND
from prepapp.models import Patient, SurgeryCase
from prepapp.workflows import cases_reschedule_bulk, checklists_assign_bulk, patient_update_facts

from .factories import days_from_today
from .support.fixtures import signed_in_phone
from .support.second_factor import VerifiedClient

pytestmark = pytest.mark.django_db

CHECKLIST = "/api/v1/me/checklist/"


@pytest.fixture(autouse=True)
def _cold_caches(cold_payload_caches):
    """Every test here starts with nothing kept."""


@pytest.fixture
def pat_phone(pat, pat_checklist):
    return signed_in_phone(pat)


def read(client) -> tuple[str, dict]:
    response = client.get(CHECKLIST)
    assert response.status_code == 200, response.content
    return response["ETag"], response.json()


def is_current(client, etag) -> bool:
    response = client.get(CHECKLIST, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code in (200, 304)
    return response.status_code == 304


def a_task(pat, key="stop-nsaids") -> Task:
    return Task.objects.get(checklist__case__patient=pat, definition__key=key)


def all_tasks(body) -> list[dict]:
    return [t for group in body["groups"].values() for t in group]


def changed_by(client, write) -> dict:
    """Make the write; assert the phone's copy is stale; return the new answer."""
    etag, _ = read(client)
    assert is_current(client, etag)
    write()
    assert not is_current(client, etag), "the validator did not move"
    new_etag, body = read(client)
    assert new_etag != etag
    return body


# --- pat's phone ------------------------------------------------------------------------------


def test_ticking_off_and_reopening(pat, pat_phone):
    task = a_task(pat)
    body = changed_by(pat_phone, lambda: pat_phone.post(f"/api/v1/me/tasks/{task.pk}/complete/"))
    assert [t["status"] for t in all_tasks(body) if t["id"] == task.pk] == ["done"]
    body = changed_by(pat_phone, lambda: pat_phone.post(f"/api/v1/me/tasks/{task.pk}/reopen/"))
    assert [t["status"] for t in all_tasks(body) if t["id"] == task.pk] == ["open"]


def test_a_note(pat, pat_phone):
    task = a_task(pat)
    body = changed_by(pat_phone, lambda: pat_phone.patch(
        f"/api/v1/me/tasks/{task.pk}/", {"note": "asked the pharmacist"}, content_type="application/json"
    ))
    assert [t["note"] for t in all_tasks(body) if t["id"] == task.pk] == ["asked the pharmacist"]


def test_the_patients_language(pat, pat_phone):
    body = changed_by(pat_phone, lambda: pat_phone.patch("/api/v1/me/", {"language": "es"},
                                                         content_type="application/json"))
    assert body["protocol"]["procedure"] == "Fusión lumbar mínimamente invasiva"


def test_the_health_check(pat, pat_phone):
    answers = {"smoker": "no", "takes_nsaids": "yes", "on_blood_thinners": "no", "diabetic": "no"}
    changed_by(pat_phone, lambda: pat_phone.put("/api/v1/me/health-check/", answers, content_type="application/json"))
    assert "stop-smoking" not in {t["key"] for t in read(pat_phone)[1]["groups"]["coming_up"]}


# --- carol, through the API -------------------------------------------------------------------


def test_moving_cancelling_and_the_patients_details(pat, pat_phone, pat_case, as_carol):
    new_date = days_from_today(40)
    body = changed_by(pat_phone, lambda: as_carol.post(
        f"/api/v1/cases/{pat_case.pk}/reschedule/", {"surgery_date": new_date.isoformat()}, format="json"
    ))
    assert body["case"]["surgery_date"] == new_date.isoformat()
    body = changed_by(pat_phone, lambda: as_carol.patch(f"/api/v1/patients/{pat.pk}/", {"weight_kg": "90"},
                                                        format="json"))
    protein = [t for t in all_tasks(body) if t["key"] == "protein-target"][0]
    assert "108" in protein["targets"][0]["text"]  # 1.2 g per kg of 90 kg
    changed_by(pat_phone, lambda: as_carol.patch(f"/api/v1/patients/{pat.pk}/facts/", {"diabetic": True},
                                                 format="json"))
    body = changed_by(pat_phone, lambda: as_carol.post(f"/api/v1/cases/{pat_case.pk}/cancel/"))
    assert body["case"]["status"] == "cancelled"


def test_marking_the_surgery_done_and_a_new_checklist(pat, protocol_version, as_carol, carol):
    case = SurgeryCase.objects.create(patient=pat, procedure="Fusion", surgery_date=days_from_today(0))
    as_carol.post(f"/api/v1/cases/{case.pk}/assign/", {"protocol": "mis-lumbar-fusion"}, format="json")
    phone = Client()
    phone.force_login(pat.user, backend=SESSION_USER_BACKEND)
    changed_by(phone, lambda: as_carol.post(f"/api/v1/cases/{case.pk}/assign/", {"protocol": "mis-lumbar-fusion"},
                                            format="json"))
    body = changed_by(phone, lambda: as_carol.post(f"/api/v1/cases/{case.pk}/complete/"))
    assert body["case"]["phase"] == "recovery"


def test_archiving_and_reactivating(pat, pat_phone, as_carol):
    etag, _ = read(pat_phone)
    as_carol.post(f"/api/v1/patients/{pat.pk}/discharge/", {"reason": "care finished"}, format="json")
    assert not is_current(pat_phone, etag)  # a discharged patient can still read their record


# --- the admin --------------------------------------------------------------------------------


class FormFields(HTMLParser):
    """The values an admin change form would post back as it stands."""

    def __init__(self):
        super().__init__()
        self.values, self._select, self._textarea = {}, None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "input" and name and attrs.get("type") not in ("submit", "button", "file"):
            if attrs.get("type") in ("checkbox", "radio"):
                if "checked" in attrs:
                    self.values[name] = attrs.get("value", "on")
            else:
                self.values[name] = attrs.get("value", "")
        elif tag == "select" and name:
            self._select = name
            self.values.setdefault(name, "")
        elif tag == "option" and self._select and "selected" in attrs:
            self.values[self._select] = attrs.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.values[name] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] += data


def admin_change(client, model, pk, **changes):
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[pk])
    page = client.get(url)
    assert page.status_code == 200
    form = FormFields()
    form.feed(page.content.decode())
    data = {**form.values, **changes, "_save": "Save"}
    answer = client.post(url, data)
    assert answer.status_code == 302, re.findall(r'class="errorlist[^>]*>(.*?)</ul>', answer.content.decode(), re.S)


@pytest.fixture
def lead_browser(lead_admin):
    client = VerifiedClient()  # signed in with her second factor, as the admin requires
    client.force_login(lead_admin)
    return client


def test_the_admin_changing_a_step_a_surgery_and_the_patient(pat, pat_phone, pat_case, lead_browser):
    task = a_task(pat)
    new_due = days_from_today(20)
    body = changed_by(pat_phone, lambda: admin_change(lead_browser, Task, task.pk, due_date=new_due.isoformat()))
    assert [t["due_date"] for t in all_tasks(body) if t["id"] == task.pk] == [new_due.isoformat()]
    body = changed_by(pat_phone, lambda: admin_change(lead_browser, SurgeryCase, pat_case.pk, surgeon="Dr. Vega"))
    assert body["case"]["surgeon"] == "Dr. Vega"
    changed_by(pat_phone, lambda: admin_change(lead_browser, Patient, pat.pk, weight_kg="70"))


# --- workflows and writes no Python code sees ------------------------------------------------------


def test_workflows_one_at_a_time_and_in_bulk(pat, pat_phone, pat_case, protocol_version, carol):
    changed_by(pat_phone, lambda: patient_update_facts(patient=pat, facts={"on_blood_thinners": True}, by=carol))
    changed_by(pat_phone, lambda: cases_reschedule_bulk(moves={pat_case.pk: days_from_today(50)}))

    def replace_the_checklist():
        Checklist.objects.filter(case=pat_case).delete()
        checklists_assign_bulk(cases=[pat_case.pk], protocol_version=protocol_version)

    changed_by(pat_phone, replace_the_checklist)


def test_a_bulk_update_that_no_signal_sees(pat, pat_phone):
    body = changed_by(pat_phone, lambda: Task.objects.filter(checklist__case__patient=pat).update(note="from a script"))
    assert {t["note"] for t in all_tasks(body)} == {"from a script"}
    body = changed_by(pat_phone, lambda: Protocol.objects.filter(key="mis-lumbar-fusion").update(name="Renamed"))
    assert body["protocol"]["name"] == "Renamed"
    changed_by(pat_phone, lambda: TaskDefinition.objects.filter(key="stop-nsaids").update(why="Changed words."))


def test_an_unrelated_patients_change_leaves_pats_validator(pat, pat_phone, paul):
    etag, _ = read(pat_phone)
    Patient.objects.filter(pk=paul.pk).update(weight_kg=Decimal("60"))
    assert is_current(pat_phone, etag)


def test_a_save_of_a_stale_patient_never_moves_the_revision_back(pat, pat_checklist):
    stale = Patient.objects.get(pk=pat.pk)
    Task.objects.filter(checklist=pat_checklist).update(note="x")
    moved = Patient.objects.get(pk=pat.pk).plan_revision
    stale.save()  # writes the revision it read, which is behind
    assert Patient.objects.get(pk=pat.pk).plan_revision > moved


# --- the triggers cover every table the answer is read from ------------------------------------


def test_every_table_the_checklist_answer_reads_moves_the_revision(pat, pat_checklist):
    clear_payload_caches()
    checklist = Checklist.objects.select_related("case__patient", "protocol_version__protocol").get(pk=pat_checklist.pk)
    with CaptureQueriesContext(connection) as queries:
        Checklist.objects.select_related("case__patient", "protocol_version__protocol").get(pk=pat_checklist.pk)
        checklist_payload(checklist, language="en")
    read_tables = {t for q in queries.captured_queries for t in re.findall(r'FROM "(\w+)"|JOIN "(\w+)"', q["sql"])
                   for t in t if t}
    assert {"checklists_task", "checklists_checklist", "prepapp_surgerycase", "prepapp_patient"} <= read_tables
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT DISTINCT event_object_table FROM information_schema.triggers "
                           "WHERE trigger_name LIKE 'prep_%%plan_revision%%'")
        else:
            cursor.execute("SELECT DISTINCT tbl_name FROM sqlite_master WHERE type = 'trigger' "
                           "AND name LIKE 'prep_%plan_revision%'")
        with_triggers = {row[0] for row in cursor.fetchall()}
    assert read_tables <= with_triggers, f"read without a revision trigger: {read_tables - with_triggers}"
