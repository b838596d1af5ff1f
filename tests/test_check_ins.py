"""The check-in at home: strict answers, the reply, red flags raise an alert and an immediate email,
a missed check-in a soft alert once; and, on the real worker, the email reaches the care team in a minute.
"""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from checklists.models import CheckIn
from prepapp.reminders import check_ins, escalation
from prepapp.reminders.models import Alert
from prepapp.workflows import safety

from config.celery import app as celery_app

from .conftest import client_for
from .support.processes import wait_until
from .support.stack import Stack, redis_url_from_env
from .safety_support import after_surgery, phones

pytestmark = pytest.mark.django_db
ALL_CLEAR = {"back-pain": 3, "leg-pain": 1, "walking": "yes", "wound": "fine", "fever": "no",
             "bladder-bowels": "normal", "new-weakness": "no"}


@pytest.fixture
def day_3(pat, pat_case, pat_checklist, riverside):
    phones(riverside)
    return after_surgery(pat, pat_case, 3)


def test_the_form_lists_the_questions_in_the_patients_language(day_3, as_pat):
    body = as_pat.get("/api/v1/me/check-ins/?lang=es").json()
    assert body["due_today"] is True and body["day"] == 3
    keys = [q["key"] for q in body["questions"]]
    assert keys[:2] == ["back-pain", "leg-pain"] and "new-weakness" in keys
    weakness = next(q for q in body["questions"] if q["key"] == "new-weakness")
    assert weakness["kind"] == "choice" and {o["key"] for o in weakness["options"]} == {"yes", "no"}
    assert weakness["text"].startswith("¿")
    assert body["history"] == []


def test_an_all_clear_check_in_raises_nothing(day_3, as_pat, pat):
    answer = as_pat.post("/api/v1/me/check-ins/", {"answers": ALL_CLEAR}, format="json")
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert body["urgency"] == "none" and body["signs"] == [] and body["care_team"]["phone"] == "+1 555 0100"
    assert not Alert.objects.exists()
    assert as_pat.get("/api/v1/me/safety/").json()["check_in"]["done_today"] is True
    assert [h["day"] for h in as_pat.get("/api/v1/me/check-ins/").json()["history"]] == [3]


