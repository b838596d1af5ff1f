"""Tailoring that stays true: facts are yes, no or not known yet, and changing one re-tailors at once.

Pat (Riverside) smokes and takes anti-inflammatory painkillers; nothing else is known about
him yet. Carol, his coordinator, and Pat himself (the health check) change facts; Olga, a
coordinator elsewhere, and Paul, another patient, must not reach Pat's record.
"""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from checklists import services as checklist_services
from checklists.models import Task
from prepapp.facts import FACT_NAMES, FACT_TOPICS, FACTS
from prepapp.models import AuditEntry, Patient
from prepapp.reminders import planning
from prepapp.reminders.compose import compose
from prepapp.reminders.models import InboxMessage, Reminder
from prepapp.services import patient_enrol
from prepapp.workflows import (
    case_book,
    case_cancel,
    checklist_assign,
    patient_update,
    patient_update_facts,
    task_complete,
)

from .factories import days_from_today
from .support.outbox import no_quiet_hours

pytestmark = pytest.mark.django_db

CONDITIONAL = {"stop-smoking", "stop-nsaids", "blood-thinner-plan", "glucose-control", "dexa-scan", "medical-clearance"}


def steps(patient) -> dict[str, Task]:
    return {
        t.definition.key: t
        for t in Task.objects.filter(checklist__case__patient=patient).select_related("definition")
    }


def payload_tasks(client) -> dict[str, dict]:
    groups = client.get("/api/v1/me/checklist/").json()["groups"]
    return {t["key"]: t for group in groups.values() for t in group}


def pending_reminders(task_id) -> int:
    return Reminder.objects.filter(task_id=task_id, status=Reminder.Status.PENDING).count()


# --- The facts themselves ----------------------------------------------------------------------


def test_the_fact_names_agree_between_the_records_and_the_protocols():
    assert set(FACTS) == set(FACT_NAMES) == set(FACT_TOPICS) == {f.name for f in Patient._meta.fields if f.name in FACTS}


def test_new_patients_start_not_known_unless_the_coordinator_says(riverside):
    nora = patient_enrol(organization=riverside, full_name="Nora New", smoker=False)
    assert nora.facts == {name: (False if name == "smoker" else None) for name in FACTS}


def test_unknown_facts_keep_their_steps_flagged_in_the_api(pat_checklist, as_pat):
    tasks = payload_tasks(as_pat)
    assert CONDITIONAL <= set(tasks)
    # Known to apply: plain steps. Not known yet: "if this applies to you", naming the fact.
    assert (tasks["stop-smoking"]["conditional"], tasks["stop-smoking"]["conditional_on"]) == (False, [])
    glucose = tasks["glucose-control"]
    assert (glucose["conditional"], glucose["conditional_on"]) == (True, [{"fact": "diabetic", "applies_when": True}])
    assert tasks["dexa-scan"]["conditional_on"] == [{"fact": "bone_density_concern", "applies_when": True}]
    assert tasks["protein-target"]["conditional"] is False
    one = as_pat.get(f"/api/v1/me/tasks/{tasks['medical-clearance']['id']}/").json()
    assert one["conditional"] is True
    assert one["conditional_on"] == [{"fact": "heart_or_lung_condition", "applies_when": True}]


# --- The care team changes a fact ----------------------------------------------------------------


