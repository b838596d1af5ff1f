"""The safety net's own reminders: the evening before surgery, each check-in day, the rules said again.

Planned by the beat for today and tomorrow on the patient's calendar, checked again just
before they go, delivered by the same engine as every reminder (real PostgreSQL, the in-app
channel and email).
"""

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from checklists.models import CheckIn
from prepapp.models import Patient, SurgeryCase
from prepapp.reminders import safety_reminders
from prepapp.reminders.models import CHECK_IN_RULE, DAY_BEFORE_RULE, RULES_RULE, InboxMessage, Reminder
from prepapp.workflows import case_reschedule
from prepapp.workflows.safety import rule_lift

from .safety_support import after_surgery, phones
from .support.outbox import deliver_all, no_quiet_hours

pytestmark = pytest.mark.django_db
INAPP, EMAIL = Reminder.Channel.INAPP, Reminder.Channel.EMAIL


def local(patient, day, hour, minute=0):
    return datetime.combine(day, time(hour, minute), tzinfo=patient.zone)


def rows(patient, rule, **filters):
    return Reminder.objects.filter(patient=patient, rule=rule, task__isnull=True, **filters)


def due_now(patient, rule):
    """Only this patient's rows of this rule fall due now; everything else of theirs waits."""
    Reminder.objects.filter(patient=patient, status="pending").update(send_at=timezone.now() + timedelta(days=400))
    rows(patient, rule).update(send_at=timezone.now() - timedelta(seconds=5), status="pending")


@pytest.fixture
def tomorrow(pat, pat_case, pat_checklist, riverside):
    """Pat's surgery is tomorrow at 8:30; she is to arrive at 7:00."""
    phones(riverside)
    no_quiet_hours(pat)
    SurgeryCase.objects.filter(pk=pat_case.pk).update(
        surgery_date=pat.local_today() + timedelta(days=1), surgery_time=time(8, 30), arrival_time=time(7, 0)
    )
    pat_case.refresh_from_db()
    return pat_case


# --- The evening before surgery --------------------------------------------------------------


def test_the_evening_before_is_planned_at_six_in_the_patients_zone_on_each_channel(pat, tomorrow):
    morning = local(pat, pat.local_today(), 9)
    safety_reminders.plan_due(now=morning)
    planned = rows(pat, DAY_BEFORE_RULE)
    assert INAPP in {r.channel for r in planned}
    for row in planned:
        assert row.anchor_date == tomorrow.surgery_date
        assert row.send_at == local(pat, pat.local_today(), 18)
    # Planning again (the next beat tick) makes no second row.
    count = planned.count()
    safety_reminders.plan_due(now=morning + timedelta(minutes=10))
    assert rows(pat, DAY_BEFORE_RULE).count() == count


def test_an_evening_inside_quiet_hours_moves_to_the_patients_own_reminder_time(pat, tomorrow):
    Patient.objects.filter(pk=pat.pk).update(
        quiet_hours_start=time(17), quiet_hours_end=time(8), reminder_time=time(10)
    )
    pat.refresh_from_db()
    safety_reminders.plan_due(now=local(pat, pat.local_today(), 7))
    assert {r.send_at for r in rows(pat, DAY_BEFORE_RULE)} == {local(pat, pat.local_today(), 10)}


def test_the_evening_before_says_when_to_arrive_and_to_stop_eating_and_drinking(
    pat, tomorrow, django_capture_on_commit_callbacks
):
    safety_reminders.plan_due(now=local(pat, pat.local_today(), 9))
    due_now(pat, DAY_BEFORE_RULE)
    deliver_all(django_capture_on_commit_callbacks)
    message = InboxMessage.objects.get(patient=pat, reminder__rule=DAY_BEFORE_RULE)
    assert message.title.startswith("Your surgery is tomorrow")
    # 8 hours of no food and 2 of clear fluids before the 7:00 arrival (the clinic's defaults).
    assert "Please arrive at 7:00." in message.body
    assert "Eat nothing after 23:00 tonight" in message.body
    assert "only until 5:00 on the day of surgery" in message.body
    assert "diabetes medicines" in message.body
    assert "first 24 hours" in message.body
    assert "+1 555 0100" in message.body


def test_a_surgery_moved_away_cancels_the_evening_before_and_moving_it_back_brings_it_back(
    pat, tomorrow, carol, django_capture_on_commit_callbacks
):
    safety_reminders.plan_due(now=local(pat, pat.local_today(), 9))
    original = tomorrow.surgery_date
    case_reschedule(case=tomorrow, surgery_date=original + timedelta(days=14), by=carol)
    due_now(pat, DAY_BEFORE_RULE)
    deliver_all(django_capture_on_commit_callbacks)
    assert not InboxMessage.objects.filter(patient=pat, reminder__rule=DAY_BEFORE_RULE).exists()
    cancelled = rows(pat, DAY_BEFORE_RULE, channel=INAPP).get()
    assert cancelled.status == Reminder.Status.CANCELLED and cancelled.last_error.startswith("plan changed")

    tomorrow.refresh_from_db()
    case_reschedule(case=tomorrow, surgery_date=original, by=carol)
    safety_reminders.plan_due(now=local(pat, pat.local_today(), 9, 10))
    back = rows(pat, DAY_BEFORE_RULE, channel=INAPP).get()
    assert back.pk == cancelled.pk and back.status == Reminder.Status.PENDING


def test_a_discharged_patient_gets_none(pat, tomorrow):
    Patient.objects.filter(pk=pat.pk).update(status=Patient.Status.DISCHARGED)
    assert safety_reminders.plan_due(now=local(pat, pat.local_today(), 9)) == 0
    assert not rows(pat, DAY_BEFORE_RULE).exists()


