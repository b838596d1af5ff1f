"""Erasure works for every patient, whatever they did, and never answers 500 when it races another change.

- after every kind of activity (the health check, answers and ticks, reminders sent and read,
  a push subscription, sessions and sign-in links, a data export, check-ins with a red flag
  alert acknowledged, a rule lifted): everything of the patient's goes, the audit trail stays
  under the pseudonym, a login the trail names as an actor stays emptied and unusable;
- at the same moment as a discharge, an archive, a change of facts or a tick, on PostgreSQL
  with each side on its own connection: the loser gets a clear 404 or 409, never a 500.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.contrib.auth import get_user_model
from django.db import close_old_connections, connection, connections
from django.test import Client
from django.urls import reverse

from checklists.models import CheckIn, Checklist, RuleLift, Task
from prepapp.models import AuditEntry, Patient, SignInLink, SurgeryCase, erased_login_name
from prepapp.reminders.models import Alert, DeliveryAttempt, InboxMessage, PushSubscription, Reminder
from prepapp.services import patient_enrol
from prepapp.workflows import case_book, checklist_assign, data_rights, patients as patient_workflows

from .conftest import client_for
from .factories import UserFactory, days_from_today
from .support.second_factor import give_second_factor
from .safety_support import after_surgery, phones
from .support.outbox import deliver_all, make_due, no_quiet_hours

User = get_user_model()
RED_FLAG = {"back-pain": 3, "new-weakness": "yes"}
HEALTH_CHECK = {"smoker": "no", "takes_nsaids": "yes", "on_blood_thinners": "not_sure", "diabetic": "no"}


def erase(client, patient, **extra):
    return client.post(f"/api/v1/patients/{patient.pk}/erase/", {"confirm_full_name": patient.full_name},
                       format="json", **extra)


def signed_in_phone(patient) -> Client:
    """The patient's phone, signed in with the invitation code as the app does."""
    phone = Client(HTTP_ORIGIN="http://testserver")
    response = phone.post("/api/v1/auth/invitation/", {"code": patient.invitation_code}, content_type="application/json")
    assert response.status_code == 200, response.content
    return phone