def test_coordinator_learns_a_fact_and_the_checklist_follows(pat, pat_checklist, as_carol, as_pat, carol):
    # Reminders of each step of its own (not the daily digest), so the replanning shows per step;
    # no quiet hours, so a step due today has its row whatever the hour of the run.
    no_quiet_hours(pat)
    patient_update(patient=pat, reminder_style="per_step")
    before = steps(pat)
    smoking = before["stop-smoking"]
    assert pending_reminders(smoking.id) > 0

    response = as_carol.patch(f"/api/v1/patients/{pat.id}/facts/", {"smoker": False, "diabetic": True}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["changed"] == ["smoker", "diabetic"]
    assert [s["key"] for s in body["removed"]] == ["stop-smoking"] and body["added"] == []
    assert body["facts"]["smoker"] is False and body["facts"]["diabetic"] is True
    assert body["facts"]["heart_or_lung_condition"] is None

    after = steps(pat)
    assert "stop-smoking" not in after
    # Its reminders went with it; the diabetes step, already there while not known, stays, now plainly.
    assert not Reminder.objects.filter(task_id=smoking.id).exists()
    assert after["glucose-control"].id == before["glucose-control"].id
    assert payload_tasks(as_pat)["glucose-control"]["conditional"] is False

    message = InboxMessage.objects.get(patient=pat)
    assert message.id == body["message"]["id"] and message.task_id is None
    assert message.title == "Your steps have changed"
    assert "Your care team updated your health details:" in message.body
    assert "Smoking or nicotine: no (before: yes)" in message.body
    assert "Diabetes: yes (before: not known)" in message.body
    assert "no longer apply to you:\n• Stop smoking and all nicotine" in message.body
    entry = AuditEntry.objects.get(patient=pat, action="change-facts")
    assert entry.actor == carol and entry.path == f"/api/v1/patients/{pat.id}/facts/"


def test_a_fact_learned_later_adds_its_step_with_reminders(riverside, protocol_version, carol, as_carol):
    # Enrolled saying she takes no painkillers; she starts taking ibuprofen a week later.
    ines = patient_enrol(organization=riverside, full_name="Ines Later", takes_nsaids=False, contact_email="ines@example.org")
    case = case_book(patient=ines, procedure="Fusion", surgery_date=days_from_today(30))
    checklist_assign(case=case, protocol_version=protocol_version, assigned_by=carol)
    assert "stop-nsaids" not in steps(ines)

    response = as_carol.patch(f"/api/v1/patients/{ines.id}/facts/", {"takes_nsaids": True}, format="json")
    assert response.status_code == 200
    added = steps(ines)["stop-nsaids"]
    assert [s["id"] for s in response.json()["added"]] == [added.id]
    # Placed from the surgery date like every step: 10 days before, its window to 7 days before.
    assert added.due_date == case.surgery_date - timedelta(days=10)
    assert added.window_end == case.surgery_date - timedelta(days=7)
    assert pending_reminders(added.id) > 0
    assert "New on your list" in InboxMessage.objects.get(patient=ines).body


def test_the_patient_endpoint_re_tailors_too(pat, pat_checklist, as_carol):
    response = as_carol.patch(f"/api/v1/patients/{pat.id}/", {"smoker": False}, format="json")
    assert response.status_code == 200 and response.json()["smoker"] is False
    assert "stop-smoking" not in steps(pat)
    assert AuditEntry.objects.filter(patient=pat, action="change-facts").exists()
    assert InboxMessage.objects.filter(patient=pat).count() == 1


def test_done_steps_are_never_touched(pat, pat_checklist, as_carol):
    nsaids = steps(pat)["stop-nsaids"]
    task_complete(task=nsaids, by=pat.user)
    response = as_carol.patch(f"/api/v1/patients/{pat.id}/facts/", {"takes_nsaids": False}, format="json")
    assert response.json()["removed"] == []
    kept = Task.objects.get(pk=nsaids.pk)
    assert (kept.status, kept.due_date) == (Task.Status.DONE, nsaids.due_date)


def test_an_open_step_with_the_patients_notes_stays_and_is_reported(pat, pat_checklist, as_carol):
    plan = steps(pat)["blood-thinner-plan"]
    checklist_services.task_record_answers(task=plan, answers={"last-dose": "Friday"})
    response = as_carol.patch(f"/api/v1/patients/{pat.id}/facts/", {"on_blood_thinners": False}, format="json")
    body = response.json()
    # The restart step after surgery, untouched, goes; the plan with her answers stays.
    assert [s["key"] for s in body["removed"]] == ["restart-blood-thinner"]
    assert [s["key"] for s in body["kept"]] == ["blood-thinner-plan"]
    assert Task.objects.filter(pk=plan.pk).exists()
    assert "because you wrote notes in them" in InboxMessage.objects.get(patient=pat).body


def test_a_fact_back_to_not_known_brings_the_step_back_flagged(pat, pat_checklist, as_carol, as_pat):
    as_carol.patch(f"/api/v1/patients/{pat.id}/facts/", {"smoker": False}, format="json")
    response = as_carol.patch(f"/api/v1/patients/{pat.id}/facts/", {"smoker": None}, format="json")
    added = response.json()["added"]
    assert [(s["key"], s["conditional"]) for s in added] == [("stop-smoking", True)]
    assert payload_tasks(as_pat)["stop-smoking"]["conditional_on"] == [{"fact": "smoker", "applies_when": True}]
    latest = InboxMessage.objects.filter(patient=pat).first()
    assert "Stop smoking and all nicotine (if this applies to you)" in latest.body


def test_the_same_value_again_changes_nothing_and_says_nothing(pat, pat_checklist, as_carol):
    response = as_carol.patch(f"/api/v1/patients/{pat.id}/facts/", {"smoker": True}, format="json")
    assert response.status_code == 200
    assert response.json()["changed"] == [] and response.json()["message"] is None
    assert not InboxMessage.objects.filter(patient=pat).exists()


def test_a_cancelled_surgery_keeps_its_checklist_as_it_was(pat, pat_checklist, as_carol):
    case_cancel(case=pat_checklist.case)
    before = set(steps(pat))
    as_carol.patch(f"/api/v1/patients/{pat.id}/facts/", {"smoker": False}, format="json")
    assert set(steps(pat)) == before
    assert Patient.objects.get(pk=pat.pk).smoker is False


def test_all_of_it_happens_in_one_transaction(pat, pat_checklist, carol, monkeypatch):
    """A failure while planning reminders leaves the facts, the steps and the inbox as they were."""
    def broken(**kwargs):
        raise RuntimeError("planning failed")

    monkeypatch.setattr(planning, "plan_for_tasks", broken)
    with pytest.raises(RuntimeError):
        patient_update_facts(patient=pat, facts={"smoker": False, "takes_nsaids": None}, by=carol)
    assert Patient.objects.get(pk=pat.pk).smoker is True
    assert "stop-smoking" in steps(pat)
    assert not InboxMessage.objects.filter(patient=pat).exists()
    assert not AuditEntry.objects.filter(action="change-facts").exists()


# --- Who may, and bad input ------------------------------------------------------------------------


def test_an_outsider_coordinator_and_a_patient_are_refused(pat, pat_checklist, as_olga, as_pat, as_paul):
    assert as_olga.patch(f"/api/v1/patients/{pat.id}/facts/", {"smoker": False}, format="json").status_code == 404
    assert as_olga.patch(f"/api/v1/patients/{pat.id}/", {"smoker": False}, format="json").status_code == 404
    assert as_pat.patch(f"/api/v1/patients/{pat.id}/facts/", {"smoker": False}, format="json").status_code == 403
    assert as_paul.patch(f"/api/v1/patients/{pat.id}/facts/", {"smoker": False}, format="json").status_code == 403
    assert Patient.objects.get(pk=pat.pk).smoker is True and "stop-smoking" in steps(pat)


@pytest.mark.parametrize(
    "body, field",
    [
        ({"smoker": "perhaps"}, "smoker"),
        ({"diabetic": 3}, "diabetic"),
        ({"vegan": True}, "vegan"),
        ({}, "detail"),
    ],
)
def test_bad_facts_are_a_400_naming_the_field(pat, pat_checklist, as_carol, body, field):
    response = as_carol.patch(f"/api/v1/patients/{pat.id}/facts/", body, format="json")
    assert response.status_code == 400 and field in response.json(), response.json()
    assert Patient.objects.get(pk=pat.pk).facts == pat.facts


def test_the_service_refuses_unknown_facts_and_values(pat, carol):
    with pytest.raises(ValidationError) as excinfo:
        patient_update_facts(patient=pat, facts={"smoker": "yes", "vegan": True}, by=carol)
    assert set(excinfo.value.message_dict) == {"smoker", "vegan"}


# --- The patient's health check ---------------------------------------------------------------------


def test_the_health_check_shows_what_is_known(pat, as_pat):
    response = as_pat.get("/api/v1/me/health-check/")
    assert response.status_code == 200
    assert response.json() == {"smoker": "yes", "takes_nsaids": "yes", "on_blood_thinners": "not_sure", "diabetic": "not_sure"}


def test_answering_the_health_check_re_tailors_and_explains(pat, pat_checklist, as_pat):
    glucose = steps(pat)["glucose-control"]
    answers = {"smoker": "no", "takes_nsaids": "yes", "on_blood_thinners": "no", "diabetic": "not_sure"}
    response = as_pat.put("/api/v1/me/health-check/", answers, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["answers"] == answers
    assert sorted(s["key"] for s in body["removed"]) == ["blood-thinner-plan", "restart-blood-thinner", "stop-smoking"]
    assert body["message"]["title"] == "Your steps have changed"
    assert body["message"]["body"].startswith("You answered the health check:")

    left = steps(pat)
    assert not {"stop-smoking", "blood-thinner-plan", "restart-blood-thinner"} & set(left) and "stop-nsaids" in left
    assert left["glucose-control"].id == glucose.id  # not sure: it stays, flagged
    assert payload_tasks(as_pat)["glucose-control"]["conditional_on"] == [{"fact": "diabetic", "applies_when": True}]
    assert InboxMessage.objects.get(patient=pat).id == body["message"]["id"]
    entry = AuditEntry.objects.get(patient=pat, action="health-check")
    assert entry.actor == pat.user
    # The patient sees their own answer in "who has looked at my record", as theirs.
    log = as_pat.get("/api/v1/me/access-log/").json()["results"]
    assert (log[0]["who"]["name"], log[0]["what"]) == ("You", "You answered the health check")


def test_the_health_check_in_spanish(paul, protocol_version, carol, as_paul):
    case = case_book(patient=paul, procedure="Fusión", surgery_date=days_from_today(40))
    checklist_assign(case=case, protocol_version=protocol_version, assigned_by=carol)
    answers = {"smoker": "no", "takes_nsaids": "no", "on_blood_thinners": "not_sure", "diabetic": "no"}
    body = as_paul.put("/api/v1/me/health-check/", answers, format="json").json()
    assert "Deje de fumar y de usar toda forma de nicotina" in [s["title"] for s in body["removed"]]
    message = InboxMessage.objects.get(patient=paul)
    assert message.title == "Sus pasos han cambiado"
    assert "Respondió el control de salud:" in message.body
    assert "Tabaco o nicotina: no (antes: no se sabe)" in message.body


@pytest.mark.parametrize(
    "body, field",
    [
        ({"smoker": "maybe", "takes_nsaids": "no", "on_blood_thinners": "no", "diabetic": "no"}, "smoker"),
        ({"smoker": "no", "takes_nsaids": "no", "on_blood_thinners": "no"}, "diabetic"),
        ({"smoker": "no", "takes_nsaids": "no", "on_blood_thinners": "no", "diabetic": "no", "bone_density_concern": "no"},
         "bone_density_concern"),
    ],
)
def test_bad_health_check_answers_are_a_400_naming_the_question(pat, pat_checklist, as_pat, body, field):
    response = as_pat.put("/api/v1/me/health-check/", body, format="json")
    assert response.status_code == 400 and field in response.json(), response.json()
    assert Patient.objects.get(pk=pat.pk).facts == pat.facts and not InboxMessage.objects.exists()


def test_the_health_check_is_for_patients_and_only_about_themselves(pat, paul, pat_checklist, as_carol, as_paul, client):
    assert as_carol.get("/api/v1/me/health-check/").status_code == 403
    assert client.get("/api/v1/me/health-check/").status_code == 401
    answers = {"smoker": "no", "takes_nsaids": "no", "on_blood_thinners": "no", "diabetic": "no"}
    assert as_paul.put("/api/v1/me/health-check/", answers, format="json").status_code == 200
    assert Patient.objects.get(pk=pat.pk).smoker is True and "stop-smoking" in steps(pat)


def test_reminders_of_a_step_waiting_on_a_fact_say_if_it_applies(pat, pat_checklist):
    no_quiet_hours(pat)  # a step due today keeps its row whatever the hour of the run
    patient_update(patient=pat, reminder_style="per_step")  # step reminders, not the daily digest
    glucose, smoking = steps(pat)["glucose-control"], steps(pat)["stop-smoking"]
    waiting = Reminder.objects.filter(task=glucose).first()
    assert compose(waiting).body.startswith("If this applies to you: ")
    # Known to apply: a plain reminder.
    assert not compose(Reminder.objects.filter(task=smoking).first()).body.startswith("If this applies")