# --- The check-in days -----------------------------------------------------------------------


@pytest.fixture
def day_3(pat, pat_case, pat_checklist, riverside):
    phones(riverside)
    no_quiet_hours(pat)
    return after_surgery(pat, pat_case, 3)


def test_each_check_in_day_is_reminded_today_and_tomorrow_at_the_reminder_time(pat, day_3):
    today = pat.local_today()
    safety_reminders.plan_due(now=local(pat, today, 6))
    planned = rows(pat, CHECK_IN_RULE, channel=INAPP)
    assert sorted(r.anchor_date for r in planned) == [today, today + timedelta(days=1)]
    wall = pat.reminder_time
    assert {r.send_at for r in planned} == {
        local(pat, today, wall.hour, wall.minute), local(pat, today + timedelta(days=1), wall.hour, wall.minute)
    }


def test_after_day_14_only_the_weekly_days_are_reminded(pat, pat_case, pat_checklist):
    no_quiet_hours(pat)
    after_surgery(pat, pat_case, 15)  # days 15 and 16: no check-in (the next is day 21)
    safety_reminders.plan_due(now=local(pat, pat.local_today(), 6))
    assert not rows(pat, CHECK_IN_RULE).exists()
    after_surgery(pat, pat_case, 20)  # tomorrow is day 21
    safety_reminders.plan_due(now=local(pat, pat.local_today(), 6))
    assert {r.anchor_date for r in rows(pat, CHECK_IN_RULE)} == {pat.local_today() + timedelta(days=1)}


def test_the_check_in_reminder_opens_the_check_in_and_is_not_sent_once_checked_in(
    pat, day_3, client, django_capture_on_commit_callbacks, mailoutbox
):
    Patient.objects.filter(pk=pat.pk).update(push_enabled=False, email_enabled=True)
    pat.refresh_from_db()
    safety_reminders.plan_due(now=local(pat, pat.local_today(), 6))
    rows(pat, CHECK_IN_RULE).exclude(anchor_date=pat.local_today()).delete()
    due_now(pat, CHECK_IN_RULE)
    deliver_all(django_capture_on_commit_callbacks)
    inbox = InboxMessage.objects.get(patient=pat, reminder__rule=CHECK_IN_RULE)
    assert inbox.title == "How are you today? Your check-in for day 3"
    assert "do not wait for the check-in: call your care team at +1 555 0100" in inbox.body
    email = next(m for m in mailoutbox if "check-in for day 3" in m.subject)
    link = next(word for word in email.body.split() if "/r/" in word)
    opened = client.get(link[link.index("/r/"):])
    assert opened.status_code == 302 and opened["Location"] == "/check-in/"

    # Checked in already: the next row of the same day is cancelled, not sent.
    InboxMessage.objects.all().delete()
    CheckIn.objects.create(case=day_3, patient=pat, day=3, answers={})
    Reminder.objects.filter(patient=pat, rule=CHECK_IN_RULE).update(status="pending", sent_at=None)
    due_now(pat, CHECK_IN_RULE)
    deliver_all(django_capture_on_commit_callbacks)
    assert not InboxMessage.objects.exists()
    assert set(rows(pat, CHECK_IN_RULE).values_list("last_error", flat=True)) == {"checked in already"}


# --- The rules said again --------------------------------------------------------------------


def test_a_new_stage_restates_the_rules_in_force(pat, pat_case, pat_checklist, protocol_version,
                                                 django_capture_on_commit_callbacks):
    no_quiet_hours(pat)
    stage = next(s for s in protocol_version.recovery_stages if s["key"] == "weeks-3-6")
    after_surgery(pat, pat_case, stage["start_day"])  # today is the stage's first day
    safety_reminders.plan_due(now=local(pat, pat.local_today(), 6))
    assert rows(pat, RULES_RULE, channel=INAPP).get().anchor_date == pat.local_today()
    due_now(pat, RULES_RULE)
    deliver_all(django_capture_on_commit_callbacks)
    message = InboxMessage.objects.get(patient=pat, reminder__rule=RULES_RULE)
    assert message.title == f"A new stage of your recovery: {stage['label']}"
    assert "Keep to these rules for now:" in message.body
    titles = {rule["key"]: rule["title"] for rule in protocol_version.rules}
    for key in ("no-blt", "no-driving", "no-nsaids-after-surgery", "no-nicotine"):  # Pat smokes
        assert titles[key] in message.body


def test_a_lifted_rule_is_announced_that_day_in_the_patients_language(
    pat, pat_case, pat_checklist, protocol_version, carol, django_capture_on_commit_callbacks
):
    no_quiet_hours(pat)
    Patient.objects.filter(pk=pat.pk).update(language="es")
    pat.refresh_from_db()
    case = after_surgery(pat, pat_case, 50)  # no stage begins today
    rule_lift(case=case, rule_key="no-driving", by=carol, note="Off opioids, can brake hard.")
    safety_reminders.plan_due(now=timezone.now())
    due_now(pat, RULES_RULE)
    deliver_all(django_capture_on_commit_callbacks)
    message = InboxMessage.objects.get(patient=pat, reminder__rule=RULES_RULE)
    driving = next(r for r in protocol_version.rules if r["key"] == "no-driving")
    blt = next(r for r in protocol_version.rules if r["key"] == "no-blt")
    assert message.title == "Sus reglas por ahora han cambiado"
    lifted_part, kept_part = message.body.split("Siga estas reglas por ahora:")
    assert driving["translations"]["es"]["title"] in lifted_part
    assert blt["translations"]["es"]["title"] in kept_part
    assert driving["translations"]["es"]["title"] not in kept_part