@pytest.mark.django_db
def test_a_patient_is_erased_after_every_kind_of_activity(
    pat, pat_case, pat_checklist, riverside, carol, as_carol, django_capture_on_commit_callbacks
):
    phones(riverside)
    phone = signed_in_phone(pat)
    login_id = pat.user_id
    # Before surgery: the health check (audited, with the patient's own login as its actor),
    # answers, a note and a tick, reminders sent in the app and read, a push subscription,
    # a sign-in link asked for and a copy of everything downloaded.
    assert phone.put("/api/v1/me/health-check/", HEALTH_CHECK, content_type="application/json").status_code == 200
    assert AuditEntry.objects.filter(actor_id=login_id, action="health-check").exists()
    scans = Task.objects.get(checklist=pat_checklist, definition__key="preop-evaluation")
    patched = phone.patch(f"/api/v1/me/tasks/{scans.pk}/", {"answers": {"mri": "March 3"}, "note": "Bring CDs"},
                          content_type="application/json")
    assert patched.status_code == 200, patched.content
    assert phone.post(f"/api/v1/me/tasks/{scans.pk}/complete/").status_code == 200
    no_quiet_hours(pat)
    make_due(pat, channels=["inapp"], limit=3)
    deliver_all(django_capture_on_commit_callbacks)
    assert InboxMessage.objects.filter(patient=pat).exists() and DeliveryAttempt.objects.filter(patient=pat).exists()
    assert phone.post("/api/v1/me/inbox/read-all/").status_code == 200
    PushSubscription.objects.create(patient=pat, endpoint="https://fcm.googleapis.com/fcm/send/pat", p256dh="k", auth="a")
    assert Client(HTTP_ORIGIN="http://testserver").post("/api/v1/auth/sign-in-link/", {"email": "pat@example.org"},
                         content_type="application/json").status_code == 202
    assert SignInLink.objects.filter(patient=pat).exists()
    assert phone.get("/api/v1/me/export/").status_code == 200
    # After surgery: a check-in with a red flag raises an alert, which carol acknowledges; she lifts a rule.
    after_surgery(pat, pat_case, 30)
    assert phone.post("/api/v1/me/check-ins/", {"answers": RED_FLAG}, content_type="application/json").status_code == 201
    alert = Alert.objects.get(patient=pat, kind="check_in_red_flag")
    assert as_carol.post(f"/api/v1/alerts/{alert.pk}/acknowledge/", {"note": "Called her"},
                         format="json").status_code == 200
    assert as_carol.post(f"/api/v1/patients/{pat.pk}/rules/no-driving/lift/", {"note": "Surgeon agrees"},
                         format="json").status_code == 200
    assert as_carol.get(f"/api/v1/patients/{pat.pk}/").status_code == 200

    response = erase(as_carol, pat, REMOTE_ADDR="198.51.100.30")

    assert response.status_code == 200, response.content
    assert response.json() == {"erased": True, "reference": f"patient-{pat.pk}"}
    gone = {
        "patient": Patient.objects.filter(pk=pat.pk), "cases": SurgeryCase.objects.filter(patient_id=pat.pk),
        "checklists": Checklist.objects.filter(pk=pat_checklist.pk), "tasks": Task.objects.filter(checklist_id=pat_checklist.pk),
        "check-ins": CheckIn.objects.filter(patient_id=pat.pk), "rule lifts": RuleLift.objects.filter(case_id=pat_case.pk),
        "alerts": Alert.objects.filter(patient_id=pat.pk), "reminders": Reminder.objects.filter(patient_id=pat.pk),
        "deliveries": DeliveryAttempt.objects.filter(patient_id=pat.pk), "inbox": InboxMessage.objects.filter(patient_id=pat.pk),
        "push": PushSubscription.objects.filter(patient_id=pat.pk), "links": SignInLink.objects.filter(patient_id=pat.pk),
    }
    assert {name: rows.count() for name, rows in gone.items() if rows.exists()} == {}
    # The trail stays, about the pseudonym; the health check's actor is the emptied login.
    kept = AuditEntry.objects.filter(patient_ref=f"patient-{pat.pk}")
    assert not kept.filter(patient__isnull=False).exists()
    assert {"health-check", "read", "lift-rule", "acknowledge-alert", "erase"} <= set(kept.values_list("action", flat=True))
    login = User.objects.get(pk=login_id)
    assert (login.username, login.email, login.first_name, login.last_name, login.is_active, login.last_login) == (
        erased_login_name(pat.pk), "", "", "", False, None
    )
    assert not login.has_usable_password()
    assert not User.objects.filter(email__iexact="pat@example.org").exists()
    assert kept.get(action="health-check").actor_id == login_id
    # The erasure's own entry says who, from where and how.
    entry = kept.get(action="erase")
    assert (entry.actor, entry.ip_address, entry.path) == (carol, "198.51.100.30", f"/api/v1/patients/{pat.pk}/erase/")
    # The phone is signed out, and the link and code sign no one in.
    assert phone.get("/api/v1/me/").status_code in (401, 403)


@pytest.mark.django_db
def test_a_patient_with_no_entry_of_their_own_loses_the_login_altogether(pat, as_carol):
    login_id = pat.user_id
    assert erase(as_carol, pat).status_code == 200
    assert not User.objects.filter(pk=login_id).exists()


@pytest.mark.django_db
def test_the_operator_deletes_a_patient_who_answered_the_health_check_in_the_admin(client, pat):
    phone = signed_in_phone(pat)
    assert phone.put("/api/v1/me/health-check/", HEALTH_CHECK, content_type="application/json").status_code == 200
    operator = UserFactory(username="operator", is_staff=True, is_superuser=True)
    give_second_factor(operator)  # the admin asks the operator for a second factor
    client.force_login(operator)
    response = client.post(reverse("admin:prepapp_patient_delete", args=[pat.pk]), {"post": "yes"})
    assert response.status_code == 302 and not Patient.objects.filter(pk=pat.pk).exists()
    assert User.objects.get(pk=pat.user_id).username == erased_login_name(pat.pk)


@pytest.mark.django_db
def test_erasing_twice_or_another_organizations_patient_is_a_404(pat, as_carol, as_olga):
    assert erase(as_olga, pat).status_code == 404
    assert erase(as_carol, pat).status_code == 200
    again = erase(as_carol, pat)
    assert again.status_code == 404 and "detail" in again.json()


# --- Racing another change ------------------------------------------------------------------
# Each side runs in a thread of its own, with its own PostgreSQL connection. One side is held
# inside its transaction, its locks taken, until the other is seen waiting for them in
# pg_stat_activity: the order is forced, not hoped for.


def run(results: dict, name: str, call):
    def target():
        try:
            results[name] = call()
        except Exception as exc:  # noqa: BLE001 — a 500 would be an exception here; reported below
            results[name] = exc
        finally:
            close_old_connections()
            connection.close()

    thread = threading.Thread(target=target, name=name)
    thread.start()
    return thread