def test_leg_weakness_is_an_emergency_with_an_alert_and_an_email_queued(
    day_3, as_pat, pat, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        answer = as_pat.post("/api/v1/me/check-ins/", {"answers": {**ALL_CLEAR, "new-weakness": "yes"}},
                             format="json")
    assert answer.status_code == 201
    body = answer.json()
    assert body["urgency"] == "emergency"
    assert "emergency services" in body["reply"]["text"] and body["reply"]["title"] == "Call emergency services now"
    assert [s["key"] for s in body["signs"]] == ["leg-weakness"]
    [alert] = Alert.objects.all()
    assert (alert.kind, alert.patient_id, alert.check_in_day, alert.check_in_id) == (
        "check_in_red_flag", pat.id, 3, body["id"]
    )
    assert len(callbacks) == 1  # the email, once the check-in commits


def test_a_second_check_in_the_same_day_is_never_refused(day_3, as_pat):
    assert as_pat.post("/api/v1/me/check-ins/", {"answers": ALL_CLEAR}, format="json").status_code == 201
    later = as_pat.post("/api/v1/me/check-ins/", {"answers": {"fever": "yes"}}, format="json")
    assert later.status_code == 201 and later.json()["urgency"] == "call_today"
    assert CheckIn.objects.count() == 2


def test_the_red_flag_email_names_patient_day_signs_and_urgency_once(day_3, pat, carol, lee, olga, email_to_sink):
    for user in (carol, lee, olga):
        user.email = f"{user.username}@clinic.example.org"
        user.save(update_fields=["email"])
    check_in, _ = safety.check_in_submit(patient=pat, answers={"new-weakness": "yes"})
    alert = Alert.objects.get(check_in=check_in)
    assert check_ins.send_red_flag_email(alert_id=alert.id) is True
    assert check_ins.send_red_flag_email(alert_id=alert.id) is False  # a redelivered task sends nothing
    [message] = email_to_sink.received()
    assert sorted(message["To"].split(", ")) == ["carol@clinic.example.org", "lee@clinic.example.org"]
    text = message.get_content()
    assert "Pat Example" in text and "day 3" in text and "emergency" in text and "weakness" in text


@pytest.mark.parametrize(
    "answers, field",
    [
        ({"new-weakness": "maybe"}, "new-weakness"),
        ({"back-pain": 11}, "back-pain"),
        ({"back-pain": "7"}, "back-pain"),
        ({"back-pain": True}, "back-pain"),
        ({"no-such-question": 1}, "no-such-question"),
    ],
)
def test_bad_answers_are_400_naming_the_question(day_3, as_pat, answers, field):
    answer = as_pat.post("/api/v1/me/check-ins/", {"answers": answers}, format="json")
    assert answer.status_code == 400 and field in answer.json()["answers"]
    assert not CheckIn.objects.exists()


@pytest.mark.parametrize("body", [{"answers": []}, {"answers": "yes"}, {"answers": {}}, {}, {"answers": {}, "x": 1}])
def test_malformed_bodies_are_400(day_3, as_pat, body):
    answer = as_pat.post("/api/v1/me/check-ins/", body, format="json")
    assert answer.status_code == 400
    assert set(answer.json()) & {"answers", "x"}


def test_before_surgery_and_after_week_6_is_409(pat, pat_case, pat_checklist, as_pat):
    before = as_pat.post("/api/v1/me/check-ins/", {"answers": ALL_CLEAR}, format="json")
    assert before.status_code == 409 and before.json()["detail"]
    after_surgery(pat, pat_case, 43)
    assert as_pat.post("/api/v1/me/check-ins/", {"answers": ALL_CLEAR}, format="json").status_code == 409


def test_only_patients_check_in_and_paul_sees_nothing_of_pat(day_3, as_pat, as_paul, as_carol, pat):
    as_pat.post("/api/v1/me/check-ins/", {"answers": ALL_CLEAR}, format="json")
    assert as_carol.post("/api/v1/me/check-ins/", {"answers": ALL_CLEAR}, format="json").status_code == 403
    assert as_paul.get("/api/v1/me/check-ins/").json()["history"] == []
    assert as_paul.get(f"/api/v1/patients/{pat.id}/safety/").status_code == 403


def test_another_clinics_coordinator_gets_nothing_of_pats_check_ins(day_3, as_pat, as_olga, pat):
    as_pat.post("/api/v1/me/check-ins/", {"answers": {**ALL_CLEAR, "new-weakness": "yes"}}, format="json")
    answer = as_olga.get(f"/api/v1/patients/{pat.id}/safety/")
    assert answer.status_code == 404 and "weakness" not in answer.content.decode().lower()
    assert as_olga.get("/api/v1/alerts/").json()["results"] == []


def test_the_care_team_sees_check_ins_and_the_pain_trend(day_3, as_pat, as_carol, pat):
    as_pat.post("/api/v1/me/check-ins/", {"answers": {**ALL_CLEAR, "back-pain": 6, "fever": "yes"}}, format="json")
    body = as_carol.get(f"/api/v1/patients/{pat.id}/safety/").json()
    assert [c["red_flags"] for c in body["check_ins"]] == [["fever"]]
    # In words for the care team: the questions as the patient read them, the answers, the signs.
    [check_in] = body["check_ins"]
    read = {a["key"]: a for a in check_in["answers_read"]}
    assert list(read)[:2] == ["back-pain", "leg-pain"]
    assert read["back-pain"]["answer"] == "6 / 10" and "back" in read["back-pain"]["question"].lower()
    assert read["fever"]["answer"] == "Yes" and read["fever"]["question"] != "fever"
    assert check_in["red_flags_read"] == ["A temperature of 38 °C (100.4 °F) or higher, or chills and shivering."]
    assert body["pain_trend"] == [{"day": 3, "back_pain": 6, "leg_pain": 1}]
    assert body["blood_thinner_restart"]["status"] == "open"
    alerts = as_carol.get("/api/v1/alerts/").json()["results"]
    assert [(a["kind"], a["task"], a["task_title"]) for a in alerts] == [("check_in_red_flag", None, None)]
    assert "day 3" in alerts[0]["title"]
    roster = as_carol.get("/api/v1/roster/").json()
    row = next(r for r in roster["results"] if r["id"] == pat.id)
    assert row["open_alerts"] == 1


def test_a_missed_check_in_raises_one_soft_alert(day_3, pat):
    assert len(check_ins.check_ins_missed()) == 1  # day 2 (yesterday) had none
    assert check_ins.check_ins_missed() == []
    [alert] = Alert.objects.all()
    assert (alert.kind, alert.check_in_day, alert.task_id) == ("check_in_missed", 2, None)
    # The escalation beat runs it too, and still raises nothing new.
    raised, _ = escalation.escalate()
    assert raised == 0


def test_a_check_in_made_yesterday_is_not_missed(day_3, pat):
    CheckIn.objects.create(case=day_3, patient=pat, day=2, answers={"fever": "no"},
                           answered_at=timezone.now() - timedelta(days=1))
    assert check_ins.check_ins_missed() == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.integration
def test_on_the_real_worker_a_leg_weakness_check_in_reaches_the_care_team_within_a_minute(
    pat, pat_case, pat_checklist, carol, riverside, smtp_sink, tmp_path, monkeypatch
):
    # This process queues the email where the stack's worker listens (each stack has its own queue).
    queue = f"test-check-in-{uuid.uuid4().hex[:10]}"
    monkeypatch.setitem(celery_app.conf, "task_default_queue", queue)

    carol.email = "carol@clinic.example.org"
    carol.save(update_fields=["email"])
    after_surgery(pat, pat_case, 5)
    stack = Stack(tmp_path, redis_url=redis_url_from_env(), smtp=smtp_sink, queue=queue)
    stack.worker()
    try:
        answer = client_for(pat.user).post("/api/v1/me/check-ins/", {"answers": {"new-weakness": "yes"}},
                                           format="json")
        assert answer.status_code == 201 and answer.json()["urgency"] == "emergency"
        try:
            wait_until(lambda: any(m.get("X-Check-In-Alert") for m in smtp_sink.received()), timeout=60,
                       what="the care team's alert email")
        except AssertionError:
            print(stack.logs())
            raise
    finally:
        stack.stop()
    [message] = [m for m in smtp_sink.received() if m.get("X-Check-In-Alert")]
    assert message["To"] == "carol@clinic.example.org" and "Pat Example" in message["Subject"]
    roster = client_for(carol).get("/api/v1/roster/").json()
    assert next(r for r in roster["results"] if r["id"] == pat.id)["open_alerts"] == 1