def hold_inside(monkeypatch, module) -> tuple[threading.Event, threading.Event]:
    """Stop the next verb of `module` right after it writes its audit entry (its locks taken)."""
    held, release = threading.Event(), threading.Event()
    record = module.audit_record

    def holding(**kwargs):
        record(**kwargs)
        if not held.is_set():
            held.set()
            assert release.wait(20), "never released"

    monkeypatch.setattr(module, "audit_record", holding)
    return held, release


def wait_for_a_lock_wait(timeout: float = 20):
    """Until a session of this database waits for a row lock another one holds."""
    deadline = time.monotonic() + timeout
    with connections["default"].cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.05)
    raise AssertionError("the second request never waited for the first one's locks")


def status_of(result) -> int:
    assert not isinstance(result, Exception), f"raised {result!r}"
    return result.status_code


OTHER_CHANGES = {
    "discharge": lambda staff, patient, task: staff.post(f"/api/v1/patients/{patient.pk}/discharge/", {}, format="json"),
    "archive": lambda staff, patient, task: staff.post(f"/api/v1/patients/{patient.pk}/archive/", {}, format="json"),
    "facts": lambda staff, patient, task: staff.patch(f"/api/v1/patients/{patient.pk}/facts/", {"diabetic": True},
                                                      format="json"),
    "tick": lambda staff, patient, task: client_for(patient.user).post(f"/api/v1/me/tasks/{task.pk}/complete/"),
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("change", sorted(OTHER_CHANGES))
def test_a_change_that_waits_for_an_erasure_gets_a_404(change, monkeypatch, pat_checklist, carol):
    pat = pat_checklist.case.patient
    task = pat_checklist.tasks.order_by("pk").first()
    held, release = hold_inside(monkeypatch, data_rights)
    results = {}
    eraser = run(results, "erase", lambda: erase(client_for(carol), pat))
    assert held.wait(20)
    other = run(results, change, lambda: OTHER_CHANGES[change](client_for(carol), pat, task))
    wait_for_a_lock_wait()
    release.set()
    eraser.join(30)
    other.join(30)
    assert status_of(results["erase"]) == 200
    assert status_of(results[change]) == 404, results[change].content
    assert "detail" in results[change].json()
    assert not Patient.objects.filter(pk=pat.pk).exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("change", ["discharge", "archive"])
def test_an_erasure_that_waits_for_a_status_change_erases_after_it(change, monkeypatch, pat_checklist, carol):
    pat = pat_checklist.case.patient
    held, release = hold_inside(monkeypatch, patient_workflows)
    results = {}
    other = run(results, change, lambda: OTHER_CHANGES[change](client_for(carol), pat, None))
    assert held.wait(20)
    eraser = run(results, "erase", lambda: erase(client_for(carol), pat))
    wait_for_a_lock_wait()
    release.set()
    other.join(30)
    eraser.join(30)
    assert (status_of(results[change]), status_of(results["erase"])) == (200, 200)
    assert not Patient.objects.filter(pk=pat.pk).exists()
    assert set(AuditEntry.objects.filter(patient_ref=f"patient-{pat.pk}").values_list("action", flat=True)) >= {
        change, "erase"
    }


@pytest.mark.django_db(transaction=True)
def test_erase_and_discharge_started_together_ten_times_never_answer_500(riverside, carol, protocol_version):
    seen = []
    for attempt in range(10):
        patient = patient_enrol(organization=riverside, full_name=f"Race Patient {attempt}")
        case = case_book(patient=patient, procedure="Minimally invasive lumbar fusion", surgery_date=days_from_today(35))
        checklist_assign(case=case, protocol_version=protocol_version, assigned_by=carol)
        start = threading.Barrier(2)
        results = {}

        def after_the_start(call):
            return lambda: (start.wait(10), call())[1]

        threads = [
            run(results, "erase", after_the_start(lambda: erase(client_for(carol), patient))),
            run(results, "discharge", after_the_start(lambda: OTHER_CHANGES["discharge"](client_for(carol), patient, None))),
        ]
        for thread in threads:
            thread.join(30)
        statuses = (status_of(results["erase"]), status_of(results["discharge"]))
        # The erasure always goes through (it waits for a discharge that locked first); the
        # discharge either went first (200) or found the record gone (404).
        assert statuses in {(200, 200), (200, 404)}, (attempt, statuses, results["discharge"].content)
        assert not Patient.objects.filter(pk=patient.pk).exists()
        seen.append(statuses)
    assert len(seen) == 10
